"""Answer attribution on the page shapes the review of issue 20 found wrong: the
user's side under other names, placeholders and controls, a restated sidebar, a
repeated answer, form apps (findings 1, 2, 3, 4, 6, 8, 10)."""

from __future__ import annotations

import pytest

from opskit.errors import StepFailed
from tests.conftest import ContextFactory
from tests.streamlit.conftest import Servers
from tests.streamlit.test_step import failure, run_step

FORM = {"fill": {"Your question": "the container", "Size": "large"}, "click": "Get answer"}
FORM_NAME = "fill Your question='the container', then Size='large', then click 'Get answer'"


def test_a_human_named_message_is_the_users_even_when_its_markdown_renders(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    question = "Is `rollback` safe?"
    err = failure(
        make_ctx,
        StepFailed,
        url=streamlit_servers.app("answers_human"),
        ask=[{"question": question, "expect": ["rollback"]}],
    )
    assert err.summary == f'"{question}": the answer lacks \'rollback\': "I don\'t know."'
    assert err.outputs.answers[0]["answer"] == "I don't know."


@pytest.mark.parametrize(
    ("mode", "only"),
    [("thinking", " (only 'Thinking...')"), ("cursor", " (only '▌')"), ("retry", "")],
)
def test_a_placeholder_a_cursor_or_a_button_is_no_answer_and_the_warning_is_quoted(
    streamlit_servers: Servers, make_ctx: ContextFactory, mode: str, only: str
) -> None:
    url = f"{streamlit_servers.app('answers_placeholder')}&mode={mode}"
    err = failure(make_ctx, StepFailed, url=url, ask=["hi"])
    assert err.summary == (
        f"\"hi\": no answer{only}; the page shows instead: 'The model is busy right now.'"
    )
    assert err.outputs.answers[0]["first_text_ms"] is None  # no words ever came


def test_an_answer_that_restates_the_sidebars_settings_is_the_answer(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    result = run_step(
        make_ctx,
        url=streamlit_servers.app("answers_sidebar"),
        ask=[{"question": "which model?", "expect": ["Model: Nova Lite", "eu-west-1"]}],
    )
    assert result.status == "ok"
    assert result.outputs.answers[0]["answer"] == "Model: Nova Lite\nRegion: eu-west-1"


@pytest.mark.parametrize("history", ["none", "expander"])
def test_the_same_answer_twice_is_an_answer_twice(
    streamlit_servers: Servers, make_ctx: ContextFactory, history: str
) -> None:
    result = run_step(
        make_ctx,
        url=f"{streamlit_servers.app('answers_repeat')}&history={history}",
        ask=[{"question": q, "expect": ["Restart the service."]} for q in ("a?", "b?")],
    )
    assert result.status == "ok"
    assert [a["answer"] for a in result.outputs.answers] == ["Restart the service."] * 2
    assert result.summary.startswith(f"asked 2 questions: {2 * len('Restart the service.')} chars")


def test_a_form_apps_info_box_is_its_answer(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    result = run_step(
        make_ctx,
        url=f"{streamlit_servers.app('answers_form')}&show=info",
        ask=[{**FORM, "expect": ["Tasks restart when the container fails"]}],
    )
    assert result.status == "ok"
    assert result.outputs.answers[0]["answer"] == "Tasks restart when the container fails"


def test_a_form_apps_info_box_still_goes_through_the_non_answer_list(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    err = failure(
        make_ctx, StepFailed, url=f"{streamlit_servers.app('answers_form')}&show=nokey", ask=[FORM]
    )
    assert err.summary == (
        f'"{FORM_NAME[:59]}…": the answer reads as a request for a key, not an answer: '
        "'Please add your API key to continue.'"
    )


def test_new_controls_and_the_echo_of_every_value_typed_are_not_the_answer(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    result = run_step(
        make_ctx,
        url=f"{streamlit_servers.app('answers_form')}&show=widgets",
        ask=[{**FORM, "forbid": ["Download", "Rate the answer", "Sorry", "Size"]}],
    )
    assert result.status == "ok"
    assert result.outputs.answers[0]["answer"] == "Tasks restart when the container fails"
    assert result.outputs.answers[0]["question"] == FORM_NAME
