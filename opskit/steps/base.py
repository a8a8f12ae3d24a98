"""The contract between the runner and a step type.

A step type is one module that defines ``STEP = StepType(...)``: its inputs
(validated before anything runs, published by ``opskit steps`` and ``opskit
schema``), its outputs, and the functions that run it and plan it. A step never
prints: it returns a ``StepResult`` (or raises ``StepFailed``/``StepError``) and
reports progress through ``ctx.emit``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.clock import Clock, Deadline
from opskit.durations import parse_duration

if TYPE_CHECKING:
    from opskit.aws import AwsAccess

# The input types a step can declare, with the JSON Schema each one publishes.
_JSON_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "duration": {
        "oneOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?(ms|s|m|h)?)+\s*$"},
        ]
    },
    "string_list": {"type": "array", "items": {"type": "string"}},
    "string_or_list": {
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
    },
    "object": {"type": "object"},
    "list": {"type": "array"},
    "any": {},
}


@dataclass(frozen=True)
class Input:
    """One declared input of a step type.

    ``check`` normalises a rendered value (or raises ``ValueError`` with a message
    for the user) for the cases a type name cannot say, like ``max_delete``'s
    "a count or a percentage".
    """

    name: str
    type: str
    help: str
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] = ()
    check: Callable[[Any], Any] | None = None
    schema: dict[str, Any] | None = None  # overrides the JSON Schema of ``type``

    def __post_init__(self) -> None:
        if self.type not in _JSON_TYPES:
            raise TypeError(f"input {self.name}: unknown type {self.type!r}")

    def json_schema(self) -> dict[str, Any]:
        schema = dict(self.schema if self.schema is not None else _JSON_TYPES[self.type])
        if self.help:
            schema["description"] = self.help
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.default is not None:
            schema["default"] = self.default
        return schema

    def coerce(self, value: Any) -> Any:
        """Check a rendered value against the declared type; return the normalised value."""
        value = _coerce_type(self.type, value)
        if self.choices and value not in self.choices:
            options = ", ".join(repr(c) for c in self.choices)
            raise ValueError(f"expected one of {options}, got {value!r}")
        if self.check is not None:
            value = self.check(value)
        return value


def _coerce_type(kind: str, value: Any) -> Any:
    def wrong(expected: str) -> ValueError:
        return ValueError(f"expected {expected}, got {type_name(value)} {value!r}")

    if kind == "string":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise wrong("a string")
        return str(value)
    if kind == "integer":
        if isinstance(value, bool):
            raise wrong("an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise wrong("an integer")
    if kind == "number":
        if isinstance(value, bool):
            raise wrong("a number")
        if isinstance(value, (int, float)):
            return value
        try:
            return float(value)
        except (TypeError, ValueError):
            raise wrong("a number") from None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise wrong("true or false")
    if kind == "duration":
        return parse_duration(value)
    if kind == "string_list":
        if isinstance(value, str):
            return [value]
        if isinstance(value, (list, tuple)) and all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value
        ):
            return [str(v) for v in value]
        raise wrong("a list of strings")
    if kind == "string_or_list":
        if isinstance(value, str):
            return value
        return _coerce_type("string_list", value)
    if kind == "object":
        if not isinstance(value, Mapping):
            raise wrong("a mapping")
        return dict(value)
    if kind == "list":
        if not isinstance(value, (list, tuple)):
            raise wrong("a list")
        return list(value)
    return value


def at_least(minimum: int) -> Callable[[Any], Any]:
    """An ``Input.check`` for counts: ``at_least(0)``, ``at_least(1)``."""

    def check(value: Any) -> Any:
        if value < minimum:
            raise ValueError(f"expected {minimum} or more, got {value!r}")
        return value

    return check


def type_name(value: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "mapping",
        type(None): "null",
    }.get(type(value), type(value).__name__)


class InvalidInput(ValueError):
    """A value that does not fit its declared input; ``name`` says which."""

    def __init__(self, name: str, message: str):
        self.name = name
        super().__init__(message)


@dataclass
class StepResult:
    """What a step hands back. ``status`` is ``ok``, ``changed`` or ``skipped``;
    failures are raised as ``StepFailed``/``StepError`` instead."""

    status: str
    summary: str
    outputs: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


@dataclass
class StepContext:
    """Everything a running step may use; the runner builds one per attempt."""

    step_id: str
    uses: str
    dry_run: bool
    clock: Clock
    deadline: Deadline
    cancel: threading.Event
    emit: Callable[..., None]  # emit(kind, message, **data); see opskit.events
    aws: AwsAccess
    steps: Mapping[str, Mapping[str, Any]]  # earlier steps: id -> {"status", "outputs"}
    run_started_at: float  # wall-clock epoch seconds
    base_dir: Path  # the playbook's folder: relative paths resolve against it
    confirm: Callable[[str], bool] = lambda prompt: True
    quiet: bool = False

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
class StepType:
    """A step type: declared once, validated and documented from the same data.

    ``plan`` is called instead of ``run`` under ``--dry-run``; it may only make
    read calls and returns what it would change. A step with ``read_only=True``
    changes nothing, so ``run`` itself serves as its dry run.
    """

    name: str
    summary: str
    inputs: tuple[Input, ...]
    outputs: Mapping[str, str]
    run: Callable[[StepContext, dict[str, Any]], StepResult]
    plan: Callable[[StepContext, dict[str, Any]], StepResult] | None = None
    read_only: bool = False

    def input(self, name: str) -> Input | None:
        return next((i for i in self.inputs if i.name == name), None)

    def coerce_inputs(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Inputs as ``run``/``plan`` receive them: each given value coerced, declared
        defaults filled in, ``None`` meaning "not given" for optional inputs.
        Raises ``InvalidInput`` naming the input."""
        inputs: dict[str, Any] = {}
        for spec in self.inputs:
            value = given.get(spec.name)
            if value is None and not spec.required:
                value = spec.default
            if value is None:
                continue
            try:
                inputs[spec.name] = spec.coerce(value)
            except ValueError as err:
                raise InvalidInput(spec.name, str(err)) from None
        return inputs

    def input_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "required": [i.name for i in self.inputs if i.required],
            "properties": {i.name: i.json_schema() for i in self.inputs},
        }
