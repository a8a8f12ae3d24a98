"""``ecs.run_task``: run a one-off task (a migration) and pass only when it exited 0.

The verdict is ECS's record of the task it started, never RunTask's answer:
it passes only when the task ended on its own (stopCode
EssentialContainerExited) with every essential container at exit code 0. A
task that could not be placed, could not pull its image, never left PENDING,
was stopped from outside (Spot, a person's StopTask: a container that handles
SIGTERM exits 0 then), or whose container exited non-zero fails, quoting ECS's
stop code and reason and the last lines of its log stream. On a timeout or Ctrl-C the task
is stopped (StopTask: ECS sends SIGTERM, then SIGKILL after the container's
stop timeout) unless ``leave_running: true``; a migration left running after
its runner gave up is the worse surprise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from opskit.ecs.describe import describe_service
from opskit.ecs.failure import DEFAULT_LOG_LINES
from opskit.ecs.names import short_task_definition, task_id_of
from opskit.ecs.runtask import RunRequest, RunSpec, log_stream_of, prepare, run_task
from opskit.ecs.runtask_follow import NeverStarted, TaskFollow, settle
from opskit.ecs.taskdef import describe_task_definition
from opskit.ecs.taskfile import (
    FilePlan,
    check_task_file,
    load_task_file,
    plan_file_on,
    register_checked,
)
from opskit.errors import Cancelled, StepFailed, StepTimeout
from opskit.iam.needs import Need, Permissions, flag
from opskit.iam.resources import (
    AllLogGroups,
    EcsService,
    EcsTasks,
    Everything,
    LogGroup,
    NewTaskDefinition,
    PassedRoles,
)
from opskit.inputs import InvalidInput
from opskit.steps.base import StepContext, StepResult, StepType, at_least, output, param


@dataclass(frozen=True, kw_only=True)
class RunTaskInputs:
    cluster: str = param("ECS cluster name or ARN", "string", required=True)
    task_definition: str | None = param(
        "the task definition to run (family, family:revision or ARN); default: the "
        "service's current one",
        "string",
    )
    task_definition_file: str | None = param(
        "run the revision this file holds (JSON or YAML, .j2 for a Jinja template with the "
        "playbook's context; relative to the playbook), registered only when no ACTIVE "
        "revision holds it yet: the revision an ecs.redeploy of the same file then deploys",
        "string",
    )
    service: str | None = param(
        "an ECS service whose task definition (unless task_definition is given), network "
        "configuration and capacity provider strategy or launch type the task uses",
        "string",
    )
    network_configuration: dict[str, Any] | None = param(
        "RunTask's networkConfiguration ({awsvpcConfiguration: {subnets, securityGroups, "
        "assignPublicIp}}); default: the service's",
        "object",
    )
    container: str | None = param(
        "the container the overrides apply to and whose exit code decides; default: the "
        "essential container",
        "string",
    )
    command: list[str] | None = param(
        "the container's command, as a list of arguments (no shell: write [sh, -c, '...'] for one)",
        "string_list",
    )
    environment: dict[str, Any] | None = param(
        "environment variables set for that container (NAME: value)", "object"
    )
    cpu: str | None = param("task-level CPU override, in CPU units ('1024')", "string")
    memory: str | None = param("task-level memory override, in MiB ('2048')", "string")
    started_by: str = param("RunTask's startedBy (up to 36 characters)", "string", default="opskit")
    poll_interval: float = param("time between polls of the task", "duration", default=5.0)
    start_timeout: float = param(
        "how long the task may stay PROVISIONING/PENDING before it counts as never "
        "started (then it is stopped)",
        "duration",
        default=300.0,
    )
    leave_running: bool = param(
        "on timeout or Ctrl-C, leave the task running instead of stopping it",
        "boolean",
        default=False,
    )
    log_lines: int = param(
        "last log lines of the task shown when it fails",
        "integer",
        default=DEFAULT_LOG_LINES,
        check=at_least(0),
    )

    def __post_init__(self) -> None:
        if self.task_definition_file and self.task_definition is not None:
            raise InvalidInput(
                "task_definition", "give task_definition_file or task_definition, not both"
            )


@dataclass(frozen=True, kw_only=True)
class RunTaskOutputs:
    task_id: str | None = output("the task's id; null in a dry run", "string")
    task_arn: str | None = output("the task's ARN; null in a dry run", "string")
    task_definition: str = output("the task definition ARN run", "string")
    exit_code: int | None = output(
        "the container's exit code; null when it has none (never started, killed)", "integer"
    )
    stopped_reason: str | None = output("ECS's stoppedReason; null while unknown", "string")
    log_stream: str = output(
        "the container's awslogs stream (PREFIX/CONTAINER/TASK_ID); '' without awslogs", "string"
    )


def _file_plan(
    ctx: StepContext, inputs: RunTaskInputs, name: str, service: dict[str, Any] | None
) -> FilePlan:
    """task_definition_file against the service's revision (without a service, the
    family's newest ACTIVE one), as ``ecs.redeploy`` compares it; read calls only."""
    task_file = load_task_file(ctx.resolve_path(name), name, ctx.render)
    current = None
    if service is not None:
        current = describe_task_definition(ctx.aws, str(service.get("taskDefinition", "")))
    return plan_file_on(ctx.aws, task_file, current)


