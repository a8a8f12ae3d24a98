"""One ECS service of the sandbox: its records, the agent that plays Fargate
for it, the shipper of its tasks' lines to its own log group, and its own
stable URL (the proxy, as its load balancer).

A sandbox has one or more of these in the same moto server, bucket and
cluster; each one's tasks, logs and URL are its own, as for separate services
on ECS.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from opskit.ecs.names import stream_name, task_id_of
from opskit.sandbox.agent import Agent
from opskit.sandbox.aws_faults.board import AwsFaultBoard
from opskit.sandbox.moto_ecs import ACCOUNT_ID, EcsRecords
from opskit.sandbox.native_config import ROLLING, deployment_configuration, minute_seconds
from opskit.sandbox.native_play import NativePlay
from opskit.sandbox.one_off import local_command
from opskit.sandbox.ports import free_port
from opskit.sandbox.proxy import TcpProxy
from opskit.sandbox.server import REGION
from opskit.sandbox.tasks import LogShipper, TaskProcess, launch

# (the task definition's container environment, the task's port) -> the process's env
TaskEnvironment = Callable[[dict[str, str], int], dict[str, str]]


class ServiceSide:
    def __init__(
        self,
        names: dict[str, str],
        app_port: int,
        *,
        command: list[str],
        task_environment: TaskEnvironment,
        failure_threshold: int,
        health_timeout: float,
        on_tasks_changed: Callable[[], None],
        faults: AwsFaultBoard | None = None,
        strategy: str = ROLLING,
        test_port: int = 0,
    ):
        self.names = names
        self.faults = faults
        self.strategy = strategy
        self.records = EcsRecords(cluster=names["cluster"], service=names["service"], region=REGION)
        self.proxy = TcpProxy(app_port, self.serving_port)
        # The test listener (a native strategy's): green once the test traffic shifted.
        self.test_proxy = TcpProxy(test_port, self.test_port) if strategy != ROLLING else None
        self.native: NativePlay | None = None
        self.agent: Agent | None = None
        self.shipper: LogShipper | None = None
        self._command = command
        self._task_environment = task_environment
        self._failure_threshold = failure_threshold
        self._health_timeout = health_timeout
        self._on_tasks_changed = on_tasks_changed

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"

    @property
    def test_url(self) -> str:
        return f"http://127.0.0.1:{self.test_proxy.port}" if self.test_proxy is not None else ""

    def describe(self) -> dict[str, str]:
        """Its names and URLs, as runs and ``opskit sandbox status`` show them."""
        described = {**self.names, "app_url": self.app_url}
        if self.test_proxy is not None:
            described.update(test_url=self.test_url, strategy=self.strategy)
        return described

    def start_proxies(self) -> None:
        self.proxy.start()
        if self.test_proxy is not None:
            self.test_proxy.start()

    def start(self, logs_client: Any) -> None:
        """After its resources exist: take over its records, ship its logs, start its agent."""
        self.records.install(deployment_configuration(self.strategy))
        if self.strategy != ROLLING:
            self.native = NativePlay(
                self.records, minute=minute_seconds(), region=REGION, account_id=ACCOUNT_ID
            )
        self.shipper = LogShipper(logs_client, self.names["log_group"], faults=self.faults)
        self.shipper.start()
        self.agent = Agent(
            self.records,
            self._launch,
            self.shipper,
            failure_threshold=self._failure_threshold,
            health_timeout=self._health_timeout,
            on_tasks_changed=lambda _pids: self._on_tasks_changed(),
            faults=self.faults,
            one_off=self._launch_one_off,
            native=self.native,
        )
        self.agent.start()

    def stop(self) -> None:
        """Stop its tasks, shipper and proxy; safe to call twice."""
        if self.agent is not None:
            self.agent.stop()
            self.agent = None
        if self.shipper is not None:
            self.shipper.stop()
            self.shipper = None
        self.proxy.stop()
        if self.test_proxy is not None:
            self.test_proxy.stop()
        self.records.uninstall_quietly()

    def task_pids(self) -> list[int]:
        agent = self.agent
        return [task.pid for task in agent.tasks.values()] if agent is not None else []

    def serving_port(self) -> int | None:
        agent = self.agent
        return agent.serving_port() if agent is not None else None

    def test_port(self) -> int | None:
        agent = self.agent
        return agent.test_port() if agent is not None else None

    def rollout_state(self) -> str:
        deployments = self.records.deployments()
        return deployments[0]["rolloutState"] if deployments else "IN_PROGRESS"

    def _launch(self, task_id: str, deployment_id: str, environment: dict[str, str]) -> TaskProcess:
        assert self.shipper is not None
        port = free_port()
        return launch(
            task_id=task_id,
            deployment_id=deployment_id,
            command=self._command,
            env=self._task_environment(environment, port),
            port=port,
            stream=stream_name(self.names["stream_prefix"], self.names["container"], task_id),
            shipper=self.shipper,
        )

    def _launch_one_off(
        self, task_id: str, command: list[str], environment: dict[str, str]
    ) -> TaskProcess:
        """A RunTask task: the container's command as this machine runs it."""
        assert self.shipper is not None
        port = free_port()
        return launch(
            task_id=task_id,
            deployment_id="",
            command=local_command(command, Path(self._command[-1])),
            env=self._task_environment(environment, port),
            port=port,
            stream=stream_name(self.names["stream_prefix"], self.names["container"], task_id),
            shipper=self.shipper,
        )

    def why(self, ecs: Any, logs: Any) -> str:
        """The last stopped task's reason and its last log lines, for an error."""
        cluster, service = self.names["cluster"], self.names["service"]
        arns = ecs.list_tasks(cluster=cluster, family=service)["taskArns"]  # family = service
        if not arns:
            return f"service {service}: no task was started"
        tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
        last = max(tasks, key=lambda t: t["createdAt"])
        task_id = task_id_of(last["taskArn"])
        stream = stream_name(self.names["stream_prefix"], self.names["container"], task_id)
        events = logs.get_log_events(logGroupName=self.names["log_group"], logStreamName=stream)
        tail = " | ".join(e["message"] for e in events["events"][-5:])
        status = last.get("stoppedReason") or last["lastStatus"]
        return f"service {service}, task {task_id}: {status}; last lines: {tail or '(none)'}"
