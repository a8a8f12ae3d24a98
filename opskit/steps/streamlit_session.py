"""``streamlit.session``: a synthetic user proves that the deployed chatbot answers.

Every other check can pass while no question gets an answer: the script health
check only proves that the script renders a page, and the incident's symptom was
"every question fails with a streaming error". This step opens a session the way
a browser tab does (``opskit.streamlit``: the websocket, no browser, no
Streamlit), types each question into the chat input, waits for that run to
finish, and judges what a person would see: exceptions, ``st.error`` alerts, the
expected words in the answer, the release shown on the page. An answer is only
what appeared for its question (``opskit.streamlit.answer``), and one that reads
as an error or an apology is no answer (``opskit.streamlit.nonanswers``).

``failed`` means the page said no; ``error`` means opskit could not check: no
session could be had (a refused connection, a 403 from an auth proxy, a server
that is not Streamlit), or the page offers neither a chat input nor the widgets
a question names (an app that is not a chat is not a broken release).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from opskit.clock import Deadline
from opskit.durations import format_duration
from opskit.errors import StepError, StepFailed, StepProblem, StepTimeout
from opskit.iam.needs import NO_AWS
from opskit.logs.patterns import Pattern, check_patterns
from opskit.shapes import Array, Checked, Map, OneOf, Optional, Scalar, Text
from opskit.steps.base import StepContext, StepResult, StepType, output, param
from opskit.streamlit import (
    Page,
    PageMissing,
    RunOutcome,
    RunTimeout,
    SessionUnavailable,
    StreamlitSession,
    stream_url,
    widgets,
)
from opskit.streamlit.transcript import Transcript
from opskit.streamlit.verdicts import (
    Question,
    chat_inputs,
    excerpt,
    judge_answer,
    judge_expect_page,
    judge_page,
    pick_chat_input,
    quoted,
    seconds,
)

DEFAULT_TIMEOUT = 120.0  # when the playbook sets none: an answer that never ends must fail
LIVE_EVERY = 0.25  # seconds between live updates of a streaming answer


def _check_url(value: str) -> str:
    stream_url(value)  # raises ValueError with the message for the user
    return value


# A pattern, or a list of them; each ``re:...`` compiled now, so a bad one fails the load.
PATTERNS = Array(
    Checked(Text(expected="a pattern"), Pattern.parse),
    single=True,
    expected="a pattern or a list of them",
)
QUESTIONS = Array(
    OneOf(
        Text(expected="a question"),
        Checked(
            Map(
                Optional("question", Text(), "What the user types into the chat input."),
                Optional("expect", PATTERNS, "Patterns the answer must hold.", default=[]),
                Optional("forbid", PATTERNS, "Patterns the answer must not hold.", default=[]),
                Optional("fill", widgets.FILL, widgets.FILL_HELP),
                Optional("click", Text(), "The label of a button or form submit button to press."),
                Optional(
                    "non_answers",
                    Scalar("boolean"),
                    "false: do not fail an answer that reads as an error or an apology.",
                    default=True,
                ),
            ),
            widgets.check_entry,
        ),
        expected="a question, or a mapping with question or fill/click, expect, forbid, "
        "non_answers",
    ),
    expected="a list of questions",
    hint='write ask: ["How do I ...?"] or a list of {question, expect, forbid}',
)


def _questions(entries: list[Any]) -> list[Question]:
    """The checked ``ask`` entries as ``Question`` values (a string is a bare question)."""
    found = []
    for entry in entries:
        if isinstance(entry, str):
            found.append(Question(entry.strip(), typed=entry.strip()))
            continue
        typed, fill = entry.get("question", "").strip(), tuple(entry.get("fill", {}).items())
        name = typed or widgets.describe(fill, entry.get("click"))
        checks = tuple(entry["expect"]), tuple(entry["forbid"])
        found.append(Question(name, *checks, entry["non_answers"], fill, entry.get("click"), typed))
    return found


@dataclass(frozen=True, kw_only=True)
class SessionInputs:
    url: str = param(
        "The app's URL, as a person opens it (a base path is kept: https://host/chat).",
        "string",
        required=True,
        check=_check_url,
    )
    ask: list[Question] = param(
        "Questions typed into the chat input, in order: a string, or a mapping with "
        "question, expect (patterns the answer must hold) and forbid (patterns it must "
        "not). Patterns are substrings, or regular expressions written re:...",
        QUESTIONS,
        default=[],
        check=_questions,
    )
    non_answers: list[Pattern] = param(
        "The app's own non-answers (e.g. its canned apology): an answer that holds one "
        "fails, as one that reads as an error or an apology does. Substrings, or re:...",
        PATTERNS,
        default=[],
    )
    expect_page: list[str] = param(
        "Patterns the page must show after the last answer (e.g. the release digest).",
        "string_list",
        default=[],
        check=check_patterns,
    )
    include_hidden: bool = param(
        "Let expect_page match text a person sees only after opening its container "
        "(a collapsed expander or status, a closed popover, an inactive tab, a sidebar "
        "set to start collapsed).",
        "boolean",
        default=False,
    )
    allow_errors: bool = param(
        "Pass even when the page shows an error alert (st.error).", "boolean", default=False
    )
    page: str | None = param(
        "The page of a multipage app to open, by its title in the nav or its URL path "
        "(a page path in url opens that page too).",
        "string",
    )
    placeholder: str | None = param(
        "Ask in the chat input with this placeholder (default: the only one).", "string"
    )
    key: str | None = param("Ask in the chat input with this widget key.", "string")
    headers: dict[str, str] | None = param(
        "Extra headers for the websocket handshake (e.g. a cookie an auth proxy wants).",
        "object",
    )


@dataclass(frozen=True, kw_only=True)
class SessionOutputs:
    streamlit_version: str | None = output(
        "The server's Streamlit version, as its session reported it (null in a dry run).",
        "string",
    )
    answers: list[dict[str, Any]] = output(
        "Per question: question, answer (the text as rendered), first_text_ms, total_ms.", "list"
    )
    exceptions: list[dict[str, str]] = output(
        "Exceptions shown on the page: type and message.", "list"
    )
    errors: list[str] = output("Error alerts (st.error) shown on the page, as text.", "string_list")
    page_text: str = output(
        "The text a person sees on the page after the last answer ('' in a dry run).", "string"
    )
    hidden_text: str = output(
        "Text on the page inside containers a person must open first ('' in a dry run).",
        "string",
    )


def _outputs(transcript: Transcript) -> SessionOutputs:
    page = transcript.page or Page()
    return SessionOutputs(
        streamlit_version=transcript.version or None,
        answers=transcript.answers,
        exceptions=[{"type": e.type, "message": e.message} for e in page.exceptions()],
        errors=page.errors(),
        page_text=page.text(),
        hidden_text=page.hidden_text(),
    )


class _LiveAnswer:
    """The live view of a streaming answer: its newest words, at most every LIVE_EVERY."""

    def __init__(self, ctx: StepContext, question: str):
        self.ctx, self.question, self.shown_at = ctx, question, 0.0

    def __call__(self, text: str) -> None:
        now = time.monotonic()
        if now - self.shown_at < LIVE_EVERY:
            return
        self.shown_at = now
        flat = " ".join(text.split())
        tail = flat if len(flat) <= 90 else "…" + flat[-89:]
        self.ctx.emit("progress", f"{quoted(self.question)} ← {tail}", chars=len(text))


def run(ctx: StepContext, inputs: SessionInputs) -> StepResult:
    transcript = Transcript(inputs.url)
    deadline = ctx.deadline
    if deadline.at is None:
        deadline = Deadline.after(ctx.clock, DEFAULT_TIMEOUT)
    started = ctx.clock.monotonic()
    asking: str | None = None  # the question waited for, for a timeout's message

    def fail(summary: str, kind: type[StepProblem] = StepFailed) -> StepProblem:
        return kind(summary, detail=transcript.detail(), outputs=_outputs(transcript))

    try:
        with StreamlitSession(
            inputs.url, deadline, ctx.cancel, headers=dict(inputs.headers or {})
        ) as session:
            transcript.page = session.page
            loaded = session.load()
            transcript.version, transcript.load_ms = session.streamlit_version, loaded.duration_ms
            ctx.emit(
                "info",
                f"Streamlit {session.streamlit_version or '(unknown version)'}: page loaded "
                f"in {seconds(loaded.duration_ms)}",
            )
            if inputs.page is not None and session.open_page(inputs.page) is not None:
                ctx.emit("info", f"opened the page {inputs.page!r}")
            problem = judge_page(
                session.page, "before any question", allow_errors=inputs.allow_errors
            )
            if problem:
                raise fail(problem)
            chat_at_load = bool(chat_inputs(session.page, inputs.key, inputs.placeholder)[0])
            gone_after: str | None = None  # the last question, once a chat input was there
            for question in inputs.ask:
                values = widgets.values(
                    session.page, dict(question.fill), question.click, session.streamlit_version
                )
                live = _LiveAnswer(ctx, question.question)
                asking = question.question
                index, asked_at = len(transcript.answers) + 1, ctx.clock.time()
                ctx.emit("mark", f"question {index} asked", at=asked_at, what="question")
                if question.typed:
                    chat_input = pick_chat_input(
                        session.page,
                        question.typed,
                        key=inputs.key,
                        placeholder=inputs.placeholder,
                        gone_after=gone_after,
                    )
                    outcome = session.ask(question.typed, chat_input, on_text=live, widgets=values)
                else:
                    filled = [value for _, value in question.fill]  # a click types nothing
                    outcome = session.submit(filled, values, on_text=live)
                asking = None
                if chat_at_load:
                    number = len(transcript.answers) + 1
                    gone_after = f"question {number} ({quoted(question.question)})"
                _record(ctx, transcript, question.question, outcome)
                if not question.expect:
                    transcript.errors_only.add(len(transcript.answers) - 1)
                problem = judge_page(
                    session.page, quoted(question.question), allow_errors=inputs.allow_errors
                )
                problem = problem or judge_answer(question, outcome, inputs.non_answers)
                answered = asked_at + outcome.duration_ms / 1000
                verdict, what = ("failed", "failure") if problem else ("ok", "answer")
                ctx.emit("mark", f"answer {index} {verdict}", at=answered, what=what)
                if problem:
                    raise fail(problem)
            problem = judge_expect_page(
                session.page, inputs.expect_page, include_hidden=inputs.include_hidden
            )
            if problem:
                raise fail(problem)
    except (SessionUnavailable, widgets.NotOnPage) as err:
        raise fail(str(err), StepError) from None
    except (PageMissing, widgets.Refused) as err:
        raise fail(str(err)) from None
    except RunTimeout:
        waited = format_duration(ctx.clock.monotonic() - started)
        if asking is None:
            raise fail(
                f"timed out after {waited}: the page did not finish loading", StepTimeout
            ) from None
        partial = session.current_run
        if partial is not None:
            _record(ctx, transcript, asking, partial)
        chars = len(partial.answer) if partial is not None else 0
        raise fail(
            f"timed out after {waited} waiting for the answer to {quoted(asking)} "
            f"(the script was still running; {chars} chars of answer so far)",
            StepTimeout,
        ) from None
    except StepProblem as err:
        if not err.detail:
            raise fail(err.summary, type(err)) from None
        raise
    return StepResult(
        "ok", transcript.summary(inputs.expect_page), _outputs(transcript), transcript.detail()
    )


def _record(ctx: StepContext, transcript: Transcript, question: str, outcome: RunOutcome) -> None:
    finished = outcome.status >= 0
    transcript.answers.append(
        {
            "question": question,
            "answer": outcome.answer,
            "first_text_ms": _ms(outcome.first_text_ms),
            "total_ms": _ms(outcome.duration_ms) if finished else None,
        }
    )
    ctx.emit("info", f"Q: {question}")
    first = ""
    if outcome.first_text_ms is not None:
        first = f", first text {seconds(outcome.first_text_ms)}"
    when = f"in {seconds(outcome.duration_ms)}" if finished else "unfinished"
    ctx.emit("info", f"A: {len(outcome.answer)} chars {when}{first}: {excerpt(outcome.answer)}")


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def plan(ctx: StepContext, inputs: SessionInputs) -> StepResult:
    """Say what would be asked; send nothing (a real model's answer costs money)."""
    parts = [f"would open a session on {stream_url(inputs.url)}"]
    if inputs.page is not None:
        parts.append(f"open the page {inputs.page!r}")
    for question in inputs.ask:
        checks = [f"expect {p.text!r}" for p in question.expect]
        checks += [f"forbid {p.text!r}" for p in question.forbid]
        parts.append(
            f"ask {quoted(question.question)}" + (f" ({', '.join(checks)})" if checks else "")
        )
    if inputs.expect_page:
        parts.append("expect the page to show " + ", ".join(repr(p) for p in inputs.expect_page))
    outputs = SessionOutputs(
        streamlit_version=None,
        answers=[],
        exceptions=[],
        errors=[],
        page_text="",
        hidden_text="",
    )
    return StepResult("ok", "; ".join(parts) + " (dry run: nothing sent)", outputs)


PERMISSIONS = NO_AWS  # a websocket to the app only


STEP = StepType(
    name="streamlit.session",
    summary="A synthetic user: open the app over its websocket, ask questions, judge the page.",
    inputs=SessionInputs,
    outputs=SessionOutputs,
    run=run,
    plan=plan,
    permissions=PERMISSIONS,
)
