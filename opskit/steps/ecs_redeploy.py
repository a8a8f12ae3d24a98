"""``ecs.redeploy``: start a deployment and prove that its new tasks took over.

The second lie of the incident: ``update-service`` without
``--force-new-deployment`` started no task, and the old task kept serving the
old code. This step makes the deployment itself the unit that is tracked: its
id comes from the ``update_service`` response, and only that deployment's
rollout state and tasks decide the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opskit.ecs.deploy import StartedDeployment, check_controller, start_deployment
from opskit.ecs.describe import describe_service, list_service_tasks
from opskit.ecs.failure import DEFAULT_LOG_LINES
from opskit.ecs.names import short_task_definition, task_id_of
from opskit.ecs.native_follow import NativeConfig
from opskit.ecs.native_run import opened_arn, stages_line
from opskit.ecs.redeploy_plan import Plan
from opskit.ecs.service_deployments import NATIVE_STRATEGIES
from opskit.ecs.settings import WaitLimit, wait_limit
from opskit.ecs.taskdef import (
    Changes,
    describe_task_definition,
    log_target,
    parse_changes,
    previous_active_revision,
)
from opskit.ecs.taskfile import (
    FilePlan,
    TaskFile,
    check_task_file,
    load_task_file,
    plan_file_on,
    register_planned,
)
from opskit.errors import StepFailed
from opskit.iam.needs import Need, Permissions, any_of, flag
from opskit.iam.resources import (
    EcsService,
    EcsTaskList,
    EcsTasks,
    Everything,
    LogGroup,
    NewTaskDefinition,
    PassedRoles,
)
from opskit.inputs import InvalidInput
from opskit.shapes import MapOf, OneOf, Text
from opskit.steps.base import StepContext, StepResult, StepType, at_least, output, param
from opskit.steps.ecs_native import finish, if_left_param, native_needs, run_native
from opskit.steps.ecs_rolling import run_rolling

IMAGE = OneOf(
    Text(expected="an image"),
    MapOf(Text(expected="an image"), min_items=1),
    expected="an image, or a mapping of container name to image",
)


@dataclass(frozen=True, kw_only=True)
class RedeployInputs:
    cluster: str = param("ECS cluster name or ARN", "string", required=True)
    service: str = param("ECS service name or ARN", "string", required=True)
    force: bool = param(
        "force a new deployment even when the task definition is unchanged, so new tasks "
        "start (and re-read code from S3)",
        "boolean",
        default=True,
    )
    task_definition: str | None = param(
        "deploy this task definition (family, family:revision or ARN) instead of the "
        "service's current one; 'previous' is the newest ACTIVE revision below the one the "
        "service runs (a rollback for code baked into the image)",
        "string",
    )
    image: str | dict[str, str] | None = param(
        "register a new revision with this image: one image for the essential container, "
        "or a mapping of container name to image",
        IMAGE,
    )
    environment: dict[str, Any] | None = param(
        "register a new revision with these environment variables (NAME: value, null "
        "removes) for the essential container, or per container {container: {NAME: value}}",
        "object",
    )
    task_definition_file: str | None = param(
        "register the revision this file holds (JSON or YAML, .j2 for a Jinja template "
        "with the playbook's context; relative to the playbook), only when it differs "
        "from the service's current one",
        "string",
    )
    wait: bool = param("wait until the deployment completes", "boolean", default=True)
    poll_interval: float = param("time between polls while waiting", "duration", default=5.0)
    max_failed_tasks: int = param(
        "fail once this many tasks of the new deployment have failed: crashed, or counted "
        "in ECS's failedTasks (could not start, or failed health checks before any task was "
        "healthy); Spot reclaims, retirements and scale-ins never count",
        "integer",
        default=2,
        check=at_least(1),
    )
    rollback: bool = param(
        "on failure, return the service to the previous task definition and wait for that",
        "boolean",
        default=False,
    )
    log_lines: int = param(
        "last log lines of each stopped task shown in the failure message",
        "integer",
        default=DEFAULT_LOG_LINES,
        check=at_least(0),
    )
    if_left: str = if_left_param()

    def __post_init__(self) -> None:
        # The file is the whole revision: nothing else may say what to deploy.
        for other in ("task_definition", "image", "environment"):
            if self.task_definition_file and getattr(self, other) is not None:
                raise InvalidInput(other, f"give task_definition_file or {other}, not both")


@dataclass(frozen=True, kw_only=True)
class RedeployOutputs:
    deployment_id: str | None = output(
        "the id of the deployment this step created (ecs-svc/...); null in a dry run", "string"
    )
    started_at: str | None = output(
        "when that deployment was created, ISO 8601 UTC; null in a dry run", "string"
    )
    new_task_ids: list[str] | None = output(
        "ids of the RUNNING tasks started by that deployment; null in a dry run", "string_list"
    )
    old_task_ids: list[str] = output(
        "ids of the tasks that ran before the deployment", "string_list"
    )
    task_definition: str = output(
        "the task definition ARN deployed ('' in a dry run that would register one)", "string"
    )
    previous_task_definition: str = output(
        "the service's task definition ARN before the step", "string"
    )
    log_group: str = output("awslogs group of the essential container", "string")
    log_stream_prefix: str = output(
        "awslogs stream prefix (streams are PREFIX/CONTAINER/TASK_ID)", "string"
    )
    container: str = output(
        "name of the essential container (the CONTAINER in stream names)", "string"
    )
    diff: str = output(
        "task_definition_file's difference from the service's revision ('' when none)", "string"
    )
    rollback_deployment_id: str | None = output(
        "the deployment that rolled the service back after a failure (rollback: true, or "
        "ECS's circuit breaker); null when there was none",
        "string",
    )
    strategy: str = output("the service's deployment strategy: ROLLING, BLUE_GREEN...", "string")
    service_deployment_arn: str | None = output(
        "the service deployment ECS opened (native strategies); null for ROLLING", "string"
    )
    stage: str = output("the lifecycle stage when the step ended ('' for ROLLING)", "string")
    hook_id: str | None = output(
        "the PAUSE hook awaiting action when the step ended (null when none)", "string"
    )
    production_percent: float | None = output(
        "the new revision's share of production traffic when the step ended (0 at a test "
        "traffic pause; null for ROLLING)",
        "number",
    )
    if_left: str = output("what the run's end does with an unfinished native deployment", "string")


def _task_file(ctx: StepContext, inputs: RedeployInputs) -> TaskFile:
    name = inputs.task_definition_file or ""
    return load_task_file(ctx.resolve_path(name), name, ctx.render)


def _make_plan(ctx: StepContext, inputs: RedeployInputs) -> Plan:
    """Read calls only, the same for ``run`` and ``plan``: every refusal comes
    before any write, and the dry run says what the run would."""
    cluster, name = inputs.cluster, inputs.service
    task_file = _task_file(ctx, inputs) if inputs.task_definition_file else None
    record = describe_service(ctx.aws, cluster, name)
    check_controller(record, cluster, name)
    previous = record.get("taskDefinition", "")
    if task_file is not None:
        planned = plan_file_on(ctx.aws, task_file, describe_task_definition(ctx.aws, previous))
        base = planned.chosen or planned.current  # a revision registered earlier may hold it
        changes: Changes | FilePlan = planned
    elif inputs.task_definition == "previous":
        chosen = previous_active_revision(ctx.aws, previous)
        ctx.emit("info", chosen.describe())
        base = chosen.definition
    else:
        base = describe_task_definition(ctx.aws, inputs.task_definition or previous)
    if task_file is None:
        changes = parse_changes(base, inputs.image, inputs.environment)
    tasks = list_service_tasks(ctx.aws, cluster, name, "RUNNING")
    plan = Plan(record, previous, base, changes, tasks)
    if not inputs.force and not changes and plan.update_task_definition is None:
        raise StepFailed(
            f"nothing to deploy on ECS service {name!r}: force is false and the task "
            f"definition ({short_task_definition(previous)}) is unchanged, so no new task "
            "would start (set force: true)"
        )
    return plan


def _log_outputs(definition: dict[str, Any]) -> dict[str, str]:
    target = log_target(definition)
    if target is None:
        return {"log_group": "", "log_stream_prefix": "", "container": ""}
    return {
        "log_group": target.group,
        "log_stream_prefix": target.stream_prefix,
        "container": target.container,
    }


def _outputs(
    p: Plan, definition: dict[str, Any], started: StartedDeployment | None, if_left: str
) -> RedeployOutputs:
    """What is known once the deployment started (or, in a dry run, would start)."""
    return RedeployOutputs(
        deployment_id=started.deployment_id if started else None,
        started_at=started.started_at if started else None,
        new_task_ids=[] if started else None,
        old_task_ids=[task_id_of(t.get("taskArn", "")) for t in p.old_tasks],
        task_definition=started.task_definition
        if started
        else ("" if p.changes else p.base.get("taskDefinitionArn", "")),
        previous_task_definition=p.previous,
        diff="\n".join(p.changes.diff) if isinstance(p.changes, FilePlan) else "",
        rollback_deployment_id=None,
        strategy=p.config.strategy,
        service_deployment_arn=opened_arn(p.service, started.service) if started else None,
        stage="",
        hook_id=None,
        production_percent=None,
        if_left=if_left,
        **_log_outputs(definition),
    )


def _wait_limit(ctx: StepContext, inputs: RedeployInputs, p: Plan) -> WaitLimit:
    """The step's own limit (the playbook's ``timeout:``, or a default that counts
    ECS's bake time); warns, before any write, when the timeout cannot cover it."""
    limit = wait_limit(ctx.clock, ctx.deadline, p.config)
    if inputs.wait and limit.warning:
        ctx.emit("warning", limit.warning)
    return limit


