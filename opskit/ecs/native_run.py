"""What ``ecs.redeploy`` and ``ecs.deployment`` do with a native service deployment.

The steps stay thin: this module turns a followed deployment into what a step
returns (a summary, the outputs' values) and holds the three rules that keep a
release safe:

- a PAUSE hook is continued at most once per hook: a retried step, or a second
  run of the step, finds the hook no longer AWAITING_ACTION and continues
  nothing (hooks this process already answered are remembered too, against a
  stale read that still shows one awaiting);
- a rollback goes through ECS (``request_rollback``) and is followed to
  ROLLBACK_SUCCESSFUL, saying in which stage it went back and whether
  production traffic ever reached the new revision;
- what the run leaves behind (``leave``, from a step's ``finish``): rolled back
  or left paused as ``if_left`` says, never continued.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opskit.clock import Clock, Deadline, utc_iso
from opskit.ecs.native import (
    PAUSED,
    SUCCEEDED,
    NativeVerdict,
    cause,
    production_words,
    short_arn,
    touches_production,
)
from opskit.ecs.native_follow import (
    NativeConfig,
    NativeWatch,
    follow_native,
    requested_words,
    roll_back_native,
)
from opskit.ecs.service_deployments import (
    NATIVE_STRATEGIES,
    STAGES,
    ServiceDeployment,
    cluster_and_service,
    continue_hook,
    current_service_deployment_arn,
    describe_service_deployment,
    request_rollback,
)
from opskit.errors import Cancelled, StepProblem

if TYPE_CHECKING:
    from opskit.aws import AwsAccess

ROLLBACK = "rollback"
LEAVE_PAUSED = "leave_paused"
IF_LEFT = (ROLLBACK, LEAVE_PAUSED)
# How long a step's finish follows the rollback it asked for.
LEAVE_WAIT = 5 * 60.0
LEAVE_POLL = 5.0

# (service deployment ARN, hook id) answered CONTINUE by this process.
_continued: set[tuple[str, str]] = set()
_continued_lock = threading.Lock()


@dataclass(frozen=True)
class Where:
    """Where a native deployment stands when a step ends: the outputs' values."""

    arn: str | None
    stage: str
    hook_id: str | None
    production_percent: float | None
    production_affected: bool
    rolled_back: bool

    @classmethod
    def of(cls, watch: NativeWatch, verdict: NativeVerdict | None, rolled_back: bool) -> Where:
        dep = verdict.deployment if verdict else None
        hook = dep.awaiting_hook if dep else None
        return cls(
            arn=watch.arn or None,
            stage=dep.stage if dep else watch.stage,
            hook_id=hook.hook_id if hook and hook.hook_id not in watch.answered else None,
            production_percent=dep.production_percent if dep else None,
            production_affected=watch.production_affected,
            rolled_back=rolled_back or bool(dep and dep.status == "ROLLBACK_SUCCESSFUL"),
        )


def stages_line(config: NativeConfig) -> str:
    """The dry run's words: the strategy and the stages it would wait for."""
    parts = [f"{config.strategy} deployment through ECS's lifecycle stages " + " → ".join(STAGES)]
    if config.pause_stages:
        parts.append(f"pauses at {', '.join(config.pause_stages)} (PAUSE hook) for the checks")
    if config.strategy in ("LINEAR", "CANARY") and config.step_percent:
        word = "steps of" if config.strategy == "LINEAR" else "a canary of"
        parts.append(f"production traffic shifts in {word} {config.step_percent:g}%")
    if config.bake_minutes:
        parts.append(f"bake time {config.bake_minutes}m")
    if config.alarms:
        parts.append(f"deployment alarms {', '.join(config.alarms)}")
    return "; ".join(parts)


