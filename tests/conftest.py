"""Shared fixtures: isolation from real AWS, moto's server on loopback, step contexts.

Isolation fails loudly: fake credentials, no profiles or config files, a private
cache dir, and any socket connection to a non-loopback address raises.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from opskit.aws import AwsAccess, AwsSettings
from opskit.clock import Clock, Deadline, FakeClock
from opskit.events import Event, check_mark
from opskit.steps.base import StepContext
from tests.cli_helpers import Cli

REGION = "us-east-1"
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple):  # unix sockets
        return True
    host = address[0]
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise OSError(f"test isolation: connection to non-loopback address {address!r} refused")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise OSError(f"test isolation: connection to non-loopback address {address!r} refused")
    return _real_connect_ex(self, address)


def isolate(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Fake AWS credentials, no profiles or config files, caches and state under
    ``home``, sandbox ports chosen by the OS, and no socket connection but to
    loopback."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        # other ways the environment names credentials (opskit.credentials.ENVIRONMENT_CREDENTIALS),
        # and a user's retry settings, which opskit follows
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_ROLE_SESSION_NAME",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_MAX_ATTEMPTS",
        "AWS_RETRY_MODE",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_ACTIONS",
        "NO_COLOR",
        "OPSKIT_SANDBOX_STATE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "aws-config-absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials-absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    # A run that starts its own sandbox takes free ports, never 8501: a developer's
    # sandbox may hold it, and parallel test workers would race for it.
    monkeypatch.setenv("OPSKIT_SANDBOX_APP_PORT", "0")
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    isolate(monkeypatch, tmp_path_factory.mktemp("home"))
    yield


@pytest.fixture(autouse=True)
def fresh_logs_budgets() -> Iterator[None]:
    """The process's CloudWatch Logs budgets (``opskit.logs.budget``): a test's
    FakeClock counts its own, but a test on the real clock (a sandbox run) would
    leave its backoff (up to 30 s) to the next, and a test may set a jitter it
    can predict (``reset_budgets(factory)``): each test starts with the default."""
    from opskit.logs.budget import reset_budgets

    reset_budgets()
    yield
    reset_budgets()


@pytest.fixture(autouse=True)
def declared_calls() -> Iterator[None]:
    """Every AWS action a step type's code calls in the test is one its
    ``PERMISSIONS`` declares (``tests/declared_calls.py``): checked at teardown."""
    from tests.declared_calls import declared_actions, recording, report

    with recording() as recorder:
        yield
    undeclared = recorder.undeclared(declared_actions)
    assert not undeclared, report(undeclared)


@pytest.fixture(scope="module")
def module_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The same isolation for a module-scoped fixture (a shared sandbox), which
    pytest sets up before any test's own; yields that module's home."""
    home = tmp_path_factory.mktemp("module-home")
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, home)
        yield home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's own HTTP server on loopback for the whole session; yields its URL.

    Started as the sandbox starts it (``MotoSide``): the one way tests start moto.
    moto keeps its records in process-wide state, which this server shares with
    an in-process sandbox; ``aws_endpoint`` resets it for each test.
    """
    from opskit.sandbox.server import MotoSide

    server = MotoSide()
    server.start()
    yield server.endpoint_url
    server.stop()


@pytest.fixture
def aws_endpoint(moto_server: str) -> str:
    """moto's server, reset to empty for this test."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    return moto_server


@pytest.fixture
def aws(aws_endpoint: str) -> AwsAccess:
    return AwsAccess("test", AwsSettings(region=REGION, endpoint_url=aws_endpoint))


@dataclass
class ContextFactory:
    """Builds ``StepContext``s for calling a step's ``run``/``plan`` directly.

    The clock is a ``FakeClock`` unless a test passes another: a unit test that
    forgets the clock must not silently sleep. What changes while a step waits
    (log lines arriving, an ECS rollout, Ctrl-C) is played by a
    ``tests.clocks.ScriptedClock`` at the step's sleeps; only a test that waits
    on a real server's own pace (a Streamlit app's) asks for ``clock=Clock()``.
    """

    aws: AwsAccess | None
    base_dir: Path
    events: list[Event] = field(default_factory=list)

    def __call__(
        self,
        *,
        step_id: str = "step",
        uses: str = "test",
        clock: Clock | None = None,
        timeout: float | None = 60.0,
        steps: dict[str, dict[str, Any]] | None = None,
        cancel: threading.Event | None = None,
        run_started_at: float | None = None,
    ) -> StepContext:
        clock = clock or FakeClock()

        def emit(kind: str, message: str, **data: Any) -> None:
            if kind == "mark":  # as the run's bus does: a bad mark is a bug
                check_mark(data)
            self.events.append(Event(kind=kind, message=message, step_id=step_id, data=data))

        return StepContext(
            uses=uses,
            clock=clock,
            deadline=Deadline.after(clock, timeout),
            cancel=cancel or threading.Event(),
            emit=emit,
            aws=self.aws or AwsAccess("test", AwsSettings(region=REGION)),
            steps=steps or {},
            run_started_at=clock.time() if run_started_at is None else run_started_at,
            base_dir=self.base_dir,
        )

    def messages(self, kind: str | None = None) -> list[str]:
        return [e.message for e in self.events if kind is None or e.kind == kind]


@pytest.fixture
def make_ctx(request: pytest.FixtureRequest, tmp_path: Path) -> ContextFactory:
    """A context factory; uses moto's server when the test also asks for ``aws``."""
    access = request.getfixturevalue("aws") if "aws" in request.fixturenames else None
    return ContextFactory(aws=access, base_dir=tmp_path)


@pytest.fixture
def engine_steps() -> Iterator[None]:
    """Registers the test-only step types of ``tests/engine_steps.py``."""
    from opskit import steps as registry
    from tests.engine_steps import CALLS, TEST_STEPS

    for step_type in TEST_STEPS:
        registry.register(step_type)
    CALLS.clear()
    yield
    for step_type in TEST_STEPS:
        registry.unregister(step_type.name)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """``opskit`` commands run in this process through ``main`` (``tests/cli_helpers``)."""
    return Cli(capsys)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules that start a sandbox with the real stack run first, each module's
    tests together and in their order: with parallel workers (pytest-xdist hands
    out whole files), the longest files start early instead of ending the run
    alone on one worker."""
    module_of = {id(item): item.nodeid.split("::", 1)[0] for item in items}
    heavy = {module_of[id(item)] for item in items if "module_sandbox" in item.fixturenames}
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(module_of[id(item)], index)
    order = {id(item): index for index, item in enumerate(items)}
    items.sort(
        key=lambda item: (
            module_of[id(item)] not in heavy,
            first_seen[module_of[id(item)]],
            order[id(item)],
        )
    )


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Workers for ``-n auto`` (pyproject's addopts). The suite, or folders of it:
    one more than the cores (on CI's two, three), since about a third of its time
    is spent waiting for the sandbox's task processes to start. Test files or
    tests named on the command line run in this process, without workers."""
    if any(not Path(arg.split("::", 1)[0]).is_dir() for arg in config.args):
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min((cores or 1) + 1, 8)
