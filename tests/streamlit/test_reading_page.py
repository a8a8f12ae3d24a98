"""The page as a person reads it (issue 20, item 6): every element that shows text,
read from a real Streamlit server, and text in unopened containers kept apart."""

from __future__ import annotations

import threading

import pytest

from opskit.clock import Clock, Deadline
from opskit.errors import StepFailed
from opskit.streamlit import StreamlitSession
from tests.conftest import ContextFactory
from tests.streamlit.conftest import Servers
from tests.streamlit.test_step import run_step

APP = "reading_every_element"

# What a person reads on the page, one line each, in page order where it matters.
SEEN = [
    "Requests\n42\n+5 today",  # metric: label, value, delta
    '{"region": "eu-west-1"}',  # json
    "a caption 😄",  # caption, emoji shortcode rendered
    "Bold tinted words, __init__ kept",  # markdown: marks, colour, icon gone; code verbatim
    "Model\tPrice\nNova\tcheap",  # a Markdown table as cells
    "def __init__(self): ...",  # code block, verbatim, no language tag
    "E = mc^2",  # latex source
    "Beta badge",
    "linked badge",  # a badge inside a link: its text, not the URL
    "Html body & more",  # st.html: tags gone, entities decoded
    "An image caption",
    "Loading 40%",  # progress text
    "Saved toast",
    "Model\tPrice\nNova Lite\t0.06",  # st.table: cells from its Arrow payload
    "Region\tTasks\tHealthy\neu-west-1\t2\ttrue\nNone\t3\tfalse",  # st.dataframe
    "(table not read)",  # a column type opskit's Arrow reader does not read
    "Send 🚀",  # button label rendered like Markdown
    "Name\nAda",  # widgets: label and current value
    "Secret\n•••••••",  # a password shows dots
    "Notes\nsome notes",
    "Count\n3",
    "Colour\ngreen",
    "Size\nM",
    "[x] Agree",
    "Level\n7",
    "Tags\nbeta, gamma",
    "Day\n2026/01/02",  # as its format shows it
    "When\n2026/01/02 09:30",
    "Take a photo",
    "Record a note",
    "Actions",
    "Ask about this page",  # a chat input's placeholder, in the empty box
    "At\n09:30",
    "Tint\n#00aa00",
    "[ ] Dark mode",
    "Plan\nFree\nPro",
    "Speed\nfast",
    "Upload a log",
    "Open the docs",
    "Get the report",
    "assistant\nchat body",  # chat message name
    "Open section\nopen expander words",
    "Collapsed section",  # the labels of closed containers are seen
    "First tab\nfirst tab words\nSecond tab",
    "More options",
    "Working",  # a status box's label
]
HIDDEN = [
    "collapsed expander words",
    "second tab words",
    "popover words",
    "status words",
    "sidebar words",  # initial_sidebar_state="collapsed"
]
NOT_READ = ["secret-url", "alt text nobody reads", "hunter2", "---", "$$", ":blue", "python"]


def test_every_element_reads_as_a_person_reads_it_and_unopened_containers_are_apart(
    streamlit_servers: Servers,
) -> None:
    with StreamlitSession(
        streamlit_servers.app(APP), Deadline.after(Clock(), 20), threading.Event()
    ) as tab:
        tab.load()
        seen, hidden = tab.page.text(), tab.page.hidden_text()
    for text in SEEN:
        assert text in seen
    for text in HIDDEN:
        assert text in hidden.splitlines() and text not in seen
    for text in NOT_READ:
        assert text not in seen and text not in hidden


def test_a_metric_satisfies_expect_page_with_its_label_and_value(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    result = run_step(
        make_ctx, url=streamlit_servers.app(APP), expect_page=["Requests", "42", "+5 today"]
    )
    assert result.status == "ok"
    assert "the page shows 'Requests', '42', '+5 today'" in result.summary
    assert "collapsed expander words" not in result.outputs.page_text
    assert "collapsed expander words" in result.outputs.hidden_text.splitlines()
    assert "Hidden on the page (in containers a person must open first):" in result.detail
    assert "  popover words" in result.detail


def test_a_widget_value_set_by_the_script_is_what_the_page_shows(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    # session_state set the selectbox to "large", the radio to "slow", the multiselect
    # to ["beta"]; the defaults ("small", "fast", nothing) are not on the page.
    result = run_step(
        make_ctx,
        url=streamlit_servers.app("reading_state"),
        expect_page=["re:Size\\s+large", "re:Mode\\s+slow", "re:Tags\\s+beta"],
    )
    assert result.status == "ok"
    assert result.outputs.page_text == "Size\nlarge\nMode\nslow\nTags\nbeta"


def test_text_only_in_a_collapsed_expander_fails_expect_page_unless_asked_for(
    streamlit_servers: Servers, make_ctx: ContextFactory
) -> None:
    with pytest.raises(StepFailed) as info:
        run_step(make_ctx, url=streamlit_servers.app(APP), expect_page=["collapsed expander"])
    assert info.value.summary == (
        "the page lacks 'collapsed expander' where a person sees it: it is only in a "
        "container they must open first ('collapsed expander words'; include_hidden: true "
        "matches it there)"
    )
    result = run_step(
        make_ctx,
        url=streamlit_servers.app(APP),
        expect_page=["collapsed expander"],
        include_hidden=True,
    )
    assert result.status == "ok"
