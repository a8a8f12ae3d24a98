"""Statement ids that say what a statement grants: ``S3ListPrefixVersions``,
``S3ReadWriteDeleteObjects``, ``LogsReadStreams``, ``EcsReadUpdateService``.

A ``Sid`` is the service, then for each thing the statement's actions act on,
what they do to it (a verb per action, ``GRANTS``) and the thing; things done
the same way share their verbs (``ListPrefixVersions``). The id depends only on
the statement's own actions (and, for a listing, whether ``s3:prefix`` scopes
it), so a statement keeps its id whatever else the policy holds. Two statements
that grant the same actions on different resources or conditions (two prefixes
of one bucket) are told apart by the words of their resources and conditions,
then by a number. IAM allows only ASCII letters and digits in a ``Sid``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

# action -> (what it does, to what), for every action a step type declares
# (tests/iam/test_policy.py checks that none is missing).
GRANTS: dict[str, tuple[str, str]] = {
    "s3:ListBucket": ("List", "Prefix"),
    "s3:ListBucketVersions": ("List", "Versions"),
    "s3:GetBucketVersioning": ("Read", "Versioning"),
    "s3:GetObject": ("Read", "Objects"),
    "s3:GetObjectVersion": ("Read", "Versions"),
    "s3:PutObject": ("Write", "Objects"),
    "s3:AbortMultipartUpload": ("Write", "Objects"),
    "s3:DeleteObject": ("Delete", "Objects"),
    "s3:DeleteObjectVersion": ("Delete", "Versions"),
    "ecs:DescribeServices": ("Read", "Service"),
    "ecs:UpdateService": ("Update", "Service"),
    "ecs:ListServiceDeployments": ("List", "Deployments"),
    "ecs:DescribeServiceDeployments": ("Read", "Deployments"),
    "ecs:ContinueServiceDeployment": ("Continue", "Deployments"),
    "ecs:StopServiceDeployment": ("Stop", "Deployments"),
    "ecs:ListTasks": ("List", "Tasks"),
    "ecs:DescribeTasks": ("Read", "Tasks"),
    "ecs:DescribeTaskDefinition": ("Read", "TaskDefinitions"),
    "ecs:RegisterTaskDefinition": ("Register", "TaskDefinitions"),
    "ecs:TagResource": ("Tag", "NewRevisions"),
    "ecs:RunTask": ("Run", "Tasks"),
    "ecs:StopTask": ("Stop", "Tasks"),
    "iam:PassRole": ("Pass", "TaskRoles"),
    "logs:DescribeLogGroups": ("List", "Groups"),
    "logs:GetLogEvents": ("Read", "Streams"),
    "logs:FilterLogEvents": ("Filter", "Events"),
    "kms:GenerateDataKey": ("Encrypt", "WithKey"),
    "kms:Decrypt": ("Decrypt", "WithKey"),
    "cloudwatch:DescribeAlarms": ("Read", "Alarms"),
}
VERBS = ("List", "Read", "Filter", "Write", "Update", "Register", "Delete", "Tag", "Pass",
         "Run", "Continue", "Stop", "Encrypt", "Decrypt")  # fmt: skip
# A listing that no s3:prefix condition scopes lists the whole bucket.
_UNSCOPED = {"Prefix": "Bucket"}


def base_sid(actions: Sequence[str], condition: Mapping[str, Any]) -> str:
    """What the statement grants, from its actions alone (an action ``GRANTS`` does
    not know is named by itself: ``ecs:DescribeClusters`` → ``DescribeClusters``)."""
    service = actions[0].split(":", 1)[0]
    scoped = any("s3:prefix" in keys for keys in condition.values())
    things: dict[str, set[str]] = {}
    for action in sorted(actions):
        verb, thing = GRANTS.get(action, (action.split(":", 1)[-1], ""))
        if not scoped:
            thing = _UNSCOPED.get(thing, thing)
        things.setdefault(thing, set()).add(verb)
    words = [service[:1].upper() + service[1:]]
    previous: list[str] | None = None
    for thing, verbs in things.items():
        ordered = sorted(verbs, key=lambda v: (VERBS.index(v) if v in VERBS else len(VERBS), v))
        if ordered != previous:
            words += ordered
        words.append(thing)
        previous = ordered
    return "".join(words)


def _words(text: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", text))


def _resource_words(resources: Sequence[str], condition: Mapping[str, Any]) -> str:
    parts = [r.split(":", 5)[5] if r.startswith("arn:") and r.count(":") >= 5 else r
             for r in resources]  # fmt: skip
    for keys in condition.values():
        for values in keys.values():
            parts += values if isinstance(values, list) else [str(values)]
    return _words(" ".join(parts))


def statement_ids(statements: Sequence[Mapping[str, Any]]) -> list[str]:
    """One unique ``Sid`` per statement (``Action``, ``Resource``, ``Condition``), in order."""
    sids = [base_sid(s["Action"], s.get("Condition") or {}) for s in statements]
    repeated = {sid for sid, count in Counter(sids).items() if count > 1}
    sids = [
        sid + _resource_words(s["Resource"], s.get("Condition") or {}) if sid in repeated else sid
        for sid, s in zip(sids, statements, strict=True)
    ]
    seen: Counter[str] = Counter()
    unique = []
    for sid in sids:
        seen[sid] += 1
        unique.append(sid if seen[sid] == 1 else f"{sid}{seen[sid]}")
    return unique
