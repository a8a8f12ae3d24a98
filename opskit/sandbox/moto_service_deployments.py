"""ECS's service deployments on moto: the records of BLUE_GREEN, LINEAR and CANARY.

moto 5.2 keeps no service deployments and no ``currentServiceDeployment`` on a
service. This module keeps the records, one ``NativeRecords`` per service on
moto's ECS backend, created by ``moto_ecs.EcsRecords.native``;
``moto_service_deployments_api`` answers the four API calls from them.

As everywhere in the sandbox, this module knows *how* to record, not *when*:
UpdateService on a service whose strategy is native opens a record (PENDING,
RECONCILE_SERVICE, the previous revision taking all traffic); the sandbox's
agent (``native_play``) and the tests' driver move it through its stages with
the methods below. The API's answers follow the Amazon ECS API reference:
ContinueServiceDeployment acts only on a hook that awaits action, and
StopServiceDeployment only on a deployment still PENDING or IN_PROGRESS
(ConflictException otherwise).
"""

from __future__ import annotations

import copy
import random
import string
import threading
from typing import Any

from opskit.sandbox.moto_ecs_tasks import now_utc

NATIVE = ("BLUE_GREEN", "LINEAR", "CANARY")
# ServiceDeploymentBrief's members that the record holds under the same names.
_BRIEF = (
    "serviceDeploymentArn",
    "serviceArn",
    "clusterArn",
    "createdAt",
    "startedAt",
    "finishedAt",
    "status",
    "statusReason",
)
# A PAUSE hook's wait when the service sets no timeoutConfiguration.
DEFAULT_HOOK_MINUTES = 60

_lock = threading.RLock()
# Kept on moto's ECS backend itself, so moto's reset (which empties each backend's
# __dict__) forgets them with the services they belong to.
_ON_BACKEND = "opskit_service_deployments"


def _suffix(size: int) -> str:
    return "".join(random.choices(string.ascii_letters + string.digits, k=size))


