"""The ONE place that edits moto's ECS records in process (this module, and the
two it is split into: ``moto_ecs_tasks`` and ``moto_ecs_consistency``).

moto 5.2.5 keeps a service's deployments static: ``update_service`` with
``forceNewDeployment`` only renames the existing deployment (same counts, same
``rolloutState``), a new task definition creates no deployment at all, and its
tasks advance to STOPPED on every describe. Real ECS, which ``ecs.redeploy``
reads through the API, answers differently; this module makes moto's records
say what ECS would say:

- ``UpdateService`` (forced, or with a new task definition) adds a new PRIMARY
  deployment ``IN_PROGRESS`` with no tasks, and the previous ones become
  ``ACTIVE`` -- in the same call, so its response is already truthful;
- tasks carry ``startedBy`` = the deployment id, ``group`` = ``service:NAME``,
  ``lastStatus`` PROVISIONING -> RUNNING -> DEACTIVATING -> STOPPED with
  ``stoppedReason``, ``stopCode`` and the container's ``exitCode``
  (``moto_ecs_tasks.TaskRecords``, which ``EcsRecords`` inherits);
- deployments carry running/pending/failed counts, ``COMPLETED`` or ``FAILED``
  (the circuit breaker's reason), and drained ones leave the list;
- service events, newest first, worded as ECS words them;
- what ECS documents and moto does not show, played when a driver asks: reads
  right after ``UpdateService`` that do not show it yet and tasks that
  ``ListTasks`` lists and ``DescribeTasks`` answers with a ``MISSING`` failure
  (the API is eventually consistent: the plays are in ``moto_ecs_consistency``,
  installed here), tasks left PROVISIONING/PENDING, a service's
  ``deploymentConfiguration`` (strategy, bake time, alarms).

The sandbox's agent, the ECS step tests (``tests/ecs_driver.py``) and the ECS
benchmark (``benchmarks/ecs_scenarios.py``) decide *when*; this module only
knows *how* to record it, and nothing else in opskit touches moto's ECS records.
"""

from __future__ import annotations

import copy
import datetime
import random
import threading
import uuid
from typing import Any

from opskit.sandbox.moto_ecs_consistency import (
    HiddenTasks,
    StaleServiceReads,
    answer_missing_tasks,
)
from opskit.sandbox.moto_ecs_tasks import PLATFORM_VERSION, TaskRecords
from opskit.sandbox.moto_ecs_tasks import now_utc as _now
from opskit.sandbox.moto_service_deployments import (
    NATIVE,
    NativeRecords,
    records_of,
)
from opskit.sandbox.moto_service_deployments_api import serve_service_deployments

ACCOUNT_ID = "123456789012"  # moto's default account (any unknown access key maps to it)
_TASKS_FAILED = "tasks failed to start."
CIRCUIT_BREAKER_REASON = f"ECS deployment circuit breaker: {_TASKS_FAILED}"
_MANUAL_FOREVER = {"progression": "manual", "times": 2**62}
_MAX_EVENTS = 100


def new_deployment_id() -> str:
    return f"ecs-svc/{random.randint(10**18, 10**19 - 1)}"


