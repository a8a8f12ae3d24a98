"""Run a step's work in a thread that the runner can abandon; route Ctrl-C.

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


@contextlib.contextmanager
def on_sigint(handler: Callable[[], None], *, enabled: bool = True) -> Iterator[None]:
    """While inside, Ctrl-C calls ``handler`` instead of raising ``KeyboardInterrupt``.
    Only the main thread receives signals: elsewhere (a fleet's target) this is a
    no-op, and whoever owns the main thread forwards the interrupt."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda *_: handler())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
