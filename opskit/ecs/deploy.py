"""Start a deployment with ``update_service`` and name the deployment it created.

The id comes from the ``update_service`` response, never from a later describe:
``aws ecs wait services-stable`` can pass before the new deployment even
appears (aws-cli #9275), and a forced redeploy of the same task definition
cannot be told apart from a rollback by comparing task definitions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opskit.ecs.describe import ecs_call, epoch, iso_utc
from opskit.errors import StepError, StepFailed

if TYPE_CHECKING:
    from opskit.aws import AwsAccess

SUPPORTED_CONTROLLER = "ECS"


@dataclass(frozen=True)
class StartedDeployment:
    deployment_id: str
    started_at: str  # ISO 8601 UTC, from the deployment's createdAt
    task_definition: str
    service: dict[str, Any]  # the update_service response's service record
    created_at: float = 0.0  # the deployment's createdAt, epoch seconds


def check_controller(service: dict[str, Any], cluster: str, name: str) -> None:
    """Only the rolling-update (ECS) controller has deployments to track."""
    kind = (service.get("deploymentController") or {}).get("type", SUPPORTED_CONTROLLER)
    if kind != SUPPORTED_CONTROLLER:
        raise StepError(
            f"ECS service {name!r} in cluster {cluster!r} uses the {kind} deployment "
            f"controller: not supported (ecs.redeploy tracks rolling ECS deployments only)"
        )


def created_deployment(before_ids: set[str], service: dict[str, Any]) -> dict[str, Any] | None:
    """The deployment that the update created: the PRIMARY one whose id was not
    there before the call, else the newest new one; ``None`` when nothing is new
    (ECS started no deployment, so no new task will run)."""
    fresh = [d for d in service.get("deployments") or [] if d.get("id") not in before_ids]
    primary = [d for d in fresh if d.get("status") == "PRIMARY"]
    if primary:
        return primary[0]
    if fresh:
        return max(fresh, key=lambda d: epoch(d.get("createdAt")))
    return None


def start_deployment(
    aws: AwsAccess,
    cluster: str,
    service: str,
    *,
    before: dict[str, Any],
    task_definition: str | None,
    force: bool,
) -> StartedDeployment:
    """Call ``update_service`` (the one write of a redeploy) and identify the new deployment.

    ``before`` is the service record described just before; ``task_definition``
    is set only when it differs from the service's current one.
    """
    ecs = aws.client("ecs")
    kwargs: dict[str, Any] = {"cluster": cluster, "service": service, "forceNewDeployment": force}
    if task_definition:
        kwargs["taskDefinition"] = task_definition
    response = ecs_call(aws, cluster, service, "UpdateService", ecs.update_service, **kwargs)
    record = response.get("service") or {}
    before_ids = {d.get("id") for d in before.get("deployments") or []}
    deployment = created_deployment(before_ids, record)
    if deployment is None:
        raise StepFailed(
            f"update_service on ECS service {service!r} started no new deployment: "
            "the running tasks keep the code they started with (set force: true)"
        )
    created = deployment.get("createdAt") or time.time()
    return StartedDeployment(
        deployment_id=deployment["id"],
        started_at=iso_utc(created),
        task_definition=deployment.get("taskDefinition") or record.get("taskDefinition", ""),
        service=record,
        created_at=epoch(created),
    )
