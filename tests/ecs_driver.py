"""Plays an ECS service's rollout in moto's records, in process, for tests.

moto accepts ECS calls but runs no tasks and leaves deployments static (its
``update_service(forceNewDeployment=True)`` even renames the one deployment in
place). The tests run moto's ``ThreadedMotoServer`` in this process, so this
driver edits the backend's records directly to play what AWS would show:

- ``update_service`` behaves as on AWS: a new PRIMARY deployment
  (``IN_PROGRESS``) next to the old one, now ``ACTIVE``;
- tasks are created with ``startedBy`` = the deployment id, started, crashed
  (``Essential container in task exited``, exit code 1) or drained;
- rollout states: ``COMPLETED``, ``FAILED``, a circuit-breaker rollback.

``ScriptedClock`` runs one scenario action at each poll's sleep, so a test
plays a whole rollout with no real waiting. Only real API shapes reach the
step; nothing here is visible to it except through the ECS API.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from opskit.clock import FakeClock

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
CLUSTER = "chatbot"
SERVICE = "chatbot"
FAMILY = "chatbot"
CONTAINER = "app"
LOG_GROUP = "/ecs/chatbot"
STREAM_PREFIX = "ecs"
IMAGE = "public.ecr.aws/chatbot/app:1"
CRASH_REASON = "Essential container in task exited"


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def container_definition(image: str = IMAGE, name: str = CONTAINER) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "essential": True,
        "memory": 512,
        "environment": [{"name": "APP_ENV", "value": "sandbox"}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": LOG_GROUP,
                "awslogs-stream-prefix": STREAM_PREFIX,
                "awslogs-region": REGION,
            },
        },
    }


def register(ecs: Any, image: str = IMAGE, **extra: Any) -> str:
    response = ecs.register_task_definition(
        family=FAMILY,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[container_definition(image)],
        **extra,
    )
    return response["taskDefinition"]["taskDefinitionArn"]


@dataclass
class ScriptedClock(FakeClock):
    """A ``FakeClock`` whose every sleep plays the next scenario action first."""

    script: list[Callable[[], None]] = field(default_factory=list)

    def sleep(self, seconds: float, cancel: Any = None) -> None:
        super().sleep(seconds, cancel)
        if self.script:
            self.script.pop(0)()


class CallRecorder:
    """Records the operation names a boto3 client sends (``before-call`` hook)."""

    def __init__(self, client: Any):
        self.names: list[str] = []
        client.meta.events.register("before-call", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)

    @property
    def writes(self) -> list[str]:
        return [n for n in self.names if not n.startswith(("Describe", "List", "Get"))]


class EcsDriver:
    """Edits moto's ECS records for one service to play a rollout."""

    def __init__(self, aws: Any, cluster: str = CLUSTER, service: str = SERVICE):
        self.aws = aws
        self.cluster = cluster
        self.service_name = service
        self._counter = 0

    # --- moto internals --------------------------------------------------------------

    @property
    def backend(self) -> Any:
        from moto.backends import get_backend

        return get_backend("ecs")[ACCOUNT][REGION]

    @property
    def service(self) -> Any:
        return self.backend.services[f"{self.cluster}:{self.service_name}"]

    def install(self, aws_like_update: bool = True) -> None:
        """Make tasks keep the status we set (moto advances it on each describe
        otherwise) and, unless told not to, make ``update_service`` answer as AWS
        does (moto renames its one deployment in place)."""
        from moto.moto_api import state_manager

        state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})
        if not aws_like_update:
            return
        backend = self.backend
        original = backend.update_service

        def update_service(properties: dict[str, Any]) -> Any:
            asked = dict(properties)
            svc = self.service
            before = copy.deepcopy(svc.deployments)
            before_definition = svc.task_definition
            result = original(properties)
            if asked.get("task_definition"):
                definition = backend.describe_task_definition(asked["task_definition"])
                result.task_definition = definition.arn
            changed = result.task_definition != before_definition
            if asked.get("force_new_deployment") or changed:
                for deployment in before:
                    deployment["status"] = "ACTIVE"
                result.deployments = [self._new_deployment(result.task_definition), *before]
            else:
                result.deployments = before
            return result

        backend.update_service = update_service

    @staticmethod
    def uninstall() -> None:
        from moto.moto_api import state_manager

        state_manager.unset_transition("ecs::task")

    def _new_deployment(self, task_definition: str) -> dict[str, Any]:
        from moto.moto_api._internal import mock_random

        deployment_id = f"ecs-svc/{mock_random.randint(10**17, 10**18)}"
        now = _now()
        return {
            "id": deployment_id,
            "status": "PRIMARY",
            "taskDefinition": task_definition,
            "desiredCount": self.service.desired_count,
            "pendingCount": 0,
            "runningCount": 0,
            "failedTasks": 0,
            "createdAt": now,
            "updatedAt": now,
            "launchType": "FARGATE",
            "platformFamily": "FARGATE",
            "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
        }

    # --- reading --------------------------------------------------------------------

    @property
    def deployments(self) -> list[dict[str, Any]]:
        return self.service.deployments

    def primary(self) -> dict[str, Any]:
        return next(d for d in self.deployments if d["status"] == "PRIMARY")

    def deployment(self, deployment_id: str | None = None) -> dict[str, Any]:
        if deployment_id is None:
            return self.primary()
        return next(d for d in self.deployments if d["id"] == deployment_id)

    def tasks(self, deployment_id: str | None = None, status: str | None = "RUNNING") -> list[Any]:
        tasks = list(self.backend.tasks.get(self.cluster, {}).values())
        if deployment_id is not None:
            tasks = [t for t in tasks if t.started_by == deployment_id]
        if status is not None:
            tasks = [t for t in tasks if t.desired_status == status]
        return tasks

    # --- playing --------------------------------------------------------------------

    def event(self, message: str) -> None:
        self._counter += 1
        entry = {"id": f"event-{self._counter}", "createdAt": _now(), "message": message}
        self.service.events.insert(0, entry)  # ECS lists newest first

    def _sync(self) -> None:
        svc = self.service
        svc.running_count = sum(d["runningCount"] for d in svc.deployments)
        svc.pending_count = sum(d["pendingCount"] for d in svc.deployments)
        for d in svc.deployments:
            d["updatedAt"] = _now()

    def start_tasks(
        self, deployment_id: str | None = None, count: int | None = None, status: str = "RUNNING"
    ) -> list[Any]:
        """Start tasks for a deployment (the PRIMARY one by default)."""
        deployment = self.deployment(deployment_id)
        if count is None:
            count = deployment["desiredCount"] - deployment["runningCount"]
        backend = self.backend
        definition = backend.describe_task_definition(deployment["taskDefinition"])
        # moto 5.2.5's awsvpc task creation fails (NetworkInterface has no
        # private_dns_name), so the task is created as bridge; no API shape the
        # step reads depends on it.
        mode, definition.network_mode = definition.network_mode, "bridge"
        try:
            tasks = backend.run_task(
                self.cluster, definition.arn, count, None, deployment["id"], None, "FARGATE",
                group=f"service:{self.service_name}",
            )  # fmt: skip
        finally:
            definition.network_mode = mode
        for task in tasks:
            task.status = status
            task.created_at = _now()
            if status == "RUNNING":
                task.started_at = _now()
                task.containers[0].last_status = "RUNNING"
        key = "runningCount" if status == "RUNNING" else "pendingCount"
        deployment[key] += len(tasks)
        self._sync()
        ids = ", ".join(f"task {t.id}" for t in tasks)
        self.event(f"(service {self.service_name}) has started {len(tasks)} tasks: ({ids}).")
        return tasks

    def run_pending(self, deployment_id: str | None = None) -> None:
        deployment = self.deployment(deployment_id)
        for task in self.tasks(deployment["id"]):
            if task.status == "PENDING":
                task.status = "RUNNING"
                task.started_at = _now()
                deployment["pendingCount"] -= 1
                deployment["runningCount"] += 1
        self._sync()

    def stop_task(
        self,
        task: Any,
        reason: str,
        *,
        exit_code: int | None = None,
        container_reason: str | None = None,
        stop_code: str = "EssentialContainerExited",
    ) -> None:
        was_running = task.status == "RUNNING"
        task.status = "STOPPED"
        task.desired_status = "STOPPED"
        task.stopped_reason = reason
        task.stop_code = stop_code
        task.stopped_at = _now()
        container = task.containers[0]
        container.last_status = "STOPPED"
        container.exitCode = exit_code
        if container_reason:
            container.reason = container_reason
        for d in self.deployments:
            if d["id"] == task.started_by:
                d["runningCount" if was_running else "pendingCount"] -= 1
        self._sync()

    def crash(self, deployment_id: str | None = None, exit_code: int = 1) -> Any:
        """One running task of the deployment exits: ECS stops it and counts a failure."""
        deployment = self.deployment(deployment_id)
        task = self.tasks(deployment["id"])[0]
        self.stop_task(task, CRASH_REASON, exit_code=exit_code)
        deployment["failedTasks"] += 1
        self.event(f"(service {self.service_name}) has stopped 1 running tasks: (task {task.id}).")
        return task

    def drain_old(self) -> None:
        """Stop the tasks of every non-PRIMARY deployment and drop those deployments."""
        primary = self.primary()
        reason = f"Scaling activity initiated by (deployment {primary['id']})"
        for task in self.tasks():
            if task.started_by != primary["id"]:
                self.stop_task(task, reason, exit_code=0, stop_code="ServiceSchedulerInitiated")
        self.service.deployments = [primary]
        self._sync()

    def complete(self) -> None:
        primary = self.primary()
        primary["rolloutState"] = "COMPLETED"
        primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
        self.event(f"(service {self.service_name}) has reached a steady state.")

    def roll_out(self) -> None:
        """The healthy path in one go: new tasks RUNNING, old ones drained, COMPLETED."""
        self.start_tasks()
        self.drain_old()
        self.complete()

    def fail(self, reason: str = "ECS deployment circuit breaker: tasks failed to start.") -> None:
        primary = self.primary()
        primary["rolloutState"] = "FAILED"
        primary["rolloutStateReason"] = reason
        self.event(f"(service {self.service_name}) (deployment {primary['id']}) failed.")

    def circuit_breaker_rollback(self) -> dict[str, Any]:
        """ECS's circuit breaker gives up on the PRIMARY deployment and rolls back
        to the previous one's task definition in a new PRIMARY deployment."""
        failed = self.primary()
        previous = next(d for d in self.deployments if d["id"] != failed["id"])
        failed["status"] = "ACTIVE"
        failed["rolloutState"] = "FAILED"
        failed["rolloutStateReason"] = (
            f"ECS deployment circuit breaker: rolling back to deploymentId {previous['id']}."
        )
        rollback = self._new_deployment(previous["taskDefinition"])
        self.service.deployments.insert(0, rollback)
        self.service.task_definition = previous["taskDefinition"]
        self.event(
            f"(service {self.service_name}) deployment {failed['id']} deployment failed: "
            "tasks failed to start."
        )
        return rollback

    def put_logs(self, task: Any, lines: list[str], container: str = CONTAINER) -> None:
        logs = self.aws.client("logs")
        stream = f"{STREAM_PREFIX}/{container}/{task.id}"
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        base = int(_now().replace(tzinfo=timezone.utc).timestamp() * 1000)
        logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": base + i, "message": line} for i, line in enumerate(lines)],
        )


def build_stack(
    aws: Any, *, desired: int = 1, controller: str = "ECS", aws_like_update: bool = True
) -> EcsDriver:
    """Cluster, task definition, log group and a settled service with ``desired``
    old tasks RUNNING (deployment COMPLETED); returns its installed driver."""
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    aws.client("logs").create_log_group(logGroupName=LOG_GROUP)
    register(ecs)
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition=FAMILY,
        desiredCount=desired,
        launchType="FARGATE",
        deploymentController={"type": controller},
    )
    driver = EcsDriver(aws)
    driver.install(aws_like_update)
    if controller == "ECS":
        driver.primary()["pendingCount"] = 0  # moto counts tasks it never starts as pending
        driver.start_tasks()
        driver.complete()
    return driver