class EcsRecords(TaskRecords):
    """Truthful ECS records for one service of moto's in-process backend."""

    def __init__(self, *, cluster: str, service: str, region: str, account_id: str = ACCOUNT_ID):
        self.cluster = cluster
        self.service_name = service
        self.region = region
        self.account_id = account_id
        self.lock = threading.RLock()
        self._original_update: Any = None
        self._stale = StaleServiceReads(lambda: self.backend, lambda: self.service, self.lock)
        self._hidden = HiddenTasks(lambda: self.backend, self.lock)

    # -- setup -------------------------------------------------------------------

    @property
    def backend(self) -> Any:
        from moto.ecs.models import ecs_backends

        return ecs_backends[self.account_id][self.region]

    @property
    def service(self) -> Any:
        return self.backend.services[f"{self.cluster}:{self.service_name}"]

    @property
    def native(self) -> NativeRecords:
        """The service's service deployments (BLUE_GREEN, LINEAR, CANARY): opened by
        UpdateService, moved through their stages by the agent or a test driver."""
        return records_of(self.backend, self.cluster, self.service_name)

    def install(
        self,
        deployment_configuration: dict[str, Any] | None = None,
        *,
        update_service: bool = True,
    ) -> None:
        """Take over the service created through the API: tasks no longer advance
        on describe, UpdateService creates real deployments (``update_service=False``
        keeps moto's own, which renames the one deployment in place: for tests that
        prove a reader copes with it)."""
        from moto.moto_api import state_manager

        state_manager.set_transition("ecs::task", _MANUAL_FOREVER)
        answer_missing_tasks()
        serve_service_deployments()
        backend = self.backend
        if update_service:
            self._original_update = backend.update_service
            backend.update_service = self._update_service
        backend.describe_services = self._stale.describe_services
        backend.describe_tasks = self._hidden.describe_tasks
        self.install_run_task()
        with self.lock:
            service = self.service
            if deployment_configuration is not None:
                service.deployment_configuration = deployment_configuration
            service.deployments = [
                dict(d, platformVersion=PLATFORM_VERSION, platformFamily="Linux")
                for d in service.deployments
            ]

    def uninstall_quietly(self) -> None:
        """Undo ``install`` (a no-op when it never ran)."""
        from moto.moto_api import state_manager

        state_manager.unset_transition("ecs::task")
        if self._original_update is not None:
            self.backend.__dict__.pop("update_service", None)
            self._original_update = None
        self.backend.__dict__.pop("describe_services", None)
        self.backend.__dict__.pop("describe_tasks", None)

    def _update_service(self, properties: dict[str, Any]) -> Any:
        cluster = str(properties.get("cluster") or "default").split("/")[-1]
        name = str(properties.get("service") or "").split("/")[-1]
        if (cluster, name) != (self.cluster, self.service_name):
            return self._original_update(properties)
        with self.lock:
            service = self.service
            force = bool(properties.pop("force_new_deployment", False))
            before = service.task_definition
            self._stale.update_starts(service)
            counts = service.running_count, service.pending_count
            result = self._original_update(properties)
            # moto sets runningCount = desiredCount on a scale; the agent keeps counts true.
            service.running_count, service.pending_count = counts
            task_definition = service.task_definition
            if task_definition and not str(task_definition).startswith("arn:"):
                task_definition = self.backend.describe_task_definition(task_definition).arn
                service.task_definition = task_definition
            if force or task_definition != before:
                deployment_id = self.start_deployment(task_definition)
                configuration = getattr(service, "deployment_configuration", None) or {}
                if configuration.get("strategy") in NATIVE:
                    self.native.open(service, deployment_id, service.desired_count, configuration)
            else:
                self._replace(
                    service,
                    [
                        dict(d, desiredCount=service.desired_count, updatedAt=_now())
                        if d["status"] == "PRIMARY"
                        else d
                        for d in service.deployments
                    ],
                )
            return result

    def start_deployment(self, task_definition: str) -> str:
        """A new PRIMARY deployment ``IN_PROGRESS`` with no tasks, the others ACTIVE
        (as UpdateService, or a circuit breaker's rollback, starts one); its id."""
        with self.lock:
            service = self.service
            service.task_definition = task_definition
            now = _now()
            deployment_id = new_deployment_id()
            primary = {
                "id": deployment_id,
                "status": "PRIMARY",
                "taskDefinition": task_definition,
                "desiredCount": service.desired_count,
                "pendingCount": 0,
                "runningCount": 0,
                "failedTasks": 0,
                "createdAt": now,
                "updatedAt": now,
                "launchType": "FARGATE",
                "platformVersion": PLATFORM_VERSION,
                "platformFamily": "Linux",
                "networkConfiguration": service.network_configuration or None,
                "rolloutState": "IN_PROGRESS",
                "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
            }
            # A failed deployment that was rolled back has no tasks left: ECS drops it.
            older = [
                dict(d, status="ACTIVE", updatedAt=now)
                for d in service.deployments
                if not (d["status"] != "PRIMARY" and d.get("rolloutState") == "FAILED")
            ]
            self._replace(service, [primary, *older])
            return deployment_id

    @staticmethod
    def _replace(service: Any, deployments: list[dict[str, Any]]) -> None:
        # Assign a new list: a describe serialising concurrently sees old or new, never half.
        service.deployments = deployments

    # -- reading ----------------------------------------------------------------

    def deployments(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(d) for d in self.service.deployments]

    def snapshot(self) -> dict[str, Any]:
        """Copies of the service fields that an update or its rollout changes, as
        recorded now (API names, Python values): what a stale read answers."""
        with self.lock:
            service = self.service
            configuration = getattr(service, "deployment_configuration", None)
            return {
                "taskDefinition": service.task_definition,
                "desiredCount": service.desired_count,
                "runningCount": service.running_count,
                "pendingCount": service.pending_count,
                "deployments": [dict(d) for d in service.deployments],
                "events": [dict(e) for e in service.events],
                "deploymentConfiguration": copy.deepcopy(configuration),
            }

    # -- deployments --------------------------------------------------------------

    def update_deployment(self, deployment_id: str, **fields: Any) -> None:
        with self.lock:
            service = self.service
            self._replace(
                service,
                [
                    dict(d, **fields, updatedAt=_now()) if d["id"] == deployment_id else d
                    for d in service.deployments
                ],
            )

    def set_counts(self, counts: dict[str, tuple[int, int, int]]) -> None:
        """``{deployment_id: (running, pending, failed)}``; also the service's and
        the cluster's counts. Only changed records get a new ``updatedAt``."""
        with self.lock:
            service = self.service
            changed = False
            deployments = []
            for d in service.deployments:
                running, pending, failed = counts.get(d["id"], (0, 0, d.get("failedTasks", 0)))
                if (d["runningCount"], d["pendingCount"], d["failedTasks"]) != (
                    running,
                    pending,
                    failed,
                ):
                    changed = True
                    d = dict(
                        d,
                        runningCount=running,
                        pendingCount=pending,
                        failedTasks=failed,
                        updatedAt=_now(),
                    )
                deployments.append(d)
            if changed:
                self._replace(service, deployments)
            service.running_count = sum(c[0] for c in counts.values())
            service.pending_count = sum(c[1] for c in counts.values())
            cluster = self.backend.clusters[self.cluster]
            cluster.running_tasks_count = service.running_count
            cluster.pending_tasks_count = service.pending_count

    def complete(self, deployment_id: str) -> None:
        self.update_deployment(
            deployment_id,
            rolloutState="COMPLETED",
            rolloutStateReason=f"ECS deployment {deployment_id} completed.",
        )
        self.add_event(f"(deployment {deployment_id}) deployment completed.")

    def fail(self, deployment_id: str) -> str | None:
        """Mark the deployment FAILED as the circuit breaker does and, like its
        rollback, make the newest COMPLETED deployment PRIMARY again (returned)."""
        with self.lock:
            self.update_deployment(
                deployment_id, rolloutState="FAILED", rolloutStateReason=CIRCUIT_BREAKER_REASON
            )
            self.add_event(
                f"(deployment {deployment_id}) deployment failed: tasks failed to start."
            )
            target = next(
                (d for d in self.deployments() if d.get("rolloutState") == "COMPLETED"), None
            )
            if target is None:
                return None
            self.update_deployment(deployment_id, desiredCount=0)
            self.promote(target["id"])
            self.add_event(f"rolling back to deployment {target['id']}.")
            return str(target["id"])

    def promote(self, deployment_id: str, **fields: Any) -> None:
        """Make the deployment PRIMARY again, first in the list, with the service's
        desired count and task definition (a rollback); the PRIMARY one before is ACTIVE."""
        with self.lock:
            service = self.service
            now = _now()
            target = next(d for d in service.deployments if d["id"] == deployment_id)
            target = dict(
                target,
                **fields,
                status="PRIMARY",
                desiredCount=service.desired_count,
                updatedAt=now,
            )
            others = [
                dict(d, status="ACTIVE", updatedAt=now) if d["status"] == "PRIMARY" else d
                for d in service.deployments
                if d["id"] != deployment_id
            ]
            service.task_definition = target["taskDefinition"]
            self._replace(service, [target, *others])

    def remove_deployment(self, deployment_id: str) -> None:
        with self.lock:
            service = self.service
            self._replace(service, [d for d in service.deployments if d["id"] != deployment_id])

    def add_event(self, message: str, created_at: datetime.datetime | None = None) -> None:
        """``message`` without the ``(service NAME)`` prefix, which ECS always adds;
        ``created_at`` (default: now, after the newest event) is its ``createdAt``."""
        with self.lock:
            service = self.service
            created = created_at or _now()
            if created_at is None and service.events and created <= service.events[0]["createdAt"]:
                # Distinct times keep the order for readers that sort by createdAt.
                created = service.events[0]["createdAt"] + datetime.timedelta(milliseconds=1)
            event = {
                "id": str(uuid.uuid4()),
                "createdAt": created,
                "message": f"(service {self.service_name}) {message}",
            }
            service.events = [event, *service.events][:_MAX_EVENTS]

    # -- what ECS documents and moto does not show ----------------------------------

    def set_deployment_configuration(self, configuration: dict[str, Any]) -> None:
        """The service's ``deploymentConfiguration`` as DescribeServices returns it
        (``strategy``, ``bakeTimeInMinutes``, ``alarms``, ...; moto keeps none)."""
        with self.lock:
            self.service.deployment_configuration = copy.deepcopy(configuration)

    def stale_reads_after_update(self, reads: int) -> None:
        """The next ``UpdateService`` is followed by ``reads`` DescribeServices that
        answer as before it (its deployments, events and task definition): the ECS
        API is eventually consistent ("Amazon ECS API reference: eventual
        consistency"), so a read right after a write may not show it yet."""
        self._stale.after_update(reads)

    def stale_reads_now(self, reads: int) -> None:
        """The next ``reads`` DescribeServices answer as before the last
        ``UpdateService`` again, although reads since have shown it (nothing in
        ECS's eventual consistency promises that reads never go backwards)."""
        self._stale.again(reads)

    def hide_tasks(self, task_ids: list[str], reads: int) -> None:
        """For their next ``reads`` DescribeTasks, these tasks (still listed by
        ListTasks) are answered as ECS answers a task it does not find yet: left
        out of ``tasks``, with a ``failures`` entry of reason ``MISSING``."""
        self._hidden.hide(task_ids, reads)
