"""Check a task definition file against ECS's own model before any AWS call.

The model is botocore's input shape of ``RegisterTaskDefinition``, the one the
SDK would send, so a key ECS does not know or a value of the wrong type fails
here with ``FILE:LINE`` and the path (``containerDefinitions[0].cpu``) instead
of as a ``ParamValidationError`` after the run started. The fields that
``describe-task-definition`` returns and Register does not take are accepted
and ignored (people paste that output; aws-actions' render action does too).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from functools import cache
from typing import Any

from opskit.errors import InputError

Path = tuple[Any, ...]
# Returned by DescribeTaskDefinition, not taken by RegisterTaskDefinition.
DESCRIBE_ONLY = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
)
_NUMBER = {"integer": "an integer", "long": "an integer", "double": "a number", "float": "a number"}


@cache
def register_shape() -> Any:
    """botocore's input shape of ECS RegisterTaskDefinition."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    return model.operation_model("RegisterTaskDefinition").input_shape


def format_path(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value:g})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def validate(data: Any, source: str, line_of: Callable[[Path], int | None]) -> dict[str, Any]:
    """The registrable part of ``data`` (describe-only fields dropped); ``InputError``
    with ``source:line`` and the path for the first unknown key or bad type."""

    def fail(path: Path, message: str) -> InputError:
        where = format_path(path)
        return InputError(f"{where + ': ' if where else ''}{message}", source=source,
                          line=line_of(path))  # fmt: skip

    if not isinstance(data, dict):
        raise fail((), f"a task definition is a mapping, not {_kind(data)}")
    wanted = {k: v for k, v in data.items() if k not in DESCRIBE_ONLY}
    _check(register_shape(), wanted, (), fail)
    return wanted


def _check(shape: Any, value: Any, path: Path, fail: Callable[[Path, str], InputError]) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise fail(path, f"expected a mapping, got {_kind(value)}")
        members = shape.members
        for key, item in value.items():
            if key not in members:
                close = difflib.get_close_matches(str(key), list(members), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise fail((*path, key), f"unknown key {key!r}{hint}")
            _check(members[key], item, (*path, key), fail)
        for key in shape.required_members:
            if key not in value:
                raise fail(path, f"missing required key {key!r}")
    elif kind == "list":
        if not isinstance(value, list):
            raise fail(path, f"expected a list, got {_kind(value)}")
        for index, item in enumerate(value):
            _check(shape.member, item, (*path, index), fail)
    elif kind == "map":
        if not isinstance(value, dict):
            raise fail(path, f"expected a mapping, got {_kind(value)}")
        for key, item in value.items():
            _check(shape.value, item, (*path, key), fail)
    elif kind == "string":
        if not isinstance(value, str):
            hint = f' (quote it: "{value}")' if isinstance(value, (int, float)) else ""
            raise fail(path, f"expected a string, got {_kind(value)}{hint}")
        enum = shape.enum
        if enum and value not in enum:
            raise fail(path, f"{value!r} is not one of {', '.join(enum)}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise fail(path, f"expected true or false, got {_kind(value)}")
    elif kind in _NUMBER:
        integral = kind in ("integer", "long")
        ok = isinstance(value, int) or (not integral and isinstance(value, float))
        if isinstance(value, bool) or not ok:
            raise fail(path, f"expected {_NUMBER[kind]}, got {_kind(value)}")
    elif kind == "timestamp":
        return