def plan(ctx: StepContext, inputs: RedeployInputs) -> StepResult:
    """Dry run: describe the service and say what would change; no write call."""
    p = _make_plan(ctx, inputs)
    _wait_limit(ctx, inputs, p)
    actions = p.actions(inputs.service, inputs.force)
    shown = [f"would {line}" for line in actions]
    if isinstance(p.changes, FilePlan):
        at = 1 if p.changes else 0  # after "register ...", or before "update ..."
        shown[at:at] = p.changes.lines()
    if p.config.strategy in NATIVE_STRATEGIES:
        shown.append(f"would follow a {stages_line(NativeConfig.of(p.service))}")
    for line in shown:
        ctx.emit("info", line)
    outputs = _outputs(p, p.base, None, inputs.if_left)
    update = next(line for line in actions if line.startswith("update "))
    detail = "\n".join(shown)
    return StepResult("changed", f"would {update}", outputs, detail)


def run(ctx: StepContext, inputs: RedeployInputs) -> StepResult:
    cluster, name = inputs.cluster, inputs.service
    p = _make_plan(ctx, inputs)
    limit = _wait_limit(ctx, inputs, p)
    definition = p.base
    update_to = p.update_task_definition
    if isinstance(p.changes, FilePlan):
        for line in p.changes.live_lines():
            ctx.emit("info", line)
    if p.changes:
        definition = register_planned(ctx.aws, p.base, p.changes)
        update_to = definition["taskDefinitionArn"]
        ctx.emit(
            "info",
            f"registered {short_task_definition(update_to)} from "
            f"{short_task_definition(p.base.get('taskDefinitionArn', ''))}: {p.changes.describe()}",
        )
    started = start_deployment(
        ctx.aws, cluster, name, before=p.service, task_definition=update_to, force=inputs.force
    )
    ctx.emit(
        "info",
        f"deployment {started.deployment_id} started: "
        f"{short_task_definition(started.task_definition)} on {cluster}/{name}",
        deployment_id=started.deployment_id,
    )
    created = started.created_at or ctx.clock.time()
    ctx.emit("mark", f"deployment {started.deployment_id} created", at=created, what="deployment")
    outputs = _outputs(p, definition, started, inputs.if_left)
    if not inputs.wait:
        return StepResult("changed", f"deployment {started.deployment_id} started", outputs)
    if p.config.strategy in NATIVE_STRATEGIES:
        return run_native(ctx, inputs, p, started, limit, outputs)
    return run_rolling(ctx, inputs, p, started, limit, outputs, definition)


