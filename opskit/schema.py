"""``opskit schema``: the JSON Schema of the playbook format, built from the same
declarations the loader checks, so editors and the loader can never disagree."""

from __future__ import annotations

from typing import Any

from opskit import steps as step_registry
from opskit.playbook import AWS_KEYS, STEP_KEYS, TARGET_KEYS, TOP_LEVEL
from opskit.steps.base import Input

# A step input may be a template; the loader checks the rendered value's type,
# so the schema must accept "{{ ... }}" where the input takes a list or a number.
TEMPLATE = {"type": "string", "pattern": r"\{\{|\{%"}


def _templatable(inputs: dict[str, Any]) -> dict[str, Any]:
    properties = {
        name: {"description": schema.get("description", ""), "anyOf": [schema, TEMPLATE]}
        for name, schema in inputs["properties"].items()
    }
    return {**inputs, "properties": properties}


def _object(fields: tuple[Input, ...], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    properties = {f.name: f.json_schema() for f in fields}
    properties.update(overrides or {})
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    required = [f.name for f in fields if f.required]
    if required:
        schema["required"] = required
    return schema


def playbook_schema() -> dict[str, Any]:
    names = step_registry.names()
    step = _object(
        STEP_KEYS,
        {
            "id": {
                "type": "string",
                "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                "description": STEP_KEYS[0].help,
            },
            "uses": {"enum": names, "description": "The step type."},
            "retries": {"type": "integer", "minimum": 0},
        },
    )
    step["allOf"] = []
    for name in names:
        step_type = step_registry.get(name)
        assert step_type is not None
        step["allOf"].append(
            {
                "if": {"properties": {"uses": {"const": name}}, "required": ["uses"]},
                "then": {"properties": {"with": _templatable(step_type.input_schema())}},
            }
        )
    target = _object(TARGET_KEYS, {"aws": _object(AWS_KEYS)})
    top = _object(
        TOP_LEVEL,
        {
            "targets": {"type": "object", "additionalProperties": {"$ref": "#/$defs/target"}},
            "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/step"}},
            "on_failure": {"type": "array", "items": {"$ref": "#/$defs/step"}},
        },
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://opskit.dev/schema/playbook.json",
        "title": "opskit playbook",
        **top,
        "$defs": {"step": step, "target": target},
    }
