"""``ecs.describe``: what a human needs next after a failed release.

Deployments, recent service events, running tasks and recently stopped tasks
with their stopped reasons, exit codes and last log lines. Read-only, so it is
safe in ``on_failure`` and under ``--dry-run``; its detail is a readable text
for reports and incident tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opskit.ecs.describe import (
    deployment_summary,
    describe_service,
    event_summary,
    list_service_tasks,
    task_summary,
)
from opskit.ecs.failure import DEFAULT_LOG_LINES, describe_stopped_tasks
from opskit.ecs.names import short_task_definition
from opskit.ecs.taskdef import LogTarget, container_log_targets, describe_task_definition
from opskit.errors import StepError
from opskit.iam.needs import Need, Permissions, all_of, flag
from opskit.iam.resources import EcsService, EcsTaskList, EcsTasks, Everything, LogGroup
from opskit.steps.base import StepContext, StepResult, StepType, at_least, output, param


@dataclass(frozen=True, kw_only=True)
class DescribeInputs:
    cluster: str = param("ECS cluster name or ARN", "string", required=True)
    service: str = param("ECS service name or ARN", "string", required=True)
    events: int = param("how many recent service events", "integer", default=10, check=at_least(0))
    stopped_tasks: int = param(
        "how many recently stopped tasks (newest first)",
        "integer",
        default=5,
        check=at_least(0),
    )
    log_lines: int = param(
        "last log lines of each stopped task",
        "integer",
        default=DEFAULT_LOG_LINES,
        check=at_least(0),
    )
    deployment_id: str | None = param(
        "mark tasks of this deployment as NEW (default: the deployment_id of the newest "
        "earlier step that has one, e.g. ecs.redeploy)",
        "string",
    )


@dataclass(frozen=True, kw_only=True)
class DescribeOutputs:
    events: list[dict[str, Any]] = output(
        "recent service events, newest first: {created_at, message}", "list"
    )
    deployments: list[dict[str, Any]] = output(
        "the service's deployments: id, status, task_definition, rollout_state, counts", "list"
    )
    stopped_tasks: list[dict[str, Any]] = output(
        "recently stopped tasks: task_id, started_by, stopped_reason, stop_code, "
        "containers (name, exit_code, reason)",
        "list",
    )
    running_tasks: list[dict[str, Any]] = output(
        "tasks with desired status RUNNING: task_id, started_by, last_status", "list"
    )


def _newest_first(tasks: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return sorted(tasks, key=lambda t: str(t.get(key) or t.get("createdAt") or ""), reverse=True)


def _log_targets(ctx: StepContext, tasks: list[dict[str, Any]]) -> dict[str, dict[str, LogTarget]]:
    """awslogs targets per task definition ARN; a definition that cannot be read
    just has no logs in the report."""
    targets: dict[str, dict[str, LogTarget]] = {}
    for arn in {t.get("taskDefinitionArn", "") for t in tasks}:
        if not arn:
            continue
        try:
            targets[arn] = container_log_targets(describe_task_definition(ctx.aws, arn))
        except StepError as err:
            ctx.emit("warning", f"cannot read task definition {arn}: {err}")
            targets[arn] = {}
    return targets


def _age(task: dict[str, Any], deployment_id: str | None) -> str:
    if not deployment_id:
        return ""
    return " [NEW]" if task.get("startedBy") == deployment_id else " [OLD]"


def run(ctx: StepContext, inputs: DescribeInputs) -> StepResult:
    cluster, name = inputs.cluster, inputs.service
    deployment_id = inputs.deployment_id or ctx.earlier_output("deployment_id")
    record = describe_service(ctx.aws, cluster, name)
    running = _newest_first(list_service_tasks(ctx.aws, cluster, name, "RUNNING"), "startedAt")
    stopped = _newest_first(list_service_tasks(ctx.aws, cluster, name, "STOPPED"), "stoppedAt")
    stopped = stopped[: inputs.stopped_tasks]
    events = (record.get("events") or [])[: inputs.events]
    deployments = record.get("deployments") or []

    lines = [
        f"ECS service {name!r} in cluster {cluster!r} ({record.get('status', '?')}): "
        f"desired {record.get('desiredCount', 0)}, running {record.get('runningCount', 0)}, "
        f"pending {record.get('pendingCount', 0)}; task definition "
        f"{short_task_definition(record.get('taskDefinition', ''))}",
        "deployments:",
    ]
    for d in deployments:
        line = (
            f"  {d.get('status', '?')} {d.get('id', '?')} "
            f"{short_task_definition(d.get('taskDefinition', ''))} "
            f"{d.get('rolloutState') or '-'}: running {d.get('runningCount', 0)}"
            f"/{d.get('desiredCount', 0)}, pending {d.get('pendingCount', 0)}, "
            f"failed {d.get('failedTasks', 0)}"
        )
        if d.get("rolloutStateReason"):
            line += f" ({d['rolloutStateReason']})"
        lines.append(line)
    lines.append("running tasks:" if running else "running tasks: none")
    for t in running:
        s = task_summary(t)
        lines.append(
            f"  {s['task_id']} ({short_task_definition(s['task_definition'])}) "
            f"{s['last_status']}, started by {s['started_by'] or '-'}{_age(t, deployment_id)}"
        )
    lines.append("stopped tasks (newest first):" if stopped else "stopped tasks: none")
    if stopped:
        targets = _log_targets(ctx, stopped)
        for t in stopped:
            text = describe_stopped_tasks(
                ctx.aws, [t], targets.get(t.get("taskDefinitionArn", ""), {}), inputs.log_lines
            )
            first, *rest = text.splitlines()
            lines.append(f"  {first}{_age(t, deployment_id)}")
            lines.extend(f"  {line}" for line in rest)
    lines.append("recent events (newest first):" if events else "recent events: none")
    lines.extend(f"  {event_summary(e)['created_at']} {e.get('message', '')}" for e in events)

    outputs = DescribeOutputs(
        events=[event_summary(e) for e in events],
        deployments=[deployment_summary(d) for d in deployments],
        stopped_tasks=[task_summary(t) for t in stopped],
        running_tasks=[task_summary(t) for t in running],
    )
    primary: dict[str, Any] = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
    summary = (
        f"{name}: {len(deployments)} deployment(s), PRIMARY {primary.get('id', '-')} "
        f"{primary.get('rolloutState') or ''}".rstrip()
        + f"; {len(running)} running, {len(stopped)} recently stopped task(s)"
    )
    return StepResult("ok", summary, outputs, "\n".join(lines))


PERMISSIONS = Permissions(
    Need("ecs:DescribeServices", EcsService(), "the service's deployments and events"),
    Need("ecs:ListTasks", EcsTaskList(), "the running and stopped tasks"),
    Need("ecs:DescribeTasks", EcsTasks(), "the running and stopped tasks"),
    Need(
        "ecs:DescribeTaskDefinition",
        Everything("EcsTaskDefinitions"),
        "where the stopped tasks' logs are (awslogs)",
        flag("stopped_tasks", "stopped_tasks above 0"),
    ),
    Need(
        "logs:GetLogEvents",
        LogGroup(None, "cluster", "service"),
        "the last lines of each stopped task",
        all_of("stopped_tasks", "log_lines", text="stopped_tasks and log_lines above 0"),
    ),
)


STEP = StepType(
    name="ecs.describe",
    summary="Describe an ECS service: deployments, events, running and stopped tasks with reasons",
    inputs=DescribeInputs,
    outputs=DescribeOutputs,
    run=run,
    read_only=True,
    permissions=PERMISSIONS,
)
