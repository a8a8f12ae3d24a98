"""Follow one deployment until ``watch.judge`` gives a verdict.

Each poll describes the service, emits every new service event once, lists
the service's RUNNING and STOPPED tasks, and emits a progress line that says in
words why it is still waiting, with the time left. Time comes from the step's
clock and deadline (``opskit.clock.poll_until``), so tests never really sleep.

``DeploymentWatch`` keeps what the pure judge must not: whether the deployment
was seen once, how many reads and seconds since ``UpdateService`` answered and
how many reads in a row missed it since (the ECS API is eventually consistent),
the placement-failure events counted for it. A listed task DescribeTasks has
not found yet is handed to the judge for that poll only: the next read finds it
or names it again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opskit.clock import Clock, Deadline, poll_until
from opskit.durations import format_duration
from opskit.ecs.describe import (
    describe_service,
    epoch,
    event_summary,
    events_after,
    read_service_tasks,
    started_by,
)
from opskit.ecs.names import task_id_of
from opskit.ecs.placement import PlacementFailures, is_placement_failure
from opskit.ecs.settings import RolloutConfig, WaitLimit
from opskit.ecs.watch import STARTING, WAITING, Observation, Verdict, Visibility, judge
from opskit.errors import Cancelled, StepError, StepTimeout

if TYPE_CHECKING:
    from opskit.aws import AwsAccess
    from opskit.events import Emit


@dataclass
class DeploymentWatch:
    """The state of following one deployment; ``last`` is the newest verdict.

    Built right after ``UpdateService`` answered (``clock`` then is the start of
    the grace for a deployment not visible yet); ``created_at`` is the
    deployment's ``createdAt`` (epoch seconds): only placement failures created
    after it count. ``seen`` starts True for a deployment already read (ECS's own
    rollback deployment, taken from a describe)."""

    aws: AwsAccess
    cluster: str
    service: str
    deployment_id: str
    max_failed_tasks: int
    emit: Emit
    clock: Clock
    created_at: float = 0.0
    config: RolloutConfig = field(default_factory=RolloutConfig)
    seen: bool = False
    seen_event_ids: set[str] = field(default_factory=set)
    last: Verdict | None = None
    running_tasks: list[dict[str, Any]] = field(default_factory=list)
    reads: int = 0
    missing: int = 0  # reads in a row that did not list it since it was seen
    placement_events: list[dict[str, Any]] = field(default_factory=list)
    # The step's clock when the time rule's wait began: the first placement failure
    # read with no task of the deployment, or the first read since its last task went.
    placement_wait_from: float | None = None
    marked: set[tuple[str, str]] = field(default_factory=set)  # (task id, mark) emitted
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock.monotonic()

    def poll(self) -> Verdict:
        self.reads += 1
        elapsed = self.clock.monotonic() - self.started
        record = describe_service(self.aws, self.cluster, self.service)
        fresh = events_after(record, self.seen_event_ids)
        for event in fresh:
            self.seen_event_ids.add(event.get("id", ""))
            summary = event_summary(event)
            self.emit("event", summary["message"], created_at=summary["created_at"])
        running = read_service_tasks(self.aws, self.cluster, self.service, "RUNNING")
        stopped = read_service_tasks(self.aws, self.cluster, self.service, "STOPPED")
        self.running_tasks = running.tasks
        self._mark_tasks(running.tasks + stopped.tasks)
        listed = any(d.get("id") == self.deployment_id for d in record.get("deployments") or [])
        self.missing = 0 if listed or not self.seen else self.missing + 1
        self.seen = self.seen or listed
        self._count_placement_failures(fresh, record, running.tasks)
        observation = Observation(
            self.deployment_id,
            record,
            running.tasks,
            stopped.tasks,
            visibility=Visibility(self.seen, self.reads, elapsed, self.missing),
            not_visible_tasks=tuple(running.not_visible),
            placement=PlacementFailures(tuple(self.placement_events), self._placement_wait()),
            now=self.clock.time(),
            baking=self.config.baking(),
            created_at=self.created_at,
        )
        self.last = judge(observation, self.max_failed_tasks)
        return self.last

    def _mark_tasks(self, tasks: list[dict[str, Any]]) -> None:
        """The timeline's moments, each once, at ECS's own times: a new task's
        ``startedAt``, an old task's ``stoppedAt`` (stops before the deployment
        was created are not its own). ECS stamps no time on health: a task is
        marked "seen healthy" when a read first sees it ``HEALTHY`` (up to a poll
        late, so it may come after an old task's stop that it allowed)."""
        for task in tasks:
            task_id = task_id_of(task.get("taskArn", ""))
            mine = task.get("startedBy") == self.deployment_id
            stopped_at = epoch(task.get("stoppedAt"))
            moments: list[tuple[str, str, float]] = []
            if mine:
                moments.append(("task_started", "started", epoch(task.get("startedAt"))))
                if task.get("healthStatus") == "HEALTHY":
                    moments.append(("task_healthy", "seen healthy", self.clock.time()))
            if task.get("lastStatus") == "STOPPED" and (mine or stopped_at >= self.created_at):
                moments.append(("task_stopped", "stopped", stopped_at))
            for what, word, at in moments:
                if at and (task_id, what) not in self.marked:
                    self.marked.add((task_id, what))
                    age = "new" if mine else "old"
                    self.emit("mark", f"{age} task {task_id[:8]} {word}", at=at, what=what)

    def _count_placement_failures(
        self, fresh: list[dict[str, Any]], service: dict[str, Any], running: list[dict[str, Any]]
    ) -> None:
        """Placement failures count only while the deployment has no RUNNING task,
        and only those created after it started (events may be read late). The
        time waited since runs only while the deployment has no task at all: a
        task that ECS placed on a retry and that is still PROVISIONING or PENDING
        (Fargate pulls the image, attaches the ENI) restarts it; the events
        already counted stay counted."""
        mine = started_by(running, self.deployment_id)
        if any(t.get("lastStatus") == "RUNNING" for t in mine):
            self.placement_events.clear()
            self.placement_wait_from = None
            return
        self.placement_events.extend(
            e
            for e in fresh
            if is_placement_failure(str(e.get("message", "")))
            and epoch(e.get("createdAt")) >= self.created_at
        )
        pending = sum(
            int(d.get("pendingCount") or 0)
            for d in service.get("deployments") or []
            if d.get("id") == self.deployment_id
        )
        placed = pending > 0 or any(t.get("lastStatus") in STARTING for t in mine)
        if placed:
            self.placement_wait_from = None
        elif self.placement_events and self.placement_wait_from is None:
            self.placement_wait_from = self.clock.monotonic()

    def _placement_wait(self) -> float:
        if self.placement_wait_from is None:
            return 0.0
        return self.clock.monotonic() - self.placement_wait_from

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


def follow_within(
    watch: DeploymentWatch,
    interval: float,
    *,
    clock: Clock,
    limit: WaitLimit,
    cancel: threading.Event,
    what: str,
) -> Verdict:
    """``follow`` within ``limit``. A timeout, Ctrl-C or an AWS error mid-wait says
    which ``what`` (``deployment``, ``rollback deployment``) it was waiting for and
    its last known state; the error's ``detail`` is that state."""
    try:
        return follow(watch, interval, clock=clock, deadline=limit.deadline, cancel=cancel)
    except StepTimeout:
        raise StepTimeout(
            f"{what} {watch.deployment_id} did not finish {limit.within}: {watch.state()}",
            detail=watch.state(),
        ) from None
    except Cancelled:
        # Nothing is sent after an interrupt: the service keeps what was already sent.
        raise Cancelled(
            f"interrupted while waiting for {what} {watch.deployment_id}: {watch.state()}"
        ) from None
    except StepError as err:  # AWS failed mid-wait
        raise StepError(
            f"while waiting for {what} {watch.deployment_id}: {err.summary}",
            detail=watch.state(),
        ) from None
