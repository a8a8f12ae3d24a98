"""ECS's own record of a deployment on a native strategy, read and answered.

``BLUE_GREEN``, ``LINEAR`` and ``CANARY`` deployments shift traffic between two
service revisions in lifecycle stages. ECS keeps their record as a *service
deployment* (``DescribeServiceDeployments``): its status, the stage it is in, the
traffic each revision is asked to take, the lifecycle hooks it waits on, and why
it rolled back. A rolling update's DescribeServices ``deployments`` cannot say any
of that, so these deployments are followed here, through the fields botocore's
ECS model names, and answered here: ``ContinueServiceDeployment`` at a ``PAUSE``
hook, ``StopServiceDeployment`` otherwise.

Reads are eventually consistent: right after UpdateService the service may still
name the previous deployment and DescribeServiceDeployments may answer the new one
``MISSING``. ``describe_service_deployment`` returns ``None`` then; callers count
it as "not yet".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opskit.ecs.describe import ecs_call, epoch

if TYPE_CHECKING:
    from opskit.aws import AwsAccess

NATIVE_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
# botocore's ServiceDeploymentLifecycleStage, in the order a deployment goes through them.
STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)
# ServiceDeploymentStatus values after which the record no longer changes.
FINISHED = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
ROLLING_BACK = frozenset({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})
# Where StopServiceDeployment may still act (ECS answers ConflictException otherwise).
STOPPABLE = frozenset({"PENDING", "IN_PROGRESS"})
AWAITING_ACTION = "AWAITING_ACTION"
PAUSE = "PAUSE"


@dataclass(frozen=True)
class Hook:
    """One ``lifecycleHookDetails`` entry."""

    hook_id: str
    target_type: str  # AWS_LAMBDA or PAUSE
    status: str  # AWAITING_ACTION, IN_PROGRESS, SUCCEEDED, FAILED, TIMED_OUT
    expires_at: float  # epoch seconds; 0.0 when ECS gives none
    timeout_action: str  # what ECS does when it expires: ROLLBACK or CONTINUE

    @classmethod
    def of(cls, detail: dict[str, Any]) -> Hook:
        return cls(
            hook_id=str(detail.get("hookId") or ""),
            target_type=str(detail.get("targetType") or ""),
            status=str(detail.get("status") or ""),
            expires_at=epoch(detail.get("expiresAt")),
            timeout_action=str(detail.get("timeoutAction") or ""),
        )

    @property
    def awaiting(self) -> bool:
        return self.target_type == PAUSE and self.status == AWAITING_ACTION


def _percent(revision: dict[str, Any], key: str) -> float:
    """A revision's requested traffic weight; ECS gives it as a percentage (0-100)."""
    value = revision.get(key)
    return float(value) if isinstance(value, (int, float)) else 0.0


@dataclass(frozen=True)
class ServiceDeployment:
    """A DescribeServiceDeployments record, parsed; ``raw`` is the record itself."""

    arn: str
    status: str
    status_reason: str
    stage: str  # lifecycleStage; '' before ECS names one
    target_revision: str  # the new service revision's ARN
    source_revisions: tuple[str, ...]
    production_percent: float  # the target's requestedProductionTrafficWeight
    test_percent: float  # the target's requestedTestTrafficWeight
    hooks: tuple[Hook, ...]
    rollback_reason: str
    triggered_alarms: tuple[str, ...]
    alarms_status: str
    circuit_breaker_status: str
    created_at: float
    finished_at: float
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, record: dict[str, Any]) -> ServiceDeployment:
        target = record.get("targetServiceRevision") or {}
        alarms = record.get("alarms") or {}
        rollback = record.get("rollback") or {}
        return cls(
            arn=str(record.get("serviceDeploymentArn") or ""),
            status=str(record.get("status") or ""),
            status_reason=str(record.get("statusReason") or ""),
            stage=str(record.get("lifecycleStage") or ""),
            target_revision=str(target.get("arn") or ""),
            source_revisions=tuple(
                str(s.get("arn") or "") for s in record.get("sourceServiceRevisions") or []
            ),
            production_percent=_percent(target, "requestedProductionTrafficWeight"),
            test_percent=_percent(target, "requestedTestTrafficWeight"),
            hooks=tuple(Hook.of(d) for d in record.get("lifecycleHookDetails") or []),
            rollback_reason=str(rollback.get("reason") or ""),
            triggered_alarms=tuple(str(n) for n in alarms.get("triggeredAlarmNames") or []),
            alarms_status=str(alarms.get("status") or ""),
            circuit_breaker_status=str(
                (record.get("deploymentCircuitBreaker") or {}).get("status") or ""
            ),
            created_at=epoch(record.get("createdAt")),
            finished_at=epoch(record.get("finishedAt")),
            raw=record,
        )

    @property
    def awaiting_hook(self) -> Hook | None:
        """The PAUSE hook waiting for ContinueServiceDeployment, if one is."""
        return next((h for h in self.hooks if h.awaiting), None)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def rolling_back(self) -> bool:
        return self.status in ROLLING_BACK

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCESSFUL"


