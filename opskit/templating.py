"""Jinja2 templates in playbooks: sandboxed, strict, and type-preserving.

A value that is one whole ``{{ expression }}`` keeps the expression's native
type, so ``task_ids: "{{ steps.redeploy.outputs.new_task_ids }}"`` stays a list.
Anything else renders to a string. Undefined names are errors, never empty
strings, and the sandbox refuses Python internals (``__class__``, ``__globals__``).
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

CONTEXTS = ("vars", "steps", "target", "env", "run", "opskit")
_WHOLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\s*$", re.DOTALL)


class _Environment(ImmutableSandboxedEnvironment):
    """Keys win over attributes: ``vars.items`` is the var named ``items``, not
    ``dict.items`` (Jinja tries attributes first, a classic surprise)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


_env = _Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


class TemplateProblem(Exception):
    """A template failed; ``str()`` is a one-line message with the expression.

    Callers add the file and line (they know where the value came from);
    ``line`` is set when the template is a whole file (``render_text``).
    """

    line: int | None = None


class UndefinedStepOutput(TemplateProblem):
    """An undefined name inside ``steps.*``: an earlier step's output that does not
    exist (yet). A dry run skips such a step: its inputs come from a real run."""


class NotRenderedYet(Exception):
    """A file's template cannot be rendered here (it reads ``steps``, or
    ``opskit validate`` has no vars): its step checks it when it runs."""


@dataclass(frozen=True)
class Reference:
    """A ``root.name`` reference found in a template, e.g. ``vars.bucket``."""

    root: str
    name: str | None


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def has_template(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(has_template(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_template(v) for v in value)
    return is_template(value)


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(err: Exception, text: str) -> str:
    if isinstance(err, SecurityError):
        return f"template is not allowed here ({err}) in {_snippet(text)!r}"
    if isinstance(err, UndefinedError):
        return f"undefined: {err.message} in {_snippet(text)!r}"
    if isinstance(err, TemplateSyntaxError):
        return f"template syntax error: {err.message} in {_snippet(text)!r}"
    return f"template error: {err} in {_snippet(text)!r}"


def parse(text: str) -> nodes.Template:
    """Parse (no rendering) so that syntax errors are found before anything runs."""
    try:
        match = _WHOLE.match(text)
        source = "{{ " + match.group("expr") + " }}" if match else text
        tree = _env.parse(source)
        _env.compile(source)  # unknown filters and tests are found only when compiling
        return tree
    except TemplateSyntaxError as err:
        raise TemplateProblem(_describe(err, text)) from None


def references(text: str) -> Iterator[Reference]:
    """Every ``root`` and ``root.name`` the template reads (for early checks)."""
    tree = parse(text)
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    attr_of: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, (nodes.Getattr, nodes.Getitem))
        target = node.node
        if isinstance(target, nodes.Name) and target.ctx == "load":
            name: str | None = None
            if isinstance(node, nodes.Getattr):
                name = node.attr
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                name = node.arg.value
            attr_of.add(id(target))
            if target.name not in assigned:
                yield Reference(target.name, name)
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and id(node) not in attr_of and node.name not in assigned:
            yield Reference(node.name, None)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every template inside ``value`` (dicts and lists recursively)."""
    if isinstance(value, Mapping):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if not is_template(value):
        return value
    try:
        match = _WHOLE.match(value)
        if match:
            expression = _env.compile_expression(
                match.group("expr").strip(), undefined_to_none=False
            )
            result = expression(**context)
            if isinstance(result, StrictUndefined):
                str(result)  # raises UndefinedError with the name
            return _plain(result)
        return _env.from_string(value).render(**context)
    except (TemplateError, TypeError, ValueError, ZeroDivisionError, AttributeError) as err:
        if isinstance(err, UndefinedError) and any(r.root == "steps" for r in references(value)):
            raise UndefinedStepOutput(_describe(err, value)) from None
        if isinstance(err, TemplateError):
            raise TemplateProblem(_describe(err, value)) from None
        raise TemplateProblem(f"template error: {err} in {_snippet(value)!r}") from None


def render_text(text: str, context: Mapping[str, Any]) -> str:
    """Render a whole file (a task definition template) to text.

    ``TemplateProblem`` carries the template's own line in ``line`` (Jinja's
    syntax errors know it; a runtime error's line is the template frame of its
    traceback), so the caller can say ``file:line``.
    """
    try:
        return _env.from_string(text).render(**context)
    except (TemplateError, TypeError, ValueError, ZeroDivisionError, AttributeError) as err:
        line = getattr(err, "lineno", None) if isinstance(err, TemplateSyntaxError) else None
        if line is None:
            frames = traceback.extract_tb(err.__traceback__)
            line = next((f.lineno for f in reversed(frames) if f.filename == "<template>"), None)
        message = _describe(err, "") if isinstance(err, TemplateError) else f"template error: {err}"
        problem = TemplateProblem(message.removesuffix(" in ''"))
        problem.line = line
        raise problem from None


def evaluate_condition(condition: Any, context: Mapping[str, Any]) -> bool:
    """``when:`` accepts a boolean, ``{{ expr }}`` or a bare expression (as GitHub's ``if:``)."""
    if isinstance(condition, bool) or condition is None:
        return bool(condition)
    text = str(condition)
    result = render(text if is_template(text) else "{{ " + text + " }}", context)
    if isinstance(result, str):
        return result.strip().lower() not in ("", "false", "0", "no", "none", "off")
    return bool(result)


def _plain(value: Any) -> Any:
    """Turn Jinja's lazy or immutable wrappers back into plain Python values."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
