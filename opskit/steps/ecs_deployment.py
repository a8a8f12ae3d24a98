"""``ecs.deployment``: act on a native service deployment ECS is running.

A BLUE_GREEN, LINEAR or CANARY deployment paused at a ``PAUSE`` hook waits for
someone to answer it. This step is that someone, after the playbook's checks:
``continue`` answers the awaiting hook once (never twice: a retry or a second
run finds it answered), ``rollback`` sends it back through ECS (ROLLBACK at the
hook, or StopServiceDeployment ROLLBACK in bake time) and proves the rollback
finished, ``follow`` only watches. Each then follows the deployment until
``until`` (a lifecycle stage, or ``done``), and always stops at a hook awaiting
action, so a later check decides the next one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from opskit.clock import Deadline
from opskit.ecs.describe import describe_service
from opskit.ecs.native import (
    FAILED,
    GRACE_SECONDS,
    PAUSED,
    SUCCEEDED,
    NativeVerdict,
    short_arn,
)
from opskit.ecs.native_follow import (
    DONE,
    NativeConfig,
    NativeWatch,
    follow_native,
    roll_back_native,
    wait_visible,
)
from opskit.ecs.native_run import Where, answered_here, continue_once
from opskit.ecs.service_deployments import (
    NATIVE_STRATEGIES,
    STAGES,
    current_service_deployment_arn,
)
from opskit.ecs.settings import DEFAULT_WAIT
from opskit.errors import Cancelled, StepError, StepFailed
from opskit.iam.needs import Need, Permissions
from opskit.iam.resources import EcsService, EcsTaskList, EcsTasks
from opskit.steps.base import StepContext, StepResult, StepType, at_least, output, param
from opskit.steps.ecs_native import finish, if_left_param, native_needs

FOLLOW, CONTINUE, ROLLBACK = "follow", "continue", "rollback"


@dataclass(frozen=True, kw_only=True)
class DeploymentInputs:
    cluster: str = param("ECS cluster name or ARN", "string", required=True)
    service: str = param("ECS service name or ARN", "string", required=True)
    deployment: str | None = param(
        "the service deployment ARN (default: the one an earlier ecs.redeploy of this "
        "service opened, else the service's currentServiceDeployment)",
        "string",
    )
    action: str = param(
        "follow: watch it; continue: answer the PAUSE hook awaiting action with CONTINUE "
        "(once), then follow; rollback: roll it back through ECS and wait until the old "
        "revision serves again",
        "string",
        default=FOLLOW,
        choices=(FOLLOW, CONTINUE, ROLLBACK),
    )
    until: str = param(
        "done (SUCCESSFUL) or a lifecycle stage to return at; a PAUSE hook awaiting action "
        "always returns",
        "string",
        default=DONE,
        choices=(DONE, *STAGES),
    )
    poll_interval: float = param("time between polls while waiting", "duration", default=5.0)
    max_failed_tasks: int = param(
        "fail once this many tasks of the new revision have failed (a crash loop)",
        "integer",
        default=2,
        check=at_least(1),
    )
    if_left: str = if_left_param()


@dataclass(frozen=True, kw_only=True)
class DeploymentOutputs:
    strategy: str = output("the service's deployment strategy", "string")
    service_deployment_arn: str | None = output("the service deployment acted on", "string")
    stage: str = output("the lifecycle stage when the step ended", "string")
    hook_id: str | None = output(
        "the PAUSE hook awaiting action when the step ended (null when none)", "string"
    )
    production_percent: float | None = output(
        "the new revision's share of production traffic when the step ended", "number"
    )
    production_affected: bool = output(
        "whether any production traffic ever reached the new revision", "boolean"
    )
    rolled_back: bool = output("whether the deployment ended rolled back", "boolean")
    if_left: str = output("what the run's end does with it if unfinished", "string")


def _arn(ctx: StepContext, inputs: DeploymentInputs, record: dict[str, object]) -> str:
    """The deployment named, else an earlier step's for this service, else the current."""
    if inputs.deployment:
        return inputs.deployment
    marker = f"/{inputs.cluster.rsplit('/', 1)[-1]}/{inputs.service.rsplit('/', 1)[-1]}/"
    earlier = ctx.earlier_output("service_deployment_arn")
    if isinstance(earlier, str) and marker in earlier:
        return earlier
    return current_service_deployment_arn(dict(record))


