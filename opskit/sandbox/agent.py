"""The local ECS agent that plays Fargate for one service.

Driven only by what the service's records say, polled every ~0.1 s from
moto's backend in process, it does what the ECS scheduler does for a rolling
update (minimum healthy 100 %, maximum 200 %, circuit breaker with rollback):

- the PRIMARY deployment gets tasks until it has ``desiredCount`` of them;
- a task is RUNNING once its process started, and healthy once
  ``/_stcore/health`` answers 200 (the ALB's check); when the PRIMARY
  deployment has ``desiredCount`` healthy tasks the proxy moves to it, the
  older deployments' tasks are drained and stopped, and once they are gone
  the older deployments leave the list and the rollout is COMPLETED (the
  order in which ECS reports a rolling update);
- a task whose process exits is STOPPED with its exit code ("Essential
  container in task exited"); after ``failure_threshold`` such failures the
  deployment is FAILED and the last COMPLETED one is PRIMARY again, its task
  still serving;
- nothing else restarts anything: without a new deployment the old task
  keeps running the code it downloaded when it started.

Under the AWS faults in force (``aws_faults``): no task is placed while
placement fails (ECS's capacity event says why), a task that Spot reclaims is
stopped as Spot stops it once it is RUNNING (and replaced like any stopped
task), and each task that starts is announced to the stale-reads play.

Tasks started by RunTask (one-off tasks) run beside the service's, as
Fargate runs them: PROVISIONING -> PENDING -> RUNNING (process started) ->
STOPPED with the container's exit code (``EssentialContainerExited``); an
image the sandbox cannot pull stops the task before RUNNING
(``TaskFailedToStart``, ``CannotPullContainerError``); StopTask sends SIGTERM
(SIGKILL after the grace) and the task stops ``UserInitiated`` with the
reason given (``opskit.sandbox.one_off``).
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from opskit.sandbox.aws_faults.board import AwsFaultBoard
from opskit.sandbox.aws_faults.ecs_play import SPOT_REASON, SPOT_STOP_CODE, Placement
from opskit.sandbox.moto_ecs import CIRCUIT_BREAKER_REASON, EcsRecords
from opskit.sandbox.one_off import pull_failed, pullable
from opskit.sandbox.tasks import LogShipper, TaskProcess

log = logging.getLogger("opskit.sandbox")


class NativePlayer(Protocol):
    """What the agent asks of a native strategy's play (``native_play.NativePlay``)."""

    def tick(self, agent: Agent) -> bool: ...  # True: a service deployment ran this poll
    def routing(self) -> bool: ...  # whether it decides where connections go
    def route(self, listener: str) -> int | None: ...  # "production" | "test" -> a port


EXITED_REASON = "Essential container in task exited"
RUN_TASK_NO_CAPACITY = (
    "Capacity is unavailable at this time. Please try again later or in a different "
    "availability zone"
)
# Launches a task process: (task_id, deployment_id, container environment) -> process.
Launcher = Callable[[str, str, dict[str, str]], TaskProcess]
# Launches a one-off task: (task_id, container command, container environment) -> process.
OneOffLauncher = Callable[[str, list[str], dict[str, str]], TaskProcess]


