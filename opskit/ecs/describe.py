"""Read one ECS service: the service record, its tasks and its events.

Both step types read through here, so "cluster not found", "service not found"
and "access denied" read the same everywhere: one line naming the target, the
cluster and the service. Summaries turn AWS records into JSON-safe dicts for
step outputs and reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from opskit.aws import describe_client_error, error_code
from opskit.ecs.names import task_id_of
from opskit.errors import StepError

if TYPE_CHECKING:
    from opskit.aws import AwsAccess

# describe_tasks takes at most 100 tasks per call (ECS API reference).
DESCRIBE_TASKS_BATCH = 100


def iso_utc(value: Any) -> str:
    """A datetime as ISO 8601 UTC with milliseconds: ``2026-11-24T03:10:00.123Z``.

    ``logs.wait`` parses this as its default ``since``; naive datetimes are UTC.
    """
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, tz=timezone.utc)
    if not isinstance(value, datetime):
        return str(value) if value is not None else ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def epoch(value: Any) -> float:
    """A record's timestamp (a datetime, naive means UTC, or epoch seconds) as epoch
    seconds; 0.0 when it has none."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    return 0.0


def service_name(cluster: str, service: str) -> str:
    return f"ECS service {service!r} in cluster {cluster!r}"


def not_found_message(aws: AwsAccess, err: Any, cluster: str, service: str, call: str) -> str:
    """One line for an ECS error on ``call``, naming the target, cluster and service."""
    code = error_code(err)
    prefix = f"target {aws.target!r}"
    if code == "ClusterNotFoundException":
        return f"{prefix}: ECS cluster {cluster!r} not found ({call})"
    if code == "ServiceNotFoundException":
        return f"{prefix}: {service_name(cluster, service)} not found ({call})"
    if code == "ServiceNotActiveException":
        return f"{prefix}: {service_name(cluster, service)} is not active ({call})"
    return f"{prefix}: ecs {call} {cluster}/{service}: {describe_client_error(err)}"


def ecs_call(
    aws: AwsAccess, cluster: str, service: str, call: str, fn: Any, /, **kwargs: Any
) -> Any:
    """Make one ECS call; any failure becomes one ``StepError`` line naming the resource."""
    from botocore.exceptions import ClientError

    with aws.call(f"ecs {call} {cluster}/{service}"):
        try:
            return fn(**kwargs)
        except ClientError as err:
            raise StepError(not_found_message(aws, err, cluster, service, call)) from None


def describe_service(aws: AwsAccess, cluster: str, service: str) -> dict[str, Any]:
    """The service record; ``StepError`` when the cluster or service does not exist."""
    ecs = aws.client("ecs")
    response = ecs_call(
        aws, cluster, service, "DescribeServices", ecs.describe_services,
        cluster=cluster, services=[service],
    )  # fmt: skip
    services = response.get("services") or []
    if not services:
        reasons = ", ".join(f.get("reason", "?") for f in response.get("failures") or [])
        why = "not found" if not reasons or "MISSING" in reasons else f"unavailable ({reasons})"
        raise StepError(f"target {aws.target!r}: {service_name(cluster, service)} {why}")
    record = services[0]
    if record.get("status") == "INACTIVE":
        raise StepError(
            f"target {aws.target!r}: {service_name(cluster, service)} is INACTIVE (deleted)"
        )
    return record


@dataclass(frozen=True)
class TaskRead:
    """One read of a service's tasks: ``tasks`` described; ``not_visible`` the ARNs
    that ListTasks listed and DescribeTasks answered with a ``MISSING`` failure."""

    tasks: list[dict[str, Any]] = field(default_factory=list)
    not_visible: list[str] = field(default_factory=list)


def list_service_tasks(
    aws: AwsAccess, cluster: str, service: str, desired_status: str
) -> list[dict[str, Any]]:
    """The service's tasks with the given desired status (RUNNING or STOPPED), described;
    a task DescribeTasks does not find yet is left out (``read_service_tasks`` names it)."""
    return read_service_tasks(aws, cluster, service, desired_status).tasks


