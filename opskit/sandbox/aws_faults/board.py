"""The AWS faults in force in one sandbox, and what each has played so far.

One board a sandbox, shared by the middleware in front of moto (its request
threads), the agents (placement, Spot) and the log shippers (late lines). With
a faults file the file is the source of truth: every look at the board first
checks whether the file changed (one stat) and, if so, loads it, so
``opskit sandbox fault ...`` from another process is in force for the very next
request. A fault set again, or changed, starts counting afresh; one that the
file still holds unchanged keeps its counts.

``clock`` (monotonic seconds) paces the throttle's buckets, the placement
attempts and the late lines; tests replace it to play seconds without waiting.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opskit.sandbox.aws_faults.kinds import FILTER_LOG_EVENTS_QUOTA, AwsFault, aws_fault_from_json
from opskit.sandbox.aws_faults.quota import LOGS_READ_QUOTAS, TokenBucket
from opskit.sandbox.faultfile import FaultsFile


class AwsFaultsFile(FaultsFile[AwsFault]):
    """``{"faults": [{"service": "ecs", "kind": "spot", "calls": 2}, ...]}``."""

    def __init__(self, path: Path):
        super().__init__(
            path, parse=aws_fault_from_json, to_json=AwsFault.to_json, key=_key,
            what="AWS faults file",
        )  # fmt: skip

    def clear(self, service: str | None = None) -> list[AwsFault]:
        """Clear one service's faults (``ecs``, ``logs``), or every fault."""
        return self.retain(None if service is None else lambda fault: fault.service != service)


def _key(fault: AwsFault) -> str:
    return fault.key


@dataclass
class _Played:
    """What one fault has done since it was set."""

    stale_services: dict[str, list[Any]] = field(default_factory=dict)  # arn -> [doc, left]
    hidden_tasks: dict[str, int] = field(default_factory=dict)  # task id -> answers left
    count: int = 0  # stale answers, failed placements, reclaims, throttles, late lines
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    throttled: Counter[str] = field(default_factory=Counter)


_SO_FAR = {  # kind -> (one, many) of what it has played
    "stale_reads": ("stale answer", "stale answers"),
    "placement": ("attempt failed", "attempts failed"),
    "spot": ("task reclaimed", "tasks reclaimed"),
    "throttle": ("request throttled", "requests throttled"),
    "late": ("line delayed", "lines delayed"),
}


