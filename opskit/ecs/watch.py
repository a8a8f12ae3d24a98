"""The verdict on one deployment, from one described service and its tasks.

Pure: no AWS, no clock. ``judge`` is called once per poll, so a crash loop or a
rollback is reported within one poll of the record that shows it, not at the
circuit breaker's threshold or the timeout. Only the tracked deployment counts:
after a forced redeploy of the same task definition, comparing task
definitions cannot tell a rollback apart (ecspresso's blind spot), but the
deployment id can.

What must be remembered across polls (seen once, how many reads since
``UpdateService``, placement failures so far) is kept by ``wait.DeploymentWatch``
and handed in with the observation; ``now`` comes from the step's clock.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from opskit.durations import format_duration
from opskit.ecs.describe import epoch
from opskit.ecs.names import plural, short_task_definition, task_id_of
from opskit.ecs.placement import PlacementFailures
from opskit.ecs.stops import replaced_summary, sort_stops

WAITING = "waiting"
SUCCEEDED = "succeeded"
FAILED = "failed"

# The ECS API is eventually consistent ("Amazon ECS API reference: eventual
# consistency"): the first DescribeServices after UpdateService may not list the
# new deployment yet. Until it is seen once, it is "not visible yet"; never seen
# after BOTH this many reads and this many seconds since UpdateService answered
# is a failure that says so.
GRACE_READS = 2
GRACE_SECONDS = 30.0
# Nor does it promise that reads never go backwards: once seen, a deployment
# missing from a read is "not visible in this read", and has disappeared only
# when this many reads in a row miss it (or a newer deployment is PRIMARY).
MISSING_READS = 2
# A task's lastStatus before RUNNING (the task lifecycle, Amazon ECS developer guide).
STARTING = ("PROVISIONING", "PENDING", "ACTIVATING")


@dataclass(frozen=True)
class Visibility:
    """What the wait loop remembers of reading the deployment: whether any read
    (this one included) listed it, how many reads there were, how long it has
    been since ``UpdateService`` answered, and how many reads in a row (this one
    included) missed it since it was seen."""

    seen: bool = True
    reads: int = 1
    seconds: float = 0.0
    missing: int = 0

    @property
    def grace_over(self) -> bool:
        return self.reads >= GRACE_READS and self.seconds >= GRACE_SECONDS

    @property
    def gone(self) -> bool:
        """Seen once, then missing from ``MISSING_READS`` reads in a row (a read
        that misses it counts as one even when the loop did not say so)."""
        return max(1, self.missing) >= MISSING_READS


@dataclass(frozen=True)
class Observation:
    """What one poll saw. ``stopped_tasks`` are the service's STOPPED tasks (any
    deployment); ``running_tasks`` its tasks with desired status RUNNING;
    ``not_visible_tasks`` the ARNs ListTasks listed as RUNNING that DescribeTasks
    did not find yet; ``placement`` the placement-failure events counted for the
    deployment; ``now`` the read's time (epoch seconds), for how long a task has
    been starting; ``baking`` what ECS does after the tasks are healthy
    (``settings.RolloutConfig.baking``); ``created_at`` the deployment's own
    ``createdAt`` (epoch seconds, 0 when not known), to tell a newer PRIMARY
    deployment from a stale read's older one."""

    deployment_id: str
    service: dict[str, Any]
    running_tasks: list[dict[str, Any]] = field(default_factory=list)
    stopped_tasks: list[dict[str, Any]] = field(default_factory=list)
    visibility: Visibility = field(default_factory=Visibility)
    not_visible_tasks: tuple[str, ...] = ()
    placement: PlacementFailures = field(default_factory=PlacementFailures)
    now: float | None = None
    baking: str = ""
    created_at: float = 0.0


@dataclass(frozen=True)
class Verdict:
    outcome: str  # waiting | succeeded | failed
    summary: str  # failed: why; waiting: why still waiting; succeeded: what happened
    state: str  # the last known state in one line, for progress, timeouts and Ctrl-C
    failed_tasks: tuple[dict[str, Any], ...] = ()
    replaced_by: dict[str, Any] | None = None  # the deployment that took over, if any
    data: dict[str, Any] = field(default_factory=dict)  # counts for progress events
    replaced_tasks: tuple[dict[str, Any], ...] = ()  # stopped, but not crashes (stops.py)
    not_visible: bool = False  # the deployment was never seen in DescribeServices

    @property
    def replaced(self) -> str:
        """``1 task reclaimed by Spot, replaced`` ('' when no such stop)."""
        return replaced_summary(self.replaced_tasks)


def state_line(deployment: dict[str, Any] | None, deployment_id: str, old_running: int) -> str:
    if deployment is None:
        return f"deployment {deployment_id} is no longer listed on the service"
    rollout = deployment.get("rolloutState") or deployment.get("status", "?")
    line = (
        f"deployment {deployment_id} {rollout}: running {deployment.get('runningCount', 0)}"
        f"/{deployment.get('desiredCount', 0)}, pending {deployment.get('pendingCount', 0)}"
    )
    if old_running:
        line += f", {old_running} old running"
    return line


