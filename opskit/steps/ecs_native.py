"""What ``ecs.redeploy`` and ``ecs.deployment`` share on a native strategy: the
``if_left`` input, the run's last phase (``finish``) and the IAM needs of the
service deployment calls. Not a step type: a helper of the two."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from opskit.clock import Clock
from opskit.ecs.describe import read_service_tasks, started_by
from opskit.ecs.failure import describe_stopped_tasks
from opskit.ecs.names import task_id_of
from opskit.ecs.native_run import (
    IF_LEFT,
    ROLLBACK,
    failed_summary,
    follow_started,
    is_success,
    leave,
)
from opskit.ecs.taskdef import container_log_targets
from opskit.errors import Cancelled, StepFailed
from opskit.iam.needs import Need
from opskit.iam.resources import EcsService, EcsServiceDeployments
from opskit.steps.base import RunEnd, StepContext, StepResult, param

if TYPE_CHECKING:
    from opskit.ecs.deploy import StartedDeployment
    from opskit.ecs.redeploy_plan import Plan
    from opskit.ecs.settings import WaitLimit

NATIVE_USES = ("ecs.redeploy", "ecs.deployment")


def if_left_param() -> Any:
    return param(
        "what opskit does when the run ends (a step failed, Ctrl-C, a timeout) while this "
        "native deployment (BLUE_GREEN, LINEAR, CANARY) is paused or in progress: rollback "
        "through ECS, or leave_paused (ECS's hook timeout decides); never continue",
        "string",
        default=ROLLBACK,
        choices=IF_LEFT,
    )


def _last_owner(end: RunEnd, arn: str) -> str | None:
    """The id of the last main step of either type that names this deployment:
    only it acts at the run's end (one rollback request, one report line)."""
    owner = None
    for record in end.result.steps:
        if (
            record.uses in NATIVE_USES
            and (record.outputs or {}).get("service_deployment_arn") == arn
        ):
            owner = record.id
    return owner


def finish(end: RunEnd) -> list[tuple[str, str]]:
    """Roll back, or leave paused, a native deployment the run leaves unfinished."""
    outputs = end.record.outputs or {}
    arn = outputs.get("service_deployment_arn")
    if not arn or end.result.dry_run or _last_owner(end, str(arn)) != end.record.id:
        return []
    percent = outputs.get("production_percent")
    return leave(
        end.aws, str(arn), str(outputs.get("if_left") or ROLLBACK),
        run_passed=end.result.status == "passed", clock=end.clock or Clock(),
        interrupted=bool(end.result.signal) or end.result.status == "interrupted",
        seen_percent=float(percent) if isinstance(percent, int | float) else 0.0,
    )  # fmt: skip


def native_needs(listing: bool = True) -> tuple[Need, ...]:
    """The service deployment calls (Amazon ECS's service authorization reference:
    ListServiceDeployments on the service; the others on the service deployment).
    ``listing``: the step looks for the deployment UpdateService opened."""
    found = Need(
        "ecs:ListServiceDeployments",
        EcsService(),
        "find the service deployment UpdateService opened (native strategies)",
    )
    return (
        *((found,) if listing else ()),
        Need(
            "ecs:DescribeServiceDeployments",
            EcsServiceDeployments(),
            "follow a native deployment's stages, traffic, hooks and rollback",
        ),
        Need(
            "ecs:ContinueServiceDeployment",
            EcsServiceDeployments(),
            "answer a PAUSE hook: CONTINUE, or ROLLBACK when a check failed",
        ),
        Need(
            "ecs:StopServiceDeployment",
            EcsServiceDeployments(),
            "roll a native deployment back outside a hook (StopServiceDeployment ROLLBACK)",
        ),
    )


# How many reads the new tasks get to become visible (DescribeTasks answering a
# listed task MISSING is eventual consistency, not a missing task).
TASK_READS = 10


def _new_task_ids(ctx: StepContext, inputs: Any, deployment_id: str) -> list[str]:
    """The new revision's RUNNING tasks (those its ecs-svc deployment started): at a
    pause they serve the test listener, and their log streams are the ones to read.
    A listed task DescribeTasks does not find yet is read again."""
    for _ in range(TASK_READS):
        read = read_service_tasks(ctx.aws, inputs.cluster, inputs.service, "RUNNING")
        if not read.not_visible:
            break
        ctx.clock.sleep(min(inputs.poll_interval, 1.0))
    return [
        task_id_of(t.get("taskArn", ""))
        for t in started_by(read.tasks, deployment_id)
        if t.get("lastStatus") != "STOPPED"
    ]


def run_native(
    ctx: StepContext, inputs: Any, p: Plan, started: StartedDeployment, limit: WaitLimit,
    outputs: Any,
) -> StepResult:  # fmt: skip
    """ecs.redeploy on a native strategy: ECS's service deployment decides
    (``native_run``); the step returns at a PAUSE hook, production still on the
    old revision. A timeout or Ctrl-C keeps the deployment's ARN in the outputs,
    so the run's end can roll it back or leave it as ``if_left`` says."""
    followed = follow_started(
        ctx.aws, inputs.cluster, inputs.service, before=p.service, after=started.service,
        ecs_deployment_id=started.deployment_id, created_at=started.created_at,
        max_failed_tasks=inputs.max_failed_tasks, rollback=inputs.rollback,
        interval=inputs.poll_interval, emit=ctx.emit, clock=ctx.clock, deadline=limit.deadline,
        cancel=ctx.cancel, within=limit.within,
    )  # fmt: skip
    where, verdict = followed.where, followed.verdict
    outputs = dataclasses.replace(
        outputs, service_deployment_arn=where.arn, stage=where.stage, hook_id=where.hook_id,
        production_percent=where.production_percent,
    )  # fmt: skip
    error = followed.error
    if isinstance(error, Cancelled):
        error.outputs = outputs  # type: ignore[attr-defined]
        raise error
    if error is not None:
        raise type(error)(error.summary, detail=error.detail, outputs=outputs)
    assert verdict is not None
    if is_success(verdict):
        new = _new_task_ids(ctx, inputs, started.deployment_id)
        outputs = dataclasses.replace(outputs, new_task_ids=new)
        return StepResult("changed", verdict.summary, outputs, verdict.state)
    detail = describe_stopped_tasks(
        ctx.aws, list(verdict.failed_tasks), container_log_targets(p.base), inputs.log_lines
    )
    summary = failed_summary(verdict.summary, followed)
    raise StepFailed(summary, detail=detail or verdict.state, outputs=outputs)
