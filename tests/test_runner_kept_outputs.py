"""What a step learned before a timeout or Ctrl-C stays in its record: its
``finish`` acts on it at the run's end (a native ECS deployment the run leaves
paused is rolled back or left as the playbook says, so it must know which)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from opskit import RunOptions, run_playbook
from opskit import steps as registry
from opskit.clock import Clock, FakeClock
from opskit.errors import Cancelled
from opskit.events import EventBus
from opskit.iam.needs import NO_AWS
from opskit.playbook import parse_playbook
from opskit.redact import Redactor
from opskit.steps.base import RunEnd, StepContext, StepResult, StepType, output, param

SEEN: list[dict[str, object]] = []


@dataclass(frozen=True, kw_only=True)
class KeeperInputs:
    interrupt: bool = param("press Ctrl-C first", "boolean", default=False)


@dataclass(frozen=True, kw_only=True)
class Learned:
    token: str | None = output("what the step learned before it waited", "string")


def _wait(ctx: StepContext, inputs: KeeperInputs) -> StepResult:
    """Learns a token, then waits: Ctrl-C wakes it (``interrupt``), or it gives up
    as a wait woken by the runner's own timeout does (Cancelled, no interrupt)."""
    if inputs.interrupt:
        os.kill(os.getpid(), signal.SIGINT)
    err = Cancelled("interrupted while waiting")
    try:
        while inputs.interrupt:
            ctx.clock.sleep(0.05, ctx.cancel)
    except Cancelled as woken:
        err = woken
    err.outputs = Learned(token="dep-1")  # type: ignore[attr-defined]
    raise err


def _finish(end: RunEnd) -> list[tuple[str, str]]:
    SEEN.append(dict(end.record.outputs))
    return [("info", f"finish saw {end.record.outputs.get('token')}")]


KEEPER = StepType(
    "test.keeper", "Wait; keep what it learned.", KeeperInputs, Learned, _wait,
    permissions=NO_AWS, finish=_finish,
)  # fmt: skip


@pytest.fixture
def keeper() -> Iterator[None]:
    registry.register(KEEPER)
    SEEN.clear()
    yield
    registry.unregister(KEEPER.name)


def _run(tmp_path: Path, text: str, clock: Clock) -> object:
    path = tmp_path / "playbook.yaml"
    path.write_text(text)
    return run_playbook(
        parse_playbook(text, str(path), path), RunOptions(clock=clock), bus=EventBus(Redactor())
    )


def test_a_wait_woken_by_the_timeout_keeps_what_it_learned(keeper, tmp_path: Path) -> None:
    result = _run(tmp_path, "steps:\n  - {id: wait, uses: test.keeper}\n", FakeClock())

    assert result.status == "failed"  # type: ignore[attr-defined]
    (step,) = result.steps  # type: ignore[attr-defined]
    assert step.summary == "interrupted while waiting"
    assert step.outputs == {"token": "dep-1"}
    assert SEEN == [{"token": "dep-1"}]


def test_ctrl_c_keeps_what_the_step_learned_for_its_finish(keeper, tmp_path: Path) -> None:
    text = "steps:\n  - {id: wait, uses: test.keeper, with: {interrupt: true}}\n"

    result = _run(tmp_path, text, Clock())

    assert result.status == "interrupted"  # type: ignore[attr-defined]
    assert result.steps[0].outputs == {"token": "dep-1"}  # type: ignore[attr-defined]
    assert SEEN == [{"token": "dep-1"}]