class AwsFaultBoard:
    def __init__(
        self, faults_file: Path | None = None, *, clock: Callable[[], float] = time.monotonic
    ):
        self.clock = clock
        self._lock = threading.RLock()
        self._faults: dict[str, AwsFault] = {}
        self._played: dict[str, _Played] = {}
        self._file = AwsFaultsFile(faults_file) if faults_file is not None else None

    @property
    def faults_file(self) -> Path | None:
        return self._file.path if self._file is not None else None

    def start(self) -> None:
        """A new sandbox starts with no fault (an old file is emptied)."""
        if self._file is not None:
            self._file.reset()

    def stop(self) -> None:
        if self._file is not None:
            self._file.remove()

    # -- what is in force ------------------------------------------------------------

    def set(self, fault: AwsFault) -> None:
        with self._lock:
            self._faults[fault.key] = fault
            self._played[fault.key] = _Played()

    def clear(self, service: str | None = None) -> None:
        """Clear one service's faults (``ecs``, ``logs``), or every fault."""
        with self._lock:
            for key, fault in list(self._faults.items()):
                if service is None or fault.service == service:
                    del self._faults[key]
                    del self._played[key]

    def replace(self, faults: list[AwsFault]) -> None:
        """Make exactly ``faults`` the faults in force; unchanged ones keep their counts."""
        with self._lock:
            before, self._faults = self._faults, {f.key: f for f in faults}
            self._played = {
                key: self._played[key] if before.get(key) == fault else _Played()
                for key, fault in self._faults.items()
            }

    def faults(self) -> list[AwsFault]:
        self.sync()
        with self._lock:
            return list(self._faults.values())

    def active(self) -> bool:
        """Whether any fault is in force (the middleware's first question)."""
        self.sync()
        return bool(self._faults)

    def snapshot(self) -> list[dict[str, Any]]:
        """Each fault as JSON plus ``description`` with what it has played so far."""
        self.sync()
        with self._lock:
            rows = []
            for key in sorted(self._faults):
                fault, played = self._faults[key], self._played[key]
                one, many = _SO_FAR[fault.kind]
                so_far = f"{played.count} {one if played.count == 1 else many} so far"
                description = f"{fault.describe()}; {so_far}"
                rows.append({**fault.to_json(), "played": played.count, "description": description})
            return rows

    def sync(self) -> None:
        """Load the faults file if it changed since the last look. Under the board's
        lock, so two changes read one after the other are applied in that order."""
        if self._file is None:
            return
        with self._lock:
            faults = self._file.changed()
            if faults is not None:
                self.replace(faults)

    def _in_force(self, kind: str) -> tuple[AwsFault, _Played] | None:
        self.sync()
        for key, fault in self._faults.items():
            if fault.kind == kind:
                return fault, self._played[key]
        return None

    # -- ECS: stale reads ------------------------------------------------------------

    def stale_read_count(self) -> int | None:
        """How many stale reads follow a change (``None``: no stale_reads fault)."""
        with self._lock:
            found = self._in_force("stale_reads")
            return None if found is None else found[0].calls or 1

    def remember_stale(self, service_arn: str, document: dict[str, Any]) -> None:
        """After an UpdateService: the next reads of the service answer ``document``."""
        with self._lock:
            found = self._in_force("stale_reads")
            if found is not None:
                fault, played = found
                played.stale_services[service_arn] = [document, fault.calls or 1]

    def stale_view(self, service_arn: str) -> dict[str, Any] | None:
        """The fields a DescribeServices answer shows for the service now, if stale."""
        with self._lock:
            found = self._in_force("stale_reads")
            pending = found[1].stale_services.get(service_arn) if found else None
            if found is None or pending is None:
                return None
            document, left = pending
            if left <= 1:
                del found[1].stale_services[service_arn]
            else:
                pending[1] = left - 1
            found[1].count += 1
            return dict(document)

    def task_started(self, task_id: str) -> None:
        with self._lock:
            found = self._in_force("stale_reads")
            if found is not None:
                found[1].hidden_tasks[task_id] = found[0].calls or 1

    def hides_task(self, task_id: str) -> bool:
        """Whether this DescribeTasks answers the task MISSING (counts the answer)."""
        with self._lock:
            found = self._in_force("stale_reads")
            left = found[1].hidden_tasks.get(task_id, 0) if found else 0
            if found is None or left <= 0:
                return False
            found[1].hidden_tasks[task_id] = left - 1
            found[1].count += 1
            return True

    # -- ECS: placement and Spot ------------------------------------------------------

    def placement_in_force(self) -> bool:
        with self._lock:
            return self._in_force("placement") is not None

    def placement_fails(self) -> bool:
        """One placement attempt: ``True`` when it fails (counts the attempt)."""
        with self._lock:
            found = self._in_force("placement")
            if found is None:
                return False
            fault, played = found
            if fault.calls is not None and played.count >= fault.calls:
                return False
            played.count += 1
            return True

    def spot_reclaims(self) -> bool:
        """A task just became RUNNING: ``True`` when Spot takes it back (counted)."""
        with self._lock:
            found = self._in_force("spot")
            if found is None or found[1].count >= (found[0].calls or 1):
                return False
            found[1].count += 1
            return True

    # -- CloudWatch Logs ------------------------------------------------------------

    def admits(self, operation: str) -> bool:
        """Whether a Logs request is within its quota (``False``: answer it throttled)."""
        if operation not in LOGS_READ_QUOTAS:
            return True
        with self._lock:
            found = self._in_force("throttle")
            if found is None:
                return True
            fault, played = found
            admitted = False
            if not fault.always:
                rate = LOGS_READ_QUOTAS[operation]
                if operation == "FilterLogEvents":
                    rate = fault.rate if fault.rate is not None else FILTER_LOG_EVENTS_QUOTA
                now = self.clock()
                bucket = played.buckets.setdefault(operation, TokenBucket.full(rate, now))
                admitted = bucket.take(now)
            if not admitted:
                played.count += 1
                played.throttled[operation] += 1
            return admitted

    def throttled(self) -> dict[str, int]:
        """Requests throttled so far, by operation (for tests and status)."""
        with self._lock:
            found = self._in_force("throttle")
            return dict(found[1].throttled) if found else {}

    def late_delay(self, text: str) -> float | None:
        """Seconds before a log line just written becomes readable (``None``: now)."""
        with self._lock:
            found = self._in_force("late")
            if found is None:
                return None
            fault, played = found
            if fault.match and not any(part in text for part in fault.match):
                return None
            played.count += 1
            return fault.seconds
