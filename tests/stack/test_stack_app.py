"""The Streamlit app, driven headless by Streamlit's own ``AppTest``."""

from __future__ import annotations

from collections.abc import Iterator

import core.aws_clients
import pytest
import streamlit as st
from core.local_responder import LocalResponder
from core.markers import FAILURE_WORDS
from core.settings import Settings
from stack_fakes import SRC_DIR, FakeBedrockRuntime, FakeSession, throttling_error
from streamlit.testing.v1 import AppTest

MICRO = "amazon.nova-micro-v1:0"
PRO = "amazon.nova-pro-v1:0"


@pytest.fixture(autouse=True)
def fresh_backend(stack_env: None) -> Iterator[None]:
    st.cache_resource.clear()  # the backend is cached per process, as in production
    yield
    st.cache_resource.clear()


def start() -> AppTest:
    app = AppTest.from_file(str(SRC_DIR / "chatbot_app.py"), default_timeout=20)
    app.run()
    assert not app.exception, app.exception
    return app


def ask(app: AppTest, question: str) -> AppTest:
    app.chat_input[0].set_value(question).run()
    assert not app.exception, app.exception
    return app


def column_texts(app: AppTest, turn: int = -1) -> list[list[str]]:
    """The markdown of each column of an assistant turn."""
    assistant = [m for m in app.chat_message if m.name == "assistant"][turn]
    return [[md.value for md in column.markdown] for column in assistant.columns]


def use_fake_bedrock(monkeypatch, answers) -> FakeBedrockRuntime:
    monkeypatch.setenv("CHATBOT_MODEL_PROVIDER", "bedrock")
    client = FakeBedrockRuntime(answers)
    monkeypatch.setattr(core.aws_clients, "new_session", lambda: FakeSession(client))
    return client


def test_local_responder_answers_in_both_columns_and_says_it_is_local(capsys) -> None:
    app = ask(start(), "How do deployments work?")
    faq = LocalResponder.bundled().match("How do deployments work?")
    assert "Local responder" in app.info[0].value and "Bedrock is not called" in app.info[0].value
    assert [m.markdown[0].value for m in app.chat_message if m.name == "user"] == [
        "How do deployments work?"
    ]
    assert column_texts(app) == [
        ["**Nova Micro** · fast answer · local", faq.short],
        ["**Nova Pro** · detailed answer · local", faq.detailed],
    ]
    captions = [c.value for c in app.caption]
    assert len(captions) == 2
    assert all(
        c.startswith("Local responder (no Bedrock) · bundled FAQ · first token") for c in captions
    )
    out = capsys.readouterr().out
    assert "Model provider: local responder (no Bedrock)" in out
    assert not [word for word in FAILURE_WORDS if word in out]


def test_bedrock_answers_stream_into_both_columns(monkeypatch) -> None:
    client = use_fake_bedrock(
        monkeypatch, {MICRO: "ECS runs containers.", PRO: "Amazon ECS schedules tasks on Fargate."}
    )
    app = ask(start(), "What is ECS?")
    assert column_texts(app) == [
        ["**Nova Micro** · fast answer", "ECS runs containers."],
        ["**Nova Pro** · detailed answer", "Amazon ECS schedules tasks on Fargate."],
    ]
    assert not app.info and not app.error
    captions = [c.value for c in app.caption]
    assert captions[0].startswith(f"Each question goes to **Nova Micro** (`{MICRO}`)")
    assert captions[1].startswith(f"Bedrock · `{MICRO}` · first token")
    assert captions[2].startswith(f"Bedrock · `{PRO}` · first token")
    assert sorted(call["modelId"] for call in client.calls) == [MICRO, PRO]


def test_a_throttled_model_says_what_failed_while_the_other_answers(monkeypatch, capsys) -> None:
    use_fake_bedrock(monkeypatch, {MICRO: "Quick answer.", PRO: throttling_error()})
    app = ask(start(), "Explain deployments")
    assert column_texts(app) == [
        ["**Nova Micro** · fast answer", "Quick answer."],
        ["**Nova Pro** · detailed answer"],
    ]
    assert [e.value for e in app.error] == [
        "Nova Pro failed: throttled by Bedrock "
        "(ThrottlingException: Too many requests, please wait.)"
    ]
    assert "Nova Pro answer failed after" in capsys.readouterr().out


def test_the_conversation_is_kept_and_sent_as_history(monkeypatch) -> None:
    client = use_fake_bedrock(monkeypatch, {MICRO: "First.", PRO: "First, in detail."})
    app = ask(start(), "One?")
    client.answers = {MICRO: "Second.", PRO: "Second, in detail."}
    ask(app, "Two?")
    assert [m.markdown[0].value for m in app.chat_message if m.name == "user"] == ["One?", "Two?"]
    assert column_texts(app, 0)[0][1] == "First."
    assert column_texts(app, 1)[1][1] == "Second, in detail."
    micro_calls = [c for c in client.calls if c["modelId"] == MICRO]
    assert micro_calls[1]["messages"] == [
        {"role": "user", "content": [{"text": "One?"}]},
        {"role": "assistant", "content": [{"text": "First."}]},
        {"role": "user", "content": [{"text": "Two?"}]},
    ]


def test_a_bedrock_client_that_fails_its_check_leaves_the_app_usable_and_says_why(
    monkeypatch,
) -> None:
    monkeypatch.setenv("CHATBOT_MODEL_PROVIDER", "bedrock")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    app = ask(start(), "hello")
    assert app.warning[0].value == (
        "Bedrock is not available: bedrock-runtime client in no region is unavailable: "
        "no region configured (set AWS_REGION or CHATBOT_BEDROCK_REGION). "
        "Answers come from the local responder."
    )
    assert column_texts(app)[0][1] == LocalResponder.bundled().match("hello").short


def test_a_bad_setting_is_shown_instead_of_a_traceback(monkeypatch) -> None:
    monkeypatch.setenv("CHATBOT_MODEL_PROVIDER", "openai")
    app = start()
    assert [e.value for e in app.error] == [
        "Configuration error: CHATBOT_MODEL_PROVIDER must be one of bedrock, local, not 'openai'"
    ]


def test_inference_profile_prefix_is_applied_to_both_models(monkeypatch) -> None:
    monkeypatch.setenv("CHATBOT_INFERENCE_PROFILE_PREFIX", "apac")
    fast, detailed = Settings.from_env().model_specs()
    assert (fast.model_id, detailed.model_id) == (f"apac.{MICRO}", f"apac.{PRO}")


def test_the_sidebar_shows_the_release_the_entrypoint_verified(monkeypatch) -> None:
    monkeypatch.setenv("CHATBOT_RELEASE_DIGEST", "0123456789abcdef" * 4)
    assert "release 0123456789ab" in [md.value for md in start().sidebar.markdown]
    monkeypatch.delenv("CHATBOT_RELEASE_DIGEST")
    sidebar = [md.value for md in start().sidebar.markdown]
    assert "release unknown (not started by the entrypoint)" in sidebar
