"""One sandbox: moto's server, the stack's resources, the agent, the proxy,
and the Bedrock Runtime endpoint that the app's tasks call.

``Sandbox.start()`` returns once the initial deployment's task answers its
health check behind the proxy, so the app URL works as soon as it is printed.
moto keeps its records in process-wide state, so one process holds at most
one sandbox, and starting one resets moto's in-process backends.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opskit.ecs.names import stream_name, task_id_of
from opskit.sandbox.agent import Agent
from opskit.sandbox.bedrock import BedrockEndpoint, delay_from_env
from opskit.sandbox.errors import SandboxError
from opskit.sandbox.moto_ecs import EcsRecords
from opskit.sandbox.ports import free_port
from opskit.sandbox.proxy import TcpProxy
from opskit.sandbox.server import (
    ACCESS_KEY_ID,
    DEPLOYMENT_CONFIGURATION,
    NAMES,
    REGION,
    SECRET_ACCESS_KEY,
    STACK_DIR,
    MotoSide,
)
from opskit.sandbox.tasks import LogShipper, TaskProcess, launch

DEFAULT_APP_PORT = 8501
_PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT")
_one_per_process = threading.Lock()


@dataclass
class SandboxInfo:
    """What a run or the CLI needs to use a sandbox."""

    endpoint_url: str
    app_url: str
    region: str
    access_key_id: str
    secret_access_key: str
    pid: int | None
    names: dict[str, str] = field(default_factory=lambda: dict(NAMES))
    bedrock_endpoint_url: str = ""  # the Bedrock Runtime endpoint the tasks call
    bedrock_faults_file: str = ""  # where `opskit sandbox fault` sets its faults

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> SandboxInfo:
        return cls(
            endpoint_url=str(document["endpoint_url"]),
            app_url=str(document["app_url"]),
            region=str(document["region"]),
            access_key_id=str(document["access_key_id"]),
            secret_access_key=str(document["secret_access_key"]),
            pid=document.get("pid"),
            names=dict(document.get("names") or NAMES),
            bedrock_endpoint_url=str(document.get("bedrock_endpoint_url") or ""),
            bedrock_faults_file=str(document.get("bedrock_faults_file") or ""),
        )


class Sandbox:
    """Start, use, stop. ``entrypoint``/``app_source`` default to the bundled
    stack; tests swap in a small stand-in to exercise the agent quickly."""

    def __init__(
        self,
        *,
        app_port: int = DEFAULT_APP_PORT,
        aws_port: int = 0,
        app_source: Path | None = None,
        entrypoint: Path | None = None,
        failure_threshold: int = 3,
        health_timeout: float = 120.0,
        on_tasks_changed: Any = None,
        bedrock_delay: float | None = None,
        bedrock_faults_file: Path | None = None,
    ):
        self.app_source = app_source or STACK_DIR / "src"
        self.entrypoint = entrypoint or STACK_DIR / "entrypoint.py"
        self.moto = MotoSide(aws_port)
        self.records = EcsRecords(cluster=NAMES["cluster"], service=NAMES["service"], region=REGION)
        self.proxy = TcpProxy(app_port, self._serving_port)
        self.bedrock = BedrockEndpoint(
            delay=delay_from_env() if bedrock_delay is None else bedrock_delay,
            faults_file=bedrock_faults_file,
        )
        self.agent: Agent | None = None
        self._shipper: LogShipper | None = None
        self._failure_threshold = failure_threshold
        self._health_timeout = health_timeout
        self._on_tasks_changed = on_tasks_changed
        self._owns_process_lock = False

    def info(self, pid: int | None = None) -> SandboxInfo:
        return SandboxInfo(
            endpoint_url=self.moto.endpoint_url,
            app_url=f"http://127.0.0.1:{self.proxy.port}",
            region=REGION,
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
            pid=pid,
            bedrock_endpoint_url=self.bedrock.endpoint_url,
            bedrock_faults_file=str(self.bedrock.faults_file or ""),
        )

    def start(self, ready_timeout: float = 120.0) -> SandboxInfo:
        if not self.entrypoint.is_file():
            raise SandboxError(f"the stack's entrypoint is missing: {self.entrypoint}")
        if not _one_per_process.acquire(blocking=False):
            raise SandboxError("a sandbox is already running in this process")
        self._owns_process_lock = True
        try:
            self.proxy.start()
            _reset_moto()
            self.moto.start()
            self.bedrock.start()
            self.moto.create_resources(self.app_source)
            self.records.install(DEPLOYMENT_CONFIGURATION)
            self._shipper = LogShipper(self.moto.client("logs"), NAMES["log_group"])
            self._shipper.start()
            self.agent = Agent(
                self.records,
                self._launch,
                self._shipper,
                failure_threshold=self._failure_threshold,
                health_timeout=self._health_timeout,
                on_tasks_changed=self._on_tasks_changed,
            )
            self.agent.start()
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self.info()

    def stop(self) -> None:
        """Stop every task process, the proxy and moto; safe to call twice."""
        if self.agent is not None:
            self.agent.stop()
            self.agent = None
        if self._shipper is not None:
            self._shipper.stop()
            self._shipper = None
        self.proxy.stop()
        self.bedrock.stop()
        self.records.uninstall_quietly()
        self.moto.stop()
        if self._owns_process_lock:
            self._owns_process_lock = False
            _reset_moto()
            _one_per_process.release()

    def _serving_port(self) -> int | None:
        agent = self.agent
        return agent.serving_port() if agent is not None else None

    def _launch(self, task_id: str, deployment_id: str, environment: dict[str, str]) -> TaskProcess:
        assert self._shipper is not None
        port = free_port()
        env = task_environment(
            environment,
            port=port,
            endpoint_url=self.moto.endpoint_url,
            bedrock_endpoint_url=self.bedrock.endpoint_url,
        )
        stream = stream_name(NAMES["stream_prefix"], NAMES["container"], task_id)
        return launch(
            task_id=task_id,
            deployment_id=deployment_id,
            command=[sys.executable, str(self.entrypoint)],
            env=env,
            port=port,
            stream=stream,
            shipper=self._shipper,
        )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            deployments = self.records.deployments()
            state = deployments[0]["rolloutState"] if deployments else "IN_PROGRESS"
            if state == "COMPLETED" and self._serving_port() is not None:
                return
            if state == "FAILED":
                raise SandboxError(f"the stack's first task never became healthy: {self._why()}")
            time.sleep(0.1)
        raise SandboxError(
            f"the stack's first task was not healthy after {timeout:.0f}s: {self._why()}"
        )

    def _why(self) -> str:
        """The last stopped task's reason and its last log lines, for the error."""
        ecs, logs = self.moto.client("ecs"), self.moto.client("logs")
        arns = ecs.list_tasks(cluster=NAMES["cluster"])["taskArns"]
        if not arns:
            return "no task was started"
        tasks = ecs.describe_tasks(cluster=NAMES["cluster"], tasks=arns)["tasks"]
        last = max(tasks, key=lambda t: t["createdAt"])
        task_id = task_id_of(last["taskArn"])
        stream = stream_name(NAMES["stream_prefix"], NAMES["container"], task_id)
        events = logs.get_log_events(logGroupName=NAMES["log_group"], logStreamName=stream)
        tail = " | ".join(e["message"] for e in events["events"][-5:])
        status = last.get("stoppedReason") or last["lastStatus"]
        return f"task {task_id}: {status}; last lines: {tail or '(none)'}"


def task_environment(
    container: dict[str, str], *, port: int, endpoint_url: str, bedrock_endpoint_url: str = ""
) -> dict[str, str]:
    """A task process's environment: what Fargate gives every task, then the task
    definition's container environment, then what only the local platform decides."""
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    env.update(
        {
            # Fargate's part: the AWS endpoint and the task role's credentials.
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_EC2_METADATA_DISABLED": "true",
            "STREAMLIT_SERVER_HEADLESS": "true",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    if bedrock_endpoint_url:  # botocore's service-specific variable: only
        # bedrock-runtime goes to the sandbox's Bedrock endpoint, the rest to moto.
        env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = bedrock_endpoint_url
    env.update(container)
    env.update(
        {
            # The local platform's part, whatever the task definition says: tasks
            # share loopback (a port each, never reachable from outside), and the
            # "image" is this interpreter, its packages installed already.
            "STREAMLIT_SERVER_PORT": str(port),
            "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
            "CHATBOT_INSTALL_REQUIREMENTS": "0",
        }
    )
    return env


def _reset_moto() -> None:
    from moto.moto_api._internal import moto_api_backend

    moto_api_backend.reset()
