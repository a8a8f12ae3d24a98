"""Dual Nova chatbot: every question goes to a fast and a detailed model at once.

Run with ``streamlit run chatbot_app.py``. Nova Micro streams a quick answer in
the left column while Nova Pro streams a detailed one in the right column; if
one model fails, its column says why and the other still answers. With
``CHATBOT_MODEL_PROVIDER=local`` both columns come from a bundled FAQ and the
page says so. Importing this module renders nothing (Streamlit runs it as
``__main__``), so the preflight can import it to prove it loads.
"""

from __future__ import annotations

import os

import streamlit as st
from core.aws_clients import ClientManager
from core.backend import ChatBackend, build_backend
from core.settings import ModelSpec, Settings, SettingsError
from core.streaming_handler import (
    Answer,
    Turn,
    apply_event,
    conversation_for,
    stream_answers,
)

TITLE = "Dual Nova chatbot"
RELEASE_DIGEST_ENV = "CHATBOT_RELEASE_DIGEST"  # set by the entrypoint: the verified digest


def release_label() -> str:
    """Which release this page runs: a synthetic user checks it against the synced digest."""
    digest = os.environ.get(RELEASE_DIGEST_ENV, "").strip()
    return f"release {digest[:12]}" if digest else "release unknown (not started by the entrypoint)"


@st.cache_resource(show_spinner=False)
def chat_backend() -> ChatBackend:
    """One backend per server process: clients are created and checked once."""
    settings = Settings.from_env()
    return build_backend(settings, ClientManager(settings))


def new_answer(spec: ModelSpec, backend: ChatBackend) -> Answer:
    return Answer(
        key=spec.key,
        model=spec.name,
        role=spec.role,
        model_id=spec.model_id,
        source=backend.responder.source,
    )


def footer(answer: Answer) -> str:
    """The line under an answer: who answered, and how fast."""
    if answer.source == "Bedrock":
        parts = [f"Bedrock · `{answer.model_id}`"]
    else:
        parts = ["Local responder (no Bedrock) · bundled FAQ"]
    if answer.first_token_s is not None:
        parts.append(f"first token {answer.first_token_s:.2f} s")
    if answer.total_s is not None and answer.status == "done":
        parts.append(f"done in {answer.total_s:.2f} s")
    return " · ".join(parts)


class AnswerView:
    """One column of an assistant turn; redrawn in place while the answer streams."""

    def __init__(self, column: st.delta_generator.DeltaGenerator, answer: Answer):
        with column:
            local = "" if answer.source == "Bedrock" else " · local"
            st.markdown(f"**{answer.model}** · {answer.role}{local}")
            self.notice = st.empty()  # above the text: why the local responder answers
            self.body = st.empty()
            self.status = st.empty()

    def show(self, answer: Answer) -> None:
        cursor = " ▌" if answer.status == "streaming" else ""
        if answer.text or cursor:
            self.body.markdown(answer.text + cursor)
        else:
            self.body.empty()
        if answer.notice:
            self.notice.warning(answer.notice)
        if answer.status == "failed":
            self.status.error(f"{answer.model} failed: {answer.error}")
        else:
            self.status.caption(footer(answer))


def show_turn(turn: Turn) -> None:
    with st.chat_message("user"):
        st.markdown(turn.question)
    with st.chat_message("assistant"):
        columns = st.columns(len(turn.answers))
        for column, answer in zip(columns, turn.answers.values(), strict=True):
            AnswerView(column, answer).show(answer)


def ask(question: str, backend: ChatBackend, turns: list[Turn]) -> Turn:
    """Show the question, stream both answers into their columns, return the turn."""
    specs = backend.settings.model_specs()
    turn = Turn(question, {spec.key: new_answer(spec, backend) for spec in specs})
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        columns = st.columns(len(specs))
        views = {
            spec.key: AnswerView(column, turn.answers[spec.key])
            for spec, column in zip(specs, columns, strict=True)
        }
        for view, answer in zip(views.values(), turn.answers.values(), strict=True):
            view.show(answer)
        conversations = {spec.key: conversation_for(spec.key, turns, question) for spec in specs}
        fallback_source = backend.fallback.source if backend.fallback else ""
        for event in stream_answers(
            specs, backend.responder, conversations, fallback=backend.fallback
        ):
            answer = turn.answers[event.key]
            apply_event(answer, event, fallback_source)
            views[event.key].show(answer)
    return turn


def show_header(backend: ChatBackend) -> None:
    st.title(TITLE)
    settings = backend.settings
    fast, detailed = settings.model_specs()
    if backend.notice:
        st.warning(
            f"Bedrock is not available: {backend.notice}. Answers come from the local responder."
        )
    if backend.is_local:
        st.info(
            "**Local responder**: Bedrock is not called. Both columns answer from a small "
            "bundled FAQ, so the app works with no AWS account.",
            icon=":material/offline_bolt:",
        )
    else:
        st.caption(
            f"Each question goes to **{fast.name}** (`{fast.model_id}`) for a fast answer and "
            f"**{detailed.name}** (`{detailed.model_id}`) for a detailed one, "
            f"in parallel, on Bedrock in {settings.region}."
        )


def main() -> None:
    st.set_page_config(page_title=TITLE, page_icon=":material/forum:", layout="wide")
    try:
        backend = chat_backend()
    except SettingsError as err:
        st.title(TITLE)
        st.error(f"Configuration error: {err}")
        st.stop()
    turns: list[Turn] = st.session_state.setdefault("turns", [])
    show_header(backend)
    for turn in turns:
        show_turn(turn)
    question = st.chat_input("Ask both models a question")
    if question and question.strip():
        turns.append(ask(question.strip(), backend, turns))
    show_sidebar(backend, turns)  # last, so that it counts the turn just asked


def show_sidebar(backend: ChatBackend, turns: list[Turn]) -> None:
    settings = backend.settings
    with st.sidebar:
        if backend.is_local:
            st.markdown("**Provider:** local responder (no Bedrock)")
        else:
            st.markdown(f"**Provider:** Bedrock in {settings.region}")
            for spec in settings.model_specs():
                st.markdown(f"**{spec.name}** ({spec.role}): `{spec.model_id}`")
        st.markdown(release_label())
        if st.button("Clear conversation", disabled=not turns):
            turns.clear()
            st.rerun()


if __name__ == "__main__":
    main()