def _prepare(ctx: StepContext, inputs: RunTaskInputs) -> tuple[RunRequest, FilePlan | None]:
    """The RunTask request; with a file that must be registered first, it holds the
    file's definition (no ARN yet) until ``_register`` registers it. The service is
    described once, for the file's comparison and the request's network."""
    name = inputs.task_definition_file
    if not name:
        return prepare(ctx.aws, _spec(ctx, inputs)), None
    service = None
    if inputs.service:
        service = describe_service(ctx.aws, inputs.cluster, inputs.service)
    planned = _file_plan(ctx, inputs, name, service)
    definition = planned.chosen or {**planned.file.args, "taskDefinitionArn": ""}
    return prepare(ctx.aws, _spec(ctx, inputs, definition, service)), planned


def _register(ctx: StepContext, request: RunRequest, planned: FilePlan) -> RunRequest:
    registered = register_checked(ctx.aws, planned)
    arn = str(registered.get("taskDefinitionArn", ""))
    ctx.emit("info", f"registered {short_task_definition(arn)} from {planned.file.source}")
    args = {**request.args, "taskDefinition": arn}
    return dataclasses.replace(request, definition=registered, args=args)


def _spec(
    ctx: StepContext,
    inputs: RunTaskInputs,
    definition: dict[str, Any] | None = None,
    service: dict[str, Any] | None = None,
) -> RunSpec:
    return RunSpec(
        label=ctx.uses,
        cluster=inputs.cluster,
        task_definition=inputs.task_definition,
        service=inputs.service,
        network_configuration=inputs.network_configuration,
        container=inputs.container,
        command=inputs.command,
        environment=dict(inputs.environment or {}),
        cpu=inputs.cpu,
        memory=inputs.memory,
        started_by=inputs.started_by,
        definition=definition,
        service_record=service,
    )


def _outputs(request: RunRequest, task: dict[str, Any] | None, **known: Any) -> RunTaskOutputs:
    arn = str(task.get("taskArn", "")) if task else None
    task_id = task_id_of(arn) if arn else None
    stream = log_stream_of(request.definition, request.container, task_id or "")[1]
    return RunTaskOutputs(
        task_id=task_id,
        task_arn=arn,
        task_definition=request.task_definition,
        exit_code=known.get("exit_code"),
        stopped_reason=known.get("stopped_reason"),
        log_stream=stream if task_id else "",
    )


def plan(ctx: StepContext, inputs: RunTaskInputs) -> StepResult:
    """Dry run: resolve the task definition, network and overrides; run nothing."""
    request, planned = _prepare(ctx, inputs)
    lines = request.describe()
    shown = [f"would {lines[0]}", *(f"  {line}" for line in lines[1:])]
    if planned:  # a new revision is registered first
        family = planned.file.family
        shown[0] = f"would run task (the new revision of {family}) on {request.cluster}"
        shown[:0] = [f"would register a new revision of {family}: {planned.describe()}"]
    if planned is not None:
        at = 1 if planned else 0  # after "would register ...", or first
        shown[at:at] = planned.lines()
    for line in shown:
        ctx.emit("info", line)
    detail = "\n".join(shown)
    first = next(line for line in shown if line.startswith("would run "))
    outputs = _outputs(request, None)
    return StepResult("changed", first, outputs, detail)


