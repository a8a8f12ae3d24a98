"""IAM's decision on one request, as the sandbox's enforcement takes it: a table of
statements, requests and the outcome IAM's "Policy evaluation logic" gives."""

from __future__ import annotations

from typing import Any

import pytest

from opskit.iam.evaluate import evaluate

BUCKET = "arn:aws:s3:::chatbot-code"
ACCOUNT = "123456789012"
CLUSTER = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/chatbot"


def allow(action: Any, resource: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


PREFIX = {"StringLike": {"s3:prefix": ["src/*"]}}
CASES = [
    # (why, statements, action, resource, context, outcome)
    ("nothing allows it", [], "s3:GetObject", f"{BUCKET}/a", {}, "implicit deny"),
    ("the action, case-insensitive", [allow("S3:getobject", "*")], "s3:GetObject", "x", {},
     "allowed"),
    ("an action wildcard", [allow("s3:Get*", "*")], "s3:GetObjectVersion", "x", {}, "allowed"),
    ("another action", [allow("s3:GetObject", "*")], "s3:PutObject", "x", {}, "implicit deny"),
    ("a resource wildcard", [allow("s3:GetObject", f"{BUCKET}/src/*")], "s3:GetObject",
     f"{BUCKET}/src/a/b.py", {}, "allowed"),
    ("outside the prefix", [allow("s3:GetObject", f"{BUCKET}/src/*")], "s3:GetObject",
     f"{BUCKET}/other", {}, "implicit deny"),
    ("resources are case-sensitive", [allow("s3:GetObject", f"{BUCKET}/SRC/*")],
     "s3:GetObject", f"{BUCKET}/src/a", {}, "implicit deny"),
    ("? is one character", [allow("s3:GetObject", f"{BUCKET}/v?")], "s3:GetObject",
     f"{BUCKET}/v10", {}, "implicit deny"),
    ("NotAction", [{"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"}],
     "s3:DeleteObject", "x", {}, "implicit deny"),
    ("an explicit deny wins",
     [allow("s3:*", "*"), {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}],
     "s3:DeleteObject", "x", {}, "explicit deny"),
    ("s3:prefix under the prefix", [allow("s3:ListBucket", BUCKET, PREFIX)], "s3:ListBucket",
     BUCKET, {"s3:prefix": "src/.opskit/releases/"}, "allowed"),
    ("s3:prefix elsewhere", [allow("s3:ListBucket", BUCKET, PREFIX)], "s3:ListBucket", BUCKET,
     {"s3:prefix": "other/"}, "implicit deny"),
    ("a listing with no prefix: the key is absent", [allow("s3:ListBucket", BUCKET, PREFIX)],
     "s3:ListBucket", BUCKET, {}, "implicit deny"),
    ("IfExists: an absent key passes",
     [allow("s3:ListBucket", BUCKET, {"StringLikeIfExists": {"s3:prefix": ["src/*"]}})],
     "s3:ListBucket", BUCKET, {}, "allowed"),
    ("a negated operator passes on an absent key",
     [allow("s3:ListBucket", BUCKET, {"StringNotLike": {"s3:prefix": ["secret/*"]}})],
     "s3:ListBucket", BUCKET, {}, "allowed"),
    ("ArnEquals takes wildcards part by part",
     [allow("ecs:ListTasks", "*", {"ArnEquals": {"ecs:cluster": CLUSTER.replace(ACCOUNT, "*")}})],
     "ecs:ListTasks", "*", {"ecs:cluster": CLUSTER}, "allowed"),
    ("an ARN wildcard does not cross a colon",
     [allow("ecs:ListTasks", "*", {"ArnLike": {"ecs:cluster": "arn:aws:ecs:*:cluster/chatbot"}})],
     "ecs:ListTasks", "*", {"ecs:cluster": CLUSTER}, "implicit deny"),
    ("another cluster", [allow("ecs:ListTasks", "*", {"ArnEquals": {"ecs:cluster": CLUSTER}})],
     "ecs:ListTasks", "*", {"ecs:cluster": CLUSTER + "-2"}, "implicit deny"),
    ("ForAnyValue over a multivalued key",
     [allow("kms:Decrypt", "*", {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/a"}})],
     "kms:Decrypt", "k", {"kms:ResourceAliases": ["alias/b", "alias/a"]}, "allowed"),
    ("an unknown operator never allows",
     [allow("s3:GetObject", "*", {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}})],
     "s3:GetObject", "x", {"aws:CurrentTime": "2030-01-01"}, "implicit deny"),
    ("an unknown operator always denies",
     [allow("s3:*", "*"), {"Effect": "Deny", "Action": "*", "Resource": "*",
                           "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}}}],
     "s3:GetObject", "x", {}, "explicit deny"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("statements", "action", "resource", "context", "outcome"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_iam_decides(
    statements: list[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, Any],
    outcome: str,
) -> None:
    decision = evaluate(
        [{"Version": "2012-10-17", "Statement": statements}], action, resource, context
    )
    assert decision.outcome == outcome


def test_a_statement_may_be_one_object_and_policies_add_up() -> None:
    one = {"Statement": allow("s3:GetObject", "*")}
    other = {"Statement": [allow("s3:PutObject", "*")]}
    assert evaluate([one, other], "s3:PutObject", "x").allowed
    assert evaluate([one, other], "s3:GetObject", "x").allowed
