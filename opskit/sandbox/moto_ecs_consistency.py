"""Eventual consistency played on moto's ECS reads: what ECS documents and moto never shows.

The ECS API is eventually consistent ("Amazon ECS API reference: eventual
consistency"): a read right after a write may not show it yet. moto answers
every read from its current records, so these plays put the documented answers
back, each with one job:

- ``StaleServiceReads``: DescribeServices of one service answering as before
  its last UpdateService (its deployments, events and task definition), for as
  many reads as a driver asks, right after the update or later (a read that
  goes backwards);
- ``HiddenTasks``: DescribeTasks leaving out tasks that ListTasks already
  lists, for as many reads as a driver asks;
- ``answer_missing_tasks``: DescribeTasks naming each task it did not find with
  reason ``MISSING``, as ECS does (moto answers ``failures: []``), patched once
  per process.

``moto_ecs.EcsRecords`` installs the first two on its backend (per instance,
undone by ``uninstall_quietly``) and arms them for its drivers.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from opskit.ecs.names import task_id_of


class StaleServiceReads:
    """DescribeServices of one service that answers as before its last UpdateService.

    ``service`` returns moto's record of the service; ``lock`` is the records'
    lock, held while an update is applied and while a read is answered.
    """

    def __init__(self, backend: Callable[[], Any], service: Callable[[], Any], lock: Any):
        self._backend = backend
        self._service = service
        self._lock = lock
        self._after_update = 0  # armed reads for the next UpdateService
        self._left = 0  # DescribeServices reads left that answer as before it
        # deployments, events, task definition, currentServiceDeployment
        self._before: tuple[list[dict[str, Any]], list[dict[str, Any]], Any, Any] | None = None

    def after_update(self, reads: int) -> None:
        """The next UpdateService is followed by ``reads`` stale DescribeServices."""
        with self._lock:
            self._after_update = reads

    def again(self, reads: int) -> None:
        """The next ``reads`` DescribeServices answer as before the last
        UpdateService once more, after reads that showed it: eventual consistency
        does not promise that reads never go backwards."""
        with self._lock:
            self._left = reads if self._before is not None else 0

    def update_starts(self, service: Any) -> None:
        """Called as an UpdateService is applied (under the lock): remember the
        record as it is, and arm the reads asked for this update."""
        self._before = (
            list(service.deployments),
            list(service.events),
            service.task_definition,
            getattr(service, "current_service_deployment", None),
        )
        self._left, self._after_update = self._after_update, 0

    def describe_services(self, cluster: str, names: list[str]) -> Any:
        """moto's ``describe_services``, with the service as before the update
        while reads are left."""
        from moto.ecs.models import EC2ContainerServiceBackend

        backend = self._backend()
        services, failures = EC2ContainerServiceBackend.describe_services(backend, cluster, names)
        with self._lock:
            if self._left <= 0 or self._before is None:
                return services, failures
            current = self._service()
            if not any(s is current for s in services):
                return services, failures
            self._left -= 1
            stale = copy.copy(current)  # the record as it was, without touching it
            (
                stale.deployments,
                stale.events,
                stale.task_definition,
                stale.current_service_deployment,
            ) = self._before
            return [stale if s is current else s for s in services], failures


class HiddenTasks:
    """DescribeTasks that does not find some listed tasks yet."""

    def __init__(self, backend: Callable[[], Any], lock: threading.RLock):
        self._backend = backend
        self._lock = lock
        self._reads: dict[str, int] = {}  # task id -> DescribeTasks reads left

    def hide(self, task_ids: list[str], reads: int) -> None:
        with self._lock:
            self._reads.update({task_id: reads for task_id in task_ids})

    def describe_tasks(self, cluster: str, tasks: list[str]) -> Any:
        """moto's ``describe_tasks`` without the hidden tasks (``answer_missing_tasks``
        then names each of them ``MISSING``)."""
        from moto.ecs.models import EC2ContainerServiceBackend

        found = EC2ContainerServiceBackend.describe_tasks(self._backend(), cluster, tasks)
        with self._lock:
            shown = []
            for task in found:
                task_id = task_id_of(task.task_arn)
                if self._reads.get(task_id, 0) > 0:
                    self._reads[task_id] -= 1
                    continue
                shown.append(task)
            return shown


def answer_missing_tasks() -> None:
    """moto's DescribeTasks answers ``failures: []`` whatever it did not find; ECS
    names each such task with reason ``MISSING`` ("API failure reasons" in the
    Amazon ECS developer guide). Patched once per process, and truthful for every
    caller, so it is never undone."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    original = EC2ContainerServiceResponse.describe_tasks
    if getattr(original, "answers_missing", False):
        return

    def describe_tasks(response: Any) -> Any:
        result = original(response)
        body: dict[str, Any] = result.result  # type: ignore[assignment]
        asked = response._get_param("tasks", [])
        known = {task_id_of(t.task_arn) for t in body["tasks"]}
        body["failures"] = [
            {"arn": str(name), "reason": "MISSING"}
            for name in asked
            if task_id_of(str(name)) not in known
        ]
        return result

    describe_tasks.answers_missing = True  # type: ignore[attr-defined]
    EC2ContainerServiceResponse.describe_tasks = describe_tasks  # type: ignore[method-assign,assignment]
