"""The verdict on one native service deployment (BLUE_GREEN, LINEAR, CANARY).

Pure: no AWS, no clock. ECS's own record of the deployment
(``DescribeServiceDeployments``) decides, as the deployment's rollout state
does for a rolling one (``watch.judge``): SUCCESSFUL passes; a rollback, a stop
or a failure fails with ECS's ``statusReason``, naming the alarm, the hook or
the circuit breaker that caused it; a ``PAUSE`` hook awaiting action is
*paused* (the step returns and the playbook's checks decide). The new
revision's crash loop is counted as for a rolling deployment: ECS still runs an
``ecs-svc`` deployment whose tasks carry its id (``stops.sort_stops``), so a
crash-looping green fails within a poll, not at ECS's circuit breaker.

What must be remembered across reads (seen once, since when, the stage
entered and when, any production traffic on green) is kept by
``native_follow.NativeWatch`` and handed in as a ``Seen``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opskit.durations import format_duration
from opskit.ecs.names import plural
from opskit.ecs.service_deployments import STAGES, ServiceDeployment, short_arn
from opskit.ecs.stops import DeploymentStops

WAITING = "waiting"
SUCCEEDED = "succeeded"
FAILED = "failed"
PAUSED = "paused"

# The ECS API is eventually consistent: right after UpdateService, DescribeServices
# may still name the previous service deployment and DescribeServiceDeployments may
# answer the new one MISSING. Until this long after UpdateService it is "not yet".
GRACE_SECONDS = 60.0
PRODUCTION_SHIFT = "PRODUCTION_TRAFFIC_SHIFT"
BAKE_TIME = "BAKE_TIME"


def stage_index(stage: str) -> int:
    """The stage's place in ECS's order (-1 for '' or an unknown one)."""
    return STAGES.index(stage) if stage in STAGES else -1


def reached(stage: str, wanted: str) -> bool:
    return stage_index(stage) >= stage_index(wanted) >= 0


def production_words(affected: bool, percent: float = 0.0) -> str:
    """How a failed or rolled back release ends its line: whether production
    traffic ever reached the new revision, and how much of it at most."""
    if not affected:
        return "production untouched"
    if percent > 0:
        return f"production affected (up to {percent:g}% of production traffic)"
    return "production affected"


def touches_production(dep: ServiceDeployment) -> bool:
    """The record shows production traffic on the new revision, now or before:
    a production weight above 0, or a stage at or after the production shift
    (a rollback leaves the stage where it was)."""
    return dep.production_percent > 0 or reached(dep.stage, PRODUCTION_SHIFT)


@dataclass(frozen=True)
class Seen:
    """What the follower remembers: how long since UpdateService (or since it
    began following), whether any read found the record, the stage it saw
    entered and how long ago, whether production traffic ever reached green,
    the strategy and bake time the service is configured with."""

    seconds: float = 0.0
    found: bool = True
    stage_seconds: float = 0.0  # since opskit saw the current stage entered
    production_affected: bool = False
    strategy: str = "BLUE_GREEN"
    bake_minutes: int = 0
    step_percent: float = 0.0  # LINEAR stepPercent / CANARY canaryPercent
    missing_seconds: float = 0.0  # since the first of the consecutive MISSING reads


@dataclass(frozen=True)
class NativeVerdict:
    outcome: str  # waiting | succeeded | failed | paused
    summary: str
    state: str  # the progress line: the stage in words
    deployment: ServiceDeployment | None = None
    failed_tasks: tuple[dict[str, object], ...] = ()
    rolled_back: bool = False  # ECS finished rolling back (ROLLBACK_SUCCESSFUL)
    data: dict[str, object] = field(default_factory=dict)


def traffic_line(dep: ServiceDeployment, seen: Seen) -> str:
    """``TEST_TRAFFIC_SHIFT: 0% production, test listener on green``, with the bake
    time left in BAKE_TIME and the step size of a LINEAR/CANARY shift."""
    stage = dep.stage or dep.status
    listener = "green" if dep.test_percent > 0 else "blue"
    line = f"{stage}: {dep.production_percent:g}% production, test listener on {listener}"
    if dep.stage == PRODUCTION_SHIFT and seen.step_percent and seen.strategy != "BLUE_GREEN":
        line += f" ({seen.strategy}, {seen.step_percent:g}% a step)"
    if dep.stage == BAKE_TIME and seen.bake_minutes:
        left = max(0.0, seen.bake_minutes * 60.0 - seen.stage_seconds)
        line += f", {format_duration(left)} of {seen.bake_minutes}m bake time left"
    return line


def cause(dep: ServiceDeployment) -> str:
    """What made ECS roll back or stop: ECS's reason, then the alarm, the failed
    hook or the circuit breaker it names."""
    parts = []
    reason = dep.rollback_reason or dep.status_reason
    if reason:
        parts.append(reason)
    if dep.triggered_alarms:
        parts.append(f"alarm {', '.join(dep.triggered_alarms)} in ALARM")
    for hook in dep.hooks:
        if hook.status in ("FAILED", "TIMED_OUT"):
            parts.append(f"{hook.target_type or 'lifecycle'} hook {hook.hook_id} {hook.status}")
    if dep.circuit_breaker_status == "TRIGGERED":
        parts.append("the deployment circuit breaker triggered")
    return "; ".join(parts)


def _data(dep: ServiceDeployment | None, seen: Seen, stops: int) -> dict[str, object]:
    if dep is None:
        return {"stage": "", "production_percent": 0, "failed_tasks": stops}
    return {
        "stage": dep.stage,
        "status": dep.status,
        "production_percent": dep.production_percent,
        "test_percent": dep.test_percent,
        "production_affected": seen.production_affected or touches_production(dep),
        "failed_tasks": stops,
    }


def judge_native(
    dep: ServiceDeployment | None,
    arn: str,
    seen: Seen,
    stops: DeploymentStops | None,
    max_failed_tasks: int,
    *,
    ignore_hooks: frozenset[str] = frozenset(),
) -> NativeVerdict:
    """Decide whether the service deployment succeeded, failed, paused or goes on.
    ``ignore_hooks`` are hooks this run already answered (a stale read may still
    show one awaiting)."""
    name = f"service deployment {short_arn(arn)}"
    count = stops.count if stops else 0
    data = _data(dep, seen, count)
    if dep is None:
        state = (
            f"{name} not visible yet in DescribeServiceDeployments (ECS is eventually consistent)"
        )
        if seen.seconds >= GRACE_SECONDS and not seen.found:
            summary = f"{name} never appeared: {format_duration(seen.seconds)} since UpdateService"
            return NativeVerdict(FAILED, summary, state, data=data)
        if seen.found and seen.missing_seconds >= GRACE_SECONDS:
            summary = (
                f"{name} is no longer found (DescribeServiceDeployments answers MISSING "
                f"for {format_duration(seen.missing_seconds)})"
            )
            return NativeVerdict(FAILED, summary, state, data=data)
        return NativeVerdict(WAITING, f"waiting up to {GRACE_SECONDS:g}s for it", state, data=data)
    state = traffic_line(dep, seen)
    failed = stops.failed if stops else ()
    why = cause(dep)
    if dep.status == "SUCCESSFUL":
        summary = f"{name} SUCCESSFUL: 100% production on the new revision"
        return NativeVerdict(SUCCEEDED, summary, state, dep, data=data)
    if dep.status == "ROLLBACK_SUCCESSFUL":
        summary = f"{name} rolled back by ECS" + (f": {why}" if why else "")
        return NativeVerdict(FAILED, summary, state, dep, failed, rolled_back=True, data=data)
    if dep.finished or dep.rolling_back or dep.status == "STOP_REQUESTED":
        summary = f"{name} {dep.status}" + (f": {why}" if why else "")
        if dep.rolling_back:
            summary += " (ECS is rolling back to the previous revision)"
        return NativeVerdict(FAILED, summary, state, dep, failed, data=data)
    if stops is not None and count >= max_failed_tasks:
        summary = (
            f"{plural(count, 'task')} of the new revision stopped "
            f"(max_failed_tasks {max_failed_tasks}): {stops.why()}"
        )
        return NativeVerdict(FAILED, summary, state, dep, failed, data=data)
    hook = dep.awaiting_hook
    if hook is not None and hook.hook_id not in ignore_hooks:
        summary = f"paused at {dep.stage or '?'} (hook {hook.hook_id}): {state.split(': ', 1)[-1]}"
        return NativeVerdict(PAUSED, summary, state, dep, data=data)
    waiting = f"waiting for ECS ({dep.status})"
    if count:
        waiting += f"; {plural(count, 'new task')} stopped so far (fails at {max_failed_tasks})"
    return NativeVerdict(WAITING, waiting, state, dep, data=data)