def run(ctx: StepContext, inputs: RunTaskInputs) -> StepResult:
    request, planned = _prepare(ctx, inputs)
    if planned is not None:
        for line in planned.live_lines():
            ctx.emit("info", line)
        if planned:
            request = _register(ctx, request, planned)
    task = run_task(ctx.aws, request)
    follow = TaskFollow(
        ctx.aws, request, task, label=ctx.uses, emit=ctx.emit, clock=ctx.clock,
        deadline=ctx.deadline, sleep=ctx.sleep,
    )  # fmt: skip
    ctx.emit(
        "info",
        f"started task {follow.task_id} ({short_task_definition(request.task_definition)}) "
        f"on {request.cluster}",
        task_id=follow.task_id,
    )
    try:
        record = follow.wait(inputs.poll_interval, inputs.start_timeout)
    except NeverStarted as err:
        outputs = _outputs(request, follow.record, stopped_reason=err.reason)
        raise StepFailed(err.summary, detail=err.detail, outputs=outputs) from None
    except StepTimeout as err:
        said = follow.give_up("the step timed out", inputs.leave_running)
        raise StepTimeout(
            f"{err.summary}; {said}", outputs=_outputs(request, follow.record)
        ) from None
    except Cancelled as err:
        why = "timed out" if ctx.deadline.expired() else "interrupted"
        said = follow.give_up(why, inputs.leave_running)
        ctx.emit("warning", said)
        raise Cancelled(f"{err}; {said}") from None
    follow.read_logs()
    verdict = settle(follow, record, inputs.log_lines)
    end = verdict.ending
    outputs = _outputs(request, record, exit_code=end.exit_code, stopped_reason=end.reason)
    if not end.passed:
        raise StepFailed(verdict.summary, detail=verdict.detail, outputs=outputs)
    return StepResult(
        "changed",
        verdict.summary,
        outputs,
        f"task {follow.arn}\ntask definition {request.task_definition}\n"
        f"log stream {outputs.log_stream or '-'}",
    )


PERMISSIONS = Permissions(
    Need(
        "ecs:DescribeServices",
        EcsService(),
        "the service's task definition and network",
        flag("service"),
    ),  # fmt: skip
    Need("ecs:DescribeTaskDefinition", Everything("EcsTaskDefinitions"), "the revision run"),
    Need("ecs:RunTask", Everything("EcsTaskDefinitions"), "start the one-off task"),
    Need(
        "ecs:RegisterTaskDefinition",
        Everything("EcsTaskDefinitions"),
        "register task_definition_file's revision when no ACTIVE one holds it",
        flag("task_definition_file"),
    ),
    Need(
        "ecs:TagResource",
        NewTaskDefinition(),
        "the tags of task_definition_file's new revision",
        flag("task_definition_file"),
    ),
    Need("ecs:DescribeTasks", EcsTasks(), "the task's status, each poll"),
    Need("ecs:StopTask", EcsTasks(), "a task that never started, or on timeout or Ctrl-C"),
    Need("iam:PassRole", PassedRoles(), "the task and execution roles of the revision run"),
    Need("logs:DescribeLogGroups", AllLogGroups(), "check the task's log group exists"),
    Need("logs:FilterLogEvents", LogGroup(None, "cluster", "service"), "the task's log lines"),
    Need(
        "logs:GetLogEvents",
        LogGroup(None, "cluster", "service"),
        "probe the task's stream; the last lines of a failed task",
    ),
)


STEP = StepType(
    name="ecs.run_task",
    summary="Run a one-off ECS task (a migration) and pass only when it exited 0",
    inputs=RunTaskInputs,
    outputs=RunTaskOutputs,
    run=run,
    plan=plan,
    permissions=PERMISSIONS,
    check_files=check_task_file,
)
