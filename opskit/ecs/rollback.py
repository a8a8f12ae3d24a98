"""Return a service to the task definition it ran before a failed deployment.

ecspresso keeps ``rollback.go`` beside ``deploy.go`` and ``wait.go``, sharing one
wait function; so does opskit: ``roll_back`` sends one ``UpdateService`` back to
the previous task definition (or waits for the rollback ECS's circuit breaker
already started) and follows that deployment with ``wait.follow_within``.

It has a wait limit of its own (``settings.wait_limit``, worked out when the
rollback starts): without a ``timeout:`` on the step, a fresh default wait, as
the failed deployment had (a failure at minute 29 of a 30-minute wait must not
leave the rollback one minute); with one, the step's deadline, which the runner
enforces anyway.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opskit.clock import Clock, Deadline
from opskit.ecs.deploy import start_deployment
from opskit.ecs.describe import describe_service, epoch
from opskit.ecs.names import short_task_definition
from opskit.ecs.settings import RolloutConfig, wait_limit
from opskit.ecs.wait import DeploymentWatch, follow_within
from opskit.ecs.watch import SUCCEEDED, Verdict
from opskit.errors import StepError, StepFailed, StepTimeout

if TYPE_CHECKING:
    from opskit.aws import AwsAccess
    from opskit.events import Emit


@dataclass(frozen=True)
class RolledBack:
    """What the rollback did: ``note`` says it in one line (for the failed step's
    summary and detail); ``deployment_id`` is the deployment that rolled back
    (``None`` when none did)."""

    note: str
    deployment_id: str | None = None


@dataclass(frozen=True)
class RollbackTarget:
    """The service to roll back and the task definitions at stake."""

    cluster: str
    service: str
    previous: str  # the task definition ARN the service ran before the step
    failed: str  # the task definition ARN of the deployment that failed


def roll_back(
    aws: AwsAccess,
    target: RollbackTarget,
    verdict: Verdict,
    *,
    config: RolloutConfig,
    max_failed_tasks: int,
    interval: float,
    emit: Emit,
    clock: Clock,
    deadline: Deadline,
    cancel: threading.Event,
) -> RolledBack:
    """Return the service to ``target.previous`` after ``verdict`` (a failure) and wait.

    When ECS's circuit breaker already rolled back to it, wait for that
    deployment instead of sending a second update. Never from a deployment that
    no read ever showed (a stale read is no evidence that it failed), nor after
    Ctrl-C. Raises ``Cancelled`` when the run is interrupted while it waits.
    """
    short = short_task_definition(target.previous)
    replaced_by = verdict.replaced_by
    if verdict.not_visible:
        return RolledBack(
            "no rollback: ECS never showed that deployment, so nothing says it failed"
        )
    if replaced_by is not None and replaced_by.get("taskDefinition") != target.previous:
        return RolledBack(f"no rollback: deployment {replaced_by.get('id')} took over the service")
    if cancel.is_set():
        return RolledBack("no rollback: the run was interrupted")
    if replaced_by is None and target.previous == target.failed:
        return RolledBack(
            f"no rollback: the previous task definition {short} is the one that failed"
        )
    limit = wait_limit(clock, deadline, config)
    deployment_id: str | None = None
    try:
        if replaced_by is not None:
            deployment_id = str(replaced_by["id"])
            emit("warning", f"ECS is rolling back to {short} ({deployment_id}); waiting")
            before: dict[str, Any] = {}
            created, read_once = epoch(replaced_by.get("createdAt")), True
        else:
            emit("warning", f"rolling back ECS service {target.service!r} to {short}")
            before = describe_service(aws, target.cluster, target.service)
            started = start_deployment(
                aws, target.cluster, target.service, before=before,
                task_definition=target.previous, force=True,
            )  # fmt: skip
            deployment_id = started.deployment_id
            created, read_once = started.created_at, False
        watch = DeploymentWatch(
            aws, target.cluster, target.service, deployment_id, max_failed_tasks, emit, clock,
            created_at=created, config=config, seen=read_once,
            seen_event_ids={e.get("id", "") for e in before.get("events") or []},
        )  # fmt: skip
        result = follow_within(
            watch, interval, clock=clock, limit=limit, cancel=cancel, what="rollback deployment"
        )
    except StepTimeout as err:
        return RolledBack(f"rollback to {short} not finished: {err.summary}", deployment_id)
    except (StepError, StepFailed) as err:  # AWS failed, or ECS started no deployment
        return RolledBack(f"rollback to {short} failed: {err.summary}", deployment_id)
    if result.outcome == SUCCEEDED:
        return RolledBack(
            f"rolled back to {short} (deployment {deployment_id} COMPLETED)", deployment_id
        )
    return RolledBack(f"rollback to {short} failed too: {result.summary}", deployment_id)