def read_service_tasks(aws: AwsAccess, cluster: str, service: str, desired_status: str) -> TaskRead:
    """The service's tasks with the given desired status (RUNNING or STOPPED).

    AWS keeps STOPPED tasks listed for about an hour. ``group`` (``service:NAME``)
    guards against a backend that ignores the ``serviceName`` filter. The ECS API
    is eventually consistent: DescribeTasks right after ListTasks may answer a
    listed task with a ``MISSING`` failure ("API failure reasons", Amazon ECS
    developer guide). Such a task is not visible yet: neither stopped nor gone.
    """
    ecs = aws.client("ecs")
    service = service.rsplit("/", 1)[-1]  # ListTasks filters by name, not ARN
    arns: list[str] = []
    with aws.call(f"ecs ListTasks {cluster}/{service}"):
        from botocore.exceptions import ClientError

        try:
            pages = ecs.get_paginator("list_tasks").paginate(
                cluster=cluster, serviceName=service, desiredStatus=desired_status
            )
            for page in pages:
                arns.extend(page.get("taskArns") or [])
        except ClientError as err:
            raise StepError(not_found_message(aws, err, cluster, service, "ListTasks")) from None
    tasks: list[dict[str, Any]] = []
    not_visible: list[str] = []
    for start in range(0, len(arns), DESCRIBE_TASKS_BATCH):
        batch = arns[start : start + DESCRIBE_TASKS_BATCH]
        response = ecs_call(
            aws, cluster, service, "DescribeTasks", ecs.describe_tasks,
            cluster=cluster, tasks=batch,
        )  # fmt: skip
        tasks.extend(response.get("tasks") or [])
        not_visible.extend(
            str(f.get("arn", ""))
            for f in response.get("failures") or []
            if f.get("reason") == "MISSING" and f.get("arn")
        )
    group = f"service:{service}"
    mine = [
        t
        for t in tasks
        if t.get("desiredStatus", desired_status) == desired_status
        and not (str(t.get("group", "")).startswith("service:") and t.get("group") != group)
    ]
    return TaskRead(mine, not_visible)


def started_by(tasks: Iterable[dict[str, Any]], deployment_id: str) -> list[dict[str, Any]]:
    """The tasks a deployment started (ECS sets ``startedBy`` to the deployment id)."""
    return [t for t in tasks if t.get("startedBy") == deployment_id]


def events_after(service: dict[str, Any], seen_ids: set[str]) -> list[dict[str, Any]]:
    """Service events not in ``seen_ids``, oldest first (ECS lists newest first)."""
    fresh = [e for e in service.get("events") or [] if e.get("id") not in seen_ids]
    return sorted(fresh, key=lambda e: epoch(e.get("createdAt")))


def event_summary(event: dict[str, Any]) -> dict[str, Any]:
    return {"created_at": iso_utc(event.get("createdAt")), "message": event.get("message", "")}


def deployment_summary(deployment: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": deployment.get("id", ""),
        "status": deployment.get("status", ""),
        "task_definition": deployment.get("taskDefinition", ""),
        "rollout_state": deployment.get("rolloutState", ""),
        "rollout_state_reason": deployment.get("rolloutStateReason", ""),
        "desired": deployment.get("desiredCount", 0),
        "running": deployment.get("runningCount", 0),
        "pending": deployment.get("pendingCount", 0),
        "failed_tasks": deployment.get("failedTasks", 0),
        "created_at": iso_utc(deployment.get("createdAt")),
        "updated_at": iso_utc(deployment.get("updatedAt")),
    }


def container_summary(container: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": container.get("name", ""),
        "last_status": container.get("lastStatus", ""),
        "exit_code": container.get("exitCode"),
        "reason": container.get("reason", ""),
    }


def task_summary(task: dict[str, Any]) -> dict[str, Any]:
    return {
        "task_id": task_id_of(task.get("taskArn", "")),
        "started_by": task.get("startedBy", ""),
        "task_definition": task.get("taskDefinitionArn", ""),
        "last_status": task.get("lastStatus", ""),
        "desired_status": task.get("desiredStatus", ""),
        "started_at": iso_utc(task.get("startedAt")) if task.get("startedAt") else "",
        "stopped_at": iso_utc(task.get("stoppedAt")) if task.get("stoppedAt") else "",
        "stop_code": task.get("stopCode", ""),
        "stopped_reason": task.get("stoppedReason", ""),
        "containers": [container_summary(c) for c in task.get("containers") or []],
    }