class NativeRecords:
    """The service deployments of one service, and every call made on them."""

    def __init__(self, *, account_id: str, region: str, cluster: str, service: str):
        self.account_id = account_id
        self.region = region
        self.cluster = cluster
        self.service_name = service
        self.lock = _lock
        self.records: list[dict[str, Any]] = []  # newest first
        self.links: dict[str, str] = {}  # service deployment ARN -> ecs-svc deployment id
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (operation, its parameters)
        self._stale = 0
        self._current_revision = ""

    def _arn(self, kind: str, suffix: str) -> str:
        return (
            f"arn:aws:ecs:{self.region}:{self.account_id}:{kind}/"
            f"{self.cluster}/{self.service_name}/{suffix}"
        )

    # -- opened by UpdateService -----------------------------------------------

    def open(
        self, service: Any, deployment_id: str, desired: int, configuration: dict[str, Any]
    ) -> str:
        """A new service deployment for the update ``deployment_id`` started: the
        service's current revision is its source, a new revision its target."""
        with self.lock:
            now = now_utc()
            source = self._current_revision or self._arn("service-revision", _digits())
            target = self._arn("service-revision", _digits())
            arn = self._arn("service-deployment", _suffix(20))
            record: dict[str, Any] = {
                "serviceDeploymentArn": arn,
                "serviceArn": service.arn,
                "clusterArn": service.cluster_arn,
                "createdAt": now,
                "updatedAt": now,
                "sourceServiceRevisions": [_revision(source, desired, 100.0)],
                "targetServiceRevision": _revision(target, desired, 0.0),
                "status": "PENDING",
                "statusReason": "",
                "lifecycleStage": "RECONCILE_SERVICE",
                "lifecycleHookDetails": [],
                "deploymentConfiguration": copy.deepcopy(configuration),
                "deploymentCircuitBreaker": {"status": "MONITORING", "failureCount": 0},
            }
            alarms = configuration.get("alarms") or {}
            if alarms.get("enable"):
                record["alarms"] = {
                    "status": "MONITORING",
                    "alarmNames": list(alarms.get("alarmNames") or []),
                    "triggeredAlarmNames": [],
                }
            self.records.insert(0, record)
            self.links[arn] = deployment_id
            service.current_service_deployment = arn
            return arn

    # -- the player's moves ----------------------------------------------------

    def current(self) -> dict[str, Any] | None:
        """A copy of the newest record."""
        with self.lock:
            return copy.deepcopy(self.records[0]) if self.records else None

    def get(self, arn: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._record(arn))

    def _record(self, arn: str) -> dict[str, Any]:
        for record in self.records:
            if record["serviceDeploymentArn"] == arn:
                return record
        raise KeyError(arn)

    def update(self, arn: str, **fields: Any) -> None:
        """Set top-level fields (status, statusReason, lifecycleStage, rollback,
        alarms, deploymentCircuitBreaker, startedAt, finishedAt, stoppedAt...)."""
        with self.lock:
            record = self._record(arn)
            record.update(copy.deepcopy(fields))
            record["updatedAt"] = now_utc()
            if fields.get("status") == "SUCCESSFUL":
                self._current_revision = record["targetServiceRevision"]["arn"]

    def set_traffic(self, arn: str, *, production: float, test: float) -> None:
        """The target revision's requested weights; the sources take the rest."""
        with self.lock:
            record = self._record(arn)
            target = record["targetServiceRevision"]
            target["requestedProductionTrafficWeight"] = float(production)
            target["requestedTestTrafficWeight"] = float(test)
            for source in record["sourceServiceRevisions"]:
                source["requestedProductionTrafficWeight"] = 100.0 - float(production)
                source["requestedTestTrafficWeight"] = 100.0 - float(test)
            record["updatedAt"] = now_utc()

    def set_counts(
        self,
        arn: str,
        *,
        target: tuple[int, int, int] | None = None,
        source: tuple[int, int, int] | None = None,
    ) -> None:
        """(requested, running, pending) task counts of the target / each source."""
        with self.lock:
            record = self._record(arn)
            revisions = []
            if target is not None:
                revisions.append((record["targetServiceRevision"], target))
            if source is not None:
                revisions += [(s, source) for s in record["sourceServiceRevisions"]]
            for revision, (requested, running, pending) in revisions:
                revision.update(
                    requestedTaskCount=requested, runningTaskCount=running, pendingTaskCount=pending
                )

    def pause(self, arn: str, stage: str) -> str:
        """The deployment enters ``stage`` and waits at a PAUSE hook there: its id.
        Expiry and timeout action come from the service's lifecycleHooks."""
        with self.lock:
            record = self._record(arn)
            configured = _pause_hook(record.get("deploymentConfiguration") or {}, stage)
            timeout = (configured or {}).get("timeoutConfiguration") or {}
            minutes = int(timeout.get("timeoutInMinutes") or DEFAULT_HOOK_MINUTES)
            now = now_utc()
            hook_id = f"hook-{_suffix(12)}"
            record["lifecycleStage"] = stage
            record["lifecycleHookDetails"] = [
                *(record.get("lifecycleHookDetails") or []),
                {
                    "hookId": hook_id,
                    "targetType": "PAUSE",
                    "status": "AWAITING_ACTION",
                    "expiresAt": now + _minutes(minutes),
                    "timeoutAction": str(timeout.get("action") or "ROLLBACK"),
                },
            ]
            record["updatedAt"] = now
            return hook_id

    def awaiting(self, arn: str) -> dict[str, Any] | None:
        """The PAUSE hook detail that awaits action, if any (a copy)."""
        with self.lock:
            return copy.deepcopy(_awaiting(self._record(arn), None))

    def set_hook(self, arn: str, hook_id: str, status: str) -> None:
        """A hook's status as ECS records it (e.g. TIMED_OUT when it expired)."""
        with self.lock:
            for detail in self._record(arn).get("lifecycleHookDetails") or []:
                if detail["hookId"] == hook_id:
                    detail["status"] = status

    def stale_reads(self, reads: int) -> None:
        """For the next ``reads`` ListServiceDeployments and DescribeServiceDeployments
        the newest record is not visible yet (left out; answered MISSING): the ECS API
        is eventually consistent."""
        with self.lock:
            self._stale = reads

    def ecs_deployment_id(self, arn: str) -> str:
        """The ecs-svc deployment (DescribeServices) whose tasks are the target's."""
        return self.links.get(arn, "")

    # -- the API's answers -------------------------------------------------------

    def _visible(self, counting: bool) -> list[dict[str, Any]]:
        if self._stale > 0 and self.records:
            if counting:
                self._stale -= 1
            return self.records[1:]
        return list(self.records)

    def list_briefs(self, statuses: list[str], after: Any, before: Any) -> list[dict[str, Any]]:
        with self.lock:
            briefs = []
            for record in self._visible(counting=True):
                created = record["createdAt"]
                if statuses and record["status"] not in statuses:
                    continue
                if after is not None and created.timestamp() <= _epoch(after):
                    continue
                if before is not None and created.timestamp() >= _epoch(before):
                    continue
                brief: dict[str, Any] = {k: record[k] for k in _BRIEF if k in record}
                brief["targetServiceRevisionArn"] = record["targetServiceRevision"]["arn"]
                briefs.append(brief)
            return briefs

    def describe(self, arns: list[str]) -> tuple[list[dict[str, Any]], set[str]]:
        """The records asked for that are visible, and the ARNs found."""
        with self.lock:
            asked_newest = bool(self.records) and self.records[0]["serviceDeploymentArn"] in arns
            visible = self._visible(counting=asked_newest)
            found = [copy.deepcopy(r) for r in visible if r["serviceDeploymentArn"] in arns]
            return found, {r["serviceDeploymentArn"] for r in found}

    def continue_hook(self, arn: str, hook_id: str, action: str) -> None:
        with self.lock:
            self.calls.append(
                ("ContinueServiceDeployment", {"arn": arn, "hookId": hook_id, "action": action})
            )
            record = self._record(arn)
            hook = _awaiting(record, hook_id)
            if hook is None:
                raise error(
                    "InvalidParameterException",
                    f"The service deployment {arn} is not waiting at lifecycle hook {hook_id}.",
                )
            hook["status"] = "SUCCEEDED"
            if action == "ROLLBACK":
                record["status"] = "ROLLBACK_REQUESTED"
                record["statusReason"] = "Rollback requested at a lifecycle hook."
            record["updatedAt"] = now_utc()

    def stop(self, arn: str, stop_type: str) -> None:
        with self.lock:
            self.calls.append(("StopServiceDeployment", {"arn": arn, "stopType": stop_type}))
            record = self._record(arn)
            if record["status"] not in ("PENDING", "IN_PROGRESS"):
                raise error(
                    "ConflictException",
                    f"The service deployment {arn} is {record['status']} and cannot be stopped.",
                )
            if stop_type == "ROLLBACK":
                record["status"] = "ROLLBACK_REQUESTED"
                record["statusReason"] = "Service deployment rollback requested by user."
            else:
                record["status"] = "STOP_REQUESTED"
                record["statusReason"] = "Service deployment stop requested by user."
            record["updatedAt"] = now_utc()


