"""Follow one native service deployment until ``native.judge_native`` decides.

Each poll reads the service (its ``currentServiceDeployment``, its events, the
``ecs-svc`` deployment whose tasks are the new revision's), the record
(``DescribeServiceDeployments``) and the service's STOPPED tasks, so a
crash-looping green fails within a poll as a rolling one does. A stage entered
is a ``stage`` mark on the timeline, once. Time comes from the step's clock.

Eventual consistency: right after UpdateService the service may still name the
previous service deployment, and the new record may be MISSING; both are "not
yet" for ``native.GRACE_SECONDS``, never a failure.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opskit.clock import Clock, Deadline, poll_until
from opskit.ecs.describe import (
    describe_service,
    event_summary,
    events_after,
    read_service_tasks,
)
from opskit.ecs.native import (
    FAILED,
    GRACE_SECONDS,
    WAITING,
    NativeVerdict,
    Seen,
    cause,
    judge_native,
    production_words,
    reached,
    short_arn,
    touches_production,
)
from opskit.ecs.service_deployments import (
    ServiceDeployment,
    current_service_deployment_arn,
    describe_service_deployment,
    list_service_deployments,
    request_rollback,
)
from opskit.ecs.stops import sort_stops
from opskit.ecs.wait import time_left
from opskit.errors import Cancelled, StepError, StepTimeout

if TYPE_CHECKING:
    from opskit.aws import AwsAccess
    from opskit.events import Emit

DONE = "done"


@dataclass(frozen=True)
class NativeConfig:
    """What the service's deploymentConfiguration says about a native rollout."""

    strategy: str
    bake_minutes: int = 0
    step_percent: float = 0.0
    pause_stages: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()

    @classmethod
    def of(cls, service: dict[str, Any]) -> NativeConfig:
        config = service.get("deploymentConfiguration") or {}
        linear = config.get("linearConfiguration") or {}
        canary = config.get("canaryConfiguration") or {}
        step = linear.get("stepPercent") or canary.get("canaryPercent") or 0
        alarms = config.get("alarms") or {}
        return cls(
            strategy=str(config.get("strategy") or "ROLLING"),
            bake_minutes=int(config.get("bakeTimeInMinutes") or 0),
            step_percent=float(step),
            pause_stages=tuple(
                str(stage)
                for hook in config.get("lifecycleHooks") or []
                if hook.get("targetType") == "PAUSE"
                for stage in hook.get("lifecycleStages") or []
            ),
            alarms=tuple(alarms.get("alarmNames") or []) if alarms.get("enable") else (),
        )


