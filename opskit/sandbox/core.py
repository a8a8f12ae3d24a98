"""One sandbox: moto's server, the stack's resources, one or more services
(each with its agent and proxy: ``service.py``), and the Bedrock Runtime
endpoint that the app's tasks call.

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

from opskit.sandbox.agent import Agent
from opskit.sandbox.aws_faults.board import AwsFaultBoard
from opskit.sandbox.aws_faults.middleware import FaultMiddleware
from opskit.sandbox.bedrock import BedrockEndpoint, delay_from_env
from opskit.sandbox.enforcement import Credentials, Decided, Enforcement, create_operator
from opskit.sandbox.errors import SandboxError
from opskit.sandbox.moto_ecs import ACCOUNT_ID, EcsRecords
from opskit.sandbox.native_config import ROLLING, check_strategy, create_alarm
from opskit.sandbox.ports import port_free
from opskit.sandbox.proxy import TcpProxy
from opskit.sandbox.server import (
    ACCESS_KEY_ID,
    CODE_PREFIX,
    NAMES,
    REGION,
    SECRET_ACCESS_KEY,
    STACK_DIR,
    MotoSide,
    service_names,
)
from opskit.sandbox.service import ServiceSide
from opskit.sandbox.signed import SignedOnly, sandbox_keys

DEFAULT_APP_PORT = 8501
TEST_PORT_OFFSET = 1000  # a native strategy's test listener: 9501 beside 8501
# Whether a sandbox authorizes requests as AWS would (``enforcement.py``). Off for
# now: a later release makes the sandbox refuse foreign credentials by default.
ENFORCE_IAM = False
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
    aws_faults_file: str = ""  # where `opskit sandbox fault ecs|logs` sets the AWS faults
    # Each service's names, code prefix and app URL; the first is ``names``/``app_url``.
    services: list[dict[str, str]] = field(default_factory=list)
    # Whether it authorizes requests as AWS does (``access_key_id`` is then the key
    # of its own IAM user, which may do anything; other users get their policies).
    iam_enforced: bool = False
    # The service's deployment strategy: ROLLING, or a native one (BLUE_GREEN,
    # LINEAR, CANARY), whose services also have a test listener (``test_url``).
    strategy: str = ROLLING

    @property
    def test_url(self) -> str:
        return str(self.service_list()[0].get("test_url") or "")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def service_list(self) -> list[dict[str, str]]:
        """Every service (a sandbox recorded before services existed has one)."""
        first = {**self.names, "code_prefix": CODE_PREFIX, "app_url": self.app_url}
        return self.services or [first]

    def template_context(self) -> dict[str, Any]:
        """What a run's templates read as ``opskit.sandbox``: the AWS endpoint, the
        first service's names and ``app_url`` (as always), and ``services``, each
        service's names and URL keyed by its service name, e.g.
        ``opskit.sandbox.services['chatbot-2'].app_url``."""
        return {
            "endpoint_url": self.endpoint_url,
            "app_url": self.app_url,
            "test_url": self.test_url,
            "strategy": self.strategy,
            **dict(self.names),
            "services": {s["service"]: dict(s) for s in self.service_list()},
        }

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
            aws_faults_file=str(document.get("aws_faults_file") or ""),
            services=[dict(s) for s in document.get("services") or []],
            iam_enforced=bool(document.get("iam_enforced", False)),
            strategy=str(document.get("strategy") or ROLLING),
        )


def planned_info(
    services: int = 1, app_port: int = DEFAULT_APP_PORT, strategy: str = ROLLING
) -> SandboxInfo:
    """A sandbox's info before it starts: its names, region and app URLs on the
    default ports (a started one may take others); no endpoint or keys yet."""
    listed = []
    for index in range(1, services + 1):
        planned = {**service_names(index), "app_url": f"http://127.0.0.1:{app_port + index - 1}"}
        if strategy != ROLLING:
            test_port = app_port + TEST_PORT_OFFSET + index - 1
            planned.update(test_url=f"http://127.0.0.1:{test_port}", strategy=strategy)
        listed.append(planned)
    return SandboxInfo(
        endpoint_url="",
        app_url=listed[0]["app_url"],
        region=REGION,
        access_key_id="",
        secret_access_key="",
        pid=None,
        services=listed,
        strategy=strategy,
    )


def test_listener_port(app_port: int, index: int) -> int:
    """Service ``index``'s test listener: ``app_port + 1000`` on (9501 beside 8501)
    when free, else any free port (0), as with app ports on free ports."""
    if not app_port:
        return 0
    port = app_port + TEST_PORT_OFFSET + index - 1
    return port if port_free(port) else 0


class Sandbox:
    """Start, use, stop. ``entrypoint``/``app_source`` default to the bundled
    stack; tests swap in a small stand-in to exercise the agent quickly.

    ``aws_faults`` holds the AWS behaviours it plays (stale ECS reads, placement
    failures, Spot reclaims, CloudWatch Logs throttling and late lines):
    ``sandbox.aws_faults.set(make_aws_fault("ecs", "spot", FaultOptions(calls=2)))``; with
    ``aws_faults_file`` the file (``opskit sandbox fault ecs|logs``) sets them.

    ``services``: how many ECS services (``service_names``), each with its own
    tasks, log group, code prefix and app URL, on ports ``app_port``,
    ``app_port + 1``, ... (all free ports when ``app_port`` is 0).

    ``enforce_iam``: authorize every request as AWS would, on the caller's IAM
    policies (``enforcement.py``); the sandbox's own user may do anything.

    ``strategy``: ROLLING (the default), or BLUE_GREEN, LINEAR or CANARY: ECS's
    native strategies (``native_config``, ``native_play``), each service with a
    test URL beside its app URL and the deployment alarm ``chatbot-5xx``."""

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
        aws_faults_file: Path | None = None,
        services: int = 1,
        enforce_iam: bool = ENFORCE_IAM,
        strategy: str = ROLLING,
    ):
        self.strategy = check_strategy(strategy)
        if services < 1:
            raise SandboxError(f"a sandbox runs at least one service, not {services}")
        self.app_source = app_source or STACK_DIR / "src"
        self.entrypoint = entrypoint or STACK_DIR / "entrypoint.py"
        self.moto = MotoSide(aws_port)
        self.bedrock = BedrockEndpoint(
            delay=delay_from_env() if bedrock_delay is None else bedrock_delay,
            faults_file=bedrock_faults_file,
        )
        self.aws_faults = AwsFaultBoard(aws_faults_file)
        self.services = [
            ServiceSide(
                service_names(index),
                app_port + index - 1 if app_port else 0,
                command=[sys.executable, str(self.entrypoint)],
                task_environment=self._task_environment,
                failure_threshold=failure_threshold,
                health_timeout=health_timeout,
                on_tasks_changed=self._tasks_changed,
                faults=self.aws_faults,
                strategy=self.strategy,
                test_port=test_listener_port(app_port, index),
            )
            for index in range(1, services + 1)
        ]
        self._on_tasks_changed = on_tasks_changed
        self._owns_process_lock = False
        self.enforcement = Enforcement() if enforce_iam else None

    # The first service, by the names a one-service sandbox always had.
    @property
    def records(self) -> EcsRecords:
        return self.services[0].records

    @property
    def proxy(self) -> TcpProxy:
        return self.services[0].proxy

    @property
    def agent(self) -> Agent | None:
        return self.services[0].agent

    def info(self, pid: int | None = None) -> SandboxInfo:
        return SandboxInfo(
            endpoint_url=self.moto.endpoint_url,
            app_url=self.services[0].app_url,
            region=REGION,
            access_key_id=self.moto.credentials.access_key_id,
            secret_access_key=self.moto.credentials.secret_access_key,
            pid=pid,
            bedrock_endpoint_url=self.bedrock.endpoint_url,
            bedrock_faults_file=str(self.bedrock.faults_file or ""),
            aws_faults_file=str(self.aws_faults.faults_file or ""),
            services=[service.describe() for service in self.services],
            iam_enforced=self.enforcement is not None,
            strategy=self.strategy,
        )

    def authorizations(self) -> list[Decided]:
        """Every authorization decided since enforcement began, oldest first."""
        return self.enforcement.decisions if self.enforcement is not None else []

    def task_pids(self) -> list[int]:
        return [pid for service in self.services for pid in service.task_pids()]

    def start(self, ready_timeout: float = 120.0) -> SandboxInfo:
        if not self.entrypoint.is_file():
            raise SandboxError(f"the stack's entrypoint is missing: {self.entrypoint}")
        if not _one_per_process.acquire(blocking=False):
            raise SandboxError("a sandbox is already running in this process")
        self._owns_process_lock = True
        try:
            for service in self.services:
                service.start_proxies()
            _reset_moto()
            self.aws_faults.start()
            self.moto.start()
            # Its own user first, while moto still lets any key through; then,
            # when asked, AWS's authorization of every request from here on.
            self.moto.use_credentials(create_operator(self.moto.client("iam")))
            if self.enforcement is not None:
                self.enforcement.start()
            self.moto.wrap_app(
                lambda app: FaultMiddleware(
                    app, self.aws_faults, self._service_snapshot, self._hide_new_deployment
                )
            )
            # outermost: a request signed with no key of the sandbox's never reaches moto
            self.moto.wrap_app(lambda app: SignedOnly(app, sandbox_keys(ACCOUNT_ID)))
            self.bedrock.start()
            self.moto.create_resources(self.app_source, [s.names for s in self.services])
            if self.strategy != ROLLING:
                create_alarm(self.moto.client("cloudwatch"), self.services[0].names)
            for service in self.services:
                service.start(self.moto.client("logs"))
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self.info()

    def stop(self) -> None:
        """Stop every task process, the proxies and moto; safe to call twice."""
        for service in self.services:
            service.stop()
        self.bedrock.stop()
        self.moto.stop()
        if self.enforcement is not None:
            self.enforcement.stop()  # moto's setting is process-wide: put it back
        self.aws_faults.stop()
        if self._owns_process_lock:
            self._owns_process_lock = False
            _reset_moto()
            _one_per_process.release()

    def _service_snapshot(self, cluster: str, service: str) -> dict[str, Any] | None:
        """What a stale read of one of its services answers (``None``: not its service)."""
        for side in self.services:
            if (side.names["cluster"], side.names["service"]) == (cluster, service):
                return side.records.snapshot()
        return None

    def _hide_new_deployment(self, cluster: str, service: str, reads: int) -> None:
        """Under stale_reads: the service deployment an update just opened on a
        native strategy is not visible to the next ``reads`` reads of it."""
        for side in self.services:
            if (side.names["cluster"], side.names["service"]) == (cluster, service):
                current = side.records.native.current() if side.native is not None else None
                if current is not None and current.get("status") == "PENDING":
                    side.records.native.stale_reads(reads)

    def _tasks_changed(self) -> None:
        if self._on_tasks_changed is not None:
            self._on_tasks_changed(self.task_pids())

    def _task_environment(self, environment: dict[str, str], port: int) -> dict[str, str]:
        return task_environment(
            environment,
            port=port,
            endpoint_url=self.moto.endpoint_url,
            bedrock_endpoint_url=self.bedrock.endpoint_url,
            credentials=self.moto.credentials,
        )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(self.services)
        while time.monotonic() < deadline:
            for service in list(waiting):
                state = service.rollout_state()
                if state == "COMPLETED" and service.serving_port() is not None:
                    waiting.remove(service)
                elif state == "FAILED":
                    raise SandboxError(
                        f"the stack's first task never became healthy: {self._why(service)}"
                    )
            if not waiting:
                return
            time.sleep(0.1)
        raise SandboxError(
            f"the stack's first task was not healthy after {timeout:.0f}s: {self._why(waiting[0])}"
        )

    def _why(self, service: ServiceSide) -> str:
        return service.why(self.moto.client("ecs"), self.moto.client("logs"))


def task_environment(
    container: dict[str, str],
    *,
    port: int,
    endpoint_url: str,
    bedrock_endpoint_url: str = "",
    credentials: Credentials | None = None,
) -> dict[str, str]:
    """A task process's environment: what Fargate gives every task, then the task
    definition's container environment, then what only the local platform decides.
    ``credentials`` play the task role's (the sandbox's own user's)."""
    credentials = credentials or Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    env.update(
        {
            # Fargate's part: the AWS endpoint and the task role's credentials.
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
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
