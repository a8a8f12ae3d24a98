"""The contract between the runner and a step type.

A step type is one module that defines ``STEP = StepType(...)``: its inputs as
one frozen dataclass declared with ``param`` (validated before anything runs,
published by ``opskit steps`` and ``opskit schema``, handed to ``run`` with
every default filled in), its outputs as another declared with ``output``
(what ``steps.ID.outputs.NAME`` reads; the runner refuses anything else), and
the functions that run it and plan it. A step never prints: it returns a
``StepResult`` (or raises ``StepFailed``/``StepError``/``StepTimeout``) and
reports progress through ``ctx.emit``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from opskit.clock import Clock, Deadline
from opskit.errors import InputError, StepFailed
from opskit.events import Emit
from opskit.iam.needs import NO_AWS, Permissions
from opskit.inputs import (
    Input,
    InvalidInput,
    at_least,
    build_inputs,
    declared,
    declared_inputs,
    param,
)

if TYPE_CHECKING:
    from opskit.aws import AwsAccess
    from opskit.model import Answer, RunResult, StepRecord

__all__ = [
    "Input",
    "InvalidInput",
    "Output",
    "RunEnd",
    "StepContext",
    "StepResult",
    "StepType",
    "UndeclaredOutputs",
    "at_least",
    "output",
    "param",
]

I = TypeVar("I")  # noqa: E741 - a step type's inputs dataclass
O = TypeVar("O")  # noqa: E741 - a step type's outputs dataclass
_OUTPUT = "opskit.output"


@dataclass(frozen=True)
class Output:
    """One declared output: what ``opskit steps`` lists and the schema publishes."""

    name: str
    type: str
    help: str

    def json_schema(self) -> dict[str, Any]:
        schema = Input(self.name, self.type, "").json_schema()
        return {"description": self.help, "anyOf": [schema, {"type": "null"}]}


def output(help: str, type: str) -> Any:
    """A field of a step's outputs dataclass. No default, on purpose: every result
    names every output (``None`` where this run does not know it, e.g. a dry run),
    so an output can be neither left out nor added without its declaration."""
    Input("", type, help)  # the same type names as inputs; an unknown one fails here
    return dataclasses.field(metadata={_OUTPUT: Output("", type, help)})


def declared_outputs(outputs_class: type) -> tuple[Output, ...]:
    return declared(outputs_class, _OUTPUT, "output()")


class UndeclaredOutputs(TypeError):
    """A step handed back outputs that are not its declared outputs dataclass: a bug
    in the step type, reported as the step's internal error."""


@dataclass
class StepResult:
    """What a step hands back. ``status`` is ``ok``, ``changed`` or ``skipped``;
    failures are raised as ``StepFailed``/``StepError``/``StepTimeout`` instead.
    ``outputs`` is an instance of the step type's outputs dataclass."""

    status: Literal["ok", "changed", "skipped"]
    summary: str
    outputs: Any
    detail: str = ""