def started_tasks(deployment_id: str, observation: Observation) -> list[dict[str, Any]]:
    """RUNNING tasks that the deployment started."""
    return [
        t
        for t in observation.running_tasks
        if t.get("startedBy") == deployment_id and t.get("lastStatus") == "RUNNING"
    ]


def old_tasks_alive(deployment_id: str, observation: Observation) -> list[dict[str, Any]]:
    """Tasks of other deployments that still run or are still draining (desired
    STOPPED, not yet STOPPED): the new deployment has not taken over until they are gone."""
    running = [t for t in observation.running_tasks if t.get("startedBy") != deployment_id]
    draining = [
        t
        for t in observation.stopped_tasks
        if t.get("startedBy") != deployment_id and t.get("lastStatus") not in ("STOPPED", None)
    ]
    return running + draining


def starting_tasks(deployment_id: str, observation: Observation) -> list[dict[str, Any]]:
    """Tasks that the deployment started that have not reached RUNNING yet, oldest first."""
    tasks = [
        t
        for t in observation.running_tasks
        if t.get("startedBy") == deployment_id and t.get("lastStatus") in STARTING
    ]
    return sorted(tasks, key=lambda t: epoch(t.get("createdAt")))


def _starting_text(task: dict[str, Any], now: float | None) -> str:
    """``3f2a... PROVISIONING for 1m05s`` (how long from the task's createdAt)."""
    text = f"{task_id_of(task.get('taskArn', ''))} {task.get('lastStatus')}"
    created = epoch(task.get("createdAt"))
    if now is not None and created:
        text += f" for {format_duration(max(0.0, now - created))}"
    return text


@dataclass(frozen=True)
class _Progress:
    desired: int
    running: int
    pending: int
    old_running: int
    finished: bool  # the record says COMPLETED (or the only deployment, no rollout state)
    starting: list[dict[str, Any]]
    now: float | None
    baking: str


def _waiting_reason(p: _Progress) -> str:
    single = p.desired == 1
    if p.running < p.desired:
        if p.starting:
            texts = [_starting_text(t, p.now) for t in p.starting]
            if single:
                return f"new task {texts[0]}"
            return f"{p.running} of {p.desired} new tasks RUNNING; " + ", ".join(
                f"task {text}" for text in texts
            )
        if p.running == 0 and p.pending == 0:
            return (
                "waiting for the new task to start"
                if single
                else f"waiting for {p.desired} new tasks to start"
            )
        if single:
            return "new task PENDING"
        return f"{p.running} of {p.desired} new tasks RUNNING, {p.pending} PENDING"
    started = "new task RUNNING" if single else f"{p.running} new tasks RUNNING"
    if p.old_running:
        return f"{started}, {plural(p.old_running, 'old task')} draining"
    if p.finished:
        return started
    if p.baking:
        return f"{started}; {p.baking} before it reports COMPLETED"
    return f"{started}, waiting for ECS to report the rollout COMPLETED"


def _not_visible(observation: Observation) -> Verdict:
    """The deployment was never listed yet: the stale state, never "replaced"."""
    deployment_id = observation.deployment_id
    seen = observation.visibility
    state = (
        f"deployment {deployment_id} not visible yet in DescribeServices "
        "(ECS is eventually consistent)"
    )
    data = _counts(None, 0, 0)
    if seen.grace_over:
        summary = (
            f"deployment {deployment_id} never appeared in DescribeServices: "
            f"{plural(seen.reads, 'read')} over {format_duration(seen.seconds)} since "
            "UpdateService answered"
        )
        return Verdict(FAILED, summary, state, data=data, not_visible=True)
    summary = f"waiting up to {GRACE_SECONDS:g}s for it ({plural(seen.reads, 'read')} so far)"
    return Verdict(WAITING, summary, state, data=data, not_visible=True)


def _missing_in_this_read(deployment_id: str) -> Verdict:
    """Seen before, missing from this read only: a read that went backwards."""
    state = (
        f"deployment {deployment_id} not visible in this read of DescribeServices (an earlier "
        "read listed it; ECS is eventually consistent)"
    )
    summary = (
        f"waiting for the next read (missing from {MISSING_READS} reads in a row, it has "
        "disappeared)"
    )
    return Verdict(WAITING, summary, state, data=_counts(None, 0, 0))


def _newer(deployment: dict[str, Any] | None, created_at: float) -> bool:
    """``deployment`` was created after ours (both times known)."""
    if deployment is None or not created_at:
        return False
    return epoch(deployment.get("createdAt")) > created_at