def _outputs(
    config: NativeConfig, watch: NativeWatch, verdict: NativeVerdict, inputs: DeploymentInputs,
    rolled_back: bool = False,
) -> DeploymentOutputs:  # fmt: skip
    where = Where.of(watch, verdict, rolled_back)
    return DeploymentOutputs(
        strategy=config.strategy, service_deployment_arn=where.arn, stage=where.stage,
        hook_id=where.hook_id, production_percent=where.production_percent,
        production_affected=where.production_affected, rolled_back=where.rolled_back,
        if_left=inputs.if_left,
    )  # fmt: skip


def _native_service(
    ctx: StepContext, inputs: DeploymentInputs
) -> tuple[dict[str, Any], NativeConfig]:
    """The service record and its configuration; a rolling service is refused."""
    record = describe_service(ctx.aws, inputs.cluster, inputs.service)
    config = NativeConfig.of(record)
    if config.strategy not in NATIVE_STRATEGIES:
        raise StepError(
            f"ECS service {inputs.service!r} in cluster {inputs.cluster!r} uses the "
            f"{config.strategy} strategy: ecs.deployment acts on BLUE_GREEN, LINEAR and CANARY "
            "deployments (ecs.redeploy follows rolling ones)"
        )
    return record, config


def _start(ctx: StepContext, inputs: DeploymentInputs) -> tuple[NativeConfig, NativeWatch]:
    record, config = _native_service(ctx, inputs)
    arn = _arn(ctx, inputs, record)
    if not arn:
        raise StepFailed(f"ECS service {inputs.service!r} has no service deployment to act on")
    watch = NativeWatch(
        ctx.aws, inputs.cluster, inputs.service, arn, inputs.max_failed_tasks, ctx.emit,
        ctx.clock, config, answered=answered_here(arn),
        seen_event_ids={e.get("id", "") for e in record.get("events") or []},
    )  # fmt: skip
    return config, watch


def _deadline(ctx: StepContext) -> Deadline:
    if ctx.deadline.remaining() is None:
        return Deadline.after(ctx.clock, DEFAULT_WAIT)
    return ctx.deadline


def _follow(ctx: StepContext, inputs: DeploymentInputs, watch: NativeWatch) -> NativeVerdict:
    return follow_native(
        watch, inputs.poll_interval, clock=ctx.clock, deadline=_deadline(ctx),
        cancel=ctx.cancel, until=inputs.until,
    )  # fmt: skip


def _none(config: NativeConfig, inputs: DeploymentInputs, arn: str | None) -> DeploymentOutputs:
    return DeploymentOutputs(
        strategy=config.strategy, service_deployment_arn=arn, stage="", hook_id=None,
        production_percent=None, production_affected=False, rolled_back=False,
        if_left=inputs.if_left,
    )  # fmt: skip


def _earlier_deploy(ctx: StepContext) -> bool:
    """Whether an earlier step of this run started a deployment (its ARN, or at
    least the UpdateService it sent, is in its outputs)."""
    return bool(ctx.earlier_output("service_deployment_arn") or ctx.earlier_output("deployment_id"))


