"""Multipage apps and apps that are not chats (issue 20, Deliver 4-5), on real servers."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from opskit.clock import Deadline, FakeClock
from opskit.errors import Cancelled, StepError, StepFailed
from opskit.steps.streamlit_session import STEP
from opskit.streamlit import widgets
from opskit.streamlit.pages import candidates, find_base
from tests.conftest import ContextFactory
from tests.streamlit.conftest import Servers
from tests.streamlit.test_step import failure, run_cli, run_step

# --- 4. multipage apps --------------------------------------------------------------------


def nav_url(servers: Servers, page: str = "") -> str:
    """The st.navigation test app, at a page path below the apps' base path /chat."""
    return f"{servers.apps.url}/{page}?app=pages_nav"


def test_a_page_path_in_the_url_opens_that_page_of_an_st_navigation_app(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    # A browser opens /chat/sales fine; the handshake on /chat/sales/_stcore/stream
    # was a 403 ("an auth proxy, or the origin/XSRF check?").
    result = run_step(
        make_ctx,
        url=nav_url(streamlit_servers, "sales"),
        ask=["q1?", {"question": "q2?", "expect": ["the report answers: q2?"]}],
        expect_page=["Sales report"],
    )
    assert result.status == "ok"
    # Both questions went to the report page, not back to the default page.
    assert [a["answer"] for a in result.outputs.answers] == [
        "the report answers: q1?",
        "the report answers: q2?",
    ]
    assert "Nav home" not in result.outputs.page_text


def test_page_selects_a_page_by_its_title_or_its_url_path(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    for page in ("Sales report", "/sales", "sales report"):
        result = run_step(
            make_ctx, url=nav_url(streamlit_servers), page=page, ask=["hi"], expect_page=["Sales"]
        )
        assert result.outputs.answers[0]["answer"] == "the report answers: hi", page
    assert "opened the page 'sales report'" in make_ctx.messages("info")


def test_a_pages_folder_app_opens_its_page_by_url_and_by_page(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    base = streamlit_servers.multipage.url
    by_url = run_step(make_ctx, url=f"{base}/Ask_here", ask=["where?"])
    by_page = run_step(make_ctx, url=base, page="Ask here", ask=["where?"])
    for result in (by_url, by_page):
        assert result.outputs.answers[0]["answer"] == "the page answers: where?"
        assert "Ask here page" in result.outputs.page_text


def test_a_page_that_does_not_exist_fails_listing_the_pages(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    err = failure(make_ctx, StepFailed, url=nav_url(streamlit_servers, "salez"), ask=["hi"])
    assert err.summary == (
        "no page /salez in the app; its pages: 'Home' (/), 'Sales report' (/sales)"
    )
    err = failure(make_ctx, StepFailed, url=streamlit_servers.multipage.url, page="Reports")
    assert err.summary == (
        "no page 'Reports' in the app; its pages: 'home' (/), 'Ask here' (/Ask_here)"
    )
    err = failure(make_ctx, StepFailed, url=streamlit_servers.app("echo"), page="Reports")
    assert err.summary == "no page 'Reports' in the app; the app has a single page"


def test_the_base_path_is_found_as_the_browser_finds_it() -> None:
    assert candidates("https://h/chat/sales?x=1") == [
        ("https://h/chat/sales?x=1", ""),
        ("https://h/chat?x=1", "sales"),
    ]
    assert candidates("https://h/") == [("https://h/", "")]  # nothing to try: no GET


def test_the_base_path_probe_honours_the_deadline_and_cancel(streamlit_servers: Servers) -> None:
    url, clock = nav_url(streamlit_servers, "sales"), FakeClock()
    found = find_base(url, Deadline(clock, None), threading.Event(), {})
    assert found == (f"{streamlit_servers.apps.url}?app=pages_nav", "sales")
    # No time left: no GET, and the whole path is kept for the handshake to judge.
    assert find_base(url, Deadline.after(clock, 0), threading.Event(), {}) == (url, "")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        find_base(url, Deadline(clock, None), cancel, {})


# --- 5. apps that are not chats -----------------------------------------------------------


def test_a_form_app_answers_through_fill_and_click(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    url = streamlit_servers.app("pages_form")
    entry = {"fill": {"Your question": "my service"}, "click": "Get answer"}
    result = run_step(make_ctx, url=url, ask=[{**entry, "expect": ["tasks restart when"]}])
    (answer,) = result.outputs.answers
    assert answer["question"] == "fill Your question='my service', then click 'Get answer'"
    assert answer["answer"] == "Answer: tasks restart when my service fails its health check"

    err = failure(make_ctx, StepFailed, url=url, ask=[{**entry, "expect": ["rollback"]}])
    assert err.summary == (
        "\"fill Your question='my service', then click 'Get answer'\": the answer lacks "
        "'rollback': 'Answer: tasks restart when my service fails its health check'"
    )


def test_widgets_get_the_values_a_person_types_and_picks(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    fill = {"Service name": "web", "Tasks": 3, "CPU share": "0.25", "Size": "large"}
    result = run_step(
        make_ctx,
        url=streamlit_servers.app("pages_widgets"),
        ask=[{"fill": fill, "click": "Estimate", "expect": ["web: 3 x large tasks at 0.25 CPU"]}],
    )
    assert result.outputs.answers[0]["answer"] == "web: 3 x large tasks at 0.25 CPU"
    # The page shows what was typed and picked, as the browser does, not the defaults.
    page = result.outputs.page_text
    for shown in ("Service name\nweb", "Tasks\n3", "CPU share\n0.25", "Size\nlarge"):
        assert shown in page


@pytest.mark.parametrize(
    ("entry", "kind", "summary"),
    [
        (
            {"fill": {"Nickname": "x"}, "click": "Estimate"},
            StepError,
            "no input labelled 'Nickname' on the page to fill with 'x' (widgets: "
            "'Service name' (text input), 'Tasks' (number input), 'CPU share' (number input), "
            "'Size' (selectbox), 'Disabled' (button), 'Estimate' (button))",
        ),
        ({"click": "Go"}, StepError, "no button labelled 'Go' on the page to click"),
        (
            {"fill": {"Size": "huge"}},
            StepError,
            "'Size' (selectbox) has no option 'huge' (options: 'small', 'medium', 'large')",
        ),
        ({"fill": {"Tasks": "2.5"}}, StepError, "'2.5' is not a whole number for 'Tasks'"),
        ({"click": "Disabled"}, StepFailed, "the button 'Disabled' is disabled"),
    ],
)
def test_a_widget_the_page_does_not_offer_could_not_be_checked(
    entry: dict[str, Any],
    kind: type[StepFailed],
    summary: str,
    streamlit_servers: Servers,
    make_ctx: ContextFactory,
) -> None:
    err = failure(make_ctx, kind, url=streamlit_servers.app("pages_widgets"), ask=[entry])
    assert err.summary.startswith(summary)


def test_two_widgets_with_the_label_asked_for_could_not_be_checked(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    err = failure(
        make_ctx, StepError, url=streamlit_servers.app("pages_twins"), ask=[{"fill": {"Name": "x"}}]
    )
    assert err.summary == (
        "2 widgets labelled 'Name' on the page to fill with 'x' ('Name' (text input), "
        "'Name' (text input)): fill and click name a widget by its label, so opskit cannot "
        "tell them apart"
    )


def test_a_chat_input_gone_after_a_question_fails_quoting_the_page(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    # It was there at load: the app is a chat that broke down, not one opskit cannot check.
    err = failure(
        make_ctx, StepFailed, url=streamlit_servers.app("pages_chat_gone"), ask=["a?", "b?"]
    )
    assert err.summary == (
        'the chat input is gone after question 1 ("a?"): no one can ask "b?"; the page '
        "shows: 'Chat closed for today: the daily quota is used up.'"
    )
    assert err.outputs.answers[0]["answer"] == "echo: a?"


def test_a_form_field_without_its_submit_button_could_not_be_checked(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    err = failure(
        make_ctx,
        StepError,
        url=streamlit_servers.app("pages_form"),
        ask=[{"fill": {"Your question": "x"}}],
    )
    assert err.summary == (
        "'Your question' is in a form: nothing is sent until it is submitted; "
        "click its submit button ('Get answer')"
    )


def test_a_question_for_a_form_app_is_could_not_check_not_a_failure(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    # aws-samples' ECS demo: a text area and a submit button, no chat input.
    err = failure(make_ctx, StepError, url=streamlit_servers.app("pages_form"), ask=["hi"])
    assert err.summary == 'no chat input on the page to ask "hi" (chat inputs: none)'


def test_the_selectbox_value_field_follows_the_server_version() -> None:
    assert widgets.selectbox_value_field("1.44.1") == "int_value"
    assert widgets.selectbox_value_field("1.45.0") == "string_value"
    assert widgets.selectbox_value_field("") == "string_value"


BAD_ENTRIES = [
    (
        {"ask": [{"expect": ["x"]}]},
        "with.ask[0]: needs a question, or fill and/or click",
    ),
    (
        {"ask": [{"question": "q", "click": "Go"}]},
        "with.ask[0]: question and click: a question is sent by the chat input, not a button",
    ),
    ({"ask": [{"fill": {}, "click": "Go"}]}, "with.ask[0].fill: must not be empty"),
    ({"ask": [{"fill": "Question", "click": "Go"}]}, "with.ask[0].fill: expected a mapping"),
    ({"ask": [{"click": ""}]}, "with.ask[0].click: must not be empty"),
    ({"page": ["a"]}, "with.page: expected a string"),
]


@pytest.mark.parametrize(("with_", "message"), BAD_ENTRIES)
def test_bad_fill_click_and_page_are_one_line_and_exit_2(
    with_: dict[str, Any], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output, _ = run_cli(tmp_path, capsys, {"url": "http://127.0.0.1:1", **with_})
    assert code == 2, output
    lines = [line for line in output.splitlines() if message in line]
    assert len(lines) == 1, output
    assert str(tmp_path / "chat.yaml") in lines[0] and "Traceback" not in output


def test_a_dry_run_names_the_page_and_the_widgets(make_ctx: ContextFactory) -> None:
    ctx = make_ctx(uses="streamlit.session")
    inputs = STEP.coerce_inputs(
        {
            "url": "http://127.0.0.1:1/app",
            "page": "Ask",
            "ask": [{"fill": {"Q": "why?"}, "click": "Go", "expect": ["because"]}],
        }
    )
    assert STEP.plan is not None
    assert STEP.plan(ctx, inputs).summary == (
        "would open a session on ws://127.0.0.1:1/app/_stcore/stream; open the page 'Ask'; "
        "ask \"fill Q='why?', then click 'Go'\" (expect 'because') (dry run: nothing sent)"
    )
