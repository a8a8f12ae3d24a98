"""Plays an ECS service's rollout for the ECS step tests, one move per call.

moto accepts ECS calls but runs no tasks and leaves deployments static. The
records are edited through ``opskit.sandbox.moto_ecs.EcsRecords``, the one
module that makes moto's records say what ECS would say (``UpdateService``
starts a new PRIMARY deployment ``IN_PROGRESS``, tasks carry ``startedBy``,
stopped reasons and exit codes); this driver only decides *what happens*:

- tasks started for a deployment, crashed (``Essential container in task
  exited``, exit code 1) or drained;
- rollout states: ``COMPLETED``, ``FAILED``, a circuit-breaker rollback;
- what ECS documents and moto does not show: reads right after ``UpdateService``
  that do not show it yet, listed tasks that ``DescribeTasks`` does not find yet,
  tasks left PROVISIONING/PENDING, placement-failure events, Spot reclaims and
  ELB health-check replacements, ``failedTasks`` counted as ECS counts it (reset
  at a deployment's first healthy task), a service's ``deploymentConfiguration``.

``tests.clocks.ScriptedClock`` runs one scenario move at each poll's sleep, so a test plays
a whole rollout with no real waiting. Only real API shapes reach the step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from opskit.ecs.names import stream_name
from opskit.sandbox.moto_ecs import EcsRecords
from opskit.sandbox.server import default_network
from tests.clocks import ScriptedClock

REGION = "us-east-1"
CLUSTER = "chatbot"
SERVICE = "chatbot"
FAMILY = "chatbot"
CONTAINER = "app"
LOG_GROUP = "/ecs/chatbot"
STREAM_PREFIX = "ecs"
IMAGE = "public.ecr.aws/chatbot/app:1"
CRASH_REASON = "Essential container in task exited"
EXITED = "EssentialContainerExited"
# ECS's words, as the Amazon ECS developer guide gives them.
SPOT_REASON = "Your Spot Task was interrupted."
TARGET_GROUP = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/chatbot/6d0ecf831eec9f09"
)
ELB_REASON = f"Task failed ELB health checks in (target-group {TARGET_GROUP})"
PULL_FAILED = (
    f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to "
    f"resolve ref {IMAGE}: not found"
)
NO_CAPACITY = (
    "was unable to place a task. Reason: Capacity is unavailable at this time. Please try "
    "again later or in a different availability zone."
)
NO_INSTANCE = (
    "was unable to place a task because no container instance met all of its requirements. "
    "The closest matching container-instance 5c3e2b1a has insufficient memory available."
)


def clock(*moves: Callable[[], Any]) -> ScriptedClock:
    """A ``ScriptedClock`` that starts at the real time, so that the records' real
    ``createdAt`` (a deployment's, a task's) and the clock's time agree: what
    happens at a move is stamped with ``at(clock)``."""
    return ScriptedClock(now=time.time(), script=list(moves))


def at(scripted: ScriptedClock, offset: float = 0.0) -> datetime:
    """The clock's time (plus ``offset`` seconds) as a record's timestamp."""
    return datetime.fromtimestamp(scripted.now + offset, tz=timezone.utc)


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


@dataclass(frozen=True)
class Task:
    """A task the driver started: its id, as the tests compare it with outputs."""

    id: str


class EcsDriver:
    """Plays a rollout of one service on its ``EcsRecords``."""

    def __init__(self, aws: Any, cluster: str = CLUSTER, service: str = SERVICE):
        self.aws = aws
        self.service_name = service
        self.records = EcsRecords(cluster=cluster, service=service, region=REGION)
        self.healthy: set[str] = set()  # deployments that had a healthy task

    def install(self, aws_like_update: bool = True) -> None:
        """Tasks keep the status we set and, unless told not to, ``UpdateService``
        answers as AWS does (moto's own renames its one deployment in place)."""
        self.records.install(update_service=aws_like_update)

    @staticmethod
    def uninstall() -> None:
        """Let moto's tasks advance again (its reset drops the rest of ``install``)."""
        EcsRecords(cluster=CLUSTER, service=SERVICE, region=REGION).uninstall_quietly()

    # --- reading --------------------------------------------------------------------

    @property
    def deployments(self) -> list[dict[str, Any]]:
        return self.records.deployments()

    def primary(self) -> dict[str, Any]:
        return next(d for d in self.deployments if d["status"] == "PRIMARY")

    def deployment(self, deployment_id: str | None = None) -> dict[str, Any]:
        if deployment_id is None:
            return self.primary()
        return next(d for d in self.deployments if d["id"] == deployment_id)

    def tasks(self, deployment_id: str | None = None) -> list[Task]:
        """The RUNNING tasks (of one deployment)."""
        return [Task(i) for i in self.records.task_ids(deployment_id)]

    # --- playing --------------------------------------------------------------------

    def _count(
        self, deployment_id: str, running: int = 0, failed: int = 0, pending: int = 0
    ) -> None:
        """Add to one deployment's counts; the others keep theirs. ``failedTasks``
        counts as ECS documents it (the Deployment shape in botocore's model): "the
        number of consecutively failed tasks ... Once a service deployment has one
        or more successfully running tasks, the failed task count resets to zero
        and stops being evaluated" -- here, once a task of it passed its health
        checks (``pass_health_checks``)."""
        counts = {
            d["id"]: (d["runningCount"], d["pendingCount"], d["failedTasks"])
            for d in self.deployments
        }
        was = counts[deployment_id]
        failures = 0 if deployment_id in self.healthy else was[2] + failed
        counts[deployment_id] = (was[0] + running, was[1] + pending, failures)
        self.records.set_counts(counts)

    def start_tasks(self, deployment_id: str | None = None, count: int | None = None) -> list[Task]:
        """Start RUNNING tasks for a deployment (the PRIMARY one, up to its desired count)."""
        deployment = self.deployment(deployment_id)
        if count is None:
            count = deployment["desiredCount"] - deployment["runningCount"]
        started = []
        for _ in range(count):
            task_id = self.records.create_task(deployment["id"], deployment["taskDefinition"])
            self.records.task_running(task_id)
            started.append(Task(task_id))
        self._count(deployment["id"], running=len(started))
        ids = ", ".join(f"task {t.id}" for t in started)
        self.records.add_event(f"has started {len(started)} tasks: ({ids}).")
        return started

    def pass_health_checks(self, deployment_id: str | None = None) -> None:
        """The deployment's RUNNING tasks pass their health checks (the load
        balancer's, the container's): its first success, so ECS resets its
        ``failedTasks`` to 0 and stops counting failures for it."""
        deployment = self.deployment(deployment_id)
        for task in self.tasks(deployment["id"]):
            self.records.task_healthy(task.id)
        self.healthy.add(deployment["id"])
        self._count(deployment["id"])

    def crash(self, deployment_id: str | None = None, exit_code: int = 1) -> Task:
        """One running task of the deployment exits: ECS stops it and counts a
        failure (before the deployment's first healthy task)."""
        deployment = self.deployment(deployment_id)
        task = self.tasks(deployment["id"])[0]
        self.records.task_stopped(task.id, exit_code, CRASH_REASON, "EssentialContainerExited")
        self._count(deployment["id"], running=-1, failed=1)
        self.records.add_event(f"has stopped 1 running tasks: (task {task.id}).")
        return task

    def drain_old(self) -> None:
        """Stop every task not started by the PRIMARY deployment; drop the other
        deployments (after moto's rename in place, the old task carries an id
        that no deployment has any more)."""
        primary = self.primary()
        reason = f"Scaling activity initiated by (deployment {primary['id']})"
        keep = set(self.records.task_ids(primary["id"]))
        for task_id in self.records.task_ids():
            if task_id not in keep:
                self.records.task_stopping(task_id, reason, "ServiceSchedulerInitiated")
                self.records.task_stopped(task_id, 0, None, None)
        for deployment in self.deployments:
            if deployment["id"] != primary["id"]:
                self.records.remove_deployment(deployment["id"])
        self._count(primary["id"])  # the service's counts are the PRIMARY's now

    def complete(self) -> None:
        primary = self.primary()
        self.records.update_deployment(
            primary["id"],
            rolloutState="COMPLETED",
            rolloutStateReason=f"ECS deployment {primary['id']} completed.",
        )
        self.records.add_event("has reached a steady state.")

    def roll_out(self) -> None:
        """The healthy path in one go: new tasks RUNNING, old ones drained, COMPLETED."""
        self.start_tasks()
        self.drain_old()
        self.complete()

    def fail(self, reason: str = "ECS deployment circuit breaker: tasks failed to start.") -> None:
        """The PRIMARY deployment FAILED with ``reason`` and no rollback."""
        primary = self.primary()
        self.records.update_deployment(
            primary["id"], rolloutState="FAILED", rolloutStateReason=reason
        )
        self.records.add_event(f"(deployment {primary['id']}) deployment failed: {reason}")

    def circuit_breaker_rollback(self) -> dict[str, Any]:
        """ECS's circuit breaker gives up on the PRIMARY deployment and rolls back
        to the previous one's task definition in a new PRIMARY deployment."""
        failed = self.primary()
        previous = next(d for d in self.deployments if d["id"] != failed["id"])
        self.records.update_deployment(
            failed["id"],
            rolloutState="FAILED",
            rolloutStateReason=(
                f"ECS deployment circuit breaker: rolling back to deploymentId {previous['id']}."
            ),
        )
        rollback = self.records.start_deployment(previous["taskDefinition"])
        self.records.add_event(
            f"(deployment {failed['id']}) deployment failed: tasks failed to start."
        )
        return self.deployment(rollback)

    def configure(self, **deployment_configuration: Any) -> None:
        """The service's ``deploymentConfiguration`` (``strategy``,
        ``bakeTimeInMinutes``, ``alarms``, ...) as DescribeServices will show it."""
        self.records.set_deployment_configuration(deployment_configuration)

    def stale_reads_after_update(self, reads: int) -> None:
        """The step's ``UpdateService`` is followed by ``reads`` DescribeServices
        that do not show it yet (ECS's API is eventually consistent)."""
        self.records.stale_reads_after_update(reads)

    def stale_reads(self, reads: int = 1) -> None:
        """The next ``reads`` DescribeServices show the service as before the step's
        ``UpdateService`` again, after reads that showed the new deployment."""
        self.records.stale_reads_now(reads)

    def hide(self, tasks: list[Task], reads: int = 1) -> None:
        """ListTasks lists these tasks, but their next ``reads`` DescribeTasks
        answer ``MISSING`` (not visible yet)."""
        self.records.hide_tasks([t.id for t in tasks], reads)

    def start_stuck(self, status: str = "PROVISIONING", created_at: datetime | None = None) -> Task:
        """A task of the PRIMARY deployment that stays PROVISIONING (or PENDING)."""
        deployment = self.primary()
        task_id = self.records.create_task(
            deployment["id"], deployment["taskDefinition"], created_at=created_at
        )
        if status == "PENDING":
            self.records.task_pending(task_id)
        self._count(deployment["id"], pending=1)
        return Task(task_id)

    def place(self, task: Task) -> None:
        """A task left PROVISIONING or PENDING by ``start_stuck`` reaches RUNNING
        (Fargate pulled its image and attached its network interface)."""
        self.records.task_running(task.id)
        self._count(self.primary()["id"], running=1, pending=-1)

    def stop_stuck(self, task: Task) -> None:
        """A task left PROVISIONING or PENDING stops before RUNNING (its image
        cannot be pulled): ECS counts it in ``failedTasks``."""
        self.records.task_stopping(task.id, PULL_FAILED, "TaskFailedToStart")
        self.records.task_stopped(task.id, None, None, None)
        self._count(self.primary()["id"], pending=-1, failed=1)

    def unable_to_place(self, created_at: datetime, message: str = NO_CAPACITY) -> None:
        """ECS's service scheduler could not place a task of the service."""
        self.records.add_event(message, created_at=created_at)

    def reclaim(self, deployment_id: str | None = None) -> Task:
        """Fargate Spot takes one running task of the deployment back. ECS does not
        count it in ``failedTasks`` (that counts tasks that cannot launch, never
        reach RUNNING, or fail health checks) and starts a replacement."""
        deployment = self.deployment(deployment_id)
        task = self.tasks(deployment["id"])[0]
        self.records.task_stopping(task.id, SPOT_REASON, "SpotInterruption")
        self.records.task_stopped(task.id, None, None, None)
        self._count(deployment["id"], running=-1)
        self.records.add_event(f"has stopped 1 running tasks: (task {task.id}).")
        return task

    def fail_elb_health_checks(self, deployment_id: str | None = None) -> Task:
        """The load balancer finds one running task unhealthy: ECS stops it and
        replaces it, counting it in ``failedTasks`` (it failed a defined health
        check) only before the deployment's first healthy task."""
        deployment = self.deployment(deployment_id)
        task = self.tasks(deployment["id"])[0]
        self.records.task_stopping(task.id, ELB_REASON, "ServiceSchedulerInitiated")
        self.records.task_stopped(task.id, None, None, None)
        self._count(deployment["id"], running=-1, failed=1)
        self.records.add_event(f"has stopped 1 running tasks: (task {task.id}).")
        return task

    def complete_leaving_old_task(self) -> None:
        """ECS's deployment record runs ahead of its tasks: COMPLETED, the old
        deployment gone from the list, while the old task is still RUNNING."""
        primary = self.primary()
        for deployment in self.deployments:
            if deployment["id"] != primary["id"]:
                self.records.remove_deployment(deployment["id"])
        self._count(primary["id"])
        self.complete()

    def deregister(self, revision: int) -> None:
        self.aws.client("ecs").deregister_task_definition(taskDefinition=f"{FAMILY}:{revision}")

    def put_logs(self, task: Task, lines: list[str], container: str = CONTAINER) -> None:
        logs = self.aws.client("logs")
        stream = stream_name(STREAM_PREFIX, container, task.id)
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        base = int(datetime.now(timezone.utc).timestamp() * 1000)
        logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": base + i, "message": line} for i, line in enumerate(lines)],
        )


