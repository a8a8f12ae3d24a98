"""A step type's permissions, declared as data: one ``Need`` per IAM action.

A need names the action, the resource it acts on (a spec that reads the step's
input values by name and the target's ``Scope``: ``opskit.iam.resources``), why
the step calls it (the code path: ``opskit steps`` and ``docs/iam.md`` show it)
and when (an input that switches the path on, e.g. ``delete: true``).
``Permissions.grants`` turns the needs that apply to one step's inputs into
grants; ``opskit.iam.policy`` merges a playbook's grants into statements.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from opskit.iam.scope import Scope


@dataclass(frozen=True)
class Resolved:
    """The resource of one need for one step: ARNs (or patterns), a condition
    that narrows them, and a note when they are a wildcard."""

    arns: tuple[str, ...]
    kind: str  # what they are (S3Bucket, EcsService, LogsGroup): orders the statements
    condition: Mapping[str, Mapping[str, list[str]]] = field(default_factory=dict)
    note: str | None = None


class ResourceSpec(Protocol):
    @property
    def inputs(self) -> tuple[str, ...]:
        """The step inputs it reads."""
        ...

    def describe(self) -> str: ...

    def resolve(self, values: Mapping[str, Any], scope: Scope) -> Resolved: ...


@dataclass(frozen=True)
class When:
    """A condition on the step's inputs under which a need applies."""

    test: Callable[[Mapping[str, Any]], bool]  # on the step's input values, by name
    text: str  # how docs and ``opskit steps`` say it, e.g. "delete: true"
    inputs: tuple[str, ...] = ()


ALWAYS = When(lambda _: True, "")


def flag(name: str, text: str | None = None) -> When:
    """The need applies when input ``name`` is set (true, non-zero, non-empty)."""
    return When(lambda values: bool(values[name]), text or f"{name}: true", (name,))


def any_of(*names: str) -> When:
    """The need applies when any of the inputs is set."""
    return When(
        lambda values: any(values[n] for n in names),
        " or ".join(names) + " set",
        names,
    )


def all_of(*names: str, text: str) -> When:
    """The need applies when every one of the inputs is set."""
    return When(lambda values: all(values[n] for n in names), text, names)


@dataclass(frozen=True)
class Need:
    action: str  # service:Action, as IAM names it
    on: ResourceSpec
    why: str  # the code path that calls it
    when: When = ALWAYS


@dataclass(frozen=True)
class Remark:
    """Something a policy reader must know when the inputs take a path that needs
    no statement (or one the policy cannot state); ``opskit iam`` prints it."""

    text: str
    when: When


@dataclass(frozen=True)
class Grant:
    """One action on resolved resources, for one step."""

    action: str
    resolved: Resolved
    step: str = ""

    @property
    def condition_key(self) -> str:
        return json.dumps(self.resolved.condition, sort_keys=True)


class Permissions:
    """A step type's needs (``StepType.permissions``). ``NO_AWS`` for a step that
    calls no AWS API."""

    def __init__(self, *needs: Need, remarks: tuple[Remark, ...] = ()):
        self.needs = needs
        self.remarks = remarks

    @property
    def actions(self) -> tuple[str, ...]:
        """Every action any of its paths may call, sorted (what docs/iam.md lists)."""
        return tuple(sorted({need.action for need in self.needs}))

    @property
    def input_names(self) -> set[str]:
        found = {name for need in self.needs for name in (*need.on.inputs, *need.when.inputs)}
        return found | {name for remark in self.remarks for name in remark.when.inputs}

    def grants(self, values: Mapping[str, Any], scope: Scope, step: str = "") -> list[Grant]:
        """The grants a step's input values (by name, defaults filled in) switch on."""
        return [
            Grant(need.action, need.on.resolve(values, scope), step)
            for need in self.needs
            if need.when.test(values)
        ]

    def remarks_for(self, values: Mapping[str, Any]) -> list[str]:
        return [remark.text for remark in self.remarks if remark.when.test(values)]


NO_AWS = Permissions()
