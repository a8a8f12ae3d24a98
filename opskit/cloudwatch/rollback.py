"""Roll an ECS service back after one of its alarms fired during a bake window.

Two ways back, by the service's deployment strategy:

- a native strategy (BLUE_GREEN, LINEAR, CANARY): ECS's own rollback of its
  current service deployment (``service_deployments.request_rollback``:
  ``ContinueServiceDeployment`` ROLLBACK at a PAUSE hook, else
  ``StopServiceDeployment`` ROLLBACK), then the deployment record is followed
  until ECS says ROLLBACK_SUCCESSFUL (or ROLLBACK_FAILED), as ``ecs.deployment``
  does it (``native_follow.roll_back_native``: the line says whether production
  was affected). ECS may already be rolling back on the same alarm (deployment
  alarms with ``rollback``): then nothing is sent and the rollback is followed.
- ROLLING: ``ecs.rollback.roll_back`` to the task definition the service ran
  before the release, followed like any deployment.

Either way the answer is one line for the failed step's summary; a rollback
that could not be started or did not finish says so, and the step still fails
on the alarm.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opskit.clock import Clock
from opskit.ecs import service_deployments as native
from opskit.ecs.describe import describe_service
from opskit.ecs.native_follow import NativeConfig, NativeWatch, roll_back_native, wait_visible
from opskit.ecs.rollback import RollbackTarget, roll_back
from opskit.ecs.settings import RolloutConfig, wait_limit
from opskit.ecs.watch import Verdict
from opskit.errors import Cancelled, StepError

if TYPE_CHECKING:
    from opskit.aws import AwsAccess
    from opskit.clock import Deadline
    from opskit.events import Emit


@dataclass(frozen=True)
class Way:
    """How the service goes back: ``native`` (its strategy) or ``previous``, the task
    definition a ROLLING service returns to."""

    cluster: str
    service: str
    strategy: str
    previous: str | None = None

    @property
    def native(self) -> bool:
        return self.strategy in native.NATIVE_STRATEGIES

    def describe(self) -> str:
        """What a dry run says the rollback would do."""
        if self.native:
            return (
                f"roll back ECS service {self.service!r}'s current {self.strategy} service "
                "deployment through ECS (ContinueServiceDeployment ROLLBACK at a PAUSE hook, "
                "else StopServiceDeployment ROLLBACK) and wait for ROLLBACK_SUCCESSFUL"
            )
        return (
            f"update ECS service {self.service!r} back to {self.previous} and wait for that "
            "deployment to complete"
        )


@dataclass(frozen=True)
class Wait:
    """The step's clock, deadline and interrupt, and where progress goes."""

    interval: float
    emit: Emit
    clock: Clock
    deadline: Deadline
    cancel: threading.Event


def roll_back_after(aws: AwsAccess, way: Way, why: str, wait: Wait) -> str:
    """Roll the service back after ``why`` (the alarm that fired); returns the line
    that says what happened. Never raises for the rollback itself (the step fails
    on the alarm either way), except ``Cancelled`` on Ctrl-C."""
    if wait.cancel.is_set():
        return "no rollback: the run was interrupted"
    record = describe_service(aws, way.cluster, way.service)
    config = RolloutConfig.of(record)
    if way.native:
        return _native(aws, way, record, config, wait)
    assert way.previous is not None
    verdict = Verdict("failed", why, why)
    target = RollbackTarget(way.cluster, way.service, way.previous, str(record["taskDefinition"]))
    rolled = roll_back(
        aws, target, verdict, config=config, max_failed_tasks=2, interval=wait.interval,
        emit=wait.emit, clock=wait.clock, deadline=wait.deadline, cancel=wait.cancel,
    )  # fmt: skip
    return rolled.note


def _native(
    aws: AwsAccess, way: Way, record: dict[str, Any], config: RolloutConfig, wait: Wait
) -> str:
    arn = native.current_service_deployment_arn(record)
    if not arn:
        return "no rollback: the service names no current service deployment"
    watch = NativeWatch(
        aws, way.cluster, way.service, arn, 2, wait.emit, wait.clock, NativeConfig.of(record),
    )  # fmt: skip
    limit = wait_limit(wait.clock, wait.deadline, config)
    deployment = watch.poll(count_stops=False).deployment or wait_visible(
        watch, wait.interval, clock=wait.clock, deadline=limit.deadline, cancel=wait.cancel
    )
    if deployment is None:
        return f"no rollback: ECS does not show service deployment {arn} yet"
    if deployment.finished and deployment.status != "ROLLBACK_SUCCESSFUL":
        return (
            f"no rollback: service deployment {arn} already ended {deployment.status}; "
            "ECS rolls back only a deployment in progress"
        )
    try:
        done = roll_back_native(
            watch, deployment, interval=wait.interval, clock=wait.clock,
            deadline=limit.deadline, cancel=wait.cancel,
        )  # fmt: skip
    except StepError as err:
        return f"rollback of service deployment {arn} refused: {err.summary}"
    if done.interrupted:
        raise Cancelled(done.note)
    return done.note
