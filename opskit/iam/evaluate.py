"""Does a set of identity policies allow one request? IAM's evaluation, as the
sandbox needs it.

The rules of "Policy evaluation logic" (IAM User Guide) for identity-based
policies of one account: an explicit ``Deny`` wins; else an ``Allow`` whose
action, resource and condition all match allows; else the request is denied
implicitly. Actions match case-insensitively, resources case-sensitively,
both with ``*`` and ``?`` wildcards (``NotAction``/``NotResource`` invert).

Conditions: the string and ARN operators (``StringEquals``, ``StringLike``,
``ArnEquals``, ``ArnLike`` and their ``Not`` forms, ``...IfExists``), ``Null``,
``Bool``, and the ``ForAnyValue:``/``ForAllValues:`` set qualifiers. A key absent
from the request fails a positive operator and passes a negated one ("Condition
operators", IAM User Guide). An operator this module does not know never lets
an ``Allow`` match, and always lets a ``Deny`` match: it fails closed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

Outcome = Literal["allowed", "implicit deny", "explicit deny"]
Context = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    action: str
    resource: str

    @property
    def allowed(self) -> bool:
        return self.outcome == "allowed"


@lru_cache(maxsize=1024)
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` one."""
    return _pattern(pattern, ignore_case).match(value) is not None


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _element(statement: Mapping[str, Any], name: str, value: str, ignore_case: bool) -> bool:
    """Whether ``value`` is in the statement's ``name`` (or outside its ``NotName``)."""
    if name in statement:
        return any(matches(p, value, ignore_case=ignore_case) for p in _listed(statement[name]))
    if f"Not{name}" in statement:
        patterns = _listed(statement[f"Not{name}"])
        return not any(matches(p, value, ignore_case=ignore_case) for p in patterns)
    return False


def arn_matches(pattern: str, arn: str) -> bool:
    """``ArnEquals``/``ArnLike`` (the same operator): each of the six colon-separated
    parts matched on its own, with wildcards ("Condition operators", IAM User Guide)."""
    wanted, actual = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(actual) == 6 and all(map(matches, wanted, actual))


def _compare(operator: str, wanted: str, actual: str) -> bool | None:
    if operator == "StringEquals":
        return actual == wanted
    if operator == "StringEqualsIgnoreCase":
        return actual.lower() == wanted.lower()
    if operator == "StringLike":
        return matches(wanted, actual)
    if operator in ("ArnEquals", "ArnLike"):
        return arn_matches(wanted, actual)
    if operator == "Bool":
        return actual.lower() == wanted.lower()
    return None


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


_KNOWN = {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "Bool"}


def _condition(operator: str, key: str, wanted: Any, context: Context) -> bool | None:
    """One ``operator: {key: wanted}`` pair against the request; ``None`` when the
    operator is not one this module knows."""
    qualifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    present = key in context
    actual = _listed(context.get(key))
    wanted_values = _listed(wanted)
    if operator == "Null":
        return (not present) == (wanted_values[0].lower() == "true")
    if _NEGATED.get(operator, operator) not in _KNOWN:
        return None
    if not present:
        if if_exists:
            return True
        return operator in _NEGATED or qualifier == "ForAllValues"
    negated = operator in _NEGATED
    base = _NEGATED.get(operator, operator)

    def one(value: str) -> bool | None:
        results = [_compare(base, w, value) for w in wanted_values]
        if any(r is None for r in results):
            return None
        hit = any(results)
        return not hit if negated else hit

    verdicts = [one(value) for value in actual]
    if any(v is None for v in verdicts):
        return None
    if qualifier == "ForAllValues":
        return all(verdicts)
    return any(verdicts)  # ForAnyValue, and a single-valued key


def _conditions_hold(statement: Mapping[str, Any], context: Context, effect: str) -> bool:
    for operator, pairs in (statement.get("Condition") or {}).items():
        for key, wanted in (pairs or {}).items():
            held = _condition(operator, key, wanted, context)
            if held is None:  # an unknown operator: fail closed
                held = effect == "Deny"
            if not held:
                return False
    return True


def evaluate(
    policies: Iterable[Mapping[str, Any]],
    action: str,
    resource: str,
    context: Context | None = None,
) -> Decision:
    """The decision of identity policies (parsed JSON documents) on one request."""
    context = context or {}
    allowed = False
    for policy in policies:
        statements = policy.get("Statement") or []
        if isinstance(statements, Mapping):
            statements = [statements]
        for statement in statements:
            effect = str(statement.get("Effect", ""))
            if not _element(statement, "Action", action, ignore_case=True):
                continue
            if not _element(statement, "Resource", resource, ignore_case=False):
                continue
            if not _conditions_hold(statement, context, effect):
                continue
            if effect == "Deny":
                return Decision("explicit deny", action, resource)
            if effect == "Allow":
                allowed = True
    return Decision("allowed" if allowed else "implicit deny", action, resource)
