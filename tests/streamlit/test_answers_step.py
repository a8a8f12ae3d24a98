"""Each answer is what appeared for its question; non-answers fail; the page as a
person can use it (issue 20, Deliver 1-3), against the tests' Streamlit server."""

from __future__ import annotations

import pytest

from opskit.errors import StepFailed
from tests.conftest import ContextFactory
from tests.streamlit.conftest import Servers
from tests.streamlit.test_step import failure, run_step

ALPHA = "Alpha is the first letter.\nIt comes before beta."
BETA = "Beta is the second letter."
# The three shapes of a history redrawn under a live answer.
SHAPES = ["shape=many", "shape=one", "shape=one&chat=1"]


def history_app(servers: Servers, shape: str) -> str:
    return f"{servers.app('answers_history')}&{shape}"


@pytest.mark.parametrize("shape", SHAPES)
def test_an_expect_only_the_first_answer_meets_fails_on_the_second_question(
    streamlit_servers: Servers, make_ctx: ContextFactory, shape: str
) -> None:
    err = failure(
        make_ctx,
        StepFailed,
        url=history_app(streamlit_servers, shape),
        ask=[
            {"question": "alpha?", "expect": ["first letter"]},
            {"question": "beta?", "expect": ["first letter"]},
        ],
    )
    assert err.summary == f"\"beta?\": the answer lacks 'first letter': {BETA!r}"
    assert [a["answer"] for a in err.outputs.answers] == [ALPHA, BETA]


@pytest.mark.parametrize("shape", SHAPES)
def test_a_forbid_only_the_first_answer_hits_passes_and_a_repeated_answer_is_still_its_own(
    streamlit_servers: Servers, make_ctx: ContextFactory, shape: str
) -> None:
    result = run_step(
        make_ctx,
        url=history_app(streamlit_servers, shape),
        ask=[
            {"question": "alpha?", "expect": ["first letter"]},
            {"question": "beta?", "forbid": ["first letter", "before beta"]},
            {"question": "alpha?", "expect": ["first letter", "before beta"]},
        ],
    )
    answers = result.outputs.answers
    assert [a["answer"] for a in answers] == [ALPHA, BETA, ALPHA]
    # Lengths and timings are the new answer's.
    assert result.summary.startswith(f"asked 3 questions: {2 * len(ALPHA) + len(BETA)} chars ")
    assert all(0 < a["first_text_ms"] <= a["total_ms"] for a in answers)


def test_a_canned_apology_fails_a_question_with_no_expect(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    url = streamlit_servers.app("answers_apology")
    err = failure(make_ctx, StepFailed, url=url, ask=["How do I redeploy?"])
    assert err.summary == (
        '"How do I redeploy?": the answer reads as an apology, not an answer: '
        '"Sorry, I couldn\'t process your request at the moment."'
    )
    # Turned off for the question, it passes; the transcript says what was checked.
    result = run_step(make_ctx, url=url, ask=[{"question": "hi", "non_answers": False}])
    assert result.status == "ok"
    assert "  (no expect: checked only for errors and non-answers)" in result.detail


def test_an_apps_own_non_answer_fails_naming_it(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    err = failure(
        make_ctx,
        StepFailed,
        url=streamlit_servers.app("echo"),
        ask=["hi"],
        non_answers=["re:The answer is \\d+\\."],
    )
    assert err.summary == (
        "\"hi\": the answer is one of the app's non-answers ('re:The answer is \\\\d+\\\\.'): "
        "'You asked hi. The answer is 42.'"
    )


def test_a_disabled_chat_input_fails_quoting_the_warning_beside_it(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    err = failure(make_ctx, StepFailed, url=streamlit_servers.app("answers_disabled"), ask=["hi"])
    assert err.summary == (
        "the chat input 'Ask' is disabled: no one can ask \"hi\"; the page says: "
        "'The model is not configured: set MODEL_ID and restart.'"
    )
    assert err.outputs.answers == []


def test_a_missing_key_fails_quoting_the_pages_info(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    err = failure(make_ctx, StepFailed, url=streamlit_servers.app("answers_no_key"), ask=["hi"])
    assert err.summary == (
        "\"hi\": no answer; the page shows instead: 'Please add your API key to continue.'"
    )


def test_a_toast_instead_of_an_answer_fails_quoting_it(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    err = failure(make_ctx, StepFailed, url=streamlit_servers.app("answers_toast"), ask=["hi"])
    assert err.summary == "\"hi\": no answer; the page shows instead: 'Your question was queued.'"