def short_arn(arn: str) -> str:
    """The service deployment's id: the last part of its ARN
    (``.../service-deployment/CLUSTER/SERVICE/ID``)."""
    return arn.rsplit("/", 1)[-1] if arn else "?"


def cluster_and_service(arn: str) -> tuple[str, str]:
    """(cluster, service) from a service deployment ARN."""
    parts = arn.split("/")
    return (parts[-3], parts[-2]) if len(parts) >= 4 else ("?", arn)


def describe_service_deployment(aws: AwsAccess, arn: str) -> ServiceDeployment | None:
    """The record; ``None`` when ECS answers it MISSING (not yet visible, or unknown)."""
    ecs = aws.client("ecs")
    cluster, service = cluster_and_service(arn)
    response = ecs_call(
        aws, cluster, service, "DescribeServiceDeployments",
        ecs.describe_service_deployments, serviceDeploymentArns=[arn],
    )  # fmt: skip
    records = response.get("serviceDeployments") or []
    return ServiceDeployment.of(records[0]) if records else None


def current_service_deployment_arn(service_record: dict[str, Any]) -> str:
    """DescribeServices' ``currentServiceDeployment`` ('' when the service has none)."""
    return str(service_record.get("currentServiceDeployment") or "")


def list_service_deployments(
    aws: AwsAccess,
    cluster: str,
    service: str,
    statuses: list[str] | None = None,
    created_after: float | None = None,
) -> list[dict[str, Any]]:
    """ListServiceDeployments' briefs, newest first as ECS lists them (all pages)."""
    ecs = aws.client("ecs")
    kwargs: dict[str, Any] = {"cluster": cluster, "service": service}
    if statuses:
        kwargs["status"] = statuses
    if created_after is not None:
        kwargs["createdAt"] = {"after": created_after}
    briefs: list[dict[str, Any]] = []
    while True:
        response = ecs_call(
            aws, cluster, service, "ListServiceDeployments", ecs.list_service_deployments,
            **kwargs,
        )  # fmt: skip
        briefs.extend(response.get("serviceDeployments") or [])
        token = response.get("nextToken")
        if not token:
            return briefs
        kwargs["nextToken"] = token


def continue_hook(aws: AwsAccess, arn: str, hook_id: str, action: str) -> None:
    """Answer a PAUSE hook: ``CONTINUE`` to the next stage, or ``ROLLBACK``."""
    ecs = aws.client("ecs")
    cluster, service = cluster_and_service(arn)
    ecs_call(
        aws, cluster, service, f"ContinueServiceDeployment {action}",
        ecs.continue_service_deployment, serviceDeploymentArn=arn, hookId=hook_id, action=action,
    )  # fmt: skip


def stop_service_deployment(aws: AwsAccess, arn: str, stop_type: str) -> None:
    """StopServiceDeployment: ``ROLLBACK`` returns traffic to the source revision."""
    ecs = aws.client("ecs")
    cluster, service = cluster_and_service(arn)
    ecs_call(
        aws, cluster, service, f"StopServiceDeployment {stop_type}",
        ecs.stop_service_deployment, serviceDeploymentArn=arn, stopType=stop_type,
    )  # fmt: skip


def request_rollback(aws: AwsAccess, dep: ServiceDeployment) -> str:
    """Ask ECS to roll ``dep`` back the way it accepts in its state, and say how.

    At a PAUSE hook only ContinueServiceDeployment answers (ROLLBACK); before
    that, or in bake time, StopServiceDeployment ROLLBACK. A deployment already
    rolling back or finished is left as it is."""
    hook = dep.awaiting_hook
    where = dep.stage or dep.status
    if hook is not None:
        continue_hook(aws, dep.arn, hook.hook_id, "ROLLBACK")
        return f"ROLLBACK at hook {hook.hook_id} ({where}) with ContinueServiceDeployment"
    if dep.status in STOPPABLE:
        stop_service_deployment(aws, dep.arn, "ROLLBACK")
        return f"StopServiceDeployment ROLLBACK at {where}"
    if dep.rolling_back:
        return f"already rolling back ({dep.status})"
    return f"nothing to roll back: the deployment is {dep.status}"
