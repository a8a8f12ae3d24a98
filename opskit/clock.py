"""Time, sleeping and the one poll-until helper that every wait loop uses.

Wait loops (ECS rollout, log markers, HTTP probe) take time from a ``Clock`` so
that tests replace it with ``FakeClock`` and never really sleep; cancellation
(Ctrl-C, the runner's timeout) wakes a sleeping step at once.
"""

from __future__ import annotations

import calendar
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from opskit.errors import Cancelled, StepTimeout

T = TypeVar("T")


def utc_epoch(text: str, layout: str) -> float | None:
    """``text`` in ``layout`` (``time.strptime``'s), read as UTC: seconds since the
    epoch, or ``None`` when it does not parse."""
    try:
        return float(calendar.timegm(time.strptime(text, layout)))
    except ValueError:
        return None


def utc_iso(epoch: float) -> str:
    """``2026-12-06T07:12:42Z``: seconds since the epoch as reports write a moment."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Clock:
    """Real time. ``sleep`` returns early, raising ``Cancelled``, when ``cancel`` is set."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> None:
        if cancel is None:
            time.sleep(max(0.0, seconds))
            return
        if cancel.wait(max(0.0, seconds)):
            raise Cancelled("interrupted")


@dataclass
class FakeClock(Clock):
    """A clock for tests: ``sleep`` advances time instantly and records the call."""

    now: float = 1_700_000_000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled("interrupted")
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)


@dataclass
class Deadline:
    """One deadline per step, read from the step's clock."""

    clock: Clock
    at: float | None  # monotonic seconds; None means no limit

    @classmethod
    def after(cls, clock: Clock, seconds: float | None) -> Deadline:
        return cls(clock, None if seconds is None else clock.monotonic() + seconds)

    def remaining(self) -> float | None:
        if self.at is None:
            return None
        return max(0.0, self.at - self.clock.monotonic())

    def expired(self) -> bool:
        remaining = self.remaining()
        return remaining is not None and remaining <= 0


def poll_until(
    check: Callable[[], T | None],
    *,
    clock: Clock,
    deadline: Deadline,
    interval: float | Callable[[], float],
    cancel: threading.Event | None = None,
    describe: Callable[[], str] = lambda: "condition not met",
) -> T:
    """Call ``check`` until it returns a value other than ``None``.

    ``check`` raises to fail early (a crash loop, a failure marker). When the
    deadline passes, ``StepTimeout`` carries ``describe()``: the last known state,
    because "it timed out, but why?" is the question users ask next. The last
    sleep is shortened so the final check happens at the deadline, not after it.
    ``interval`` may be a function, for loops that back off.
    """
    while True:
        if cancel is not None and cancel.is_set():
            raise Cancelled("interrupted")
        result = check()
        if result is not None:
            return result
        remaining = deadline.remaining()
        if remaining is not None and remaining <= 0:
            raise StepTimeout(f"timed out: {describe()}")
        wanted = interval() if callable(interval) else interval
        pause = wanted if remaining is None else min(wanted, remaining)
        clock.sleep(pause, cancel)
