"""A service's running tasks -> their exact awslogs streams (for ``logs.tail``).

The stream names come from the task definition's ``awslogs`` options
(``awslogs-group``, ``awslogs-stream-prefix``) and the container names, never
from listing streams. A task started by the service's PRIMARY deployment is
NEW; any other running task (a deployment still draining) is OLD.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from opskit.ecs.names import stream_name, task_id_of
from opskit.errors import StepError
from opskit.logs.streams import NEW, OLD, StreamTarget

DESCRIBE_TASKS_LIMIT = 100


@dataclass
class ServiceLogs:
    log_group: str | None
    targets: list[StreamTarget] = field(default_factory=list)
    without_awslogs: list[str] = field(default_factory=list)  # containers we cannot read


def service_streams(
    ecs: Any,
    call: Callable[[str], AbstractContextManager[Any]],
    cluster: str,
    service: str,
    *,
    new_task_ids: list[str] | None = None,
    old_task_ids: list[str] | None = None,
) -> ServiceLogs:
    """The streams of ``service``'s RUNNING tasks; ``new_task_ids``/``old_task_ids``
    (an earlier ECS step's outputs) override the PRIMARY-deployment rule."""
    where = f"{cluster}/{service}"
    with call(f"ecs DescribeServices {where}"):
        described = ecs.describe_services(cluster=cluster, services=[service])
    found = [s for s in described.get("services", []) if s.get("status") != "INACTIVE"]
    if not found:
        raise StepError(f"ECS service {service} not found in cluster {cluster}")
    primary = next(
        (d.get("id") for d in found[0].get("deployments", []) if d.get("status") == "PRIMARY"),
        None,
    )

    task_arns: list[str] = []
    with call(f"ecs ListTasks {where}"):
        paginator = ecs.get_paginator("list_tasks")
        pages = paginator.paginate(cluster=cluster, serviceName=service, desiredStatus="RUNNING")
        for page in pages:
            task_arns += page.get("taskArns", [])
    tasks: list[dict[str, Any]] = []
    for index in range(0, len(task_arns), DESCRIBE_TASKS_LIMIT):
        with call(f"ecs DescribeTasks {where}"):
            chunk = task_arns[index : index + DESCRIBE_TASKS_LIMIT]
            tasks += ecs.describe_tasks(cluster=cluster, tasks=chunk).get("tasks", [])

    definitions: dict[str, dict[str, Any]] = {}
    result = ServiceLogs(log_group=None)
    for task in sorted(tasks, key=lambda t: str(t.get("startedAt", ""))):
        task_id = task_id_of(task["taskArn"])
        arn = task["taskDefinitionArn"]
        if arn not in definitions:
            with call(f"ecs DescribeTaskDefinition {arn}"):
                definitions[arn] = ecs.describe_task_definition(taskDefinition=arn)[
                    "taskDefinition"
                ]
        age = _age(task, task_id, primary, new_task_ids or [], old_task_ids or [])
        for container in definitions[arn].get("containerDefinitions", []):
            config = container.get("logConfiguration") or {}
            options = config.get("options") or {}
            prefix = options.get("awslogs-stream-prefix")
            if config.get("logDriver") != "awslogs" or not prefix:
                result.without_awslogs.append(container.get("name", "?"))
                continue
            result.log_group = result.log_group or options.get("awslogs-group")
            name = stream_name(prefix, container["name"], task_id)
            result.targets.append(StreamTarget(name, task_id, age))
    return result


def _age(
    task: dict[str, Any], task_id: str, primary: str | None, new: list[str], old: list[str]
) -> str:
    if task_id in [task_id_of(t) for t in old]:
        return OLD
    if task_id in [task_id_of(t) for t in new]:
        return NEW
    if primary is None or task.get("startedBy") == primary:
        return NEW
    return OLD