@dataclass
class NativeWatch:
    """The state of following one service deployment. ``arn`` is '' until a read
    names it (after UpdateService: the service's ``currentServiceDeployment``
    once it differs from ``previous_arn``, or the newest record listed since
    ``created_after``); ``ecs_deployment_id`` the ecs-svc deployment whose
    stopped tasks count towards ``max_failed_tasks`` ('' = the PRIMARY one)."""

    aws: AwsAccess
    cluster: str
    service: str
    arn: str
    max_failed_tasks: int
    emit: Emit
    clock: Clock
    config: NativeConfig
    previous_arn: str = ""
    created_after: float | None = None
    ecs_deployment_id: str = ""
    answered: set[str] = field(default_factory=set)  # hooks this step answered
    seen_event_ids: set[str] = field(default_factory=set)
    last: NativeVerdict | None = None
    stage: str = ""
    found: bool = False
    production_affected: bool = False
    max_production: float = 0.0  # the most production traffic seen on the new revision
    missing_since: float | None = None  # the first of the consecutive MISSING reads
    stages_seen: list[str] = field(default_factory=list)
    started: float = field(init=False)
    stage_since: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.stage_since = self.clock.monotonic()

    def poll(self, count_stops: bool = True) -> NativeVerdict:
        record = describe_service(self.aws, self.cluster, self.service)
        for event in events_after(record, self.seen_event_ids):
            self.seen_event_ids.add(event.get("id", ""))
            summary = event_summary(event)
            self.emit("event", summary["message"], created_at=summary["created_at"])
        if not self.arn:
            self.arn = self._find(record)
        dep = describe_service_deployment(self.aws, self.arn) if self.arn else None
        stops = None
        if count_stops and dep is not None and not dep.finished:
            stops = self._stops(record)
        now = self.clock.monotonic()
        if dep is not None:
            self._saw(dep)
            self.missing_since = None
        elif self.missing_since is None:
            self.missing_since = now
        seen = Seen(
            seconds=self.clock.monotonic() - self.started,
            found=self.found,
            stage_seconds=self.clock.monotonic() - self.stage_since,
            production_affected=self.production_affected,
            strategy=self.config.strategy,
            bake_minutes=self.config.bake_minutes,
            step_percent=self.config.step_percent,
            missing_seconds=0.0 if self.missing_since is None else now - self.missing_since,
        )
        self.last = judge_native(
            dep, self.arn, seen, stops, self.max_failed_tasks, ignore_hooks=frozenset(self.answered)
        )
        return self.last

    def _find(self, record: dict[str, Any]) -> str:
        current = current_service_deployment_arn(record)
        if current and current != self.previous_arn:
            return current
        briefs = list_service_deployments(
            self.aws, self.cluster, self.service, created_after=self.created_after
        )
        fresh = [b for b in briefs if b.get("serviceDeploymentArn") != self.previous_arn]
        return str(fresh[0].get("serviceDeploymentArn") or "") if fresh else ""

    def _saw(self, dep: ServiceDeployment) -> None:
        self.found = True
        self.production_affected = self.production_affected or touches_production(dep)
        self.max_production = max(self.max_production, dep.production_percent)
        if dep.stage and dep.stage != self.stage:
            self.stage = dep.stage
            self.stage_since = self.clock.monotonic()
            self.stages_seen.append(dep.stage)
            self.emit("mark", dep.stage, at=self.clock.time(), what="stage")

    def _stops(self, record: dict[str, Any]) -> Any:
        deployments = record.get("deployments") or []
        wanted = self.ecs_deployment_id
        mine = next((d for d in deployments if d.get("id") == wanted), None) if wanted else None
        if mine is None:
            mine = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
        if mine is None:
            return None
        stopped = read_service_tasks(self.aws, self.cluster, self.service, "STOPPED")
        return sort_stops(str(mine.get("id")), stopped.tasks, int(mine.get("failedTasks") or 0))

    def production(self, dep: ServiceDeployment | None = None) -> str:
        """``production untouched`` / ``production affected (up to N% ...)``."""
        affected = self.production_affected or (dep is not None and touches_production(dep))
        percent = max(self.max_production, dep.production_percent if dep else 0.0)
        return production_words(affected, percent)

    def state(self) -> str:
        if self.last is None:
            return f"service deployment {short_arn(self.arn)}: no state read yet"
        return self.last.state


def follow_native(
    watch: NativeWatch,
    interval: float,
    *,
    clock: Clock,
    deadline: Deadline,
    cancel: threading.Event,
    until: str = DONE,
    rollback: bool = False,
    within: str = "before the step's timeout",
) -> NativeVerdict:
    """Poll until a verdict, or until the deployment reaches stage ``until``.
    ``rollback``: following a rollback, which ends when the record is finished
    (tasks of the failed revision stopping are no failure then). A timeout,
    Ctrl-C or an AWS error says what it waited for and the last state."""
    what = f"service deployment {short_arn(watch.arn)}" if watch.arn else "the service deployment"

    def check() -> NativeVerdict | None:
        verdict = watch.poll(count_stops=not rollback)
        dep = verdict.deployment
        if rollback and dep is not None and dep.finished:
            return verdict
        if not rollback and verdict.outcome != WAITING:
            return verdict
        if not rollback and until != DONE and dep is not None and reached(dep.stage, until):
            return verdict
        if rollback and verdict.outcome == FAILED and dep is None:
            return verdict
        watch.emit(
            "progress",
            f"{verdict.state}: {verdict.summary} ({time_left(deadline)})",
            service_deployment_arn=watch.arn,
            waiting_for=verdict.summary,
            remaining=deadline.remaining(),
            **verdict.data,
        )
        return None

    try:
        return poll_until(
            check, clock=clock, deadline=deadline, interval=interval, cancel=cancel,
            describe=watch.state,
        )  # fmt: skip
    except StepTimeout:
        raise StepTimeout(
            f"{what} did not finish {within}: {watch.state()}", detail=watch.state()
        ) from None
    except Cancelled:
        raise Cancelled(f"interrupted while waiting for {what}: {watch.state()}") from None
    except StepError as err:
        raise StepError(f"while waiting for {what}: {err.summary}", detail=watch.state()) from None