def _digits() -> str:
    return str(random.randint(10**18, 10**19 - 1))


def _minutes(n: int) -> Any:
    import datetime

    return datetime.timedelta(minutes=n)


def _epoch(value: Any) -> float:
    import datetime

    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return float(value)


def _revision(arn: str, count: int, production: float) -> dict[str, Any]:
    return {
        "arn": arn,
        "requestedTaskCount": count,
        "runningTaskCount": 0,
        "pendingTaskCount": 0,
        "requestedTestTrafficWeight": production,
        "requestedProductionTrafficWeight": production,
    }


def _pause_hook(configuration: dict[str, Any], stage: str) -> dict[str, Any] | None:
    for hook in configuration.get("lifecycleHooks") or []:
        if hook.get("targetType") == "PAUSE" and stage in (hook.get("lifecycleStages") or []):
            return dict(hook)
    return None


def _awaiting(record: dict[str, Any], hook_id: str | None) -> dict[str, Any] | None:
    for detail in record.get("lifecycleHookDetails") or []:
        if detail.get("status") == "AWAITING_ACTION" and hook_id in (None, detail["hookId"]):
            return detail
    return None


def configured_pause_stages(configuration: dict[str, Any]) -> list[str]:
    """The stages where the service's PAUSE hooks wait."""
    return [
        stage
        for hook in configuration.get("lifecycleHooks") or []
        if hook.get("targetType") == "PAUSE"
        for stage in hook.get("lifecycleStages") or []
    ]


def records_of(backend: Any, cluster: str, service: str) -> NativeRecords:
    """The service's records on moto's ECS ``backend``, made on first use."""
    with _lock:
        kept: dict[tuple[str, str], NativeRecords] = backend.__dict__.setdefault(_ON_BACKEND, {})
        if (cluster, service) not in kept:
            kept[(cluster, service)] = NativeRecords(
                account_id=backend.account_id,
                region=backend.region_name,
                cluster=cluster,
                service=service,
            )
        return kept[(cluster, service)]


def error(code: str, message: str) -> Exception:
    """An ECS error as moto serializes it (its code one of botocore's error shapes)."""
    from moto.ecs.exceptions import ECSException

    return ECSException(code, message)


def kept_records(backend: Any) -> dict[tuple[str, str], NativeRecords]:
    """The records kept on moto's ECS ``backend``, by (cluster, service)."""
    with _lock:
        return dict(backend.__dict__.get(_ON_BACKEND, {}))


def all_records(backend: Any) -> list[NativeRecords]:
    return list(kept_records(backend).values())
