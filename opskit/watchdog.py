"""Run a step's work in a thread that the runner can abandon; route Ctrl-C and SIGTERM.

Wait loops honour their deadline and cancel event themselves; the watchdog is
for the call that does not (a socket read that never returns). It gives the
work ``grace`` seconds past its timeout, or past a cancel, then stops waiting
for it: the daemon thread is left behind, the run goes on and reports why.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


class Abandoned(Exception):
    """The work did not stop within its timeout plus the grace period."""


def run_watched(
    work: Callable[[], T],
    *,
    name: str,
    timeout: float | None,
    cancel: threading.Event,
    grace: float,
) -> T:
    """``work()``'s result or exception, unless it overruns: then ``cancel`` is set
    (a polite stop), and after a further ``grace`` ``Abandoned`` is raised."""
    box: dict[str, object] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["result"] = work()
        except BaseException as err:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = err
        finally:
            done.set()

    threading.Thread(target=target, name=name, daemon=True).start()
    started = time.monotonic()
    abandon_at: float | None = None
    while not done.wait(0.05):
        now = time.monotonic()
        if timeout is not None and not cancel.is_set() and now - started > timeout + grace:
            cancel.set()
            abandon_at = now + grace
        if cancel.is_set() and abandon_at is None:
            abandon_at = now + grace * 2
        if abandon_at is not None and now > abandon_at:
            raise Abandoned()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


# What a cancel sends: Ctrl-C (and CI systems, first) SIGINT; CI systems SIGTERM next
# (GitHub Actions 7.5 s after SIGINT, then SIGKILL); ``kill`` and container runtimes
# SIGTERM alone. Each is the same request: stop the run, keep its report.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalRoute:
    """The one handler of SIGINT and SIGTERM over a run's whole span, from its
    start until its report is written (``routed_signals`` installs it).

    Handing the signals from the run's handler back to the defaults, then to a
    second handler for the report, left a gap (the run's end announced, its
    warning thread joined) in which SIGTERM's default ended the process with no
    report. Here the handler stays; what a signal does changes: before a run
    takes the signals (``obeyed``) they wait for it and it hears them as it
    does; while it runs, its handler hears them; after it they are noted
    (``held``), and the report is written."""

    def __init__(self) -> None:
        self._handler: Callable[[int], None] | None = None
        self._waiting: list[int] = []
        self._released = False  # a run has had the signals and let them go
        self.held: list[int] = []

    def __call__(self, signum: int, frame: object = None) -> None:
        if self._handler is not None:
            self._handler(signum)
        elif self._released:
            self.held.append(signum)
        else:
            self._waiting.append(signum)

    @contextlib.contextmanager
    def obeyed(self, handler: Callable[[int], None]) -> Iterator[None]:
        """While inside, ``handler(signum)`` hears each signal, first those that
        came before it took them; afterwards they are held."""
        self._handler = handler
        try:
            while self._waiting:
                handler(self._waiting.pop(0))
            yield
        finally:
            self._handler = None
            self._released = True


@contextlib.contextmanager
def routed_signals(*, enabled: bool = True) -> Iterator[SignalRoute]:
    """SIGINT and SIGTERM go to one ``SignalRoute`` while inside (a run, then its
    report): a run's ``on_signals`` inside takes them through it. Only the main
    thread receives signals: elsewhere, or when not ``enabled``, nothing is
    installed and the route is inert."""
    route = SignalRoute()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield route
        return
    previous = {signum: signal.signal(signum, route) for signum in STOP_SIGNALS}
    try:
        yield route
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextlib.contextmanager
def on_signals(handler: Callable[[int], None], *, enabled: bool = True) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM call ``handler(signum)`` instead of raising
    ``KeyboardInterrupt`` (SIGINT) or ending the process at once (SIGTERM's default,
    which writes no report). Inside ``routed_signals`` the route hands them over
    (and holds them once this ends); otherwise the handlers found are restored at
    the end. Only the main thread receives signals: elsewhere (a fleet's target)
    this is a no-op, and whoever owns the main thread forwards them."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    route = signal.getsignal(signal.SIGINT)
    if isinstance(route, SignalRoute):
        with route.obeyed(handler):
            yield
        return
    previous = {signum: signal.signal(signum, lambda n, _: handler(n)) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def stop_words(signum: int) -> str:
    """How the terminal and the reports name a stop request."""
    return "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"


def emit_soon(emit: Callable[..., None], *args: object) -> threading.Thread:
    """``emit(*args)`` from a short-lived thread: a signal handler runs in the main
    thread between two bytecodes, possibly inside the event bus's own ``emit``
    (which holds its lock while a reporter writes), so emitting there directly
    would wait forever for that lock."""
    thread = threading.Thread(target=emit, args=args, name="signal-event", daemon=True)
    thread.start()
    return thread
