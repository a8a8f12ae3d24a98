"""``opskit schema``: the JSON Schema of the playbook format, built from the same
declarations the loader checks, so editors and the loader can never disagree."""

from __future__ import annotations

from typing import Any

from opskit import steps as step_registry
from opskit.playbook import AWS_KEYS, STEP_KEYS, TARGET_KEYS, TOP_LEVEL
from opskit.steps.base import Input

# A step input may be a template, anywhere inside it: the loader renders ``with``
# recursively and checks the rendered value's type, so the schema must accept
# "{{ ... }}" wherever the input takes a list, a number or an object.
TEMPLATE = {"type": "string", "pattern": r"\{\{|\{%"}
_NESTED = ("items", "additionalProperties")
_ALTERNATIVES = ("anyOf", "oneOf", "allOf")


def _templatable(inputs: dict[str, Any]) -> dict[str, Any]:
    properties = {
        name: {"description": schema.get("description", ""), **_or_template(schema)}
        for name, schema in inputs["properties"].items()
    }
    return {**inputs, "properties": properties}


def _or_template(schema: Any) -> dict[str, Any]:
    if not isinstance(schema, dict):
        return schema
    inner = dict(schema)
    if isinstance(inner.get("properties"), dict):
        inner["properties"] = {k: _or_template(v) for k, v in inner["properties"].items()}
    for key in _NESTED:
        if isinstance(inner.get(key), dict):
            inner[key] = _or_template(inner[key])
    for key in _ALTERNATIVES:
        if isinstance(inner.get(key), list):
            inner[key] = [_or_template(v) for v in inner[key]]
    return {"anyOf": [inner, TEMPLATE]}


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
    account = next(f for f in AWS_KEYS if f.name == "account_id")
    aws = _object(
        AWS_KEYS,
        {  # 12 digits, or a template the run renders (the loader checks both)
            "account_id": {
                "description": account.help,
                "anyOf": [{"type": "string", "pattern": "^[0-9]{12}$"}, TEMPLATE],
            }
        },
    )
    target = _object(TARGET_KEYS, {"aws": aws})
    top = _object(
        TOP_LEVEL,
        {
            "targets": {"type": "object", "additionalProperties": {"$ref": "#/$defs/target"}},
            "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/step"}},
            "on_failure": {"type": "array", "items": {"$ref": "#/$defs/step"}},
        },
    )
    # What each step type's steps.ID.outputs holds: not part of a playbook, but
    # published from the same declaration as `opskit steps` prints.
    outputs = {}
    for name in names:
        step_type = step_registry.get(name)
        assert step_type is not None
        outputs[name] = step_type.output_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://opskit.dev/schema/playbook.json",
        "title": "opskit playbook",
        **top,
        "$defs": {"step": step, "target": target, "outputs": outputs},
    }
