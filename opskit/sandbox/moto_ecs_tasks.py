"""Tasks of one service as ECS records them, on moto's in-process backend.

moto's tasks carry few of the fields ECS returns and advance to STOPPED on every
describe (``EcsRecords.install`` sets its state manager to manual). These edits
make a task say what ECS would: ``startedBy`` = the deployment id, ``group`` =
``service:NAME``, ``lastStatus`` PROVISIONING -> PENDING -> RUNNING ->
DEACTIVATING -> STOPPED with ``stoppedReason``, ``stopCode`` and the
container's ``exitCode``. ``moto_ecs.EcsRecords`` inherits them; the sandbox's
agent, the ECS step tests' driver and the ECS benchmark call them through it.
"""

from __future__ import annotations

import copy
import datetime
import threading
import uuid
from typing import Any

from opskit.ecs.names import task_id_of

PLATFORM_VERSION = "1.4.0"


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class TaskRecords:
    """The task half of ``EcsRecords``: what it needs is set by that class."""

    cluster: str
    service_name: str
    region: str
    lock: threading.RLock

    @property
    def backend(self) -> Any:
        raise NotImplementedError

    @property
    def service(self) -> Any:
        raise NotImplementedError

    def task_ids(
        self, deployment_id: str | None = None, desired_status: str = "RUNNING"
    ) -> list[str]:
        """Ids of the recorded tasks (of one deployment) with that desired status, oldest first."""
        tasks = list(self.backend.tasks.get(self.cluster, {}).values())
        return [
            str(t.id)
            for t in tasks
            if t.desired_status == desired_status
            and (deployment_id is None or t.started_by == deployment_id)
        ]

    def container_environment(self, task_definition: str) -> dict[str, str]:
        definition = self.backend.describe_task_definition(task_definition)
        container = definition.container_definitions[0]
        return {e["name"]: str(e["value"]) for e in container.get("environment") or []}

    def desired_status(self, task_id: str) -> str:
        return str(self._task(task_id).desired_status)

    def _task(self, task_id: str) -> Any:
        for arn, task in self.backend.tasks.get(self.cluster, {}).items():
            if task_id_of(arn) == task_id:
                return task
        raise KeyError(f"task {task_id} is not recorded in cluster {self.cluster}")

    # -- one-off tasks (RunTask) --------------------------------------------------

    def install_run_task(self) -> None:
        """RunTask's tasks start PROVISIONING with no exit code, as Fargate's do
        (moto's are RUNNING with exit code 0 at once); ``refuse_run_task`` makes
        RunTask answer with a ``failures`` entry instead, as ECS does when it
        cannot place the task."""
        backend = self.backend
        if getattr(backend, "opskit_run_task", None) is not None:
            return
        original = backend.run_task

        def run_task(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                tasks = original(*args, **kwargs)
                for task in tasks:
                    self._one_off(task)
                return tasks

        original_stop = backend.stop_task

        def stop_task(cluster_str: str, task_str: str, reason: str) -> Any:
            with self.lock:
                task = self._task(task_id_of(task_str))
                if str(task.group or "").startswith("service:") or task.last_status == "STOPPED":
                    return original_stop(cluster_str, task_str, reason)
                # As ECS: the task is stopping until its container exited.
                task.desired_status = "STOPPED"
                task.stopped_reason = reason
                task.stop_code = "UserInitiated"
                task.stopping_at = now_utc()
                return task

        original_needs = backend._calculate_task_resource_requirements

        def needs(definition: Any) -> Any:
            # moto adds up containers' ``memory``; a Fargate container may set none
            # (the task's memory is the limit): count it as 0 instead of failing.
            try:
                return original_needs(definition)
            except TypeError:
                return {"CPU": 0, "MEMORY": 0, "PORTS": [], "PORTS_UDP": []}

        backend._calculate_task_resource_requirements = needs
        backend.run_task = run_task
        backend.stop_task = stop_task
        backend.opskit_run_task = run_task
        _answer_refusals()

    def refuse_run_task(self, reason: str | None) -> None:
        """RunTask starts nothing and answers ``failures: [{reason}]`` (``None``: it runs again)."""
        self.backend.opskit_run_task_refusal = reason

    def _one_off(self, task: Any) -> None:
        definition = self.backend.describe_task_definition(task.task_definition_arn)
        overrides = task.overrides or {}
        _every_container(task, definition)
        _provisioning(task, self.region, now_utc())
        task.cpu = overrides.get("cpu") or definition.cpu
        task.memory = overrides.get("memory") or definition.memory
        if task.launch_type == "FARGATE" or task.capacity_provider_name:
            task.platform_version = task.platform_version or PLATFORM_VERSION

    def one_off_ids(self, status: str) -> list[str]:
        """Ids of RunTask's tasks (not a service's) whose lastStatus is ``status``."""
        with self.lock:
            tasks = list(self.backend.tasks.get(self.cluster, {}).values())
            return [
                str(t.id)
                for t in tasks
                if not str(t.group or "").startswith("service:") and t.last_status == status
            ]

    def one_off_container(self, task_id: str) -> tuple[str, list[str], dict[str, str]]:
        """The essential container's image, command and environment, RunTask's
        container overrides applied."""
        task = self._task(task_id)
        definition = self.backend.describe_task_definition(task.task_definition_arn)
        container = definition.container_definitions[0]
        command = list(container.get("command") or [])
        environment = {e["name"]: str(e["value"]) for e in container.get("environment") or []}
        for override in (task.overrides or {}).get("containerOverrides") or []:
            if override.get("name") != container.get("name"):
                continue
            if override.get("command") is not None:
                command = list(override["command"])
            for pair in override.get("environment") or []:
                environment[pair["name"]] = str(pair.get("value", ""))
        return str(container.get("image", "")), command, environment

    def task_definition_of(self, task_id: str) -> str:
        return str(self._task(task_id).task_definition_arn)

    # -- tasks ------------------------------------------------------------------

    def create_task(
        self,
        deployment_id: str,
        task_definition: str,
        created_at: datetime.datetime | None = None,
    ) -> str:
        """Record a new PROVISIONING task of the deployment; returns its id.
        ``created_at`` (default: now) is its ``createdAt``."""
        from moto.ecs.models import Task

        with self.lock:
            backend = self.backend
            definition = backend.describe_task_definition(task_definition)
            service = self.service
            task: Any = Task(  # moto declares few of the fields ECS returns
                backend.clusters[self.cluster],
                definition,
                None,
                None,
                backend=backend,
                group=f"service:{self.service_name}",
                launch_type="FARGATE",
                started_by=deployment_id,
                networking_configuration=service.network_configuration or None,
                platform_version=PLATFORM_VERSION,
            )
            task.id = uuid.uuid4().hex  # Fargate task ids are 32 hex digits
            _provisioning(task, self.region, created_at or now_utc())
            task.cpu = definition.cpu
            task.memory = definition.memory
            backend.tasks.setdefault(self.cluster, {})[task.task_arn] = task
            return str(task.id)

    def task_pending(self, task_id: str) -> None:
        """PROVISIONING -> PENDING: the task has its network interface, its
        containers are not running yet (where a task waits for an image pull)."""
        with self.lock:
            self._task(task_id).last_status = "PENDING"

    def task_running(self, task_id: str) -> None:
        with self.lock:
            task = self._task(task_id)
            now = now_utc()
            task.pull_started_at = task.pull_stopped_at = now
            task.started_at = now
            task.last_status = "RUNNING"
            task.containers[0].last_status = "RUNNING"

    def task_healthy(self, task_id: str) -> None:
        with self.lock:
            task = self._task(task_id)
            task.health_status = "HEALTHY"
            task.containers[0].health_status = "HEALTHY"

    def task_stopping(self, task_id: str, reason: str, stop_code: str) -> None:
        with self.lock:
            task = self._task(task_id)
            task.desired_status = "STOPPED"
            task.last_status = "DEACTIVATING"
            task.stopping_at = now_utc()
            task.stopped_reason = reason
            task.stop_code = stop_code

    def task_stopped(
        self, task_id: str, exit_code: int | None, reason: str | None, stop_code: str | None
    ) -> None:
        """Final record; ``reason``/``stop_code`` of ``None`` keep what is there
        (set by ``task_stopping`` or by a StopTask call)."""
        with self.lock:
            task = self._task(task_id)
            now = now_utc()
            task.desired_status = "STOPPED"
            task.last_status = "STOPPED"
            task.execution_stopped_at = task.stopped_at = now
            if getattr(task, "stopping_at", None) is None:
                task.stopping_at = now
            if reason is not None or not task.stopped_reason:
                task.stopped_reason = reason or "Task stopped"
            if stop_code is not None or getattr(task, "stop_code", None) is None:
                task.stop_code = stop_code or "UserInitiated"
            container = task.containers[0]
            container.last_status = "STOPPED"
            # ECS gives a container a reason only when it could not run it as asked
            # (CannotPullContainerError, OutOfMemoryError): an exit says it by its code.
            container.exitCode = exit_code


def _every_container(task: Any, definition: Any) -> None:
    """ECS lists each container of the task definition; moto only the first."""
    for spec in definition.container_definitions[len(task.containers) :]:
        container = copy.copy(task.containers[0])
        container.container_arn = f"{definition.arn}/{uuid.uuid4()}"
        container.name, container.image = spec.get("name"), spec.get("image")
        container.cpu, container.memory = spec.get("cpu", 0), spec.get("memory")
        container.environment, container.command = spec.get("environment"), spec.get("command")
        task.containers.append(container)


_REFUSALS_INSTALLED = False


def _answer_refusals() -> None:
    """moto's RunTask response always says ``failures: []``: answer a refusal set
    by ``refuse_run_task`` with ECS's shape instead (once per process)."""
    global _REFUSALS_INSTALLED
    if _REFUSALS_INSTALLED:
        return
    from moto.core.responses import ActionResult
    from moto.ecs.responses import EC2ContainerServiceResponse

    original = EC2ContainerServiceResponse.run_task

    def run_task(self: Any) -> Any:
        reason = getattr(self.ecs_backend, "opskit_run_task_refusal", None)
        if not reason:
            return original(self)
        definition = self._get_param("taskDefinition")
        arn = f"arn:aws:ecs:{self.region}:{self.current_account}:task-definition/{definition}"
        return ActionResult({"tasks": [], "failures": [{"arn": arn, "reason": reason}]})

    EC2ContainerServiceResponse.run_task = run_task  # type: ignore[method-assign]
    _REFUSALS_INSTALLED = True


def _provisioning(task: Any, region: str, now: datetime.datetime) -> None:
    """A new Fargate task as ECS first describes it: PROVISIONING, its containers
    PENDING with no exit code (moto's Task starts RUNNING)."""
    task.last_status = "PROVISIONING"
    task.created_at = now
    task.availability_zone = f"{region}a"
    task.connectivity = "CONNECTED"
    task.connectivity_at = now
    task.health_status = "UNKNOWN"
    task.stopped_reason = None
    task.platform_family = "Linux"
    for container in task.containers:
        container.task_arn = task.task_arn
        container.exitCode = None
        container.last_status = "PENDING"
        container.health_status = "UNKNOWN"
