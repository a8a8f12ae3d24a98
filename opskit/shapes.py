"""Shapes: what a value may look like, declared once for checks, defaults and schema.

A nested input (``ask``'s questions, ``image``'s container map, ``max_delete``'s
count-or-percentage, a target's ``sandbox``) is declared as a shape built from a
small vocabulary modelled on cfgv's ``Map``/``Required``/``Optional``/``Array``:
``Scalar`` (the type names ``"string"``, ``"duration"``, ...), ``Text``,
``Percentage``, ``Map``, ``MapOf``, ``Array``, ``OneOf`` and ``Checked``. One
declaration gives

- ``coerce(value)``: the normalised value, nested ``Optional`` defaults filled in;
- a ``ShapeError`` whose ``path`` says where inside the value it went wrong, so the
  loader can name the file and line of the nested key;
- ``json_schema()``: the fragment ``opskit schema`` publishes.

``opskit.inputs`` names shapes as a step's inputs (``param(help, shape)``);
steps import the vocabulary from here. It sits
in the base layer with ``opskit.inputs``: it imports nothing above
``opskit.durations``, and the loader passes in what a template is (``keep``).
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opskit.durations import parse_duration

# Tells a shape to leave a value as it is: the loader passes "is a template",
# because a template stands for any value until it is rendered and checked again.
Keep = Callable[[Any], bool] | None

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
_EXPECTED = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "duration": "a duration like 90s or 10m",
    "string_list": "a list of strings",
    "string_or_list": "a string or a list of strings",
    "object": "a mapping",
    "list": "a list",
    "any": "a value",
}


class ShapeError(ValueError):
    """A value that does not fit its shape. ``path`` says where inside the value
    (``(1, "expect")`` for the second question's ``expect``), ``message`` what is
    wrong. ``mismatch`` means the value is not even the kind the shape takes (a
    list where a mapping goes), so that ``OneOf`` reports the alternative that
    the value was meant for rather than every alternative's complaint."""

    def __init__(self, message: str, path: tuple[Any, ...] = (), *, mismatch: bool = False):
        super().__init__(message)
        self.message = message
        self.path = tuple(path)
        self.mismatch = mismatch

    def within(self, key: Any) -> ShapeError:
        """The same error seen from the enclosing value (the key or index it sits at)."""
        return ShapeError(self.message, (key, *self.path))


class Shape:
    """What a value may look like. ``coerce`` returns the normalised value (or
    raises ``ShapeError``); ``json_schema`` publishes the same rules; ``label`` is
    the short name ``opskit steps`` shows; ``expected`` completes "expected ...,
    got ..." messages."""

    label: str = "any"
    expected: str = "a value"

    def coerce(self, value: Any, keep: Keep = None) -> Any:
        if keep is not None and keep(value):
            return value
        return self._coerce(value, keep)

    def _coerce(self, value: Any, keep: Keep) -> Any:
        return value

    def json_schema(self) -> dict[str, Any]:
        return {}

    def wrong(self, value: Any, hint: str = "") -> ShapeError:
        message = f"expected {self.expected}, got {shown(value)}"
        return ShapeError(message + (f": {hint}" if hint else ""), mismatch=True)


def shape_of(kind: str | Shape) -> Shape:
    """A shape, or the scalar shape of a type name (``"string"``, ``"duration"``, ...)."""
    return kind if isinstance(kind, Shape) else Scalar(kind)


class Scalar(Shape):
    """One of the type names, optionally bounded (``Scalar("integer", minimum=1)``).
    Lenient as YAML users expect: ``"5"`` is an integer, ``5`` a string."""

    def __init__(self, kind: str, *, minimum: float | None = None, maximum: float | None = None):
        if kind not in _JSON_TYPES:
            raise TypeError(f"unknown type {kind!r}")
        self.kind, self.minimum, self.maximum = kind, minimum, maximum
        self.label, self.expected = kind, _EXPECTED[kind]

    def _coerce(self, value: Any, keep: Keep) -> Any:
        value = self._kind(value)
        low, high = self.minimum, self.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            bound = (
                f"{low} to {high}"
                if low is not None and high is not None
                else (f"{low} or more" if low is not None else f"{high} or less")
            )
            raise ShapeError(f"expected {bound}, got {value!r}")
        return value

    def _kind(self, value: Any) -> Any:
        kind = self.kind
        is_bool = isinstance(value, bool)
        if kind == "string" and not is_bool and isinstance(value, (str, int, float)):
            return str(value)
        if kind == "integer" and not is_bool:
            if isinstance(value, int):
                return value
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                return int(value)
        if kind == "number" and not is_bool:
            if isinstance(value, (int, float)):
                return value
            try:
                return float(value)
            except (TypeError, ValueError):
                pass
        if kind == "boolean":
            if is_bool:
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
        if kind == "duration":
            try:
                return parse_duration(value)
            except ValueError as err:
                raise ShapeError(str(err)) from None
        if kind == "string_or_list" and isinstance(value, str):
            return value
        if kind in ("string_list", "string_or_list"):
            if isinstance(value, str):
                return [value]
            if isinstance(value, (list, tuple)) and all(
                isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value
            ):
                return [str(v) for v in value]
        if kind == "object" and isinstance(value, Mapping):
            return dict(value)
        if kind == "list" and isinstance(value, (list, tuple)):
            return list(value)
        if kind == "any":
            return value
        raise self.wrong(value)

    def json_schema(self) -> dict[str, Any]:
        schema = dict(_JSON_TYPES[self.kind])
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


class Text(Shape):
    """A string as written, never blank: ``5`` or ``""`` for an image or a question
    is a mistake, not a value to turn into text."""

    label = "string"

    def __init__(self, *, expected: str = "a string"):
        self.expected = expected

    def _coerce(self, value: Any, keep: Keep) -> Any:
        if not isinstance(value, str):
            raise self.wrong(value)
        if not value.strip():
            raise ShapeError("must not be empty")
        return value

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": r"\S"}


_PERCENTAGE = r"\s*(100(\.0+)?|\d{1,2}(\.\d+)?)%\s*"


class Percentage(Shape):
    """``"50%"``: a share from 0% to 100%, kept as the text (without blanks)."""

    label, expected = "percentage", "a percentage like '50%'"

    def _coerce(self, value: Any, keep: Keep) -> Any:
        if not isinstance(value, str) or not value.strip().endswith("%"):
            raise self.wrong(value)
        if not re.fullmatch(_PERCENTAGE, value):
            raise ShapeError(f"expected a percentage from 0% to 100%, got {value!r}")
        return value.strip()

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": f"^{_PERCENTAGE}$"}


@dataclass(frozen=True)
class Required:
    """A key a ``Map`` must have."""

    key: str
    type: str | Shape
    help: str = ""


@dataclass(frozen=True)
class Optional:
    """A key a ``Map`` may have; a missing (or null) one gets ``default``, unless
    the default is ``None``, which leaves the key out."""

    key: str
    type: str | Shape
    help: str = ""
    default: Any = None


class Map(Shape):
    """Named fields, each ``Required`` or ``Optional``; unknown keys are refused
    with a did-you-mean. The result has every field with a default filled in."""

    label = "mapping"

    def __init__(self, *fields: Required | Optional, expected: str = ""):
        self.fields = fields
        self.expected = expected or "a mapping with " + ", ".join(f.key for f in fields)

    def _coerce(self, value: Any, keep: Keep) -> Any:
        if not isinstance(value, Mapping):
            raise self.wrong(value)
        known = [f.key for f in self.fields]
        for key in value:
            if key not in known:
                raise ShapeError(unknown_message("key", key, known), (key,))
        result = {}
        for f in self.fields:
            given = value.get(f.key)
            if given is None:
                if isinstance(f, Required) and f.key not in value:
                    raise ShapeError(f"missing required key {f.key!r}")
                if isinstance(f, Required):
                    raise ShapeError("is required, and it is empty", (f.key,))
                if f.default is None:
                    continue
                given = copy.deepcopy(f.default)
            try:
                result[f.key] = shape_of(f.type).coerce(given, keep)
            except ShapeError as err:
                raise err.within(f.key) from None
        return result

    def json_schema(self) -> dict[str, Any]:
        properties = {}
        for f in self.fields:
            schema = {**shape_of(f.type).json_schema(), "description": f.help}
            if isinstance(f, Optional) and f.default is not None:
                schema["default"] = f.default
            properties[f.key] = schema
        required = [f.key for f in self.fields if isinstance(f, Required)]
        return {
            "type": "object",
            "additionalProperties": False,
            **({"required": required} if required else {}),
            "properties": properties,
        }


def _at_least(count: int, given: int) -> ShapeError:
    return ShapeError(
        "must not be empty" if count == 1 else f"expected at least {count}, got {given}"
    )


class MapOf(Shape):
    """A mapping whose keys are names the user chooses (containers, headers), each
    value of one shape; ``min_items=1`` refuses an empty mapping."""

    label = "mapping"

    def __init__(self, values: str | Shape, *, min_items: int = 0, expected: str = "a mapping"):
        self.values, self.min_items, self.expected = shape_of(values), min_items, expected

    def _coerce(self, value: Any, keep: Keep) -> Any:
        if not isinstance(value, Mapping):
            raise self.wrong(value)
        if len(value) < self.min_items:
            raise _at_least(self.min_items, len(value))
        result = {}
        for key, item in value.items():
            try:
                result[str(key)] = self.values.coerce(item, keep)
            except ShapeError as err:
                raise err.within(key) from None
        return result

    def json_schema(self) -> dict[str, Any]:
        schema = {"type": "object", "additionalProperties": self.values.json_schema()}
        return schema | ({"minProperties": self.min_items} if self.min_items else {})


class Array(Shape):
    """A list of one shape. ``single=True`` also takes one item for a list of one
    (``expect_status: 200``); ``hint`` follows the message when it is no list."""

    def __init__(
        self,
        of: str | Shape,
        *,
        min_items: int = 0,
        single: bool = False,
        expected: str = "a list",
        hint: str = "",
    ):
        self.of, self.min_items, self.single = shape_of(of), min_items, single
        self.expected, self.hint = expected, hint
        self.label = f"{self.of.label}|list" if single else "list"

    def _coerce(self, value: Any, keep: Keep) -> Any:
        if not isinstance(value, (list, tuple)) and self.single:
            try:
                return [self.of.coerce(value, keep)]
            except ShapeError as err:
                if not err.mismatch:
                    raise
        if not isinstance(value, (list, tuple)):
            raise self.wrong(value, self.hint)
        if len(value) < self.min_items:
            raise _at_least(self.min_items, len(value))
        result = []
        for index, item in enumerate(value):
            try:
                result.append(self.of.coerce(item, keep))
            except ShapeError as err:
                raise err.within(index) from None
        return result

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": self.of.json_schema()}
        if self.min_items:
            schema["minItems"] = self.min_items
        return {"anyOf": [self.of.json_schema(), schema]} if self.single else schema


class OneOf(Shape):
    """Alternatives, the first that fits wins ("a count or a percentage"). When
    none fits, the error is that of the alternative whose kind the value has (a
    mapping's bad field), else "expected A or B, got ..."."""

    def __init__(self, *alternatives: Shape, expected: str = ""):
        self.alternatives = alternatives
        self.expected = expected or " or ".join(a.expected for a in alternatives)
        self.label = "|".join(a.label for a in alternatives)

    def _coerce(self, value: Any, keep: Keep) -> Any:
        errors = []
        for alternative in self.alternatives:
            try:
                return alternative.coerce(value, keep)
            except ShapeError as err:
                errors.append(err)
        meant = [err for err in errors if not err.mismatch]
        raise meant[0] if meant else self.wrong(value)

    def json_schema(self) -> dict[str, Any]:
        return {"anyOf": [a.json_schema() for a in self.alternatives]}


class Checked(Shape):
    """A shape plus a rule it cannot say (a regular expression that compiles):
    ``check`` gets the coerced value and returns it, or raises ``ValueError``."""

    def __init__(self, shape: str | Shape, check: Callable[[Any], Any]):
        self.shape, self.check = shape_of(shape), check
        self.label, self.expected = self.shape.label, self.shape.expected

    def _coerce(self, value: Any, keep: Keep) -> Any:
        value = self.shape.coerce(value, keep)
        return value if holds(value, keep) else apply_check(self.check, value)

    def json_schema(self) -> dict[str, Any]:
        return self.shape.json_schema()


def apply_check(check: Callable[[Any], Any], value: Any) -> Any:
    """Run a rule a shape cannot say; its ``ValueError`` becomes a ``ShapeError``."""
    try:
        return check(value)
    except ShapeError:
        raise
    except ValueError as err:
        raise ShapeError(str(err)) from None


def holds(value: Any, keep: Keep) -> bool:
    """Whether ``keep`` leaves some part of ``value`` as it is (a template inside)."""
    if keep is None:
        return False
    if isinstance(value, Mapping):
        return any(holds(v, keep) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(holds(v, keep) for v in value)
    return keep(value)


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


def shown(value: Any, limit: int = 60) -> str:
    """``string 'many'``: a value's kind and its text, cut short for one line."""
    text = repr(value)
    return f"{type_name(value)} {text if len(text) <= limit else text[: limit - 1] + '…'}"


def unknown_message(what: str, name: Any, known: Any) -> str:
    """``unknown key 'stepz' (did you mean 'steps'?); known: ...``"""
    names = sorted(str(k) for k in known)
    close = difflib.get_close_matches(str(name), names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {name!r}{hint}; known: {', '.join(names)}"
