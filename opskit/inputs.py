"""Declared inputs: one declaration serves validation, defaults, docs and types.

A step type declares its inputs as one frozen dataclass whose fields are made
with ``param``; the playbook's own keys use ``Input`` directly. The same
declaration checks a rendered value (``Input.coerce``), publishes the JSON
Schema (``opskit schema``) and fills in defaults, so after ``build_inputs`` every
declared input is present and a misspelt name is a type error, not a KeyError
at 3 a.m. (cfgv's ``Optional(key, check, default)`` + ``apply_defaults``).

An input's type is a type name (``"string"``, ``"duration"``, ...) or a shape
(``Map``, ``Array``, ``MapOf``, ``OneOf``, ... from ``opskit.shapes``) for a
nested value such as ``ask``'s questions: the shape coerces the
value, fills the defaults of its nested fields, raises a ``ShapeError`` that says
where inside the value it went wrong, and gives the JSON Schema, so the loader
and the schema cannot disagree.

This module sits below the steps and the domain packages so that both can
declare inputs (``opskit.logs`` shares the stream-selection inputs of
``logs.wait`` and ``logs.tail``; ``opskit.s3.plan`` declares ``max_delete``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from opskit.shapes import (
    Keep,
    Shape,
    ShapeError,
    apply_check,
    holds,
    shape_of,
)

__all__ = [
    "Input",
    "InvalidInput",
    "at_least",
    "build_inputs",
    "declared_inputs",
    "param",
]


@dataclass(frozen=True)
class Input:
    """One declared input of a step type (or a key of the playbook).

    ``type`` is a type name or a shape. ``check`` normalises a coerced value (or
    raises ``ValueError`` with a message for the user) for rules a shape cannot
    say, like a URL's scheme.
    """

    name: str
    type: str | Shape
    help: str
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] = ()
    check: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        try:
            shape_of(self.type)
        except TypeError as err:
            raise TypeError(f"input {self.name}: {err}") from None

    @property
    def shape(self) -> Shape:
        return shape_of(self.type)

    @property
    def type_name(self) -> str:
        return self.shape.label

    def json_schema(self) -> dict[str, Any]:
        schema = dict(self.shape.json_schema())
        if self.help:
            schema["description"] = self.help
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.default is not None:
            schema["default"] = self.default
        return schema

    def coerce(self, value: Any, keep: Keep = None) -> Any:
        """Check a rendered value against the declared type; return the normalised
        value. Raises ``ShapeError``, whose ``path`` is where inside the value.
        With ``keep``, what it keeps is let through, and rules that need the
        whole value (``choices``, ``check``) wait until nothing is kept."""
        value = self.shape.coerce(value, keep)
        if holds(value, keep):
            return value
        if self.choices and value not in self.choices:
            options = ", ".join(repr(c) for c in self.choices)
            raise ShapeError(f"expected one of {options}, got {value!r}")
        return value if self.check is None else apply_check(self.check, value)


def at_least(minimum: int) -> Callable[[Any], Any]:
    """An ``Input.check`` for counts: ``at_least(0)``, ``at_least(1)``."""

    def check(value: Any) -> Any:
        if value < minimum:
            raise ValueError(f"expected {minimum} or more, got {value!r}")
        return value

    return check


class InvalidInput(ValueError):
    """A value that does not fit its declared input; ``name`` says which, ``path``
    where inside its value (``(1, "expect")``)."""

    def __init__(self, name: str, message: str, path: tuple[Any, ...] = ()):
        self.name = name
        self.path = tuple(path)
        super().__init__(message)


_SPEC = "opskit.input"
T = TypeVar("T")


def param(
    help: str,
    type: str | Shape,
    *,
    required: bool = False,
    default: Any = None,
    choices: tuple[Any, ...] = (),
    check: Callable[[Any], Any] | None = None,
) -> Any:
    """A field of a step's inputs dataclass, declared once: ``help`` and ``type`` (a
    type name or a shape) for ``opskit steps``/``opskit schema``, ``default`` as the
    field's default (a list or mapping default is copied for each instance),
    ``check`` for rules a shape cannot say. The field name is the input's name."""
    spec = Input("", type, help, required, default, choices, check)
    metadata = {_SPEC: spec}
    if required:
        return dataclasses.field(metadata=metadata)
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def declared_inputs(inputs_class: type) -> tuple[Input, ...]:
    """The ``Input`` declarations of an inputs dataclass, in field order."""
    return declared(inputs_class, _SPEC, "param()")


def declared(cls: type, key: str, maker: str) -> tuple[Any, ...]:
    """The declarations a dataclass's fields carry under ``key`` (inputs' ``param``,
    outputs' ``output``), each named after its field, in field order; a field made
    without ``maker`` is a bug in the step type."""
    specs = []
    for item in dataclasses.fields(cls):
        spec = item.metadata.get(key)
        if spec is None:
            raise TypeError(f"{cls.__name__}.{item.name}: declare it with {maker}")
        specs.append(dataclasses.replace(spec, name=item.name))
    return tuple(specs)


def build_inputs(inputs_class: type[T], given: Mapping[str, Any]) -> T:
    """The typed inputs a step runs with: each given value coerced, declared defaults
    filled in (``None`` means "not given"). Raises ``InvalidInput`` naming the input
    and the path inside it."""
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
        except ShapeError as err:
            raise InvalidInput(spec.name, err.message, err.path) from None
    return inputs_class(**values)