def build_stack(
    aws: Any,
    *,
    desired: int = 1,
    controller: str = "ECS",
    aws_like_update: bool = True,
    **deployment_configuration: Any,
) -> EcsDriver:
    """Cluster, task definition, log group and a settled service with ``desired``
    old tasks RUNNING (deployment COMPLETED); returns its installed driver.
    ``deployment_configuration`` (``strategy=``, ``bakeTimeInMinutes=``, ...) is
    the service's, as DescribeServices shows it."""
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
        networkConfiguration=default_network(aws.client("ec2")),
    )
    driver = EcsDriver(aws)
    driver.install(aws_like_update)
    if deployment_configuration:
        driver.configure(**deployment_configuration)
    if controller == "ECS":
        (first,) = driver.deployments
        # moto counts the tasks it never starts as pending
        driver.records.set_counts({first["id"]: (0, 0, 0)})
        driver.start_tasks()
        driver.complete()
    return driver


def service_logging_to(aws: Any, group: str) -> tuple[Any, str]:
    """On moto as it is (no driver): cluster and service ``chatbot`` whose task
    definition's container ``app`` logs to ``group`` with stream prefix ``ecs``;
    the ECS client and the service's deployment id (to start tasks with)."""
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="chatbot")
    ecs.register_task_definition(
        family="chatbot",
        containerDefinitions=[
            {
                "name": "app",
                "image": "chatbot:latest",
                "memory": 512,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": group, "awslogs-stream-prefix": "ecs"},
                },
            }
        ],
    )
    ecs.create_service(cluster="chatbot", serviceName="chatbot", taskDefinition="chatbot")
    (service,) = ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"]
    return ecs, service["deployments"][0]["id"]


