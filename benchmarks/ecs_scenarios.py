"""The ECS side of the redeploy benchmark: a settled service in moto, and four
rollouts played on whatever deployment a tool's ``UpdateService`` creates.

moto runs in the benchmark's process (``ThreadedMotoServer``) so that a scenario
thread can edit its ECS records while a tool, in its own process, polls them
through the API. The record edits go through ``opskit.sandbox.moto_ecs`` (the
one module that knows how to make moto's records say what ECS would say); this
module only decides *what happens when*, as ECS would play each scenario.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from opskit.ecs.names import stream_name
from opskit.sandbox.moto_ecs import EcsRecords
from opskit.sandbox.server import (
    DEPLOYMENT_CONFIGURATION,
    NAMES,
    REGION,
    default_network,
    task_definition,
)

CLUSTER = NAMES["cluster"]
SERVICE = NAMES["service"]
CONTAINER = NAMES["container"]
LOG_GROUP = NAMES["log_group"]
STREAM_PREFIX = NAMES["stream_prefix"]
CRASH_REASON = "Essential container in task exited"
INCIDENT_ERROR = "AttributeError: 'BedrockRuntime' object has no attribute 'list_foundation_models'"

HEALTHY_LINES = [
    "Starting chatbot on port 8501",
    "code digest 3f2a verified",
    "Bedrock Runtime health check passed",
]
INCIDENT_LINES = [
    "Starting chatbot on port 8501",
    "code digest 3f2a verified",
    "Traceback (most recent call last):",
    '  File "/app/src/app.py", line 42, in <module>',
    "    models = client.list_foundation_models()",
    INCIDENT_ERROR,
]
CRASH_LINES = [
    "Starting chatbot on port 8501",
    "fatal: BEDROCK_MODEL_ID is not set; exiting with code 1",
]


def create_stack(clients: Callable[[str], Any]) -> EcsRecords:
    """Log group, cluster, the stack's task definition and a service with one RUNNING
    "old" task of a COMPLETED deployment. Expects a freshly reset moto."""
    clients("logs").create_log_group(logGroupName=LOG_GROUP)
    ecs = clients("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.register_task_definition(**task_definition())  # the stack's, as users deploy it
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition=SERVICE,
        desiredCount=1,
        launchType="FARGATE",
        deploymentController={"type": "ECS"},
        networkConfiguration=default_network(clients("ec2")),
    )
    records = EcsRecords(cluster=CLUSTER, service=SERVICE, region=REGION)
    records.install(DEPLOYMENT_CONFIGURATION)
    (first,) = records.deployments()
    task = records.create_task(first["id"], first["taskDefinition"])
    records.task_running(task)
    records.set_counts({first["id"]: (1, 0, 0)})
    records.complete(first["id"])
    return records


@dataclass
class Rollout:
    """Plays one scenario on the first new deployment that appears on the service."""

    records: EcsRecords
    clients: Callable[[str], Any]
    scenario: str
    step: float = 2.0  # ECS's pace: a task starts, a crash repeats, a rollback comes
    stop: threading.Event = field(default_factory=threading.Event)
    deployment_id: str | None = None
    detected_at: float | None = None  # time.perf_counter() when the deployment appeared
    error: str | None = None

    def __post_init__(self) -> None:
        (self.old,) = self.records.deployments()
        self.old_task = self.records.task_ids(self.old["id"])[0]
        self._thread = threading.Thread(target=self._run, name="rollout", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        self.stop.set()
        self._thread.join(10)

    # -- playing ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            if not self._await_deployment():
                return
            play = {
                "healthy": self._healthy,
                "rollback": self._rollback,
                "rollback-listed": self._rollback,
                "crash-loop": self._crash_loop,
                "error-in-logs": self._error_in_logs,
            }[self.scenario]
            play()
        except Exception as err:  # noqa: BLE001 - reported in the table, not lost in a thread
            self.error = f"{type(err).__name__}: {err}"

    def _await_deployment(self) -> bool:
        while not self.stop.is_set():
            primary = next(d for d in self.records.deployments() if d["status"] == "PRIMARY")
            if primary["id"] != self.old["id"]:
                self.deployment_id = primary["id"]
                self.new_definition = primary["taskDefinition"]
                self.detected_at = time.perf_counter()
                return True
            time.sleep(0.05)
        return False

    def _at(self, offset: float) -> bool:
        """Sleep until ``offset`` seconds after the deployment appeared; False if stopped."""
        assert self.detected_at is not None
        return not self.stop.wait(max(0.0, self.detected_at + offset - time.perf_counter()))

    def _healthy(self, lines: list[str] = HEALTHY_LINES) -> None:
        new = self.deployment_id
        assert new is not None
        if not self._at(0.5):
            return
        task = self.records.create_task(new, self.new_definition)
        self.records.set_counts({new: (0, 1, 0), self.old["id"]: (1, 0, 0)})
        self.records.add_event(f"has started 1 tasks: (task {task}).")
        if not self._at(self.step):
            return
        self.records.task_running(task)
        self.put_logs(task, lines)
        self.records.set_counts({new: (1, 0, 0), self.old["id"]: (1, 0, 0)})
        if not self._at(self.step + 0.5):
            return
        self.records.task_stopping(
            self.old_task,
            f"Scaling activity initiated by (deployment {new})",
            "ServiceSchedulerInitiated",
        )
        self.records.add_event("has begun draining connections on 1 tasks.")
        if not self._at(self.step + 1.0):
            return
        self.records.task_stopped(self.old_task, 0, None, None)
        self.records.add_event(f"has stopped 1 running tasks: (task {self.old_task}).")
        self.records.remove_deployment(self.old["id"])
        self.records.set_counts({new: (1, 0, 0)})
        self.records.complete(new)
        self.records.add_event("has reached a steady state.")

    def _error_in_logs(self) -> None:
        self._healthy(INCIDENT_LINES)

    def _rollback(self) -> None:
        """The circuit breaker gives up on the new deployment: FAILED with its reason,
        the previous (COMPLETED) deployment PRIMARY again; once settled, ECS drops
        the failed deployment, which has no tasks left ("rollback-listed": it stays
        listed, ACTIVE with no tasks, for as long as the tool runs)."""
        new, old = self.deployment_id, self.old["id"]
        reason = f"ECS deployment circuit breaker: rolling back to deploymentId {old}."
        if not self._at(self.step):
            return
        self.records.update_deployment(
            new,
            status="ACTIVE",
            desiredCount=0,
            rolloutState="FAILED",
            rolloutStateReason=reason,
        )
        self.records.promote(
            old, rolloutState="IN_PROGRESS", rolloutStateReason=f"ECS deployment {old} in progress."
        )
        self.records.add_event(f"(deployment {new}) deployment failed: tasks failed to start.")
        self.records.add_event(f"rolling back to deployment {old}.")
        if not self._at(self.step * 3):
            return
        if self.scenario == "rollback":
            self.records.remove_deployment(new)
        self.records.complete(old)
        self.records.add_event("has reached a steady state.")

    def _crash_loop(self) -> None:
        """Each new task starts, runs a moment and exits 1; ECS starts the next one.
        The deployment stays IN_PROGRESS (no circuit breaker verdict within the cap)."""
        new = self.deployment_id
        assert new is not None
        failed = 0
        offset = 0.5
        while True:
            if not self._at(offset):
                return
            task = self.records.create_task(new, self.new_definition)
            self.records.set_counts({new: (0, 1, failed), self.old["id"]: (1, 0, 0)})
            self.records.add_event(f"has started 1 tasks: (task {task}).")
            if not self._at(offset + 0.5):
                return
            self.records.task_running(task)
            self.put_logs(task, CRASH_LINES)
            self.records.set_counts({new: (1, 0, failed), self.old["id"]: (1, 0, 0)})
            if not self._at(offset + self.step):
                return
            self.records.task_stopped(task, 1, CRASH_REASON, "EssentialContainerExited")
            failed += 1
            self.records.set_counts({new: (0, 0, failed), self.old["id"]: (1, 0, 0)})
            self.records.add_event(f"has stopped 1 running tasks: (task {task}).")
            offset += self.step

    # -- helpers ------------------------------------------------------------------

    def put_logs(self, task: str, lines: list[str]) -> None:
        logs = self.clients("logs")
        stream = stream_name(STREAM_PREFIX, CONTAINER, task)
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        base = int(datetime.now(timezone.utc).timestamp() * 1000)
        logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": base + i, "message": line} for i, line in enumerate(lines)],
        )
