"""The run's timeline as the runner keeps it: the moments steps mark, each
step's start and end, and where a failure happened.

The runner hands each step an ``emit`` from ``step_emit``; a step's marks join
the run's ``events`` (report.json, the Mermaid diagram in report.md) with their
labels redacted. A failing step that marked its own failure (a log line's
time, the failed attempt) is drawn there; otherwise the runner draws the
failure at the step's end, in fixed words ("ID timed out"), since a summary may
quote outside text.
"""

from __future__ import annotations

import threading
from typing import Any

from opskit.errors import Cancelled, StepTimeout
from opskit.events import Emit, EventBus, EventKind, timeline_entry
from opskit.model import RunResult, StepRecord

__all__ = ["RunMarks"]


class RunMarks:
    def __init__(self, bus: EventBus, result: RunResult) -> None:
        self._bus = bus
        self._result = result
        self._lock = threading.Lock()  # steps may mark from worker threads
        self._failure_marked: set[str] = set()  # steps whose last attempt marked its failure
        self._ending: dict[str, str] = {}  # "timed out", "interrupted": how a step ended

    def step_emit(self, step_id: str) -> Emit:
        """The step's ``emit``: the bus's, and its marks kept for the run's timeline."""
        emit = self._bus.for_step(step_id)

        def step_emit(kind: EventKind, message: str, **data: Any) -> None:
            emit(kind, message, **data)  # checks a mark's ``what`` and ``at`` first
            if kind == "mark":
                self.mark(step_id, str(data["what"]), message, float(data["at"]))
                if data["what"] == "failure":
                    self._failure_marked.add(step_id)

        return step_emit

    def mark(self, step_id: str, what: str, label: str, at: float) -> None:
        entry = timeline_entry(at, step_id, what, self._bus.redactor.text(label))
        with self._lock:
            self._result.events.append(entry)

    def attempt_started(self, step_id: str) -> None:
        self._failure_marked.discard(step_id)  # an earlier attempt's mark stays drawn

    def attempt_ended(self, step_id: str, outcome: object) -> None:
        if isinstance(outcome, Cancelled):
            self._ending[step_id] = "interrupted"
        elif isinstance(outcome, StepTimeout):
            self._ending[step_id] = "timed out"
        else:
            self._ending.pop(step_id, None)

    def step_ended(self, record: StepRecord, ended: float) -> None:
        self.mark(record.id, "step_end", f"{record.id} {record.status}", ended)
        if record.failed and record.id not in self._failure_marked:
            how = self._ending.get(record.id, "failed")
            self.mark(record.id, "failure", f"{record.id} {how}", ended)

    def sort(self) -> None:
        with self._lock:
            self._result.events.sort(key=lambda entry: entry["ts"])
