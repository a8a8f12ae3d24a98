"""The contract between the runner and a step type.

A step type is one module that defines ``STEP = StepType(...)``: its inputs as
one frozen dataclass declared with ``param`` (validated before anything runs,
published by ``opskit steps`` and ``opskit schema``, handed to ``run`` with
every default filled in), its outputs, and the functions that run it and plan
it. A step never prints: it returns a ``StepResult`` (or raises
``StepFailed``/``StepError``) and reports progress through ``ctx.emit``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from opskit.clock import Clock, Deadline
from opskit.events import Emit
from opskit.inputs import Input, InvalidInput, at_least, build_inputs, declared_inputs, param

if TYPE_CHECKING:
    from opskit.aws import AwsAccess

__all__ = [
    "Input",
    "InvalidInput",
    "StepContext",
    "StepResult",
    "StepType",
    "at_least",
    "param",
]

I = TypeVar("I")  # noqa: E741 - a step type's inputs dataclass


@dataclass
class StepResult:
    """What a step hands back. ``status`` is ``ok``, ``changed`` or ``skipped``;
    failures are raised as ``StepFailed``/``StepError`` instead."""

    status: Literal["ok", "changed", "skipped"]
    summary: str
    outputs: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


@dataclass
class StepContext:
    """Everything a running step may use; the runner builds one per attempt."""

    uses: str
    clock: Clock
    deadline: Deadline
    cancel: threading.Event
    emit: Emit  # emit(kind, message, **data); see opskit.events
    aws: AwsAccess
    steps: Mapping[str, Mapping[str, Any]]  # earlier steps: id -> {"status", "outputs"}
    run_started_at: float  # wall-clock epoch seconds
    base_dir: Path  # the playbook's folder: relative paths resolve against it
    confirm: Callable[[str], bool] = lambda prompt: True

    def sleep(self, seconds: float) -> None:
        """Sleep on the step's clock; wakes with ``Cancelled`` on Ctrl-C or timeout."""
        remaining = self.deadline.remaining()
        if remaining is not None:
            seconds = min(seconds, remaining)
        self.clock.sleep(seconds, self.cancel)

    def resolve_path(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    def earlier_output(self, uses_prefix: str, name: str) -> Any:
        """The newest earlier step output ``name`` from a step whose type starts with
        ``uses_prefix`` (e.g. ``logs.wait`` defaulting to the ECS step's stream
        prefix); ``None`` when there is none."""
        for record in reversed(list(self.steps.values())):
            if str(record.get("uses", "")).startswith(uses_prefix):
                outputs = record.get("outputs") or {}
                if name in outputs:
                    return outputs[name]
        return None


@dataclass(frozen=True)
class StepType(Generic[I]):
    """A step type: declared once, validated and documented from the same data.

    ``inputs`` is the step's inputs dataclass (fields made with ``param``); ``run``
    and ``plan`` receive an instance of it. ``plan`` is called instead of ``run``
    under ``--dry-run``; it may only make read calls and returns what it would
    change. A step with ``read_only=True`` changes nothing, so ``run`` itself
    serves as its dry run.
    """

    name: str
    summary: str
    inputs: type[I]
    outputs: Mapping[str, str]
    run: Callable[[StepContext, I], StepResult]
    plan: Callable[[StepContext, I], StepResult] | None = None
    read_only: bool = False

    @cached_property
    def specs(self) -> tuple[Input, ...]:
        """The declared inputs, in order (for the loader, ``opskit steps`` and the schema)."""
        return declared_inputs(self.inputs)

    def input(self, name: str) -> Input | None:
        return next((i for i in self.specs if i.name == name), None)

    def coerce_inputs(self, given: Mapping[str, Any]) -> I:
        """The typed inputs ``run``/``plan`` receive: each given value coerced, declared
        defaults filled in. Raises ``InvalidInput`` naming the input."""
        return build_inputs(self.inputs, given)

    def input_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "required": [i.name for i in self.specs if i.required],
            "properties": {i.name: i.json_schema() for i in self.specs},
        }
