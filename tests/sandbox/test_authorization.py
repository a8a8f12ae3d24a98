"""What the enforcing sandbox authorizes for a request: the IAM action, the ARN and
the condition keys AWS evaluates (the Service Authorization Reference, each API's
"Permissions"), where moto would check the operation's name on ``*``."""

from __future__ import annotations

from typing import Any

import pytest

from opskit.sandbox.authorization import Check, Request, checks

ACCOUNT = "123456789012"
ECS = f"arn:aws:ecs:us-east-1:{ACCOUNT}"
LOGS = f"arn:aws:logs:us-east-1:{ACCOUNT}"
CLUSTER = {"ecs:cluster": f"{ECS}:cluster/chatbot"}


def request(service: str, operation: str, **fields: Any) -> Request:
    return Request(service, operation, "us-east-1", ACCOUNT, **fields)


DELETE_BODY = (
    b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>src/a.py</Key>'
    b"</Object><Object><Key>src/b.py</Key><VersionId>v1</VersionId></Object>"
    b"<Quiet>true</Quiet></Delete>"
)
CASES = [
    ("a listing carries its prefix",
     request("s3", "ListObjectsV2", bucket="b", params={"list-type": "2", "prefix": "src/"}),
     [Check("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "src/"})]),
    ("a listing of the whole bucket has no s3:prefix", request("s3", "ListObjectsV2", bucket="b"),
     [Check("s3:ListBucket", "arn:aws:s3:::b")]),
    ("versions", request("s3", "ListObjectVersions", bucket="b", params={"prefix": "src/"}),
     [Check("s3:ListBucketVersions", "arn:aws:s3:::b", {"s3:prefix": "src/"})]),
    ("HEAD is a read", request("s3", "HeadObject", bucket="b", key="src/a.py"),
     [Check("s3:GetObject", "arn:aws:s3:::b/src/a.py")]),
    ("a named version", request("s3", "GetObject", bucket="b", key="k", params={"versionId": "v"}),
     [Check("s3:GetObjectVersion", "arn:aws:s3:::b/k")]),
    ("a multipart upload writes", request("s3", "CompleteMultipartUpload", bucket="b", key="k"),
     [Check("s3:PutObject", "arn:aws:s3:::b/k")]),
    ("aborting one", request("s3", "AbortMultipartUpload", bucket="b", key="k"),
     [Check("s3:AbortMultipartUpload", "arn:aws:s3:::b/k")]),
    ("a copy of a version",
     request("s3", "CopyObject", bucket="b", key="src/a b.py",
             headers={"x-amz-copy-source": "b/src/a%20b.py?versionId=v7"}),
     [Check("s3:PutObject", "arn:aws:s3:::b/src/a b.py"),
      Check("s3:GetObjectVersion", "arn:aws:s3:::b/src/a b.py")]),
    ("each key of a batch delete", request("s3", "DeleteObjects", bucket="b", body=DELETE_BODY),
     [Check("s3:DeleteObject", "arn:aws:s3:::b/src/a.py"),
      Check("s3:DeleteObjectVersion", "arn:aws:s3:::b/src/b.py")]),
    ("services by name in a cluster named by ARN",
     request("ecs", "DescribeServices",
             params={"cluster": f"{ECS}:cluster/chatbot", "services": ["chatbot"]}),
     [Check("ecs:DescribeServices", f"{ECS}:service/chatbot/chatbot", CLUSTER)]),
    ("a service by its ARN",
     request("ecs", "UpdateService",
             params={"cluster": "chatbot", "service": f"{ECS}:service/chatbot/web"}),
     [Check("ecs:UpdateService", f"{ECS}:service/chatbot/web", CLUSTER)]),
    ("ListTasks on * with its cluster; ECS's default cluster when none is named",
     request("ecs", "ListTasks", params={"serviceName": "x"}),
     [Check("ecs:ListTasks", "*", {"ecs:cluster": f"{ECS}:cluster/default"})]),
    ("tasks by id or ARN",
     request("ecs", "DescribeTasks",
             params={"cluster": "chatbot", "tasks": ["t1", f"{ECS}:task/chatbot/t2"]}),
     [Check("ecs:DescribeTasks", f"{ECS}:task/chatbot/t1", CLUSTER),
      Check("ecs:DescribeTasks", f"{ECS}:task/chatbot/t2", CLUSTER)]),
    ("a revision passes its roles and tags itself",
     request("ecs", "RegisterTaskDefinition",
             params={"family": "chatbot", "taskRoleArn": "arn:aws:iam::1:role/task",
                     "executionRoleArn": "arn:aws:iam::1:role/exec", "tags": [{"key": "a"}]}),
     [Check("ecs:RegisterTaskDefinition", "*"),
      Check("iam:PassRole", "arn:aws:iam::1:role/task",
            {"iam:PassedToService": "ecs-tasks.amazonaws.com"}),
      Check("iam:PassRole", "arn:aws:iam::1:role/exec",
            {"iam:PassedToService": "ecs-tasks.amazonaws.com"}),
      Check("ecs:TagResource", f"{ECS}:task-definition/chatbot:4",
            {"ecs:CreateAction": "RegisterTaskDefinition"})]),
    ("the log groups of the region, whatever the prefix",
     request("logs", "DescribeLogGroups", params={"logGroupNamePrefix": "/ecs/chatbot"}),
     [Check("logs:DescribeLogGroups", f"{LOGS}:log-group::log-stream:")]),
    ("a group's events",
     request("logs", "FilterLogEvents", params={"logGroupName": "/ecs/chatbot"}),
     [Check("logs:FilterLogEvents", f"{LOGS}:log-group:/ecs/chatbot:*")]),
    ("a stream's events",
     request("logs", "GetLogEvents",
             params={"logGroupName": "/ecs/chatbot", "logStreamName": "ecs/chatbot/t1"}),
     [Check("logs:GetLogEvents", f"{LOGS}:log-group:/ecs/chatbot:log-stream:ecs/chatbot/t1")]),
    ("who am I needs no permission", request("sts", "GetCallerIdentity"), []),
    ("anything else as moto checks it", request("ecs", "CreateCluster"),
     [Check("ecs:CreateCluster", "*")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("given", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_a_request_needs_what_aws_authorizes(given: Request, expected: list[Check]) -> None:
    assert checks(given, next_revision=lambda family: {"chatbot": 4}[family]) == expected


def test_a_read_of_a_missing_key_needs_the_bucket_listed_too() -> None:
    """GetObject and HeadObject, "Permissions": 404 only for a caller with s3:ListBucket
    on the bucket, asked with no s3:prefix (a read names a key, not a listing)."""
    missing: dict[tuple[str, str, str | None], bool] = {
        ("b", "src/gone.py", None): False,
        ("b", "src/a.py", "v-gone"): False,
        ("b", "src/a.py", None): True,
    }

    def exists(bucket: str, key: str, version_id: str | None) -> bool:
        return missing[(bucket, key, version_id)]

    def read(operation: str, key: str, **params: str) -> list[Check]:
        return checks(
            request("s3", operation, bucket="b", key=key, params=params), object_exists=exists
        )

    assert read("GetObject", "src/gone.py") == [
        Check("s3:GetObject", "arn:aws:s3:::b/src/gone.py"),
        Check("s3:ListBucket", "arn:aws:s3:::b"),
    ]
    assert read("HeadObject", "src/gone.py") == [
        Check("s3:GetObject", "arn:aws:s3:::b/src/gone.py"),
        Check("s3:ListBucket", "arn:aws:s3:::b"),
    ]
    assert read("GetObject", "src/a.py", versionId="v-gone") == [
        Check("s3:GetObjectVersion", "arn:aws:s3:::b/src/a.py"),
        Check("s3:ListBucket", "arn:aws:s3:::b"),
    ]
    assert read("GetObject", "src/a.py") == [Check("s3:GetObject", "arn:aws:s3:::b/src/a.py")]
