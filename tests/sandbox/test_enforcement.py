"""IAM enforcement in the sandbox: its own user does everything it does; another
user gets exactly its policy, refused with AWS's answer; and moto is put back as
it was when enforcement stops (its setting is process-wide)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opskit.sandbox import Sandbox
from opskit.sandbox.enforcement import Credentials, Enforcement, create_operator
from opskit.sandbox.ports import free_port
from opskit.sandbox.state import read_state, state_path, write_state
from tests.enforced import ACCOUNT, enforcing, make_client, user_with
from tests.sandbox.conftest import STANDIN
from tests.sandbox.sandbox_helpers import wait_for

ECS = f"arn:aws:ecs:us-east-1:{ACCOUNT}"


@pytest.fixture
def enforced(aws_endpoint: str) -> Iterator[tuple[Credentials, Enforcement]]:
    with enforcing(aws_endpoint) as enforced:
        yield enforced


def refusal(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


DENIED = f"User: arn:aws:iam::{ACCOUNT}:user/deployer is not authorized to perform:"


def test_a_user_gets_what_its_policy_allows_and_aws_answer_for_the_rest(
    aws_endpoint: str, enforced: tuple[Credentials, Enforcement]
) -> None:
    operator, enforcement = enforced
    s3 = make_client(aws_endpoint, "s3", operator)
    s3.create_bucket(Bucket="code")
    s3.put_object(Bucket="code", Key="src/app.py", Body=b"print(1)")
    make_client(aws_endpoint, "ecs", operator).create_cluster(clusterName="chatbot")
    deployer = user_with(
        aws_endpoint,
        operator,
        [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::code/src/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::code",
             "Condition": {"StringLike": {"s3:prefix": ["src/*"]}}},
            {"Effect": "Allow", "Action": "ecs:ListTasks", "Resource": "*",
             "Condition": {"ArnEquals": {"ecs:cluster": f"{ECS}:cluster/chatbot"}}},
            {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"},
        ],
    )  # fmt: skip
    s3_as = make_client(aws_endpoint, "s3", deployer)
    ecs_as = make_client(aws_endpoint, "ecs", deployer)

    assert s3_as.head_object(Bucket="code", Key="src/app.py")["ContentLength"] == 8
    assert s3_as.list_objects_v2(Bucket="code", Prefix="src/")["KeyCount"] == 1
    assert ecs_as.list_tasks(cluster="chatbot")["taskArns"] == []
    assert refusal(s3_as.list_objects_v2, Bucket="code") == (
        "AccessDenied",
        f'{DENIED} s3:ListBucket on resource: "arn:aws:s3:::code" because no identity-based '
        "policy allows the s3:ListBucket action",
    )
    assert refusal(s3_as.put_object, Bucket="code", Key="src/x", Body=b"") == (
        "AccessDenied",
        f'{DENIED} s3:PutObject on resource: "arn:aws:s3:::code/src/x" with an explicit deny '
        "in an identity-based policy",
    )
    assert refusal(ecs_as.list_tasks, cluster="other") == (
        "AccessDeniedException",
        f"{DENIED} ecs:ListTasks on resource: * because no identity-based policy allows the "
        "ecs:ListTasks action",
    )
    assert refusal(
        ecs_as.update_service, cluster="chatbot", service="chatbot", forceNewDeployment=True
    ) == (
        "AccessDeniedException",
        f"{DENIED} ecs:UpdateService on resource: {ECS}:service/chatbot/chatbot because no "
        "identity-based policy allows the ecs:UpdateService action",
    )
    refused = [
        (d.operation, d.action, d.resource, d.outcome)
        for d in enforcement.decisions
        if d.principal.endswith("/deployer") and d.outcome != "allowed"
    ]
    assert refused == [
        ("s3:ListObjectsV2", "s3:ListBucket", "arn:aws:s3:::code", "implicit deny"),
        ("s3:PutObject", "s3:PutObject", "arn:aws:s3:::code/src/x", "explicit deny"),
        ("ecs:ListTasks", "ecs:ListTasks", "*", "implicit deny"),
        ("ecs:UpdateService", "ecs:UpdateService", f"{ECS}:service/chatbot/chatbot",
         "implicit deny"),
    ]  # fmt: skip


def test_a_key_of_no_user_is_refused_while_enforcing_and_taken_again_after(
    aws_endpoint: str,
) -> None:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    before = (
        settings.INITIAL_NO_AUTH_ACTION_COUNT,
        ActionAuthenticatorMixin.__dict__["_authenticate_and_authorize_action"],
    )
    create_operator(make_client(aws_endpoint, "iam"))
    enforcement = Enforcement()
    enforcement.start()
    try:
        assert refusal(make_client(aws_endpoint, "ecs").list_clusters) == (
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    finally:
        enforcement.stop()

    assert make_client(aws_endpoint, "ecs").list_clusters()["clusterArns"] == []
    after = (
        settings.INITIAL_NO_AUTH_ACTION_COUNT,
        ActionAuthenticatorMixin.__dict__["_authenticate_and_authorize_action"],
    )
    assert after == before


def test_an_enforcing_sandbox_runs_its_tasks_with_its_own_user(app_source: Path) -> None:
    sandbox = Sandbox(
        app_port=free_port(), app_source=app_source, entrypoint=STANDIN, enforce_iam=True
    )
    info = sandbox.start()
    try:
        own = Credentials(info.access_key_id, info.secret_access_key)
        assert info.iam_enforced
        assert info.access_key_id != "opskit-sandbox"  # its own user's key, made at start
        user = make_client(info.endpoint_url, "sts", own).get_caller_identity()["Arn"]
        assert user == f"arn:aws:iam::{ACCOUNT}:user/opskit-sandbox"
        assert refusal(make_client(info.endpoint_url, "s3").list_buckets)[0] == (
            "InvalidAccessKeyId"
        )
        # its task read the code from S3 and its lines were shipped to CloudWatch Logs
        logs = make_client(info.endpoint_url, "logs", own)
        wait_for(
            lambda: logs.filter_log_events(logGroupName="/ecs/chatbot")["events"],
            "the task's lines in CloudWatch Logs",
        )
        operations = {d.operation for d in sandbox.authorizations()}
        assert {"s3:GetObject", "logs:PutLogEvents"} <= operations
    finally:
        sandbox.stop()


def test_the_state_file_is_readable_by_its_owner_only() -> None:
    state_path().parent.mkdir(parents=True)
    state_path().write_text("{}")
    state_path().chmod(0o644)

    write_state({"access_key_id": "AKIA", "secret_access_key": "s"})

    assert stat.S_IMODE(state_path().stat().st_mode) == 0o600
    assert read_state() == {"access_key_id": "AKIA", "secret_access_key": "s"}


def test_a_missing_key_is_refused_to_a_caller_who_may_not_list_the_bucket(
    aws_endpoint: str, enforced: tuple[Credentials, Enforcement]
) -> None:
    """S3's GetObject and HeadObject, "Permissions": a key that does not exist is 404
    only to a caller with s3:ListBucket on the bucket, 403 to anyone else; a listing
    allowed only under a prefix (what opskit iam prints) is not s3:ListBucket."""
    operator, _ = enforced
    s3 = make_client(aws_endpoint, "s3", operator)
    s3.create_bucket(Bucket="code")
    s3.put_object(Bucket="code", Key="src/app.py", Body=b"print(1)")
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::code/src/*"}
    prefix_only = make_client(aws_endpoint, "s3", user_with(aws_endpoint, operator, [
        read,
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::code",
         "Condition": {"StringLike": {"s3:prefix": ["src/*"]}}},
    ]))  # fmt: skip
    bucket_wide = make_client(aws_endpoint, "s3", user_with(aws_endpoint, operator, [
        read,
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::code"},
    ], name="lister"))  # fmt: skip

    assert refusal(prefix_only.get_object, Bucket="code", Key="src/gone.py") == (
        "AccessDenied",
        f'{DENIED} s3:ListBucket on resource: "arn:aws:s3:::code" because no identity-based '
        "policy allows the s3:ListBucket action",
    )
    assert refusal(prefix_only.head_object, Bucket="code", Key="src/gone.py") == (
        "403",
        "Forbidden",
    )
    assert prefix_only.get_object(Bucket="code", Key="src/app.py")["Body"].read() == b"print(1)"
    assert refusal(bucket_wide.get_object, Bucket="code", Key="src/gone.py") == (
        "NoSuchKey",
        "The specified key does not exist.",
    )
    assert refusal(bucket_wide.head_object, Bucket="code", Key="src/gone.py") == (
        "404",
        "Not Found",
    )


def test_a_deleted_key_or_a_version_that_does_not_exist_is_missing_too(
    aws_endpoint: str, enforced: tuple[Credentials, Enforcement]
) -> None:
    operator, enforcement = enforced
    s3 = make_client(aws_endpoint, "s3", operator)
    s3.create_bucket(Bucket="code")
    s3.put_bucket_versioning(Bucket="code", VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket="code", Key="src/app.py", Body=b"1")["VersionId"]
    s3.delete_object(Bucket="code", Key="src/app.py")  # a delete marker is now current
    reader = make_client(aws_endpoint, "s3", user_with(aws_endpoint, operator, [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
         "Resource": "arn:aws:s3:::code/src/*"},
    ]))  # fmt: skip

    assert refusal(reader.get_object, Bucket="code", Key="src/app.py")[0] == "AccessDenied"
    assert reader.get_object(Bucket="code", Key="src/app.py", VersionId=version)["Body"].read() == (
        b"1"
    )
    assert (
        refusal(reader.get_object, Bucket="code", Key="src/app.py", VersionId="v-that-never-was")[0]
        == "AccessDenied"
    )
    asked = [
        (d.operation, d.action, d.outcome)
        for d in enforcement.decisions
        if d.principal.endswith("/deployer")
    ]
    assert asked == [
        ("s3:GetObject", "s3:GetObject", "allowed"),
        ("s3:GetObject", "s3:ListBucket", "implicit deny"),
        ("s3:GetObject", "s3:GetObjectVersion", "allowed"),
        ("s3:GetObject", "s3:GetObjectVersion", "allowed"),
        ("s3:GetObject", "s3:ListBucket", "implicit deny"),
    ]
