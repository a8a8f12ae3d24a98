"""Events: the one seam between what happens in a run and what a person sees.

Steps and the runner emit events; reporters (terminal, JSON lines) subscribe.
Every string passes through the run's ``Redactor`` before any subscriber sees
it, so a secret cannot leak through one reporter that forgot to redact.

Kinds a step may emit with ``ctx.emit(kind, message, **data)``:

- ``progress``: a transient status ("412/2000 files, 3.1 MiB, 1.2 MiB/s"); a
  terminal shows the newest on one live line, plain output prints it throttled.
- ``info``: a line worth keeping ("deployment ecs-svc/123 created").
- ``warning``: something the user should read even when the step passes.
- ``log``: a log line from a task; data ``task_id``, ``age`` ("NEW" or "OLD"),
  ``timestamp`` (epoch ms). ``--quiet`` hides these on a terminal.
- ``event``: an ECS service event; data ``created_at``.
- ``mark``: a moment for the report's timeline; data ``at`` (epoch seconds,
  when it HAPPENED: a task's ``startedAt``, a log event's timestamp, not when
  opskit saw it) and ``what`` (one of ``MARK_KINDS``). The message is a short
  label of fixed words and playbook-authored names only ("task 1a2b3c started"),
  never outside text (a log line, an answer, a stopped reason). Terminals do
  not print marks (an ``info`` line says the same); JSON lines carry them, and
  the runner keeps them in ``RunResult.events`` (``report.json``'s ``events``).

The runner itself emits ``run_start``, ``step_start``, ``step_end``, ``run_end``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol, get_args

from opskit.redact import Redactor

EventKind = Literal[
    "run_start",
    "step_start",
    "step_end",
    "run_end",
    "progress",
    "info",
    "warning",
    "log",
    "event",
    "mark",
    "fleet_start",
    "fleet_end",
]
EVENT_KINDS: frozenset[str] = frozenset(get_args(EventKind))

# What a ``mark`` marks. The runner adds ``step_start``/``step_end`` for every
# step it runs. A step that fails marks ``failure`` where it happened (the log
# line's timestamp, the failed attempt, the failed answer); when its last attempt
# marked none, the runner marks it at the step's end: "ID failed", "ID timed out"
# or "ID interrupted".
MarkKind = Literal[
    "step_start",
    "step_end",
    "sync",
    "deployment",
    "task_started",
    "task_healthy",
    "task_stopped",
    "log_marker",
    "probe",
    "question",
    "answer",
    "run_task",
    "stage",
    "confirm",
    "note",
    "failure",
]
MARK_KINDS: frozenset[str] = frozenset(get_args(MarkKind))


class Emit(Protocol):
    """What a step calls to report: ``emit(kind, message, **data)``."""

    def __call__(self, kind: EventKind, message: str, **data: Any) -> None: ...


@dataclass(frozen=True)
class Event:
    kind: EventKind
    message: str
    step_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ts": round(self.ts, 3), "kind": self.kind}
        if self.step_id is not None:
            out["step"] = self.step_id
        out["message"] = self.message
        if self.data:
            out["data"] = self.data
        return out


Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self, redactor: Redactor):
        self.redactor = redactor
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def emit(self, kind: EventKind, message: str, step_id: str | None = None, **data: Any) -> None:
        """Redact, then hand the event to every subscriber. An unknown kind is a
        programming error, raised here rather than silently dropped by a reporter."""
        if kind not in EVENT_KINDS:
            known = ", ".join(sorted(EVENT_KINDS))
            raise ValueError(f"unknown event kind {kind!r}; known: {known}")
        if kind == "mark":
            check_mark(data)
        event = Event(
            kind=kind,
            message=self.redactor.text(message),
            step_id=step_id,
            data=self.redactor.value(data),
        )
        with self._lock:  # steps may emit from worker threads (transfers)
            for subscriber in self._subscribers:
                subscriber(event)

    def for_step(self, step_id: str) -> Emit:
        def emit(kind: EventKind, message: str, **data: Any) -> None:
            self.emit(kind, message, step_id, **data)

        return emit


def check_mark(data: dict[str, Any]) -> None:
    """A mark without a known ``what`` or a numeric ``at`` is a programming error:
    raised where it is emitted, not drawn at a wrong place in the report."""
    what = data.get("what")
    if what not in MARK_KINDS:
        raise ValueError(f"unknown mark {what!r}; known: {', '.join(sorted(MARK_KINDS))}")
    at = data.get("at")
    if isinstance(at, bool) or not isinstance(at, (int, float)):
        raise ValueError(f"a mark needs at=<epoch seconds>, got {at!r}")


def timeline_entry(at: float, step: str | None, what: str, label: str) -> dict[str, Any]:
    """One entry of ``report.json``'s ``events``: when (ISO 8601 UTC with ms, and
    epoch seconds), which step, what kind of moment, and its label. Both times
    come from one rounded millisecond, so they never disagree (rounding one and
    truncating the other put them 1 ms apart)."""
    ms = round(at * 1000)
    when = datetime.fromtimestamp(ms // 1000, timezone.utc) + timedelta(milliseconds=ms % 1000)
    return {
        "at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "ts": ms / 1000,
        "step": step,
        "what": what,
        "label": label,
    }
