"""Declared inputs: one declaration serves validation, defaults, docs and types.

A step type declares its inputs as one frozen dataclass whose fields are made
with ``param``; the playbook's own keys use ``Input`` directly. The same
declaration checks a rendered value (``Input.coerce``), publishes the JSON
Schema (``opskit schema``) and fills in defaults, so after ``build_inputs`` every
declared input is present and a misspelt name is a type error, not a KeyError
at 3 a.m. (cfgv's ``Optional(key, check, default)`` + ``apply_defaults``).

This module sits below the steps and the domain packages so that both can
declare inputs (``opskit.logs`` shares the stream-selection inputs of
``logs.wait`` and ``logs.tail``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from opskit.durations import parse_duration

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


_SPEC = "opskit.input"
T = TypeVar("T")


def param(
    help: str,
    type: str,
    *,
    required: bool = False,
    default: Any = None,
    choices: tuple[Any, ...] = (),
    check: Callable[[Any], Any] | None = None,
    schema: dict[str, Any] | None = None,
) -> Any:
    """A field of a step's inputs dataclass, declared once: ``help`` and ``type`` for
    ``opskit steps``/``opskit schema``, ``default`` as the field's default (a list or
    mapping default is copied for each instance), ``check`` for rules a type name
    cannot say. The field name is the input's name."""
    spec = Input("", type, help, required, default, choices, check, schema)
    metadata = {_SPEC: spec}
    if required:
        return dataclasses.field(metadata=metadata)
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def declared_inputs(inputs_class: type) -> tuple[Input, ...]:
    """The ``Input`` declarations of an inputs dataclass, in field order."""
    specs = []
    for item in dataclasses.fields(inputs_class):
        spec = item.metadata.get(_SPEC)
        if spec is None:
            raise TypeError(f"{inputs_class.__name__}.{item.name}: declare it with param()")
        specs.append(dataclasses.replace(spec, name=item.name))
    return tuple(specs)


def build_inputs(inputs_class: type[T], given: Mapping[str, Any]) -> T:
    """The typed inputs a step runs with: each given value coerced, declared defaults
    filled in (``None`` means "not given"). Raises ``InvalidInput`` naming the input."""
    values: dict[str, Any] = {}
    for spec in declared_inputs(inputs_class):
        value = given.get(spec.name)
        if value is None:
            if spec.required:
                raise InvalidInput(spec.name, "is required, and it is empty")
            value = spec.default  # checked like a given value, so it is normalised alike
        if value is None:
            continue
        try:
            values[spec.name] = spec.coerce(value)
        except ValueError as err:
            raise InvalidInput(spec.name, str(err)) from None
    return inputs_class(**values)
