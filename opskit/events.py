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

The runner itself emits ``run_start``, ``step_start``, ``step_end``, ``run_end``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
    "fleet_start",
    "fleet_end",
    "mark",
]
EVENT_KINDS: frozenset[str] = frozenset(get_args(EventKind))


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