def judge(observation: Observation, max_failed_tasks: int) -> Verdict:
    """Decide whether the tracked deployment succeeded, failed or is still going."""
    deployment_id = observation.deployment_id
    deployments = observation.service.get("deployments") or []
    mine = next((d for d in deployments if d.get("id") == deployment_id), None)
    if mine is None and not observation.visibility.seen:
        return _not_visible(observation)
    others = [d for d in deployments if d.get("id") != deployment_id]
    old_running = max(
        sum(int(d.get("runningCount", 0)) for d in others),
        len(old_tasks_alive(deployment_id, observation)),
    )
    primary = next((d for d in others if d.get("status") == "PRIMARY"), None)
    counter = int((mine or {}).get("failedTasks") or 0)
    stopped = sort_stops(deployment_id, observation.stopped_tasks, counter)
    stops = stopped.count
    state = state_line(mine, deployment_id, old_running)
    data = _counts(mine, old_running, stops)

    def verdict(outcome: str, summary: str, **extra: Any) -> Verdict:
        return Verdict(
            outcome, summary, state, stopped.failed, data=data, replaced_tasks=stopped.replaced,
            **extra,
        )  # fmt: skip

    also = replaced_summary(stopped.replaced)

    if mine is None:
        if not observation.visibility.gone and not _newer(primary, observation.created_at):
            return _missing_in_this_read(deployment_id)
        summary = f"deployment {deployment_id} disappeared from the service"
        if primary is not None:
            summary += f"; {_name(primary)} is PRIMARY now"
        return verdict(FAILED, summary, replaced_by=primary)
    rollout = mine.get("rolloutState") or ""
    reason = mine.get("rolloutStateReason") or ""
    if primary is not None and mine.get("status") != "PRIMARY":
        why = reason or primary.get("rolloutStateReason") or ""
        verb = "rolled back" if rollout == "FAILED" or "roll" in why.lower() else "replaced"
        summary = f"deployment {deployment_id} was {verb}: {_name(primary)} is PRIMARY now"
        if why:
            summary += f" ({why})"
        return verdict(FAILED, summary, replaced_by=primary)
    if rollout and rollout not in ("IN_PROGRESS", "COMPLETED"):
        summary = f"deployment {deployment_id} {rollout}" + (f": {reason}" if reason else "")
        return verdict(FAILED, summary)
    if stops >= max_failed_tasks:
        summary = (
            f"{plural(stops, 'task')} of deployment {deployment_id} stopped "
            f"(max_failed_tasks {max_failed_tasks}): {stopped.why()}"
        )
        return verdict(FAILED, summary + (f"; {also}" if also else ""))
    starting = starting_tasks(deployment_id, observation)
    placement = observation.placement
    if starting and placement.waited:
        # The time rule runs only while the deployment has no task at all
        # (wait.DeploymentWatch restarts it): never "no task placed" beside a task.
        placement = dataclasses.replace(placement, waited=0.0)
    if placement.repeated:
        summary = (
            f"ECS could not place the tasks of deployment {deployment_id} "
            f"({placement.describe()}): {placement.newest}"
        )
        for task in starting:
            summary += f"; task {_starting_text(task, observation.now)}"
        return verdict(FAILED, summary)
    desired = int(mine.get("desiredCount", 0))
    counted = int(mine.get("runningCount", 0))
    # The record's counts alone can be stale (a deployment renamed in place keeps
    # COMPLETED and the old count): the evidence is RUNNING tasks it started.
    running = min(counted, len(started_tasks(deployment_id, observation)))
    finished = rollout == "COMPLETED" or (not rollout and not others)
    # A listed task that DescribeTasks does not find yet may be an old one still
    # running: not gone, so the new deployment has not taken over yet.
    hidden = len(observation.not_visible_tasks)
    if finished and running >= desired and old_running == 0 and not hidden:
        return verdict(SUCCEEDED, f"deployment {deployment_id} COMPLETED")
    why = _waiting_reason(
        _Progress(
            desired, running, int(mine.get("pendingCount", 0)), old_running, finished,
            starting, observation.now, observation.baking,
        )
    )  # fmt: skip
    if running < min(counted, desired):
        why += (
            f" (the deployment counts {counted} running, but {running} RUNNING "
            f"task(s) carry its id)"
        )
    if hidden:
        why += (
            f"; {plural(hidden, 'listed task')} not visible yet in DescribeTasks "
            "(ECS is eventually consistent)"
        )
    if stops:
        why += f"; {plural(stops, 'new task')} stopped so far (fails at {max_failed_tasks})"
        if stopped.unhealthy:
            why += f": {stopped.never_healthy()}"
    if also:
        why += f"; {also}"
    if placement.events:
        why += f"; ECS could not place a task ({placement.describe()} so far)"
    return verdict(WAITING, why)


def _name(deployment: dict[str, Any]) -> str:
    task_definition = short_task_definition(str(deployment.get("taskDefinition", "")))
    return f"deployment {deployment.get('id', '?')} ({task_definition})"


def _counts(mine: dict[str, Any] | None, old_running: int, stopped: int) -> dict[str, Any]:
    mine = mine or {}
    return {
        "rollout_state": mine.get("rolloutState") or "",
        "running": int(mine.get("runningCount", 0)),
        "pending": int(mine.get("pendingCount", 0)),
        "desired": int(mine.get("desiredCount", 0)),
        "old_running": old_running,
        "failed_tasks": stopped,
    }
