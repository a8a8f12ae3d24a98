"""What ``ecs.redeploy`` does on a ROLLING service once the deployment started:
follow it through DescribeServices to a verdict, and on failure roll back when
the playbook says so. Not a step type: a helper of ``ecs.redeploy``, as
``ecs_native`` is for the native strategies."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from opskit.ecs.failure import describe_stopped_tasks
from opskit.ecs.names import plural, short_task_definition
from opskit.ecs.rollback import RollbackTarget, roll_back
from opskit.ecs.stops import replaced_lines
from opskit.ecs.taskdef import container_log_targets
from opskit.ecs.wait import DeploymentWatch, follow_within
from opskit.ecs.watch import SUCCEEDED, Verdict
from opskit.errors import StepError, StepFailed, StepTimeout
from opskit.steps.base import StepContext, StepResult

if TYPE_CHECKING:
    from opskit.ecs.deploy import StartedDeployment
    from opskit.ecs.redeploy_plan import Plan
    from opskit.ecs.settings import WaitLimit


def run_rolling(
    ctx: StepContext, inputs: Any, p: Plan, started: StartedDeployment, limit: WaitLimit,
    outputs: Any, definition: dict[str, Any],
) -> StepResult:  # fmt: skip
    """The rolling deployment followed to its verdict (``outputs``: what is known
    once it started; ``definition``: the revision deployed, for its log targets)."""
    cluster, name = inputs.cluster, inputs.service
    watch = _watch(ctx, inputs, started, p)
    verdict = _follow(ctx, watch, inputs.poll_interval, limit, outputs)
    if verdict.outcome == SUCCEEDED:
        return _success(verdict, dataclasses.replace(outputs, new_task_ids=watch.new_task_ids()))
    detail = describe_stopped_tasks(
        ctx.aws, list(verdict.failed_tasks), container_log_targets(definition), inputs.log_lines
    )
    summary = verdict.summary
    if inputs.rollback:
        target = RollbackTarget(cluster, name, p.previous, outputs.task_definition)
        rolled = roll_back(
            ctx.aws, target, verdict, config=p.config, max_failed_tasks=inputs.max_failed_tasks,
            interval=inputs.poll_interval, emit=ctx.emit, clock=ctx.clock, deadline=ctx.deadline,
            cancel=ctx.cancel,
        )  # fmt: skip
        outputs = dataclasses.replace(outputs, rollback_deployment_id=rolled.deployment_id)
        summary += f"; {rolled.note}"
        detail = "\n".join(part for part in (detail, rolled.note) if part)
    raise StepFailed(summary, detail=detail or verdict.state, outputs=outputs)


def _watch(ctx: StepContext, inputs: Any, started: StartedDeployment, p: Plan) -> DeploymentWatch:
    # Events already on the service belong to earlier deployments: show only new ones.
    seen = {e.get("id", "") for e in p.service.get("events") or []}
    seen |= {e.get("id", "") for e in started.service.get("events") or []}
    return DeploymentWatch(
        ctx.aws, inputs.cluster, inputs.service, started.deployment_id,
        inputs.max_failed_tasks, ctx.emit, ctx.clock, created_at=started.created_at,
        config=p.config, seen_event_ids=seen,
    )  # fmt: skip


def _follow(
    ctx: StepContext,
    watch: DeploymentWatch,
    every: float,
    limit: WaitLimit,
    outputs: Any,
) -> Verdict:
    """Follow the deployment; a timeout or an AWS error mid-wait keeps what is known
    (the deployment id, the tasks it started) for ``on_failure``."""
    try:
        return follow_within(
            watch, every, clock=ctx.clock, limit=limit, cancel=ctx.cancel, what="deployment"
        )
    except StepTimeout as err:
        known = dataclasses.replace(outputs, new_task_ids=watch.new_task_ids())
        raise StepTimeout(err.summary, detail=err.detail, outputs=known) from None
    except StepError as err:
        raise StepError(err.summary, detail=err.detail, outputs=outputs) from None


def _success(verdict: Verdict, outputs: Any) -> StepResult:
    new, old = outputs.new_task_ids or [], outputs.old_task_ids
    summary = (
        f"{verdict.summary} ({short_task_definition(outputs.task_definition)}): "
        f"{plural(len(new), 'new task')} running"
    )
    if old:
        summary += f", {plural(len(old), 'old task')} replaced"
    if verdict.replaced:
        summary += f"; {verdict.replaced}"
    detail = "\n".join(
        [
            f"deployment: {outputs.deployment_id} (started {outputs.started_at})",
            f"task definition: {outputs.task_definition}",
            f"previous task definition: {outputs.previous_task_definition}",
            f"new tasks: {', '.join(new) or '-'}",
            f"old tasks: {', '.join(old) or '-'}",
            *replaced_lines(verdict.replaced_tasks),  # the diff is an output of its own
        ]
    )
    return StepResult("changed", summary, outputs, detail)
