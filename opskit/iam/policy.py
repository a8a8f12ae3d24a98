"""Merge a playbook's grants into one IAM policy document, in a stable order.

Three passes keep the policy small and readable without widening it: a grant
whose resource another grant of the same action and condition already covers
is dropped (``s3:DeleteObject`` on ``src/.opskit/releases/*`` when ``src/*`` is
granted); the actions on the same resources (and condition) become one
statement; statements with the same actions and condition then share their
resources. Statements are ordered by service, kind and resource; each ``Sid``
says what the statement grants (``S3ListPrefix``, ``LogsReadStreams``:
``opskit.iam.sids``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opskit.iam.needs import Grant
from opskit.iam.sids import statement_ids

VERSION = "2012-10-17"


@dataclass(frozen=True)
class _Atom:
    action: str
    arn: str
    kind: str
    condition: str  # canonical JSON of the condition ("{}" for none)


def covers(pattern: str, other: str) -> bool:
    """Whether every resource that ``other`` matches is matched by ``pattern``: a
    ``*`` of ``other`` may only be met by a ``*`` of ``pattern``, which matches
    whatever it stands for."""
    if pattern == other or pattern == "*":
        return True
    body = "".join(".*" if c == "*" else "[^*]" if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(body, other, re.DOTALL) is not None


def policy_document(grants: Iterable[Grant]) -> dict[str, Any]:
    """The policy that allows exactly ``grants`` (``Statement`` is empty when there are none)."""
    atoms = list(
        dict.fromkeys(
            _Atom(g.action, arn, g.resolved.kind, g.condition_key)
            for g in grants
            for arn in g.resolved.arns
        )
    )
    kept = [
        a
        for a in atoms
        if not any(
            b != a
            and b.action == a.action
            and b.condition == a.condition
            and covers(b.arn, a.arn)
            and not (covers(a.arn, b.arn) and atoms.index(a) < atoms.index(b))
            for b in atoms
        )
    ]
    by_resource: dict[tuple[str, str], tuple[str, set[str]]] = {}
    for atom in kept:
        _, action_set = by_resource.setdefault((atom.arn, atom.condition), (atom.kind, set()))
        action_set.add(atom.action)
    by_actions: dict[tuple[tuple[str, ...], str, str], list[str]] = {}
    for (arn, condition), (kind, action_set) in by_resource.items():
        by_actions.setdefault((tuple(sorted(action_set)), condition, kind), []).append(arn)
    statements = sorted(
        (
            (names[0].split(":", 1)[0], kind, sorted(arns), names, condition)
            for (names, condition, kind), arns in by_actions.items()
        ),
        key=lambda s: (s[0], s[1], s[2], s[3], s[4]),
    )
    allowed = []
    for _, _, arns, actions, condition in statements:
        statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": arns}
        parsed = json.loads(condition)
        if parsed:
            statement["Condition"] = parsed
        allowed.append(statement)
    named = [{"Sid": sid, **s} for sid, s in zip(statement_ids(allowed), allowed, strict=True)]
    return {"Version": VERSION, "Statement": named}
