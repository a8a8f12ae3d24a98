"""One-off tasks: what RunTask is sent, and the verdict on the task it started.

A migration before a deploy is only worth running when its verdict is true:
ecspresso's ``run`` once exited 0 for a task that never started. So the verdict
reads only ECS's own record of the task: it passes only when the task stopped
because its essential container exited (stopCode ``EssentialContainerExited``)
and every essential container, and the container the step names, exited 0.
Anything else fails, quoting ECS's stop code and reason: RunTask ``failures``,
a task that stopped before it ran (``TaskFailedToStart``), a task stopped from
outside (a Spot interruption, a person's or a scheduler's StopTask: its
container may handle SIGTERM and exit 0, which proves nothing), a non-zero or
missing exit code, a task left PROVISIONING/PENDING.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opskit.ecs.describe import describe_service, epoch
from opskit.ecs.names import short_task_definition, task_id_of
from opskit.ecs.taskdef import describe_task_definition, essential_container, log_target
from opskit.errors import InputError, StepError, StepFailed

if TYPE_CHECKING:
    from opskit.aws import AwsAccess

NOT_STARTED = ("PROVISIONING", "PENDING", "ACTIVATING")
STARTED_BY_MAX = 36  # RunTask's startedBy: up to 36 letters, numbers, hyphens, underscores
EXITED = "EssentialContainerExited"  # the one stopCode of a task that ended on its own


@dataclass(frozen=True)
class RunRequest:
    """What RunTask will be sent, worked out with read calls only."""

    cluster: str
    definition: dict[str, Any]
    container: str
    args: dict[str, Any]  # the RunTask arguments
    environment_names: tuple[str, ...] = ()
    command: tuple[str, ...] | None = None

    @property
    def task_definition(self) -> str:
        return str(self.definition.get("taskDefinitionArn", ""))

    def describe(self) -> list[str]:
        """What a dry run says it would run; environment values are never shown."""
        lines = [f"run task {short_task_definition(self.task_definition)} on {self.cluster}"]
        lines.append(f"container {self.container}")
        if self.command is not None:
            lines.append("command " + " ".join(_quoted(c) for c in self.command))
        if self.environment_names:
            lines.append("environment " + ", ".join(self.environment_names) + " (values hidden)")
        overrides = self.args.get("overrides") or {}
        for key in ("cpu", "memory"):
            if key in overrides:
                lines.append(f"{key} {overrides[key]}")
        lines.append(_launch(self.args))
        vpc = (self.args.get("networkConfiguration") or {}).get("awsvpcConfiguration")
        if vpc:
            lines.append(
                "network subnets "
                + ", ".join(vpc.get("subnets") or [])
                + "; security groups "
                + (", ".join(vpc.get("securityGroups") or []) or "-")
                + f"; public IP {vpc.get('assignPublicIp', 'DISABLED')}"
            )
        return lines


def _quoted(part: str) -> str:
    return part if part and all(c.isalnum() or c in "-_./=:" for c in part) else repr(part)


def _launch(args: dict[str, Any]) -> str:
    if args.get("capacityProviderStrategy"):
        names = ", ".join(s.get("capacityProvider", "?") for s in args["capacityProviderStrategy"])
        text = f"capacity providers {names}"
    else:
        text = f"launch type {args.get('launchType', 'EC2 (ECS default)')}"
    if args.get("platformVersion"):
        text += f", platform version {args['platformVersion']}"
    return text


@dataclass(frozen=True)
class RunSpec:
    """The step's inputs, as far as RunTask is concerned."""

    label: str  # the step, for input errors: "ecs.run_task (step migrate)"
    cluster: str
    task_definition: str | None = None
    service: str | None = None
    network_configuration: dict[str, Any] | None = None
    container: str | None = None
    command: list[str] | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    cpu: str | None = None
    memory: str | None = None
    started_by: str = "opskit"
    definition: dict[str, Any] | None = None  # already resolved (task_definition_file)
    service_record: dict[str, Any] | None = None  # already described (task_definition_file)