def _nobody_to_ask() -> Answer:
    raise StepFailed("nobody to ask: run with --yes to answer yes")


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
    # render(text, source): a file rendered with the playbook's template context
    # (the runner's; steps may not import templating); InputError names source:line.
    render: Callable[[str, str], str] = lambda text, source: _untemplated(text, source)
    # A confirm step's question: its Answer, or StepFailed when nobody can answer.
    ask: Callable[[str], Answer] = lambda question: _nobody_to_ask()
    # The id of the run's main step that failed, for an on_failure step that says
    # what led to it (``ecs.deployment``'s rollback); None before any failed.
    failed_step: str | None = None

    def sleep(self, seconds: float) -> None:
        """Sleep on the step's clock; wakes with ``Cancelled`` on Ctrl-C or timeout."""
        remaining = self.deadline.remaining()
        if remaining is not None:
            seconds = min(seconds, remaining)
        self.clock.sleep(seconds, self.cancel)

    def resolve_path(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    def earlier_output(self, name: str) -> Any:
        """Output ``name`` of the newest earlier step that has it, ``None`` when none
        has. The one rule behind every input documented as "default: the ECS
        step's X": outputs are declared, so a step has output ``X`` exactly when its
        type declares it (``ecs.redeploy`` declares ``new_task_ids``, which
        ``logs.wait`` reads), whatever the step is called; a step that failed
        before it learned its outputs has none."""
        for record in reversed(list(self.steps.values())):
            outputs = record.get("outputs") or {}
            if name in outputs:
                return outputs[name]
        return None


def _untemplated(text: str, source: str) -> str:
    """The default ``render`` of a context built outside a run: plain text only."""
    if "{{" in text or "{%" in text:
        raise InputError(f"{source}: templates are rendered only inside a run")
    return text


@dataclass(frozen=True)
class RunEnd:
    """What a step's ``finish`` sees in the run's last phase: the run's result, its
    status final, and the step's own record (its outputs as recorded)."""

    aws: AwsAccess
    result: RunResult
    record: StepRecord
    clock: Clock | None = None  # the run's clock (None: real time), for a bounded follow


@dataclass(frozen=True)
class StepType(Generic[I]):
    """A step type: declared once, validated and documented from the same data.

    ``inputs`` is the step's inputs dataclass (fields made with ``param``); ``run``
    and ``plan`` receive an instance of it. ``outputs`` is its outputs dataclass
    (fields made with ``output``); every result carries an instance of it.
    ``plan`` is called instead of ``run`` under ``--dry-run``; it may only make
    read calls and returns what it would change. A step with ``read_only=True``
    changes nothing, so ``run`` itself serves as its dry run. ``finish``, when
    set, takes part in the run's last phase, after every step and
    ``on_failure`` and before a sandbox started for the run stops (``s3.sync``
    writes the run's verdict on its release record there); it returns
    ``(event kind, message)`` pairs to show. ``permissions`` declares the IAM
    actions its code paths call, on which resources and when (``opskit iam``,
    ``opskit steps`` and docs/iam.md read it); ``NO_AWS`` for a step that calls
    no AWS API (a run whose steps are all such types asks for no caller identity
    and needs no credentials), ``None`` only for a step type that has not
    declared them (taken to call AWS).
    """

    name: str
    summary: str
    inputs: type[I]
    outputs: type[Any]
    run: Callable[[StepContext, I], StepResult]
    plan: Callable[[StepContext, I], StepResult] | None = None
    read_only: bool = False
    finish: Callable[[RunEnd], list[tuple[str, str]]] | None = None
    permissions: Permissions | None = None
    # check_files(with_, base_dir, render): read and check the files the step's
    # inputs name, no AWS, before the run changes anything (the run's start and
    # ``opskit validate``); InputError names FILE:LINE.
    check_files: Callable[[Mapping[str, Any], Path, Callable[[str, str], str]], None] | None = None

    @property
    def uses_aws(self) -> bool:
        """Some path of the type may call AWS (an undeclared type is taken to)."""
        return self.permissions is not NO_AWS

    @cached_property
    def specs(self) -> tuple[Input, ...]:
        """The declared inputs, in order (for the loader, ``opskit steps`` and the schema)."""
        return declared_inputs(self.inputs)

    @cached_property
    def output_specs(self) -> tuple[Output, ...]:
        """The declared outputs, in order (for ``opskit steps``, the schema, the runner)."""
        return declared_outputs(self.outputs)

    def outputs_dict(self, outputs: Any) -> dict[str, Any]:
        """``outputs`` as the record keeps them (``steps.ID.outputs``): every declared
        name. Raises ``UndeclaredOutputs`` for anything but the declared dataclass."""
        if type(outputs) is not self.outputs:
            raise UndeclaredOutputs(
                f"step type {self.name} returned {type(outputs).__name__} outputs, "
                f"not its declared {self.outputs.__name__}"
            )
        return {spec.name: getattr(outputs, spec.name) for spec in self.output_specs}

    def output_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "required": [o.name for o in self.output_specs],
            "properties": {o.name: o.json_schema() for o in self.output_specs},
        }

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