class Agent:
    def __init__(
        self,
        records: EcsRecords,
        launcher: Launcher,
        shipper: LogShipper,
        *,
        interval: float = 0.1,
        failure_threshold: int = 3,
        health_timeout: float = 120.0,
        on_tasks_changed: Callable[[list[int]], None] | None = None,
        faults: AwsFaultBoard | None = None,
        one_off: OneOffLauncher | None = None,
        native: NativePlayer | None = None,
    ):
        self.records = records
        # On a BLUE_GREEN/LINEAR/CANARY service, the play of its service
        # deployments (``native_play``): it runs the release while one is under way.
        self.native = native
        self._launch_one_off = one_off
        self.one_offs: dict[str, TaskProcess] = {}
        self._faults = faults
        self._placement = Placement(faults, records.add_event)
        self._launch = launcher
        self._shipper = shipper
        self.interval = interval
        self.failure_threshold = failure_threshold
        self.health_timeout = health_timeout
        self._on_tasks_changed = on_tasks_changed
        self.tasks: dict[str, TaskProcess] = {}
        self.failures: Counter[str] = Counter()
        self._steady: set[str] = set()
        self._serving: TaskProcess | None = None
        self.polls = 0  # completed polls: lets callers wait for "a few polls later"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-agent", daemon=True)

    # -- public -------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def serving_port(self) -> int | None:
        """The port of the task the production proxy sends a new connection to
        (``None``: 503); during a native deployment, blue or green by the weights."""
        native = self.native
        if native is not None and native.routing():
            return native.route("production")
        serving = self._serving
        return serving.port if serving is not None else None

    def test_port(self) -> int | None:
        """The port the test listener sends a new connection to: green once the
        test traffic shifted, else the service's current revision."""
        native = self.native
        if native is not None and native.routing():
            return native.route("test")
        serving = self._serving
        return serving.port if serving is not None else None

    def stop(self, reason: str = "Task stopped because the sandbox is shutting down") -> None:
        """Stop the loop, then every task process (recorded STOPPED)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._serving = None
        for task in [*self.tasks.values(), *self.one_offs.values()]:
            task.request_stop()
        for task in [*self.tasks.values(), *self.one_offs.values()]:
            try:
                task.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                task.process.kill()
                task.process.wait()
            task.finish(self._shipper)
            self.records.task_stopped(task.task_id, task.exit_code(), reason, "UserInitiated")
        self.tasks.clear()
        self.one_offs.clear()
        self._tasks_changed()

    # -- the loop -----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - one bad poll must not end the service
                log.exception("sandbox agent: poll failed")
            self.polls += 1
            self._stop.wait(self.interval)

    def tick(self) -> None:
        """One poll: reap, check health, fail, launch, switch, drain, complete, count."""
        self._reap()
        self._run_one_offs()
        self._check_health()
        if self.native is not None and self.native.tick(self):
            deployments = self.records.deployments()
            self._serving = self._pick_serving(_primary(deployments))  # once it ends
            self.records.set_counts(self._counts(deployments))
            return
        deployments = self.records.deployments()
        primary = _primary(deployments)
        if primary is not None and self._maybe_fail(primary):
            deployments = self.records.deployments()
            primary = _primary(deployments)
        if primary is not None:
            self.launch_missing(primary)
        self._serving = self._pick_serving(primary)
        if (
            primary is not None
            and primary["rolloutState"] != "FAILED"
            and len(self.healthy_of(primary["id"])) >= primary["desiredCount"]
        ):
            self._drain(primary, deployments)
        self.records.set_counts(self._counts(self.records.deployments()))

    def _reap(self) -> None:
        for task in list(self.tasks.values()):
            code = task.exit_code()
            if code is None:
                stopped_through_api = self.records.desired_status(task.task_id) == "STOPPED"
                if task.stop_reason is None and stopped_through_api:
                    task.stop_reason = "stopped through the ECS API"  # StopTask: keep its reason
                    task.request_stop()
                continue
            del self.tasks[task.task_id]
            task.finish(self._shipper)
            if task.stop_reason is None:
                self.failures[task.deployment_id] += 1
                self.records.task_stopped(
                    task.task_id, code, EXITED_REASON, "EssentialContainerExited"
                )
            else:
                self.records.task_stopped(task.task_id, code, None, None)
            self.records.add_event(f"has stopped 1 running tasks: (task {task.task_id}).")
            self._tasks_changed()

    def _check_health(self) -> None:
        for task in self.tasks.values():
            if task.healthy or task.stop_reason is not None:
                continue
            if task.check_health():
                task.healthy = True
                self.records.task_healthy(task.task_id)
                if self._faults is not None and self._faults.spot_reclaims():
                    self.stop_task(task, SPOT_REASON, SPOT_STOP_CODE)
            elif time.monotonic() - task.started_at > self.health_timeout:
                # As an ALB target that never passes: ECS stops the task and counts a failure.
                self.failures[task.deployment_id] += 1
                self.stop_task(
                    task,
                    f"Task failed ELB health checks (no answer on port {task.port} "
                    f"after {self.health_timeout:.0f}s)",
                    "TaskFailedToStart",
                )

    def _maybe_fail(self, primary: dict[str, Any]) -> bool:
        if primary["rolloutState"] != "IN_PROGRESS":
            return False
        if self.failures[primary["id"]] < self.failure_threshold:
            return False
        self.records.set_counts(self._counts(self.records.deployments()))
        rolled_back_to = self.records.fail(primary["id"])
        reason = (
            f"Scaling activity initiated by (deployment {rolled_back_to})"
            if rolled_back_to
            else CIRCUIT_BREAKER_REASON
        )
        for task in self.tasks_of(primary["id"]):
            if task.stop_reason is None:
                self.stop_task(task, reason, "ServiceSchedulerInitiated")
        return True

    def launch_missing(self, primary: dict[str, Any]) -> None:
        if primary["rolloutState"] == "FAILED":
            return  # no rollback target: the circuit breaker stopped trying
        live = [t for t in self.tasks_of(primary["id"]) if t.stop_reason is None]
        missing = primary["desiredCount"] - len(live)
        if missing > 0 and self._placement.places():
            for _ in range(missing):
                self.start_task(primary)
        for task in live[primary["desiredCount"] :]:  # scaled in
            self.stop_task(
                task,
                f"Scaling activity initiated by (deployment {primary['id']})",
                "ServiceSchedulerInitiated",
            )

    def start_task(self, deployment: dict[str, Any]) -> None:
        deployment_id = deployment["id"]
        task_id = self.records.create_task(deployment_id, deployment["taskDefinition"])
        if self._faults is not None:
            self._faults.task_started(task_id)
        environment = self.records.container_environment(deployment["taskDefinition"])
        try:
            task = self._launch(task_id, deployment_id, environment)
        except OSError as err:
            self.failures[deployment_id] += 1
            self.records.task_stopped(
                task_id, None, f"CannotStartContainerError: {err}", "TaskFailedToStart"
            )
            return
        self.tasks[task_id] = task
        self.records.task_running(task_id)
        self.records.add_event(f"has started 1 tasks: (task {task_id}).")
        self._tasks_changed()

    def _drain(self, primary: dict[str, Any], deployments: list[dict[str, Any]]) -> None:
        """The PRIMARY deployment is healthy: stop the older tasks (the proxy has
        moved already); once they are gone, the older deployments leave the list
        and the rollout is COMPLETED, in the order ECS reports it."""
        reason = f"Scaling activity initiated by (deployment {primary['id']})"
        draining = [
            t
            for t in self.tasks.values()
            if t.deployment_id != primary["id"] and t.stop_reason is None
        ]
        if draining:
            self.records.add_event(f"has begun draining connections on {len(draining)} tasks.")
        for task in draining:
            self.stop_task(task, reason, "ServiceSchedulerInitiated")
        remaining = {t.deployment_id for t in self.tasks.values()} - {primary["id"]}
        if remaining:
            return
        for d in deployments:
            if d["status"] != "PRIMARY" and d.get("rolloutState") != "FAILED":
                self.records.remove_deployment(d["id"])
        if primary["rolloutState"] == "IN_PROGRESS":
            self.records.complete(primary["id"])
        if primary["id"] not in self._steady:
            self._steady.add(primary["id"])
            self.records.add_event("has reached a steady state.")

    def stop_task(self, task: TaskProcess, reason: str, stop_code: str) -> None:
        task.stop_reason = reason
        if self._serving is task:
            self._serving = None
        self.records.task_stopping(task.task_id, reason, stop_code)
        task.request_stop()

    # -- one-off tasks (RunTask) ----------------------------------------------------

    def _run_one_offs(self) -> None:
        if self._launch_one_off is None:
            return
        # Under the placement fault, RunTask answers with a failures entry, as
        # Fargate does when it has no capacity (each RunTask is one attempt).
        refuse = self._faults is not None and self._faults.placement_in_force()
        self.records.refuse_run_task(RUN_TASK_NO_CAPACITY if refuse else None)
        for task in list(self.one_offs.values()):
            code = task.exit_code()
            stopped_through_api = self.records.desired_status(task.task_id) == "STOPPED"
            if code is None:
                if stopped_through_api and task.stop_reason is None:
                    task.stop_reason = "StopTask"
                    task.request_stop()
                continue
            del self.one_offs[task.task_id]
            task.finish(self._shipper)
            if task.stop_reason is None:
                self.records.task_stopped(
                    task.task_id, code, EXITED_REASON, "EssentialContainerExited"
                )
            else:
                self.records.task_stopped(task.task_id, code, None, None)
        for task_id in self.records.one_off_ids("PROVISIONING"):
            self._start_one_off(task_id)

    def _start_one_off(self, task_id: str) -> None:
        assert self._launch_one_off is not None
        if self.records.desired_status(task_id) == "STOPPED":  # stopped before it ran
            self.records.task_stopped(task_id, None, None, None)
            return
        self.records.task_pending(task_id)
        image, command, environment = self.records.one_off_container(task_id)
        if not pullable(image):
            self.records.task_stopping(task_id, pull_failed(image), "TaskFailedToStart")
            self.records.task_stopped(task_id, None, None, None)
            return
        try:
            task = self._launch_one_off(task_id, command, environment)
        except OSError as err:
            self.records.task_stopped(
                task_id, None, f"CannotStartContainerError: {err}", "TaskFailedToStart"
            )
            return
        self.one_offs[task_id] = task
        self.records.task_running(task_id)

    # -- helpers ------------------------------------------------------------------

    def tasks_of(self, deployment_id: str) -> list[TaskProcess]:
        return [t for t in self.tasks.values() if t.deployment_id == deployment_id]

    def healthy_of(self, deployment_id: str) -> list[TaskProcess]:
        return [t for t in self.tasks_of(deployment_id) if t.healthy and t.stop_reason is None]

    def _pick_serving(self, primary: dict[str, Any] | None) -> TaskProcess | None:
        """A healthy task of the PRIMARY deployment, else any healthy task (the
        ALB keeps the old targets until they are drained)."""
        if primary is not None:
            healthy = self.healthy_of(primary["id"])
            if healthy:
                return healthy[0]
        others = [t for t in self.tasks.values() if t.healthy and t.stop_reason is None]
        return others[0] if others else None

    def _counts(self, deployments: list[dict[str, Any]]) -> dict[str, tuple[int, int, int]]:
        counts = {}
        for d in deployments:
            tasks = [t for t in self.tasks_of(d["id"]) if t.stop_reason is None]
            # RUNNING from process start, as ECS counts a started container.
            counts[d["id"]] = (len(tasks), 0, self.failures[d["id"]])
        return counts

    def _tasks_changed(self) -> None:
        if self._on_tasks_changed is not None:
            self._on_tasks_changed([t.pid for t in self.tasks.values()])


def _primary(deployments: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((d for d in deployments if d["status"] == "PRIMARY"), None)
