"""A Claude-id app and a Nova 2 app, asked through ``streamlit.session``, answer
through the sandbox's Bedrock endpoint (issue 20, Deliver 7).

The apps (``apps/bedrock_claude.py``, ``apps/bedrock_nova2.py``) call
bedrock-runtime as the public apps do; the endpoint runs in this process and
the apps reach it through ``?endpoint=``. Before the endpoint knew these ids,
each answered with ``ValidationException: The provided model identifier is
invalid.`` on the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest

from opskit.sandbox.bedrock import BedrockEndpoint
from opskit.sandbox.bedrock.models import STACK_SRC, _load_local_responder
from tests.conftest import ContextFactory
from tests.streamlit.conftest import Servers
from tests.streamlit.test_step import run_step

QUESTION = "How do I redeploy the service?"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[BedrockEndpoint]:
    server = BedrockEndpoint(delay=0)
    server.start()
    yield server
    server.stop()


def local_answer(style: str) -> str:
    module = _load_local_responder(STACK_SRC)
    return str(module.LocalResponder.bundled().answer(SimpleNamespace(key=style), QUESTION))


def ask(make_ctx: ContextFactory, url: str, expect: str) -> Any:
    return run_step(make_ctx, url=url, ask=[{"question": QUESTION, "expect": [expect]}])


@pytest.mark.parametrize(
    ("app", "model_id", "operation", "style"),
    [
        (
            "bedrock_claude",
            "anthropic.claude-3-haiku-20240307-v1:0",
            "InvokeModelWithResponseStream",
            "fast",
        ),
        ("bedrock_nova2", "us.amazon.nova-2-lite-v1:0", "ConverseStream", "fast"),
    ],
)
def test_an_app_on_a_real_apps_model_id_answers_through_the_sandbox(
    streamlit_servers: Servers,
    make_ctx: ContextFactory,
    endpoint: BedrockEndpoint,
    app: str,
    model_id: str,
    operation: str,
    style: str,
) -> None:
    expected = local_answer(style)
    before = len(endpoint.calls())
    url = f"{streamlit_servers.app(app)}&endpoint={quote(endpoint.endpoint_url, safe='')}"

    result = ask(make_ctx, url, expect=expected[:40])

    assert result.status == "ok"
    (answer,) = result.outputs.answers
    assert answer["answer"] == expected
    assert result.outputs.exceptions == []
    assert [(c.operation, c.model_id, c.status, c.error) for c in endpoint.calls()[before:]] == [
        (operation, model_id, 200, "")
    ]
