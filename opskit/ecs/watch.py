"""The verdict on one deployment, from one described service and its tasks.

Pure: no AWS, no clock. ``judge`` is called once per poll, so a crash loop or a
rollback is reported within one poll of the record that shows it, not at the
circuit breaker's threshold or the timeout. Only the tracked deployment counts:
after a forced redeploy of the same task definition, comparing task
definitions cannot tell a rollback apart (ecspresso's blind spot), but the
deployment id can.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opskit.ecs.names import short_task_definition

WAITING = "waiting"
SUCCEEDED = "succeeded"
FAILED = "failed"

# ECS stops old tasks with this reason while a deployment replaces them: not a failure.
SCALE_IN_REASON = "Scaling activity initiated by"


@dataclass(frozen=True)
class Observation:
    """What one poll saw. ``stopped_tasks`` are the service's STOPPED tasks (any
    deployment); ``running_tasks`` its tasks with desired status RUNNING."""

    deployment_id: str
    service: dict[str, Any]
    running_tasks: list[dict[str, Any]] = field(default_factory=list)
    stopped_tasks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    outcome: str  # waiting | succeeded | failed
    summary: str  # failed: why; waiting: why still waiting; succeeded: what happened
    state: str  # the last known state in one line, for progress, timeouts and Ctrl-C
    failed_tasks: tuple[dict[str, Any], ...] = ()
    replaced_by: dict[str, Any] | None = None  # the deployment that took over, if any
    data: dict[str, Any] = field(default_factory=dict)  # counts for progress events


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def failed_tasks_of(
    deployment_id: str, stopped_tasks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Tasks that the deployment started and that stopped for a reason other than
    ECS scaling them in, oldest first."""
    mine = [
        t
        for t in stopped_tasks
        if t.get("startedBy") == deployment_id
        and not str(t.get("stoppedReason", "")).startswith(SCALE_IN_REASON)
    ]
    return sorted(mine, key=lambda t: str(t.get("stoppedAt") or t.get("createdAt") or ""))


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


def _waiting_reason(desired: int, running: int, pending: int, old_running: int) -> str:
    single = desired == 1
    if running < desired:
        if running == 0 and pending == 0:
            return (
                "waiting for the new task to start"
                if single
                else f"waiting for {desired} new tasks to start"
            )
        if single:
            return "new task PENDING"
        return f"{running} of {desired} new tasks RUNNING, {pending} PENDING"
    started = "new task RUNNING" if single else f"{running} new tasks RUNNING"
    if old_running:
        return f"{started}, {plural(old_running, 'old task')} draining"
    return f"{started}, waiting for ECS to report the rollout COMPLETED"


def judge(observation: Observation, max_failed_tasks: int) -> Verdict:
    """Decide whether the tracked deployment succeeded, failed or is still going."""
    deployment_id = observation.deployment_id
    deployments = observation.service.get("deployments") or []
    mine = next((d for d in deployments if d.get("id") == deployment_id), None)
    others = [d for d in deployments if d.get("id") != deployment_id]
    old_running = max(
        sum(int(d.get("runningCount", 0)) for d in others),
        len(old_tasks_alive(deployment_id, observation)),
    )
    primary = next((d for d in others if d.get("status") == "PRIMARY"), None)
    failed = failed_tasks_of(deployment_id, observation.stopped_tasks)
    state = state_line(mine, deployment_id, old_running)
    data = _counts(mine, old_running, len(failed))

    def verdict(outcome: str, summary: str, **extra: Any) -> Verdict:
        return Verdict(outcome, summary, state, tuple(failed), data=data, **extra)

    if mine is None:
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
    stops = max(len(failed), int(mine.get("failedTasks", 0) or 0))
    if stops >= max_failed_tasks:
        summary = (
            f"{plural(stops, 'task')} of deployment {deployment_id} stopped "
            f"(max_failed_tasks {max_failed_tasks}): the new tasks keep crashing"
        )
        return verdict(FAILED, summary)
    desired = int(mine.get("desiredCount", 0))
    counted = int(mine.get("runningCount", 0))
    # The record's counts alone can be stale (a deployment renamed in place keeps
    # COMPLETED and the old count): the evidence is RUNNING tasks it started.
    running = min(counted, len(started_tasks(deployment_id, observation)))
    finished = rollout == "COMPLETED" or (not rollout and not others)
    if finished and running >= desired and old_running == 0:
        return verdict(SUCCEEDED, f"deployment {deployment_id} COMPLETED")
    why = _waiting_reason(desired, running, int(mine.get("pendingCount", 0)), old_running)
    if running < min(counted, desired):
        why += (
            f" (the deployment counts {counted} running, but {running} RUNNING "
            f"task(s) carry its id)"
        )
    if stops:
        why += f"; {plural(stops, 'new task')} stopped so far (fails at {max_failed_tasks})"
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