class OneOffDriver:
    """Plays the one-off task that ``ecs.run_task`` starts with RunTask, one move per
    call: each move acts on the newest task RunTask started (unknown before the step runs)."""

    def __init__(self, driver: EcsDriver):
        self.driver = driver
        self.records = driver.records

    def task(self) -> Task:
        ids = [
            *self.records.one_off_ids("PROVISIONING"),
            *self.records.one_off_ids("PENDING"),
            *self.records.one_off_ids("RUNNING"),
            *self.records.one_off_ids("STOPPED"),
        ]
        assert ids, "RunTask started no task yet"
        return Task(ids[-1])

    def pending(self) -> None:
        self.records.task_pending(self.task().id)

    def running(self, lines: list[str] | None = None) -> None:
        task = self.task()
        self.records.task_running(task.id)
        if lines:
            self.driver.put_logs(task, lines)

    def exit(self, code: int, lines: list[str] | None = None) -> None:
        """The essential container exits with ``code`` (after writing ``lines``)."""
        task = self.task()
        if lines:
            self.driver.put_logs(task, lines)
        self.records.task_stopped(task.id, code, CRASH_REASON, EXITED)

    def exit_each(self, codes: dict[str, int | None]) -> None:
        """The task's containers exit with these codes (``None``: no exit code) and
        the task stops because an essential container exited."""
        task = self.task()
        self.records.task_stopped(task.id, codes.get(CONTAINER), CRASH_REASON, EXITED)
        with self.records.lock:
            for container in self.records._task(task.id).containers:
                container.last_status = "STOPPED"
                container.exitCode = codes.get(container.name)

    def stopped_from_outside(self, stop_code: str, reason: str, code: int = 0) -> None:
        """Someone else stops the running task (a Spot interruption, a person's
        StopTask); its container handles SIGTERM and exits with ``code``."""
        task = self.task()
        self.records.task_stopping(task.id, reason, stop_code)
        self.records.task_stopped(task.id, code, None, None)

    def cannot_pull(self) -> None:
        """Fargate cannot pull the image: the task stops before RUNNING."""
        task = self.task()
        self.records.task_stopping(task.id, PULL_FAILED, "TaskFailedToStart")
        self.records.task_stopped(task.id, None, None, None)

    def desired_and_reason(self) -> tuple[str, str, str]:
        task = self.records._task(self.task().id)
        return str(task.desired_status), str(task.stopped_reason or ""), str(task.last_status)
