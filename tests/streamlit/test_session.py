"""The session and the page model: version-aware widget values, cached references,
the page as the browser keeps it."""

from __future__ import annotations

import threading

import pytest

from opskit.clock import Clock, Deadline
from opskit.streamlit import StreamlitSession, chat_value_field, proto, session, stream_url
from opskit.streamlit.page import MessageCache, Page, ProtocolError
from tests.streamlit.conftest import Servers


def open_session(url: str) -> StreamlitSession:
    return StreamlitSession(url, Deadline.after(Clock(), 20), threading.Event())


def test_the_chat_inputs_value_field_follows_the_server_version() -> None:
    assert chat_value_field("1.42.2") == "string_trigger_value"
    assert chat_value_field("1.40.0") == "string_trigger_value"
    assert chat_value_field("1.43.0") == "chat_input_value"
    assert chat_value_field("1.67.0") == "chat_input_value"
    assert chat_value_field("2.0.0rc1") == "chat_input_value"
    assert chat_value_field("") == "chat_input_value"  # unknown: the newest


def test_the_server_reads_only_its_own_versions_field(
    streamlit_servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_session(streamlit_servers.app("echo")) as tab:
        tab.load()
        (chat_input,) = tab.page.chat_inputs()
        assert tab.ask("right field?", chat_input).answer == (
            "You asked right field?. The answer is 42."
        )
        # The other version's field: this server's chat input cannot read it, and
        # the run shows an exception instead of an answer.
        right = chat_value_field(tab.streamlit_version)
        wrong = {"chat_input_value": "string_trigger_value"}.get(right, "chat_input_value")
        monkeypatch.setattr(session, "chat_value_field", lambda version: wrong)
        outcome = tab.ask("wrong field?", chat_input)
        shown = tab.page.exceptions()
    assert "You asked" not in outcome.answer
    assert shown and shown[0].type == "AttributeError"


def test_widget_ids_come_from_the_page(streamlit_servers: Servers) -> None:
    with open_session(streamlit_servers.app("two_inputs")) as tab:
        tab.load()
        ids = [n.element.chat_input.id for n in tab.page.chat_inputs()]
    assert len(ids) == 2 and ids[0].endswith("-support") and ids[1].endswith("-sales")


def test_a_large_element_comes_back_as_a_reference_and_is_resolved(
    streamlit_servers: Servers,
) -> None:
    with open_session(streamlit_servers.app("big_page")) as tab:
        tab.load()
        assert tab.cache.resolved == 0 and len(tab.cache.hashes()) == 1
        (chat_input,) = tab.page.chat_inputs()
        outcome = tab.ask("again", chat_input)
        assert tab.cache.resolved == 1  # the server sent a ref_hash, not the element
        text = tab.page.text()
    assert text.startswith("big block start lorem ipsum") and "big block end" in text
    assert outcome.answer == "answer to again"


def test_a_reference_to_a_message_never_sent_is_a_protocol_error() -> None:
    reference = proto.ForwardMsg(ref_hash="abc")
    with pytest.raises(ProtocolError, match="message abc not sent"):
        MessageCache().resolve(reference)


def _delta(path: tuple[int, ...], markdown: str | None = None, block: str | None = None):
    message = proto.ForwardMsg()
    message.metadata.delta_path.extend(path)
    if markdown is not None:
        message.delta.new_element.markdown.body = markdown
    elif block == "assistant":
        message.delta.add_block.chat_message.name = "assistant"
    else:
        message.delta.add_block.vertical.SetInParent()
    return tuple(message.metadata.delta_path), message.delta


def test_later_deltas_replace_earlier_ones_and_stale_elements_go_at_the_runs_end() -> None:
    page = Page()
    page.start_run()
    page.apply(*_delta((0, 0), "title"))
    page.apply(*_delta((0, 1), "old text"))
    page.apply(*_delta((0, 2), block="assistant"))
    page.apply(*_delta((0, 2, 0), "first words"))
    page.apply(*_delta((0, 2, 0), "first words and more"))
    page.finish_run()
    assert page.text() == "title\nold text\nassistant\nfirst words and more"

    page.start_run()  # the next run sends less: the rest is stale
    page.apply(*_delta((0, 0), "title"))
    page.apply(*_delta((0, 1), "new text"))
    assert page.text() == "title\nnew text\nassistant\nfirst words and more"  # until the end
    page.finish_run()
    assert page.text() == "title\nnew text"


def test_an_element_replacing_a_block_drops_the_blocks_children() -> None:
    page = Page()
    page.start_run()
    page.apply(*_delta((0, 0), block="assistant"))
    page.apply(*_delta((0, 0, 0), "inside"))
    page.apply(*_delta((0, 0), "plain now"))
    assert page.text() == "plain now"


def test_the_stream_url_keeps_the_base_path() -> None:
    assert stream_url("http://host:8501") == "ws://host:8501/_stcore/stream"
    assert stream_url("https://host/chat/") == "wss://host/chat/_stcore/stream"
    assert stream_url("https://host/chat?x=1") == "wss://host/chat/_stcore/stream"
    with pytest.raises(ValueError, match="expected an http:// or https:// URL"):
        stream_url("host:8501")
