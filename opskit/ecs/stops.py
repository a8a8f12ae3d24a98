"""Which stopped tasks are not crashes: ECS's own stop codes and reasons, as data.

Pure. A task that Fargate Spot reclaimed, that AWS retired, that ECS scaled in,
or that the load balancer found unhealthy was stopped by ECS and replaced; its
stop says nothing by itself about whether the new code crashes, so opskit's own
count of stopped tasks towards ``max_failed_tasks`` leaves it out. The words are
ECS's ("Stopped tasks error codes" and "Why is my Amazon ECS task stopped?" in
the Amazon ECS documentation):

- ``stopCode: SpotInterruption`` (``stoppedReason`` "Your Spot Task was
  interrupted."): Fargate Spot took the capacity back;
- ``stoppedReason`` "Scaling activity initiated by (deployment ecs-svc/...)"
  (``stopCode: ServiceSchedulerInitiated``): the scheduler scaled the task in;
- ``stopCode: TerminationNotice``: AWS retired the task's host (Fargate task
  retirement for maintenance, an EC2 Spot interruption notice);
- ``stoppedReason`` "Task failed ELB health checks in (target-group ...)": the
  load balancer's health check replaced it. Before the deployment had any
  healthy task, ECS counts such a stop in the deployment's ``failedTasks`` (a
  new revision that never gets healthy), and ``sort_stops`` reads that count as
  ECS gives it and names those stops as failures; after one, ECS no longer
  counts them (a healthy task replaced later) and neither does opskit.

``ServiceSchedulerInitiated`` alone is not enough: ECS gives the same code to a
task that failed its container health check, which is the new code failing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opskit.ecs.names import plural, task_id_of


@dataclass(frozen=True)
class NotACrash:
    """One kind of stop that ECS makes for a reason other than the task's code."""

    kind: str
    said: str  # what a summary says happened, after "1 task"
    stop_code: str = ""  # matches when the task's stopCode is this
    reason_prefix: str = ""  # matches when the task's stoppedReason starts with this

    def matches(self, task: dict[str, Any]) -> bool:
        if self.stop_code and task.get("stopCode") == self.stop_code:
            return True
        reason = str(task.get("stoppedReason") or "")
        return bool(self.reason_prefix) and reason.startswith(self.reason_prefix)


ELB_HEALTH_CHECKS = NotACrash(
    "elb-health",
    "failed ELB health checks, replaced",
    reason_prefix="Task failed ELB health checks",
)
NOT_CRASHES = (
    NotACrash("spot", "reclaimed by Spot, replaced", stop_code="SpotInterruption"),
    NotACrash("retired", "retired by AWS, replaced", stop_code="TerminationNotice"),
    NotACrash("scale-in", "scaled in by ECS", reason_prefix="Scaling activity initiated by"),
    ELB_HEALTH_CHECKS,
)


def not_a_crash(task: dict[str, Any]) -> NotACrash | None:
    """The kind of stop when ECS stopped the task for a reason other than its code."""
    return next((kind for kind in NOT_CRASHES if kind.matches(task)), None)


def replaced_summary(tasks: Iterable[dict[str, Any]]) -> str:
    """``1 task reclaimed by Spot, replaced; 2 tasks failed ELB health checks,
    replaced`` for the stops that are not crashes ('' when there are none)."""
    counts = Counter(kind for kind in map(not_a_crash, tasks) if kind is not None)
    parts = []
    for kind in NOT_CRASHES:
        if counts[kind]:
            parts.append(f"{plural(counts[kind], 'task')} {kind.said}")
    return "; ".join(parts)


def replaced_lines(tasks: Iterable[dict[str, Any]]) -> list[str]:
    """One line per such stop, naming the task, for a result's detail (the
    summary only counts them)."""
    lines = []
    for task in tasks:
        kind = not_a_crash(task)
        if kind is None:
            continue
        reason = str(task.get("stoppedReason") or "")
        code = f" [{task['stopCode']}]" if task.get("stopCode") else ""
        lines.append(f"task {task_id_of(str(task.get('taskArn', '')))} {kind.said}: {reason}{code}")
    return lines


def _oldest_first(tasks: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    return tuple(sorted(tasks, key=lambda t: str(t.get("stoppedAt") or t.get("createdAt") or "")))


@dataclass(frozen=True)
class DeploymentStops:
    """One deployment's stopped tasks, sorted into what counts towards
    ``max_failed_tasks`` and what is ECS replacing a task; each oldest first."""

    crashed: tuple[dict[str, Any], ...]  # stopped for their own reasons: opskit's count
    unhealthy: tuple[dict[str, Any], ...]  # ELB health-check stops ECS counts as failures
    replaced: tuple[dict[str, Any], ...]  # ECS replacing a task: never a failure
    count: int  # the failures: the larger of opskit's count and ECS's failedTasks

    @property
    def failed(self) -> tuple[dict[str, Any], ...]:
        """The tasks whose stops are failures: the evidence a failure message shows."""
        return _oldest_first(self.crashed + self.unhealthy)

    def never_healthy(self) -> str:
        tasks = plural(len(self.unhealthy), "task")
        return f"{tasks} failed ELB health checks before any was healthy"

    def why(self) -> str:
        """Why the failed tasks failed: ELB health checks, crashes, or both."""
        parts = [self.never_healthy()] if self.unhealthy else []
        if self.crashed or not self.unhealthy:
            parts.append("the new tasks keep crashing")
        return "; ".join(parts)


def sort_stops(
    deployment_id: str, stopped_tasks: Iterable[dict[str, Any]], failed_tasks: int
) -> DeploymentStops:
    """The STOPPED tasks that ``deployment_id`` started, beside its ``failedTasks``.

    ``failedTasks`` is read as ECS gives it (the Deployment shape's documentation):
    tasks that could not launch, never reached RUNNING, or failed a health check
    and were stopped, counted only until the deployment has a healthy task ("the
    failed task count resets to zero and stops being evaluated"). While it is
    above 0 no task of the deployment was ever healthy, so its ELB health-check
    stops are failures, not replacements.
    """
    crashed, unhealthy, replaced = [], [], []
    for task in _oldest_first(t for t in stopped_tasks if t.get("startedBy") == deployment_id):
        kind = not_a_crash(task)
        if kind is None:
            crashed.append(task)
        elif kind is ELB_HEALTH_CHECKS and failed_tasks > 0:
            unhealthy.append(task)
        else:
            replaced.append(task)
    return DeploymentStops(
        tuple(crashed), tuple(unhealthy), tuple(replaced), max(len(crashed), failed_tasks)
    )
