"""Templates in playbooks: native types, strict names, a sandbox, early references."""

from __future__ import annotations

from typing import Any

import pytest

from opskit.templating import (
    Reference,
    TemplateProblem,
    evaluate_condition,
    has_template,
    parse,
    references,
    render,
)

CONTEXT: dict[str, Any] = {
    "vars": {"bucket": "assets", "items": ["a", "b"], "count": 3, "check": False},
    "steps": {"redeploy": {"outputs": {"new_task_ids": ["t1", "t2"], "healthy": True}}},
}


def problem(value: Any, context: dict[str, Any] = CONTEXT) -> str:
    with pytest.raises(TemplateProblem) as info:
        render(value, context)
    return str(info.value)


def test_a_whole_expression_keeps_its_native_type() -> None:
    assert render("{{ steps.redeploy.outputs.new_task_ids }}", CONTEXT) == ["t1", "t2"]
    assert render("  {{ vars.count + 1 }} ", CONTEXT) == 4
    assert render("{{ steps.redeploy.outputs.healthy }}", CONTEXT) is True


def test_text_around_an_expression_renders_a_string() -> None:
    assert render("s3://{{ vars.bucket }}/src/", CONTEXT) == "s3://assets/src/"
    assert render("{{ vars.count }}{{ vars.count }}", CONTEXT) == "33"


def test_mappings_and_lists_are_rendered_inside() -> None:
    given = {"to": ["{{ vars.bucket }}", 5], "n": "{{ vars.count }}", "plain": "x"}
    assert render(given, CONTEXT) == {"to": ["assets", 5], "n": 3, "plain": "x"}
    assert has_template(given) and not has_template({"a": ["b", 1]})


def test_a_key_wins_over_a_dict_method() -> None:
    assert render("{{ vars.items }}", CONTEXT) == ["a", "b"]


def test_an_undefined_name_is_an_error_not_an_empty_string() -> None:
    assert problem("s3://{{ vars.bukcet }}/") == (
        "undefined: 'dict object' has no attribute 'bukcet' in 's3://{{ vars.bukcet }}/'"
    )
    assert problem("{{ vars.bukcet }}") == (
        "undefined: 'dict object' has no attribute 'bukcet' in '{{ vars.bukcet }}'"
    )


@pytest.mark.parametrize(
    "text",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "x{{ vars.__class__ }}",
        # str.format reached indirectly: CVE-2024-56326 (fixed in Jinja2 3.1.5) and
        # through the attr filter, CVE-2025-27516 (3.1.6); setup.cfg's floor is 3.1.6.
        '{% set f = "{0.__class__.__mro__}".format %}{{ f(1) }}',
        '{{ ("{0.__class__.__mro__}" | attr("format"))(1) }}',
    ],
)
def test_python_internals_are_refused(text: str) -> None:
    assert problem(text).startswith("template is not allowed here (access to attribute '__")


def test_errors_while_evaluating_name_the_template() -> None:
    assert problem("{{ vars.count / 0 }}") == (
        "template error: division by zero in '{{ vars.count / 0 }}'"
    )


def test_syntax_and_unknown_filters_are_found_before_anything_runs() -> None:
    with pytest.raises(TemplateProblem) as info:
        parse("{{ vars.bucket ")
    assert str(info.value).startswith("template syntax error: ")
    with pytest.raises(TemplateProblem) as info:
        parse("{{ vars.bucket | shout }}")
    assert str(info.value) == (
        "template syntax error: No filter named 'shout'. in '{{ vars.bucket | shout }}'"
    )


def test_references_name_what_a_template_reads() -> None:
    text = (
        "{{ vars.bucket }}/{{ steps['redeploy'].outputs }}"
        "{% for x in vars.items %}{{ x }}{% endfor %}"
    )
    assert set(references(text)) == {
        Reference("vars", "bucket"),
        Reference("steps", "redeploy"),
        Reference("vars", "items"),
    }
    assert list(references("{{ env }}")) == [Reference("env", None)]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (True, True),
        (None, False),
        ("vars.count > 2", True),
        ("{{ vars.check }}", False),
        ("not vars.check", True),
        ("{{ vars.bucket }}", True),
        ("{{ 'no' }}", False),
        ("{{ '' }}", False),
    ],
)
def test_when_takes_a_boolean_a_template_or_a_bare_expression(
    condition: Any, expected: bool
) -> None:
    assert evaluate_condition(condition, CONTEXT) is expected
