"""A browser-less Streamlit session: open the app, type into its chat input, read the page.

The browser talks to a Streamlit server over one websocket, ``<app
URL>/_stcore/stream`` (below any base path in the URL), with the subprotocol
``streamlit``: it sends a ``BackMsg`` asking for a script run with its widget
values, and reads ``ForwardMsg``s back: ``new_session`` when a run starts (with
the server's version), deltas that build the page, ``script_finished`` when the
run is over. ``StreamlitSession`` does exactly that, and nothing a browser would
not do, so the server cannot tell it from a person's tab.

Every wait honours the caller's ``Deadline`` and ``cancel`` event; a reading
loop wakes at least every ``POLL`` seconds to look at both.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from google.protobuf.message import DecodeError
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.sync.client import connect

from opskit.clock import Deadline
from opskit.errors import Cancelled
from opskit.streamlit import pages, proto
from opskit.streamlit.answer import AnswerWatch, BeforeQuestion, is_placeholder
from opskit.streamlit.page import (
    MessageCache,
    Node,
    Page,
    ProtocolError,
    ShownException,
)

STREAM_PATH = "_stcore/stream"
SUBPROTOCOL = "streamlit"
POLL = 0.2  # seconds between looks at the deadline and the cancel event
CONNECT_TIMEOUT = 10.0
COMPILE_ERROR_WAIT = 2.0  # seconds to wait for a compile error's exception after the run
MAX_MESSAGE = 200 * 1024 * 1024  # Streamlit's own default server.maxMessageSize
ANSWER_EVERY = 0.2  # seconds between full reads of a streaming answer once it has words


# (widget id, WidgetState field, value): one widget's value in a rerun.
WidgetValue = tuple[str, str, Any]


class SessionUnavailable(Exception):
    """No session could be had: opskit could not check (refused, 403, not Streamlit)."""


class RunTimeout(Exception):
    """The deadline passed before the script run finished."""


def stream_url(app_url: str) -> str:
    """``http(s)://host[:port][/base]`` -> ``ws(s)://host[:port][/base]/_stcore/stream``.

    Raises ``ValueError`` for what cannot be an app's URL.
    """
    parts = urlsplit(app_url.strip())
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL of the app, got {app_url!r}")
    base = parts.path.rstrip("/")
    if base.endswith("/" + STREAM_PATH):
        base = base[: -len(STREAM_PATH) - 1]
    return urlunsplit((scheme, parts.netloc, f"{base}/{STREAM_PATH}", "", ""))


def version_tuple(version: str) -> tuple[int, ...]:
    numbers = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit()) if part else ""
        if not digits:
            break
        numbers.append(int(digits))
        if not part.isdigit():
            break
    return tuple(numbers)


def chat_value_field(streamlit_version: str) -> str:
    """The ``WidgetState`` field that carries a chat input's text for this server.

    Streamlit 1.43 gave ``st.chat_input`` file uploads and moved its value from
    ``string_trigger_value`` to ``chat_input_value``; a server reads only its own.
    An unknown version is taken as the newest.
    """
    version = version_tuple(streamlit_version)
    if version and version < (1, 43):
        return "string_trigger_value"
    return "chat_input_value"


@dataclass
class RunOutcome:
    """What one script run did: how it ended and when text first appeared."""

    status: int  # proto.FINISHED_*
    started: float  # perf_counter when the run was asked for
    finished: float
    first_text: float | None = None  # first text in an answer (see ``ask``)
    answer: str = ""  # the answer's text as shown (so far, while the run goes on)
    elsewhere: tuple[str, ...] = ()  # new text outside the answer (alerts, toasts, ...)

    @property
    def duration_ms(self) -> float:
        return (self.finished - self.started) * 1000

    @property
    def first_text_ms(self) -> float | None:
        return None if self.first_text is None else (self.first_text - self.started) * 1000


@dataclass
class StreamlitSession:
    """One session on a Streamlit app, opened like a browser tab opens it.

    Use as a context manager; ``load()`` runs the script once (the page a person
    first sees), ``ask()`` types a question into a chat input and waits for that
    run to finish.
    """

    url: str
    deadline: Deadline
    cancel: threading.Event
    headers: dict[str, str] = field(default_factory=dict)
    page: Page = field(default_factory=Page)
    cache: MessageCache = field(default_factory=MessageCache)
    streamlit_version: str = ""
    session_id: str = ""
    current_run: RunOutcome | None = None  # the run being waited for, or the last one
    asked: list[str] = field(default_factory=list)  # questions typed so far
    filled: list[str] = field(default_factory=list)  # values typed into widgets so far
    app_pages: list[pages.AppPage] = field(default_factory=list)  # a multipage app's nav
    page_hash: str = ""  # the page shown, once the server named it (reruns stay on it)
    page_path: str = ""  # the page in the URL, sent by name until its hash is known
    page_not_found: bool = False  # the server said it has no page ``page_path``
    _socket: Any = None
    _exits: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __enter__(self) -> StreamlitSession:
        base, self.page_path = pages.find_base(self.url, self.deadline, self.cancel, self.headers)
        target = stream_url(base)
        timeout = self._remaining(CONNECT_TIMEOUT)
        try:
            self._socket = self._exits.enter_context(
                connect(
                    target,
                    subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                    additional_headers=self.headers or None,
                    open_timeout=max(timeout, 0.05),
                    max_size=MAX_MESSAGE,
                    compression=None,  # Streamlit compresses nothing on this socket
                )
            )
        except InvalidStatus as err:
            status = err.response.status_code
            why = {
                401: "the server wants a login (an auth proxy in front of the app?)",
                403: "the server refused the session (an auth proxy, or the origin/XSRF check?)",
                404: "no Streamlit websocket there (not a Streamlit app, or a wrong base path?)",
            }.get(status, "not a Streamlit websocket")
            raise SessionUnavailable(f"{target}: HTTP {status} on the handshake: {why}") from None
        except InvalidURI as err:
            raise SessionUnavailable(f"{target}: {err}") from None
        except InvalidHandshake as err:
            raise SessionUnavailable(f"{target}: not a Streamlit websocket ({err})") from None
        except ConnectionRefusedError:
            raise SessionUnavailable(f"{target}: connection refused") from None
        except TimeoutError:
            raise SessionUnavailable(
                f"{target}: no websocket within {timeout:.0f} s of connecting"
            ) from None
        except OSError as err:
            raise SessionUnavailable(f"{target}: {err.strerror or err}") from None
        if self._socket.subprotocol != SUBPROTOCOL:
            self.close()
            raise SessionUnavailable(
                f"{target}: the server did not accept the {SUBPROTOCOL!r} subprotocol: "
                "not a Streamlit server"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            self._exits.close()

    # --- runs -------------------------------------------------------------------
    def load(self) -> RunOutcome:
        """The first script run, with no widget values: the page a person first sees.

        Raises ``PageMissing`` when the URL names a page the app does not have
        (the server then shows its default page, as a browser would).
        """
        outcome = self._run([])
        if self.page_not_found:
            raise pages.PageMissing(
                f"no page /{self.page_path} in the app; {pages.listing(self.app_pages)}"
            )
        return outcome

    def open_page(self, wanted: str) -> RunOutcome | None:
        """Go to the page named ``wanted`` (its title or URL path), as a click in the
        nav does; ``None`` when it is the page shown. Raises ``PageMissing``."""
        page = pages.pick(self.app_pages, wanted)
        if page.script_hash == self.page_hash:
            return None
        return self._run([], page_hash=page.script_hash)

    def ask(
        self,
        question: str,
        chat_input: Node,
        *,
        on_text: Callable[[str], None] | None = None,
        widgets: list[WidgetValue] | None = None,
    ) -> RunOutcome:
        """Submit ``question`` in ``chat_input`` and wait for the run to finish.

        The answer is the text this run added (``opskit.streamlit.answer``), never
        text that was on the page before the question, in whatever shape it is
        redrawn; ``first_text`` is when the first delta carrying answer text came.
        ``on_text`` gets that answer text as it streams.
        """
        field_name = chat_value_field(self.streamlit_version)
        chat = (chat_input.element.chat_input.id, field_name, question)
        return self.submit([], [*(widgets or []), chat], on_text=on_text, question=question)

    def submit(
        self,
        filled: list[str],
        values: list[WidgetValue],
        *,
        on_text: Callable[[str], None] | None = None,
        question: str = "",
    ) -> RunOutcome:
        """Send ``values`` (typed, picked, clicked) in one rerun and wait for it to
        finish; the answer is judged as after a question: ``question`` (typed into
        the chat input) and ``filled`` (the values typed or picked into widgets)
        are the user's words, not the answer."""
        before = BeforeQuestion.of(
            self.page, question, tuple(self.asked), values=filled, filled=tuple(self.filled)
        )
        self.asked += [question] if question else []
        self.filled += filled
        return self._run(values, before, on_text)

    def _run(
        self,
        values: list[WidgetValue],
        before: BeforeQuestion | None = None,
        on_text: Callable[[str], None] | None = None,
        page_hash: str = "",
    ) -> RunOutcome:
        started = time.perf_counter()
        self.page_not_found = False
        self._send_rerun(values, page_hash)
        outcome = RunOutcome(status=-1, started=started, finished=started)
        self.current_run = outcome
        running = False
        watch = None if before is None else AnswerWatch(before, ANSWER_EVERY)
        compile_error_since: float | None = None
        while True:
            try:
                if compile_error_since is None:
                    message = self._receive()
                else:  # the exception follows the run's end; a server that sends none is not held
                    message = self._receive(until=compile_error_since + COMPILE_ERROR_WAIT)
                    if message is None:
                        return outcome
            except RunTimeout:
                if before is not None:  # the answer so far, as shown now (the watch reads it late)
                    outcome.answer = before.answer(self.page)
                raise
            kind = message.WhichOneof("type")
            if kind == "new_session":
                running = True
                self.page.start_run()
                self._read_new_session(message.new_session)
            elif kind == "delta" and running:
                node = self.page.apply(tuple(message.metadata.delta_path), message.delta)
                answer = (
                    None
                    if watch is None or node is None
                    else watch.delta(self.page, node, time.perf_counter())
                )
                if answer is not None:
                    if outcome.first_text is None and not is_placeholder(answer):
                        outcome.first_text = time.perf_counter()
                    if answer != outcome.answer:
                        outcome.answer = answer
                        if on_text is not None:
                            on_text(answer)
            elif kind == "page_config_changed":
                self.page.configure(message.page_config_changed)
            elif kind == "navigation":
                self._read_navigation(message.navigation)
            elif kind == "page_not_found":
                self.page_not_found = True
            elif kind == "session_event" and message.session_event.HasField(
                "script_compilation_exception"
            ):
                shown = message.session_event.script_compilation_exception
                self.page.compile_exception = ShownException(shown.type, shown.message)
                if compile_error_since is not None:
                    return outcome
            elif kind == "script_finished" and running:
                status = message.script_finished
                if status == proto.FINISHED_EARLY_FOR_RERUN:
                    continue  # another run follows (st.rerun): wait for that one
                if status == proto.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                    continue  # a fragment re-ran on its own; the page run goes on
                self.page.finish_run()
                if before is not None:
                    shown = before.new_text(self.page)
                    outcome.answer, outcome.elsewhere = shown.answer, shown.elsewhere
                outcome.status = status
                outcome.finished = time.perf_counter()
                if status != proto.FINISHED_WITH_COMPILE_ERROR or self.page.compile_exception:
                    return outcome
                # A script that does not compile: Streamlit sends the exception itself
                # in a session event just after the run's end.
                compile_error_since = outcome.finished

    def _send_rerun(self, values: list[WidgetValue], page_hash: str = "") -> None:
        """Ask for a run as the browser does: of the page shown (its hash, once the
        server named it; before that, the URL's page by name), with ``values``."""
        back = proto.BackMsg()
        state = back.rerun_script
        state.query_string = urlsplit(self.url).query
        state.page_script_hash = page_hash or self.page_hash
        if not state.page_script_hash and self.page_path:
            state.page_name = self.page_path
        state.widget_states.SetInParent()
        state.cached_message_hashes.extend(self.cache.hashes())
        typed = []
        for widget_id, value_field, value in values:
            widget = state.widget_states.widgets.add(id=widget_id)
            if value_field in ("chat_input_value", "string_trigger_value"):
                getattr(widget, value_field).data = value
            else:
                setattr(widget, value_field, value)
                if value_field != "trigger_value":
                    typed.append((widget_id, value))
        self.page.remember_sent(typed)  # the page shows what was typed, as the browser does
        try:
            self._socket.send(back.SerializeToString())
        except ConnectionClosed as err:
            raise SessionUnavailable(f"the server closed the session ({_closed(err)})") from None

    def _read_new_session(self, new_session: Any) -> None:
        if new_session.HasField("initialize"):
            info = new_session.initialize.environment_info
            self.streamlit_version = info.streamlit_version or self.streamlit_version
            self.session_id = new_session.initialize.session_id or self.session_id
        # A pages/ folder app up to Streamlit 1.4x lists its pages here and sends no
        # navigation message; later servers send one after this and it wins. One
        # page is not a multipage app (newer servers list only the page asked for).
        if len(new_session.app_pages) > 1:
            self._read_pages(new_session.app_pages, new_session.page_script_hash)

    def _read_navigation(self, navigation: Any) -> None:
        """The app's pages and the one this run shows (Streamlit 1.36+); the
        browser reruns that page from then on, and so does opskit."""
        self._read_pages(navigation.app_pages, navigation.page_script_hash)

    def _read_pages(self, app_pages: Any, shown: str) -> None:
        self.app_pages = [
            pages.AppPage(p.page_name, p.url_pathname, p.page_script_hash, p.is_default)
            for p in app_pages
        ]
        self.page_hash = shown or self.page_hash

    def _receive(self, until: float | None = None) -> Any:
        """The next message, references resolved; ``None`` once ``until`` (a
        ``perf_counter`` time) has passed.

        Raises ``RunTimeout``, ``Cancelled`` or ``SessionUnavailable``.
        """
        while True:
            remaining = self.deadline.remaining()
            if remaining is not None and remaining <= 0:
                raise RunTimeout("the deadline passed")
            if self.cancel.is_set():
                raise Cancelled("interrupted")
            wait = POLL if remaining is None else min(POLL, remaining)
            if until is not None:
                left = until - time.perf_counter()
                if left <= 0:
                    return None
                wait = min(wait, left)
            try:
                data = self._socket.recv(timeout=wait)
            except TimeoutError:
                continue
            except ConnectionClosed as err:
                raise SessionUnavailable(
                    f"the server closed the session ({_closed(err)})"
                ) from None
            if isinstance(data, str):
                raise SessionUnavailable(
                    f"the server sent text, not Streamlit's protobuf: {data[:80]!r}"
                )
            try:
                message = proto.ForwardMsg.FromString(data)
                resolved = self.cache.resolve(message)
            except ProtocolError as err:
                raise SessionUnavailable(str(err)) from None
            except DecodeError as err:
                raise SessionUnavailable(
                    f"the server sent a message that is not Streamlit's ({err})"
                ) from None
            self.cache.remember(resolved)
            return resolved

    def _remaining(self, limit: float) -> float:
        remaining = self.deadline.remaining()
        return limit if remaining is None else min(limit, remaining)


def _closed(err: ConnectionClosed) -> str:
    frame = err.rcvd
    if frame is None:
        return "no close frame"
    return f"code {frame.code}" + (f": {frame.reason}" if frame.reason else "")