def prepare(aws: AwsAccess, spec: RunSpec) -> RunRequest:
    """The RunTask request: the task definition (given, else the service's), its
    container overrides, and the network and capacity of the service unless given."""
    if not spec.task_definition and not spec.service and spec.definition is None:
        raise InputError(f"{spec.label}: give task_definition or service (or both)")
    if len(spec.started_by) > STARTED_BY_MAX:
        raise InputError(f"{spec.label}: started_by is longer than {STARTED_BY_MAX} characters")
    service = spec.service_record
    if service is None and spec.service:
        service = describe_service(aws, spec.cluster, spec.service)
    name = spec.task_definition or str((service or {}).get("taskDefinition", ""))
    definition = spec.definition or describe_task_definition(aws, name)
    container = _container(spec, definition)
    args: dict[str, Any] = {
        "cluster": spec.cluster,
        "taskDefinition": definition.get("taskDefinitionArn", name),
        "count": 1,
        "startedBy": spec.started_by,
    }
    network = spec.network_configuration or (service or {}).get("networkConfiguration")
    if network:
        args["networkConfiguration"] = network
    elif definition.get("networkMode") == "awsvpc":
        raise InputError(
            f"{spec.label}: task definition {short_task_definition(args['taskDefinition'])} "
            "uses awsvpc networking: give service (its network is used) or network_configuration"
        )
    args.update(_capacity(service, definition))
    override: dict[str, Any] = {"name": container}
    if spec.command is not None:
        override["command"] = list(spec.command)
    if spec.environment:
        override["environment"] = [
            {"name": str(k), "value": _text(v)} for k, v in spec.environment.items()
        ]
    overrides: dict[str, Any] = {}
    if len(override) > 1:
        overrides["containerOverrides"] = [override]
    if spec.cpu:
        overrides["cpu"] = spec.cpu
    if spec.memory:
        overrides["memory"] = spec.memory
    if overrides:
        args["overrides"] = overrides
    return RunRequest(
        spec.cluster,
        definition,
        container,
        args,
        tuple(sorted(str(k) for k in spec.environment)),
        tuple(spec.command) if spec.command is not None else None,
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _container(spec: RunSpec, definition: dict[str, Any]) -> str:
    names = [str(c.get("name", "")) for c in definition.get("containerDefinitions") or []]
    if spec.container is None:
        return str(essential_container(definition).get("name", ""))
    if spec.container not in names:
        raise InputError(
            f"{spec.label}: task definition {definition.get('family')!r} has no container "
            f"{spec.container!r} (containers: {', '.join(names)})"
        )
    return spec.container


def _capacity(service: dict[str, Any] | None, definition: dict[str, Any]) -> dict[str, Any]:
    """The service's capacity provider strategy or launch type and platform version;
    without a service, Fargate when the task definition requires it."""
    if service is not None:
        if service.get("capacityProviderStrategy"):
            out: dict[str, Any] = {"capacityProviderStrategy": service["capacityProviderStrategy"]}
        else:
            out = {"launchType": service.get("launchType") or "FARGATE"}
        if service.get("platformVersion") and service.get("platformVersion") != "LATEST":
            out["platformVersion"] = service["platformVersion"]
        return out
    if "FARGATE" in (definition.get("requiresCompatibilities") or []):
        return {"launchType": "FARGATE"}
    return {}


def run_task(aws: AwsAccess, request: RunRequest) -> dict[str, Any]:
    """Send RunTask; the task it started. A ``failures`` entry (no capacity, a
    placement constraint, ...) fails at once, in ECS's words."""
    ecs = aws.client("ecs")
    definition = short_task_definition(request.task_definition)
    with aws.call(f"ecs RunTask {request.cluster} {definition}"):
        response = ecs.run_task(**request.args)
    tasks = response.get("tasks") or []
    failures = response.get("failures") or []
    if not tasks:
        reasons = "; ".join(_failure_text(f) for f in failures) or "no task and no failure"
        raise StepFailed(f"ECS did not start task {definition} on {request.cluster}: {reasons}")
    return dict(tasks[0])


def _failure_text(failure: dict[str, Any]) -> str:
    text = str(failure.get("reason") or "?")
    if failure.get("detail"):
        text += f" ({failure['detail']})"
    return text


def describe_task(aws: AwsAccess, cluster: str, arn: str) -> dict[str, Any] | None:
    """The task's record; ``None`` while DescribeTasks answers it ``MISSING`` (the
    API is eventually consistent right after RunTask)."""
    from botocore.exceptions import ClientError

    ecs = aws.client("ecs")
    with aws.call(f"ecs DescribeTasks {cluster} {task_id_of(arn)}"):
        try:
            response = ecs.describe_tasks(cluster=cluster, tasks=[arn])
        except ClientError as err:
            raise StepError(f"target {aws.target!r}: ecs DescribeTasks {cluster}: {err}") from None
    tasks = response.get("tasks") or []
    if tasks:
        return dict(tasks[0])
    reasons = [str(f.get("reason", "")) for f in response.get("failures") or []]
    if reasons and all(r == "MISSING" for r in reasons):
        return None
    raise StepError(
        f"target {aws.target!r}: ECS cannot describe task {task_id_of(arn)} on {cluster}: "
        + (", ".join(reasons) or "no task and no failure")
    )


def stop_task(aws: AwsAccess, cluster: str, arn: str, reason: str) -> dict[str, Any]:
    """StopTask; the task's record as ECS answers it (``stoppedAt`` only once stopped)."""
    ecs = aws.client("ecs")
    with aws.call(f"ecs StopTask {cluster} {task_id_of(arn)}"):
        response = ecs.stop_task(cluster=cluster, task=arn, reason=reason[:255])
    return dict(response.get("task") or {})


def container_of(task: dict[str, Any], name: str) -> dict[str, Any]:
    containers = task.get("containers") or []
    return next(
        (c for c in containers if c.get("name") == name), containers[0] if containers else {}
    )


def deciding_containers(definition: dict[str, Any], container: str) -> list[str]:
    """The containers whose exit codes decide: every essential one (ECS counts a
    container without ``essential`` as essential) and the one the step names."""
    names = [
        str(c.get("name", ""))
        for c in definition.get("containerDefinitions") or []
        if c.get("essential", True)
    ]
    return names if container in names else [*names, container]


@dataclass(frozen=True)
class Ending:
    """The verdict on a STOPPED task."""

    passed: bool
    exit_code: int | None  # the named container's
    reason: str  # ECS's stoppedReason (or the container's reason)
    started: bool  # it reached RUNNING
    seconds: float  # from startedAt (else createdAt) to stoppedAt
    stop_code: str = ""  # ECS's stopCode; "" when the record has none
    faults: tuple[str, ...] = ()  # "container sidecar exited 2", "... has no exit code"


def ending(task: dict[str, Any], container: str, deciding: list[str] | None = None) -> Ending:
    """``deciding``: the containers that must all have exited 0 (default: ``container``)."""
    record = container_of(task, container)
    code = record.get("exitCode")
    reason = str(task.get("stoppedReason") or "")
    if record.get("reason") and not reason.startswith(str(record["reason"])):
        reason = f"{reason}: {record['reason']}" if reason else str(record["reason"])
    stop_code = str(task.get("stopCode") or "")
    started = bool(task.get("startedAt")) and stop_code != "TaskFailedToStart"
    begin = epoch(task.get("startedAt")) or epoch(task.get("createdAt"))
    seconds = max(0.0, epoch(task.get("stoppedAt")) - begin) if begin else 0.0
    codes = {str(c.get("name", "")): c.get("exitCode") for c in task.get("containers") or []}
    faults = []
    for name in deciding or [container]:
        exit_code = codes.get(name)
        if not isinstance(exit_code, int):
            faults.append(f"container {name} has no exit code")
        elif exit_code != 0:
            faults.append(f"container {name} exited {exit_code}")
    passed = started and stop_code == EXITED and not faults
    exit_code = code if isinstance(code, int) else None
    return Ending(passed, exit_code, reason, started, seconds, stop_code, tuple(faults))


def log_stream_of(definition: dict[str, Any], container: str, task_id: str) -> tuple[str, str]:
    """(group, stream) of the container's awslogs stream; ("", "") without one."""
    target = log_target(definition)
    if target is None:
        return "", ""
    from opskit.ecs.taskdef import container_log_targets

    own = container_log_targets(definition).get(container)
    chosen = own or target
    return chosen.group, chosen.stream(task_id, chosen.container)