# RegisterTaskDefinition passes the revision's task and execution roles to ECS
# (iam:PassRole) and, when the revision copies tags, tags it as it is created
# (ecs:TagResource with ecs:CreateAction, "Grant permission to tag resources on
# creation", Amazon ECS Developer Guide). Rollback sends UpdateService again.
PERMISSIONS = Permissions(
    Need("ecs:DescribeServices", EcsService(), "the service record; each poll; rollback"),
    Need("ecs:DescribeTaskDefinition", Everything("EcsTaskDefinitions"), "the revision deployed"),
    Need("ecs:ListTasks", EcsTaskList(), "the old tasks; the new and stopped ones while waiting"),
    Need("ecs:DescribeTasks", EcsTasks(), "the old tasks; the new and stopped ones while waiting"),
    Need("ecs:UpdateService", EcsService(), "start the deployment; rollback: true goes back"),
    *native_needs(),
    Need(
        "ecs:RegisterTaskDefinition",
        Everything("EcsTaskDefinitions"),
        "register the new revision",
        any_of("image", "environment", "task_definition_file"),
    ),
    Need(
        "iam:PassRole",
        PassedRoles(),
        "the new revision's task and execution roles",
        any_of("image", "environment", "task_definition_file"),
    ),
    Need(
        "ecs:TagResource",
        NewTaskDefinition(),
        "the tags copied into the new revision",
        any_of("image", "environment", "task_definition_file"),
    ),
    Need(
        "logs:GetLogEvents",
        LogGroup(None, "cluster", "service"),
        "the last lines of the stopped tasks of a failed deployment",
        flag("log_lines", "log_lines above 0"),
    ),
)


STEP = StepType(
    name="ecs.redeploy",
    summary="Force an ECS deployment and track THAT deployment until its new tasks took over",
    inputs=RedeployInputs,
    outputs=RedeployOutputs,
    run=run,
    plan=plan,
    permissions=PERMISSIONS,
    check_files=check_task_file,
    finish=finish,
)
