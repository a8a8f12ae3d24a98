"""Sandbox fixtures: free ports and a stand-in entrypoint (fast, no Streamlit)
for the agent's behaviour; the real stack where the product itself is tested.

A module's tests share one sandbox with the real stack (``module_sandbox``, in
this process, so that ``opskit run`` called in process uses it); ``sandbox``
puts it back as new before each test, so no test depends on the one before.
A module that needs more services overrides ``sandbox_services``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opskit.sandbox import Sandbox, SandboxInfo, in_process
from opskit.sandbox.aws_faults import AwsFaultBoard
from opskit.sandbox.aws_faults.control import clear_aws_faults
from opskit.sandbox.bedrock.control import clear_faults
from opskit.sandbox.ports import free_port
from opskit.sandbox.state import STATE_ENV
from tests.sandbox.sandbox_helpers import (
    ROOT,
    SharedSandbox,
    fresh_code,
    restore,
    sandbox_in_this_process,
)

STANDIN = Path(__file__).with_name("standin_entrypoint.py")


@pytest.fixture
def app_source(tmp_path: Path) -> Path:
    source = tmp_path / "app"
    source.mkdir()
    (source / "app.py").write_text('print("release 1")\n')
    return source


@pytest.fixture
def standin_sandbox(app_source: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox(app_port=free_port(), app_source=app_source, entrypoint=STANDIN)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def sandbox_services() -> int:
    return 1


@pytest.fixture(scope="module")
def module_sandbox(module_environment: Path, sandbox_services: int) -> Iterator[SharedSandbox]:
    with sandbox_in_this_process(sandbox_services) as info:
        yield SharedSandbox(info, fresh_code(info))


@pytest.fixture
def sandbox(module_sandbox: SharedSandbox, monkeypatch: pytest.MonkeyPatch) -> SandboxInfo:
    """The module's sandbox, as new: the bundled app synced and running on every
    service, no fault (Bedrock's, ECS's, CloudWatch Logs'). Runs read playbooks
    from the repository root, as CI runs them."""
    if module_sandbox.state_file is not None:
        monkeypatch.setenv(STATE_ENV, str(module_sandbox.state_file))
        clear_faults()
        clear_aws_faults()
    running_here = in_process()
    if running_here is not None:
        running_here.aws_faults.clear()
    restore(module_sandbox.info, module_sandbox.fresh)
    monkeypatch.chdir(ROOT)
    return module_sandbox.info


@pytest.fixture
def faults(sandbox: SandboxInfo) -> AwsFaultBoard:
    """The AWS faults of the module's sandbox, which runs in this process (as
    ``opskit sandbox fault`` switches them on a background one)."""
    running = in_process()
    assert running is not None, "the module's sandbox runs in this process"
    return running.aws_faults