def opened_arn(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """The service deployment UpdateService opened on a native service, as its
    answer names it (None for ROLLING, or when it still names the previous one)."""
    strategy = (before.get("deploymentConfiguration") or {}).get("strategy")
    current = current_service_deployment_arn(after)
    if strategy not in NATIVE_STRATEGIES or current == current_service_deployment_arn(before):
        return None
    return current or None


def continue_once(aws: AwsAccess, dep: ServiceDeployment) -> str | None:
    """CONTINUE the hook awaiting action, unless this process already did: the
    hook id continued, ``None`` when nothing was sent."""
    hook = dep.awaiting_hook
    if hook is None:
        return None
    key = (dep.arn, hook.hook_id)
    with _continued_lock:
        if key in _continued:
            return None
        _continued.add(key)
    continue_hook(aws, dep.arn, hook.hook_id, "CONTINUE")
    return hook.hook_id


def answered_here(arn: str) -> set[str]:
    """Hooks of ``arn`` this process continued (a stale read may show them awaiting)."""
    with _continued_lock:
        return {hook for (a, hook) in _continued if a == arn}


def is_success(verdict: NativeVerdict | None) -> bool:
    return verdict is not None and verdict.outcome in (SUCCEEDED, PAUSED)


def leave(
    aws: AwsAccess,
    arn: str,
    if_left: str,
    *,
    run_passed: bool,
    clock: Clock,
    interrupted: bool = False,
    cancel: threading.Event | None = None,
    wait: float = LEAVE_WAIT,
    seen_percent: float = 0.0,
) -> list[tuple[str, str]]:
    """A step's ``finish``: what opskit does with a deployment the run leaves
    unfinished (paused, or in progress after a failed or interrupted run).
    Never CONTINUE. After a Ctrl-C or SIGTERM (``interrupted``) the rollback is
    requested but not followed: the user asked the run to stop. A deployment
    that already finished in a run that did not pass gets one line saying how it
    ended. Returns the report's lines."""
    dep = describe_service_deployment(aws, arn)
    name = f"service deployment {short_arn(arn)}"
    if dep is None:
        return []
    production = production_words(
        touches_production(dep), max(seen_percent, dep.production_percent)
    )
    if dep.finished:
        if run_passed:
            return []
        return [("info", f"{name} ended {dep.status}; {production}")]
    hook = dep.awaiting_hook
    if run_passed and hook is None and not dep.rolling_back:
        return []  # a passed run that left it going: ECS finishes it
    where = dep.stage or dep.status
    if if_left == LEAVE_PAUSED and hook is not None:
        expires = utc_iso(hook.expires_at) if hook.expires_at else "its hook's timeout"
        action = hook.timeout_action or "ROLLBACK"
        return [("warning", f"{name} left paused at {where} (hook {hook.hook_id}), "
                            f"as if_left says: ECS will {action} at {expires}")]  # fmt: skip
    if if_left == LEAVE_PAUSED and not dep.rolling_back:
        return [("warning", f"{name} left {dep.status} at {where}, as if_left says")]
    if dep.rolling_back:
        why = cause(dep)
        already = f"{name} already {dep.status} at {where} when the run ended" + (
            f" ({why})" if why else "")  # fmt: skip
        if interrupted:
            return [("warning", f"{already}; not followed: the run was interrupted (ECS rolls "
                                f"it back on its own); {production}")]  # fmt: skip
        return [("warning", f"{already}: {_follow_rollback(aws, arn, clock, cancel, wait)}; "
                            f"{production}")]  # fmt: skip
    if interrupted:
        words = requested_words(dep)
        request_rollback(aws, dep)
        line = f"{name}: {words} as if_left says; not followed: the run was interrupted"
        return [("warning", f"{line} (ECS rolls it back on its own); {production}")]
    how = request_rollback(aws, dep)
    status = _follow_rollback(aws, arn, clock, cancel, wait)
    return [("warning", f"{name} rolled back at {where} as if_left says ({how}): {status}; "
                        f"{production}")]  # fmt: skip


def _follow_rollback(
    aws: AwsAccess, arn: str, clock: Clock, cancel: threading.Event | None, wait: float
) -> str:
    """Follow a rollback for at most ``wait``: how it ended, in a word or a line."""
    cluster, service = cluster_and_service(arn)
    watch = NativeWatch(
        aws, cluster, service, arn, 1, lambda *a, **k: None, clock, NativeConfig.of({}),
    )  # fmt: skip
    try:
        final = follow_native(
            watch, LEAVE_POLL, clock=clock, deadline=Deadline.after(clock, wait),
            cancel=cancel or threading.Event(), rollback=True,
        )  # fmt: skip
    except Exception as err:  # noqa: BLE001 - the run's result stands; say what is known
        return f"not finished ({err})"
    return final.deployment.status if final.deployment else "?"


@dataclass(frozen=True)
class Followed:
    """A native deployment followed by a step: the verdict, where it stands, and
    the rollback's line when the step rolled it back ('' when not)."""

    verdict: NativeVerdict | None
    where: Where
    rollback_note: str = ""
    production: str = "production untouched"  # native.production_words
    # a timeout, Ctrl-C or an AWS error while following: the step raises it with
    # ``where`` in its outputs, so the run's end can still roll back or leave it
    error: StepProblem | Cancelled | None = None


def follow_started(
    aws: AwsAccess,
    cluster: str,
    service: str,
    *,
    before: dict[str, Any],
    after: dict[str, Any],
    ecs_deployment_id: str,
    created_at: float,
    max_failed_tasks: int,
    rollback: bool,
    interval: float,
    emit: Any,
    clock: Clock,
    deadline: Deadline,
    cancel: threading.Event,
    within: str,
) -> Followed:
    """Follow the service deployment UpdateService just opened (``before``/``after``:
    the service records around it) until SUCCESSFUL, paused at a hook, or failed;
    on failure with ``rollback``, roll it back through ECS and follow that."""
    previous = current_service_deployment_arn(before)
    current = current_service_deployment_arn(after)
    watch = NativeWatch(
        aws, cluster, service, current if current != previous else "", max_failed_tasks, emit,
        clock, NativeConfig.of(before), previous_arn=previous,
        created_after=created_at - 1 if created_at else None, ecs_deployment_id=ecs_deployment_id,
        seen_event_ids={e.get("id", "") for e in (before.get("events") or [])}
        | {e.get("id", "") for e in (after.get("events") or [])},
    )  # fmt: skip
    try:
        verdict = follow_native(
            watch, interval, clock=clock, deadline=deadline, cancel=cancel, within=within
        )
    except (StepProblem, Cancelled) as err:
        return Followed(None, Where.of(watch, watch.last, False), error=err)
    note = ""
    rolled = verdict.rolled_back
    dep = verdict.deployment
    if not is_success(verdict) and rollback and dep is not None and not rolled:
        done = roll_back_native(
            watch, dep, interval=interval, clock=clock, deadline=deadline, cancel=cancel
        )
        note, rolled = done.note, done.rolled_back
    where = Where.of(watch, watch.last or verdict, rolled)
    return Followed(verdict, where, note, watch.production(dep))


def failed_summary(verdict_summary: str, followed: Followed) -> str:
    """A failed deploy's line: ECS's verdict, then the rollback's line, ending
    with whether production was affected (``; production untouched``)."""
    if followed.rollback_note:
        return f"{verdict_summary}; {followed.rollback_note}"
    return f"{verdict_summary}; {followed.production}"
