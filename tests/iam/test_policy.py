"""A playbook's grants become one readable policy: nothing wider than the grants,
nothing repeated, the same document whatever order the steps gave them in."""

from __future__ import annotations

from opskit.iam.needs import Grant, Resolved
from opskit.iam.policy import covers, policy_document

OBJECTS = "arn:aws:s3:::b/src/*"
RECORDS = "arn:aws:s3:::b/src/.opskit/releases/*"
BUCKET = "arn:aws:s3:::b"
PREFIX = {"StringLike": {"s3:prefix": ["src/*"]}}


def grant(action: str, arn: str, kind: str, condition: dict | None = None) -> Grant:
    return Grant(action, Resolved((arn,), kind, condition or {}))


def test_no_grant_is_an_empty_policy() -> None:
    assert policy_document([]) == {"Version": "2012-10-17", "Statement": []}


def test_grants_merge_per_resource_then_share_resources_per_actions() -> None:
    grants = [
        grant("s3:ListBucket", BUCKET, "S3Bucket", PREFIX),
        grant("s3:GetObject", OBJECTS, "S3Objects"),
        grant("s3:PutObject", OBJECTS, "S3Objects"),
        grant("s3:DeleteObject", RECORDS, "S3Objects"),  # inside OBJECTS, but another action
        grant("s3:GetBucketVersioning", BUCKET, "S3Bucket"),
        grant("s3:ListBucketVersions", BUCKET, "S3Bucket", PREFIX),
        grant("ecs:DescribeServices", "arn:aws:ecs:r:a:service/c/s", "EcsService"),
        grant("ecs:DescribeServices", "arn:aws:ecs:r:a:service/c/t", "EcsService"),
    ]

    document = policy_document(grants)

    assert document["Statement"] == [
        {
            "Sid": "EcsReadService",
            "Effect": "Allow",
            "Action": ["ecs:DescribeServices"],
            "Resource": ["arn:aws:ecs:r:a:service/c/s", "arn:aws:ecs:r:a:service/c/t"],
        },
        {
            "Sid": "S3ReadVersioning",
            "Effect": "Allow",
            "Action": ["s3:GetBucketVersioning"],
            "Resource": [BUCKET],
        },
        {
            "Sid": "S3ListPrefixVersions",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": [BUCKET],
            "Condition": PREFIX,
        },
        {
            "Sid": "S3ReadWriteObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [OBJECTS],
        },
        {
            "Sid": "S3DeleteObjects",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject"],
            "Resource": [RECORDS],
        },
    ]
    assert policy_document(list(reversed(grants))) == document


def test_a_grant_another_covers_is_left_out() -> None:
    document = policy_document(
        [
            grant("s3:DeleteObject", RECORDS, "S3Objects"),
            grant("s3:DeleteObject", OBJECTS, "S3Objects"),
            grant("logs:GetLogEvents", "arn:aws:logs:r:a:log-group:/ecs/chatbot:*", "LogsGroup"),
            grant("logs:GetLogEvents", "arn:aws:logs:r:*:log-group:*:*", "LogsGroup"),
        ]
    )

    assert [(s["Action"], s["Resource"]) for s in document["Statement"]] == [
        (["logs:GetLogEvents"], ["arn:aws:logs:r:*:log-group:*:*"]),
        (["s3:DeleteObject"], [OBJECTS]),
    ]


def test_a_condition_keeps_grants_apart() -> None:
    document = policy_document(
        [
            grant("s3:ListBucket", BUCKET, "S3Bucket", PREFIX),
            grant("s3:ListBucket", BUCKET, "S3Bucket", {"StringLike": {"s3:prefix": ["b/*"]}}),
        ]
    )

    assert [s.get("Condition") for s in document["Statement"]] == [
        {"StringLike": {"s3:prefix": ["b/*"]}},
        PREFIX,
    ]


def test_a_sid_says_what_its_statement_grants_whatever_else_the_policy_holds() -> None:
    alone = policy_document([grant("s3:ListBucket", BUCKET, "S3Bucket", PREFIX)])
    among = policy_document(
        [
            grant("s3:GetBucketVersioning", BUCKET, "S3Bucket"),
            grant("s3:ListBucket", BUCKET, "S3Bucket", PREFIX),
            grant("logs:GetLogEvents", "arn:aws:logs:r:a:log-group:*:*", "LogsGroup"),
            grant("logs:FilterLogEvents", "arn:aws:logs:r:a:log-group:/ecs/x:*", "LogsGroup"),
            grant("s3:ListBucket", "arn:aws:s3:::root", "S3Bucket"),  # no prefix: the bucket
            grant("ecs:DescribeClusters", "*", "EcsClusters"),  # an action no table names
        ]
    )

    assert [s["Sid"] for s in alone["Statement"]] == ["S3ListPrefix"]
    assert [(s["Sid"], s["Action"]) for s in among["Statement"]] == [
        ("EcsDescribeClusters", ["ecs:DescribeClusters"]),
        ("LogsReadStreams", ["logs:GetLogEvents"]),
        ("LogsFilterEvents", ["logs:FilterLogEvents"]),
        ("S3ReadVersioning", ["s3:GetBucketVersioning"]),
        ("S3ListPrefix", ["s3:ListBucket"]),
        ("S3ListBucket", ["s3:ListBucket"]),
    ]


def test_the_same_grant_on_two_resources_is_told_apart_by_their_words() -> None:
    document = policy_document(
        [
            grant("s3:ListBucket", BUCKET, "S3Bucket", PREFIX),
            grant("s3:ListBucket", BUCKET, "S3Bucket", {"StringLike": {"s3:prefix": ["app/*"]}}),
        ]
    )

    assert [s["Sid"] for s in document["Statement"]] == ["S3ListPrefixBApp", "S3ListPrefixBSrc"]


def test_every_action_a_step_type_declares_has_the_words_of_its_sid() -> None:
    from opskit import steps as registry
    from opskit.iam.sids import GRANTS, VERBS

    declared = {a for n in registry.names() for a in registry.get(n).permissions.actions}

    assert sorted(declared - set(GRANTS)) == []
    assert {verb for verb, _ in GRANTS.values()} <= set(VERBS)


def test_covers_is_true_only_when_every_match_of_one_matches_the_other() -> None:
    assert covers(OBJECTS, RECORDS)
    assert covers("*", OBJECTS)
    assert covers("arn:aws:logs:r:*:log-group:*:*", "arn:aws:logs:r:a:log-group:/ecs/x:*")
    assert not covers(RECORDS, OBJECTS)
    assert not covers("arn:aws:s3:::b/src/?", "arn:aws:s3:::b/src/*")  # ? is one character
    assert not covers("arn:aws:s3:::b/src/a", "arn:aws:s3:::b/src/*")