def _rollback(ctx: StepContext, inputs: DeploymentInputs) -> StepResult:
    """Roll back the service's current (or named, or an earlier step's) deployment
    when it is unfinished, whoever started it (on call). A finished one that is
    not this run's is nothing to roll back (``on_failure`` after a run that failed
    before its deploy); this run's that ended SUCCESSFUL cannot be: ECS rolls
    back only a deployment in progress."""
    record, config = _native_service(ctx, inputs)
    arn = _arn(ctx, inputs, record)
    if not arn:
        summary = f"nothing to roll back: ECS service {inputs.service!r} has no service deployment"
        return StepResult("ok", summary, _none(config, inputs, None))
    watch = NativeWatch(
        ctx.aws, inputs.cluster, inputs.service, arn, inputs.max_failed_tasks, ctx.emit,
        ctx.clock, config, answered=answered_here(arn),
        seen_event_ids={e.get("id", "") for e in record.get("events") or []},
    )  # fmt: skip
    name = f"service deployment {short_arn(arn)}"
    dep = watch.poll(count_stops=False).deployment
    if dep is None:
        try:
            dep = wait_visible(
                watch, inputs.poll_interval, clock=ctx.clock, deadline=_deadline(ctx),
                cancel=ctx.cancel,
            )  # fmt: skip
        except Cancelled:
            raise _cancelled(
                f"{name} not rolled back: the run was interrupted before "
                "DescribeServiceDeployments showed it", _none(config, inputs, arn),
            ) from None  # fmt: skip
    if dep is None:
        raise StepFailed(
            f"cannot roll back {name}: DescribeServiceDeployments did not show it within "
            f"{GRACE_SECONDS:g}s",
            outputs=_none(config, inputs, arn),
        )
    last = watch.last
    assert last is not None  # the watch read it
    why = f" after step {ctx.failed_step!r} failed" if ctx.failed_step else ""
    ours = bool(inputs.deployment) or _earlier_deploy(ctx)
    if dep.finished and not ours:
        summary = f"nothing to roll back: {name} ended {dep.status} before this run"
        return StepResult("ok", summary, _outputs(config, watch, last, inputs))
    if dep.status == "SUCCESSFUL":
        raise StepFailed(
            f"cannot roll back {name}{why}: it ended SUCCESSFUL and ECS cannot roll back a "
            "finished deployment; deploy the previous revision with ecs.redeploy "
            "task_definition: previous",
            outputs=_outputs(config, watch, last, inputs),
        )
    done = roll_back_native(
        watch, dep, interval=inputs.poll_interval, clock=ctx.clock, deadline=_deadline(ctx),
        cancel=ctx.cancel,
    )  # fmt: skip
    outputs = _outputs(config, watch, last, inputs, done.rolled_back)
    outputs = dataclasses.replace(outputs, production_affected=done.production_affected)
    summary = f"{name}{why}: {done.note}"
    if done.interrupted:
        raise _cancelled(summary, outputs)
    if not done.rolled_back:
        raise StepFailed(summary, outputs=outputs)
    return StepResult("changed" if done.sent else "ok", summary, outputs)


def _cancelled(summary: str, outputs: DeploymentOutputs) -> Cancelled:
    """Ctrl-C or SIGTERM: the step ends interrupted, its outputs kept for the run's end."""
    error = Cancelled(summary)
    error.outputs = outputs  # type: ignore[attr-defined]
    return error


def run(ctx: StepContext, inputs: DeploymentInputs) -> StepResult:
    if inputs.action == ROLLBACK:
        return _rollback(ctx, inputs)
    config, watch = _start(ctx, inputs)
    verdict = _follow(ctx, inputs, watch)
    said = ""
    if inputs.action == CONTINUE and verdict.outcome == PAUSED and verdict.deployment:
        hook = verdict.deployment.awaiting_hook
        sent = continue_once(ctx.aws, verdict.deployment)
        if hook is not None:
            watch.answered.add(hook.hook_id)
        stage = verdict.deployment.stage
        said = f"continued at {stage} (hook {sent}); " if sent else ""
        if sent:
            ctx.emit("info", f"CONTINUE at hook {sent} ({stage}) with ContinueServiceDeployment")
        verdict = _follow(ctx, inputs, watch)
    outputs = _outputs(config, watch, verdict, inputs)
    name = f"service deployment {short_arn(watch.arn)}"
    if verdict.outcome == FAILED:
        production = watch.production(verdict.deployment)
        raise StepFailed(
            f"{said}{verdict.summary}; {production}", detail=verdict.state, outputs=outputs
        )
    if verdict.outcome in (SUCCEEDED, PAUSED):
        text = verdict.summary if verdict.outcome == SUCCEEDED else f"{name} {verdict.summary}"
    else:
        text = f"{name} reached {verdict.state}"
    return StepResult("changed" if said else "ok", f"{said}{text}", outputs, verdict.state)


