"""Sandbox fixtures: free ports and a stand-in entrypoint (fast, no Streamlit)
for the agent's behaviour; the real stack where the product itself is tested."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opskit.sandbox import Sandbox, SandboxInfo, down, up
from opskit.sandbox.ports import free_port

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


@pytest.fixture
def sandbox() -> Iterator[SandboxInfo]:
    """A running sandbox with the real stack on free ports, found by ``opskit run``."""
    info = up(app_port=free_port())
    try:
        yield info
    finally:
        down()