def wait_visible(
    watch: NativeWatch,
    interval: float,
    *,
    clock: Clock,
    deadline: Deadline,
    cancel: threading.Event,
) -> ServiceDeployment | None:
    """Read the record until DescribeServiceDeployments shows it (eventual
    consistency: a first read may answer it MISSING), for at most
    ``native.GRACE_SECONDS`` and never past ``deadline``; None when it never did."""
    grace = Deadline.after(clock, GRACE_SECONDS)
    left = deadline.remaining()
    if left is not None and left < GRACE_SECONDS:
        grace = deadline

    def check() -> ServiceDeployment | None:
        dep = watch.poll(count_stops=False).deployment
        if dep is None:
            watch.emit("progress", f"{watch.state()}: waiting up to {GRACE_SECONDS:g}s for it")
        return dep

    try:
        return poll_until(
            check, clock=clock, deadline=grace, interval=interval, cancel=cancel,
            describe=watch.state,
        )  # fmt: skip
    except StepTimeout:
        return None


@dataclass(frozen=True)
class NativeRollback:
    """What a rollback through ECS did, in one line (ending with whether
    production was affected), whether it finished, whether opskit sent the
    request (False: ECS was rolling back on its own), and whether the run was
    interrupted before it was followed to the end."""

    note: str
    rolled_back: bool
    production_affected: bool
    sent: bool = False
    interrupted: bool = False


def requested_words(dep: ServiceDeployment) -> str:
    """``ROLLBACK requested at hook X (STAGE)``, said before the request is sent."""
    hook = dep.awaiting_hook
    where = dep.stage or dep.status
    if hook is not None:
        return f"ROLLBACK requested at hook {hook.hook_id} ({where})"
    return f"ROLLBACK requested with StopServiceDeployment at {where}"


def interrupted_words(dep: ServiceDeployment) -> str:
    return (
        f"{requested_words(dep)}; not followed: the run was interrupted "
        "(ECS rolls it back on its own)"
    )


def roll_back_native(
    watch: NativeWatch,
    dep: ServiceDeployment,
    *,
    interval: float,
    clock: Clock,
    deadline: Deadline,
    cancel: threading.Event,
) -> NativeRollback:
    """Ask ECS to roll ``dep`` back (``request_rollback``: ROLLBACK at the hook, or
    StopServiceDeployment ROLLBACK) and follow it to ROLLBACK_SUCCESSFUL. A
    deployment ECS already rolls back is only followed. Interrupted once the
    request is sent (the run's Ctrl-C or SIGTERM): not followed, and said so."""
    stage = dep.stage or dep.status
    watch.production_affected = watch.production_affected or touches_production(dep)
    affected = watch.production_affected
    if dep.finished:
        done = dep.status == "ROLLBACK_SUCCESSFUL"
        why = cause(dep)
        word = ("ECS already rolled it back" + (f": {why}" if why else "")) if done else (
            f"it is {dep.status}")  # fmt: skip
        return NativeRollback(f"nothing to roll back at {stage}: {word}; {watch.production(dep)}",
                              done, affected)  # fmt: skip
    by_ecs = dep.rolling_back
    interrupted = interrupted_words(dep)
    how = request_rollback(watch.aws, dep)
    if by_ecs:
        why = cause(dep)
        how = "ECS already rolling it back" + (f": {why}" if why else f" ({dep.status})")
    watch.emit("warning", f"rolling back service deployment {short_arn(dep.arn)}: {how}")
    try:
        final = follow_native(
            watch, interval, clock=clock, deadline=deadline, cancel=cancel, rollback=True
        )
    except Cancelled:
        if by_ecs:
            note = f"ECS rolling it back at {stage} ({how}); not followed: the run was interrupted"
        else:
            note = interrupted
        return NativeRollback(f"{note}; {watch.production(dep)}", False, watch.production_affected,
                              sent=not by_ecs, interrupted=True)  # fmt: skip
    except (StepTimeout, StepError) as err:
        return NativeRollback(f"rollback at {stage} not finished ({how}): {err.summary}; "
                              f"{watch.production(dep)}", False, watch.production_affected,
                              sent=not by_ecs)  # fmt: skip
    end = final.deployment
    status = end.status if end is not None else "?"
    production = watch.production(dep)
    if status == "ROLLBACK_SUCCESSFUL":
        back = "ROLLBACK_SUCCESSFUL, traffic on the previous revision"
        note = f"rolled back at {stage} ({how}): {back}; {production}"
        return NativeRollback(note, True, watch.production_affected, sent=not by_ecs)
    return NativeRollback(f"rollback at {stage} ended {status} ({how}); {production}", False,
                          watch.production_affected, sent=not by_ecs)  # fmt: skip