def _planned_earlier(ctx: StepContext) -> bool:
    """In a dry run, an earlier step (ecs.redeploy) would start the deployment: it
    has the outputs both native steps always know (``if_left``) but not the ARN
    (a dry run keeps no null outputs)."""
    for record in reversed(list(ctx.steps.values())):
        outputs = record.get("outputs") or {}
        if "if_left" in outputs:
            return "service_deployment_arn" not in outputs
    return False


def _plan_ahead(ctx: StepContext, inputs: DeploymentInputs) -> StepResult:
    """What the step would do with the deployment an earlier step would start."""
    _, config = _native_service(ctx, inputs)
    whose = "the deployment an earlier step would start"
    if inputs.action == CONTINUE:
        what = f"would CONTINUE {whose} at its PAUSE hook, then follow it until {inputs.until}"
    elif inputs.action == ROLLBACK:
        what = (
            f"would roll back {whose} if it is unfinished (ROLLBACK at a PAUSE hook, else "
            "StopServiceDeployment ROLLBACK) and wait until it is rolled back"
        )
    else:
        what = f"would follow {whose} until {inputs.until}"
    outputs = DeploymentOutputs(
        strategy=config.strategy, service_deployment_arn=None, stage="", hook_id=None,
        production_percent=None, production_affected=False, rolled_back=False,
        if_left=inputs.if_left,
    )  # fmt: skip
    return StepResult("changed" if inputs.action != FOLLOW else "ok", what, outputs)


def plan(ctx: StepContext, inputs: DeploymentInputs) -> StepResult:
    """Dry run: read the deployment and say what the step would send."""
    if not inputs.deployment and _planned_earlier(ctx):
        return _plan_ahead(ctx, inputs)
    config, watch = _start(ctx, inputs)
    verdict = watch.poll(count_stops=False)
    dep = verdict.deployment
    hook = dep.awaiting_hook if dep else None
    name = f"service deployment {short_arn(watch.arn)}"
    if inputs.action == CONTINUE:
        what = (
            f"would CONTINUE hook {hook.hook_id}" if hook else "would CONTINUE the next PAUSE hook"
        )
    elif inputs.action == ROLLBACK:
        what = "would roll back (ROLLBACK at the hook, else StopServiceDeployment ROLLBACK)"
    else:
        what = "would follow"
    summary = f"{what} {name} ({verdict.state}) until {inputs.until}"
    return StepResult("changed" if inputs.action != FOLLOW else "ok", summary,
                      _outputs(config, watch, verdict, inputs))  # fmt: skip


PERMISSIONS = Permissions(
    Need("ecs:DescribeServices", EcsService(), "the service's strategy and deployments; each poll"),
    Need("ecs:ListTasks", EcsTaskList(), "the new revision's stopped tasks (a crash loop)"),
    Need("ecs:DescribeTasks", EcsTasks(), "the new revision's stopped tasks (a crash loop)"),
    *native_needs(listing=False),
)

STEP = StepType(
    name="ecs.deployment",
    summary="Continue, roll back or follow an ECS native (blue/green, linear, canary) deployment",
    inputs=DeploymentInputs,
    outputs=DeploymentOutputs,
    run=run,
    plan=plan,
    permissions=PERMISSIONS,
    finish=finish,
)
