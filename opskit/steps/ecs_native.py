"""What ``ecs.redeploy`` and ``ecs.deployment`` share on a native strategy: the
``if_left`` input, the run's last phase (``finish``) and the IAM needs of the
service deployment calls. Not a step type: a helper of the two."""

from __future__ import annotations

from typing import Any

from opskit.clock import Clock
from opskit.ecs.native_run import IF_LEFT, ROLLBACK, leave
from opskit.iam.needs import Need
from opskit.iam.resources import EcsService, EcsServiceDeployments
from opskit.steps.base import RunEnd, param

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
    return leave(
        end.aws, str(arn), str(outputs.get("if_left") or ROLLBACK),
        run_passed=end.result.status == "passed", clock=end.clock or Clock(),
    )  # fmt: skip


def native_needs(always_read: bool = False) -> tuple[Need, ...]:
    """The service deployment calls (Amazon ECS's service authorization reference:
    ListServiceDeployments on the service; the others on the service deployment)."""
    return (
        Need(
            "ecs:ListServiceDeployments",
            EcsService(),
            "find the service deployment UpdateService opened (native strategies)",
        ),
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
