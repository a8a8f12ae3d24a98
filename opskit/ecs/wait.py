"""Follow one deployment until ``watch.judge`` gives a verdict.

Each poll describes the service, emits every new service event once, lists
the service's RUNNING and STOPPED tasks, and emits a progress line that says in
words why it is still waiting, with the time left. Time comes from the step's
clock and deadline (``opskit.clock.poll_until``), so tests never really sleep.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opskit.clock import Clock, Deadline, poll_until
from opskit.durations import format_duration
from opskit.ecs.describe import (
    describe_service,
    event_summary,
    events_after,
    list_service_tasks,
    started_by,
)
from opskit.ecs.names import task_id_of
from opskit.ecs.watch import WAITING, Observation, Verdict, judge

if TYPE_CHECKING:
    from opskit.aws import AwsAccess
    from opskit.events import Emit


@dataclass
class DeploymentWatch:
    """The state of following one deployment; ``last`` is the newest verdict."""

    aws: AwsAccess
    cluster: str
    service: str
    deployment_id: str
    max_failed_tasks: int
    emit: Emit
    seen_event_ids: set[str] = field(default_factory=set)
    last: Verdict | None = None
    running_tasks: list[dict[str, Any]] = field(default_factory=list)

    def poll(self) -> Verdict:
        record = describe_service(self.aws, self.cluster, self.service)
        for event in events_after(record, self.seen_event_ids):
            self.seen_event_ids.add(event.get("id", ""))
            summary = event_summary(event)
            self.emit("event", summary["message"], created_at=summary["created_at"])
        running = list_service_tasks(self.aws, self.cluster, self.service, "RUNNING")
        stopped = list_service_tasks(self.aws, self.cluster, self.service, "STOPPED")
        self.running_tasks = running
        self.last = judge(
            Observation(self.deployment_id, record, running, stopped), self.max_failed_tasks
        )
        return self.last

    def new_task_ids(self) -> list[str]:
        """RUNNING tasks that this deployment started."""
        return [
            task_id_of(t.get("taskArn", ""))
            for t in started_by(self.running_tasks, self.deployment_id)
            if t.get("lastStatus") != "STOPPED"
        ]

    def state(self) -> str:
        if self.last is None:
            return f"deployment {self.deployment_id}: no state read yet"
        return f"{self.last.state} ({self.last.summary})"


def time_left(deadline: Deadline) -> str:
    remaining = deadline.remaining()
    return "no time limit" if remaining is None else f"{format_duration(remaining)} left"


def follow(
    watch: DeploymentWatch,
    interval: float,
    *,
    clock: Clock,
    deadline: Deadline,
    cancel: threading.Event,
) -> Verdict:
    """Poll until the deployment succeeds or fails; returns that verdict.

    Raises ``StepTimeout`` (carrying the last state) at the deadline and
    ``Cancelled`` when the run is interrupted; sends no write call either way.
    """

    def check() -> Verdict | None:
        verdict = watch.poll()
        if verdict.outcome != WAITING:
            return verdict
        watch.emit(
            "progress",
            f"{verdict.state}: {verdict.summary} ({time_left(deadline)})",
            deployment_id=watch.deployment_id,
            waiting_for=verdict.summary,
            remaining=deadline.remaining(),
            **verdict.data,
        )
        return None

    return poll_until(
        check,
        clock=clock,
        deadline=deadline,
        interval=interval,
        cancel=cancel,
        describe=watch.state,
    )
