"""Shapes: one declaration coerces a nested value, fills its defaults, says where
inside it an error is, and publishes the JSON Schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from opskit.inputs import InvalidInput, build_inputs, param
from opskit.shapes import (
    Array,
    Map,
    MapOf,
    OneOf,
    Optional,
    Percentage,
    Required,
    Scalar,
    ShapeError,
    Text,
)

QUESTION = Map(
    Required("question", Text(), "What to type."),
    Optional("expect", Array("string"), "What the answer holds.", default=[]),
    Optional("timeout", "duration", "How long to wait."),
)
COUNT_OR_SHARE = OneOf(Scalar("integer", minimum=0), Percentage(), expected="a count or a share")


def is_template(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def error(shape: Any, value: Any) -> tuple[tuple[Any, ...], str]:
    with pytest.raises(ShapeError) as caught:
        shape.coerce(value)
    return caught.value.path, caught.value.message


def test_a_map_fills_the_defaults_of_its_optional_fields_and_leaves_out_those_without() -> None:
    assert QUESTION.coerce({"question": "How?", "timeout": "1m"}) == {
        "question": "How?",
        "expect": [],
        "timeout": 60.0,
    }
    assert QUESTION.coerce({"question": "How?", "expect": None}) == {
        "question": "How?",
        "expect": [],
    }


def test_an_error_says_where_inside_the_value_it_is() -> None:
    questions = Array(QUESTION)
    assert error(questions, [{"question": "a"}, {"question": "b", "expect": [1, {}]}]) == (
        (1, "expect", 1),
        "expected a string, got mapping {}",
    )
    assert error(questions, [{"question": "a", "expected": []}]) == (
        (0, "expected"),
        "unknown key 'expected' (did you mean 'expect'?); known: expect, question, timeout",
    )
    assert error(questions, [{"expect": []}]) == ((0,), "missing required key 'question'")
    assert error(questions, [{"question": None}]) == (
        (0, "question"),
        "is required, and it is empty",
    )


def test_one_of_reports_the_alternative_the_value_was_meant_for() -> None:
    assert COUNT_OR_SHARE.coerce("7") == 7
    assert COUNT_OR_SHARE.coerce(" 50% ") == "50%"
    assert error(COUNT_OR_SHARE, "150%") == (
        (),
        "expected a percentage from 0% to 100%, got '150%'",
    )
    assert error(COUNT_OR_SHARE, -1) == ((), "expected 0 or more, got -1")
    assert error(COUNT_OR_SHARE, True) == ((), "expected a count or a share, got boolean True")


def test_a_map_of_names_keeps_the_names_and_checks_each_value() -> None:
    images = MapOf(Text(expected="an image"), min_items=1)
    assert images.coerce({"app": "repo/app:2"}) == {"app": "repo/app:2"}
    assert error(images, {"app": "repo/app:2", "sidecar": 5}) == (
        ("sidecar",),
        "expected an image, got integer 5",
    )
    assert error(images, {}) == ((), "must not be empty")


def test_an_array_may_take_one_item_for_a_list_of_one() -> None:
    statuses = Array(Scalar("integer", minimum=100, maximum=599), single=True, min_items=1)
    assert statuses.coerce(200) == [200]
    assert statuses.coerce(["301", 302]) == [301, 302]
    assert error(statuses, 700) == ((), "expected 100 to 599, got 700")
    assert error(statuses, []) == ((), "must not be empty")


def test_keep_lets_templates_through_and_checks_around_them() -> None:
    questions = Array(QUESTION)
    given = [{"question": "{{ vars.q }}", "expect": "{{ vars.words }}"}]
    assert questions.coerce(given, keep=is_template) == [
        {"question": "{{ vars.q }}", "expect": "{{ vars.words }}"}
    ]
    with pytest.raises(ShapeError) as caught:
        questions.coerce([{"question": "{{ vars.q }}", "expectt": []}], keep=is_template)
    assert caught.value.path == (0, "expectt")


def test_the_schema_says_what_the_coercion_checks() -> None:
    assert QUESTION.json_schema() == {
        "type": "object",
        "additionalProperties": False,
        "required": ["question"],
        "properties": {
            "question": {"type": "string", "pattern": r"\S", "description": "What to type."},
            "expect": {
                "type": "array",
                "items": {"type": "string"},
                "description": "What the answer holds.",
                "default": [],
            },
            "timeout": {**Scalar("duration").json_schema(), "description": "How long to wait."},
        },
    }
    assert COUNT_OR_SHARE.json_schema()["anyOf"][0] == {"type": "integer", "minimum": 0}


@dataclass(frozen=True, kw_only=True)
class ChatInputs:
    ask: list[dict[str, Any]] = param("Questions.", Array(QUESTION), default=[])


def test_a_step_input_declared_with_a_shape_names_the_path_of_a_bad_value() -> None:
    assert build_inputs(ChatInputs, {"ask": [{"question": "How?"}]}).ask == [
        {"question": "How?", "expect": []}
    ]
    with pytest.raises(InvalidInput) as caught:
        build_inputs(ChatInputs, {"ask": [{"question": "How?", "timeout": "soon"}]})
    assert (caught.value.name, caught.value.path, str(caught.value)) == (
        "ask",
        (0, "timeout"),
        "expected a duration like 90s or 10m, got 'soon'",
    )
