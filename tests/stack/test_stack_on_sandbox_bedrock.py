"""The app's production path against the sandbox's Bedrock endpoint (issue 15, test 3).

No fake client: the app builds its real ``bedrock-runtime`` client with the
client manager, pointed at the endpoint by ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``
as the sandbox's tasks are, and ``BedrockResponder`` streams through botocore.
Each fault is what the page shows a user, read with Streamlit's ``AppTest``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st
from core.local_responder import LocalResponder
from stack_fakes import SRC_DIR
from streamlit.testing.v1 import AppTest

from opskit.sandbox.bedrock import BedrockEndpoint, make_fault

MICRO = "amazon.nova-micro-v1:0"
PRO = "amazon.nova-pro-v1:0"
QUESTION = "How do I redeploy the service?"
FAQ = LocalResponder.bundled().match(QUESTION)


@pytest.fixture
def endpoint(stack_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[BedrockEndpoint]:
    server = BedrockEndpoint(delay=0)
    server.start()
    monkeypatch.setenv("CHATBOT_MODEL_PROVIDER", "bedrock")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.endpoint_url)
    st.cache_resource.clear()  # one backend per process, as in production: a new one here
    yield server
    st.cache_resource.clear()
    server.stop()


def ask(question: str = QUESTION) -> AppTest:
    app = AppTest.from_file(str(SRC_DIR / "chatbot_app.py"), default_timeout=30)
    app.run()
    assert not app.exception, app.exception
    app.chat_input[0].set_value(question).run()
    assert not app.exception, app.exception
    return app


def columns(app: AppTest) -> list[dict[str, list[str]]]:
    """What each column of the last answer shows, by kind of element."""
    assistant = [m for m in app.chat_message if m.name == "assistant"][-1]
    return [
        {
            "markdown": [md.value for md in column.markdown],
            "error": [e.value for e in column.error],
            "warning": [w.value for w in column.warning],
            "caption": [c.value for c in column.caption],
        }
        for column in assistant.columns
    ]


def calls_for(endpoint: BedrockEndpoint, model_id: str) -> list[tuple[str, int, str]]:
    return [(c.operation, c.status, c.error) for c in endpoint.calls() if c.model_id == model_id]


def test_both_columns_stream_from_the_endpoint_and_say_bedrock(
    endpoint: BedrockEndpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    app = ask()

    micro, pro = columns(app)
    assert micro["markdown"] == ["**Nova Micro** · fast answer", FAQ.short]
    assert pro["markdown"] == ["**Nova Pro** · detailed answer", FAQ.detailed]
    assert micro["caption"][0].startswith(f"Bedrock · `{MICRO}` · first token")
    assert pro["caption"][0].startswith(f"Bedrock · `{PRO}` · first token")
    assert not app.info and not app.error and not app.warning  # no local-responder banner
    assert calls_for(endpoint, MICRO) == [("ConverseStream", 200, "")]
    assert calls_for(endpoint, PRO) == [("ConverseStream", 200, "")]
    out = capsys.readouterr().out
    assert "Bedrock Runtime health check passed" in out
    assert f"Nova Micro answer complete: {len(FAQ.short)} chars" in out
    assert "(Bedrock)" in out and "(local responder)" not in out


def test_access_denied_on_one_model_shows_the_reason_and_the_other_answers(
    endpoint: BedrockEndpoint,
) -> None:
    endpoint.faults.set(make_fault("nova-pro", "access_denied"))

    micro, pro = columns(ask())

    assert micro["markdown"][1] == FAQ.short and not micro["error"]
    assert pro["markdown"] == ["**Nova Pro** · detailed answer"]
    assert pro["error"] == [
        "Nova Pro failed: access denied; is model access enabled in this region? "
        "(AccessDeniedException: You don't have access to the model with the specified model ID.)"
    ]


def test_throttled_twice_is_answered_by_the_apps_retries(endpoint: BedrockEndpoint) -> None:
    endpoint.faults.set(make_fault("nova-micro", "throttled", calls=2))

    micro, pro = columns(ask())

    assert micro["markdown"][1] == FAQ.short and not micro["error"]
    assert pro["markdown"][1] == FAQ.detailed
    assert calls_for(endpoint, MICRO) == [
        ("ConverseStream", 429, "ThrottlingException"),
        ("ConverseStream", 429, "ThrottlingException"),
        ("ConverseStream", 200, ""),
    ]


def test_a_stream_error_shows_the_text_so_far_and_the_failure(endpoint: BedrockEndpoint) -> None:
    endpoint.faults.set(make_fault(PRO, "stream_error", after_chunks=2))

    micro, pro = columns(ask())

    assert micro["markdown"][1] == FAQ.short
    shown = pro["markdown"][1]
    assert FAQ.detailed.startswith(shown) and 0 < len(shown.split()) <= 6
    assert pro["error"] == [
        "Nova Pro failed: Bedrock error (modelStreamErrorException: "
        "The model's response stream failed after 2 chunks.)"
    ]


def test_unavailable_falls_back_to_the_local_responder_and_labels_it(
    endpoint: BedrockEndpoint,
) -> None:
    endpoint.faults.set(make_fault("all", "unavailable"))

    micro, pro = columns(ask())

    for column, text in ((micro, FAQ.short), (pro, FAQ.detailed)):
        assert column["markdown"][1] == text
        (notice,) = column["warning"]
        assert notice.startswith("Bedrock unreachable (Could not connect to the endpoint URL: ")
        assert notice.endswith(": answered by the local responder")
        assert column["caption"][0].startswith("Local responder (no Bedrock) · bundled FAQ")
        assert not column["error"]
    assert endpoint.calls() == []  # nothing got through
