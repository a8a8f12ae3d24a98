"""Watch named alarms for a bake window: the first read that finds one in
ALARM ends the watch; the window passes only when a read at its end found
none.

``judge`` is pure (one read in, what it says out); ``watch_alarms`` polls it on
the step's clock within the step's deadline, so tests play alarm changes with a
``ScriptedClock`` and never sleep. An alarm already in ALARM at the first read
counts: a bake window that starts on a firing alarm is no evidence of health.
A read that CloudWatch throttled past botocore's retries is skipped, said once
per stretch, and the watch goes on; the window cannot pass on a skipped read.
CloudWatch keeps an alarm in a state for at least one evaluation period (10
seconds for high-resolution alarms, a minute for the others), so a poll
interval below that sees every visit to ALARM.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opskit.clock import Clock, Deadline, poll_until
from opskit.cloudwatch.alarms import ALARM, INSUFFICIENT_DATA, Alarm, AlarmsThrottled, read_alarms
from opskit.durations import format_duration
from opskit.errors import StepFailed, StepTimeout

if TYPE_CHECKING:
    from opskit.aws import AwsAccess
    from opskit.events import Emit

# An alarm name short and plain enough for the report's timeline; others are
# labelled by their place in the list (names come from AWS configuration).
_PLAIN = re.compile(r"[A-Za-z0-9 _.-]{1,40}")


@dataclass(frozen=True)
class Reading:
    """What one read says: alarms not found, in ALARM, without data (in the
    order the names were given)."""

    missing: tuple[str, ...]
    firing: tuple[Alarm, ...]
    insufficient: tuple[Alarm, ...]


def judge(names: Sequence[str], found: dict[str, Alarm]) -> Reading:
    return Reading(
        missing=tuple(n for n in names if n not in found),
        firing=tuple(found[n] for n in names if n in found and found[n].state == ALARM),
        insufficient=tuple(
            found[n] for n in names if n in found and found[n].state == INSUFFICIENT_DATA
        ),
    )


@dataclass(frozen=True)
class Watched:
    """How a watch ended: ``fired`` empty when no alarm went to ALARM through the
    window; ``fired_at`` when opskit saw it (epoch seconds)."""

    fired: tuple[Alarm, ...]
    fired_at: float | None
    reads: int
    throttled: int  # reads skipped because CloudWatch throttled them
    without_data: tuple[str, ...]  # alarms some read found INSUFFICIENT_DATA

    def describe_firing(self) -> str:
        return "; ".join(f"alarm {a.name!r} is in ALARM: {a.reason}" for a in self.fired)


def span(seconds: float) -> str:
    """``5m`` for whole minutes, else the reports' short form (``90.0s``, ``2m30s``)."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return format_duration(seconds)


def alarm_label(name: str, names: Sequence[str]) -> str:
    """``alarm chatbot-5xx`` for the timeline, or ``alarm 2`` for a name that is
    not plain."""
    return f"alarm {name}" if _PLAIN.fullmatch(name) else f"alarm {list(names).index(name) + 1}"


@dataclass
class _Watch:
    aws: AwsAccess
    names: tuple[str, ...]
    window: float
    emit: Emit
    clock: Clock
    started: float = 0.0
    reads: int = 0
    throttled: int = 0
    throttling: bool = False
    without_data: dict[str, None] = field(default_factory=dict)  # ordered set
    last: Reading | None = None

    def left(self) -> float:
        return max(0.0, self.window - (self.clock.monotonic() - self.started))

    def check(self) -> Watched | None:
        window_over = self.left() <= 0  # before the read: a read at the end counts
        try:
            found = read_alarms(self.aws, self.names)
        except AlarmsThrottled as err:
            self.throttled += 1
            if not self.throttling:
                self.throttling = True
                self.emit("warning", f"CloudWatch throttled DescribeAlarms ({err}); read skipped")
            return None
        if self.throttling:
            self.throttling = False
            self.emit("info", "DescribeAlarms answered again after throttling")
        self.reads += 1
        reading = judge(self.names, found)
        self.last = reading
        if reading.missing:
            missing = ", ".join(repr(n) for n in reading.missing)
            raise StepFailed(
                f"CloudWatch has no alarm named {missing} (metric, composite or Logs alarm)"
            )
        for alarm in reading.insufficient:
            if alarm.name not in self.without_data:
                self.without_data[alarm.name] = None
                self.emit("info", f"alarm {alarm.name!r} has INSUFFICIENT_DATA: {alarm.reason}")
        if reading.firing:
            return self.ended(reading.firing)
        if window_over:
            return self.ended(())
        self.emit(
            "progress",
            f"watching {self.count()} for {span(self.window)}: "
            f"{span(self.left())} left, {self.state()}",
            remaining=self.left(),
        )
        return None

    def ended(self, firing: tuple[Alarm, ...]) -> Watched:
        now = self.clock.time()
        for alarm in firing:
            self.emit("mark", f"{alarm_label(alarm.name, self.names)} fired", at=now,
                      what="failure")  # fmt: skip
        return Watched(
            fired=firing,
            fired_at=now if firing else None,
            reads=self.reads,
            throttled=self.throttled,
            without_data=tuple(self.without_data),
        )

    def count(self) -> str:
        return "1 alarm" if len(self.names) == 1 else f"{len(self.names)} alarms"

    def state(self) -> str:
        if self.last is None:
            return "not read yet"
        if self.last.insufficient:
            names = ", ".join(a.name for a in self.last.insufficient)
            return f"none in ALARM, INSUFFICIENT_DATA: {names}"
        return "all OK"


def watch_alarms(
    aws: AwsAccess,
    names: Sequence[str],
    *,
    window: float,
    interval: float,
    emit: Emit,
    clock: Clock,
    deadline: Deadline,
    cancel: threading.Event,
) -> Watched:
    """Watch ``names`` for ``window`` seconds, reading every ``interval``.

    Raises ``StepFailed`` when a name is not an alarm (at the first read),
    ``StepTimeout`` when the step's deadline comes first, ``Cancelled`` on
    Ctrl-C, ``StepError`` on an AWS error other than throttling."""
    watch = _Watch(aws, tuple(names), window, emit, clock, started=clock.monotonic())

    def interval_now() -> float:
        left = watch.left()
        return min(interval, left) if left > 0 else interval

    try:
        return poll_until(
            watch.check,
            clock=clock,
            deadline=deadline,
            interval=interval_now,
            cancel=cancel,
            describe=watch.state,
        )
    except StepTimeout:
        watched = format_duration(clock.monotonic() - watch.started)
        raise StepTimeout(
            f"timed out after {watched} of a {span(window)} watch of "
            f"{watch.count()}: {watch.state()}"
            + (f" ({watch.throttled} reads throttled)" if watch.throttled else "")
        ) from None
