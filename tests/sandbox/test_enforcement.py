"""IAM enforcement in the sandbox: its own user does everything it does; another
user gets exactly its policy, refused with AWS's answer; and moto is put back as
it was when enforcement stops (its setting is process-wide)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from opskit.sandbox import Sandbox
from opskit.sandbox.enforcement import Credentials, Enforcement, create_operator
from opskit.sandbox.ports import free_port
from opskit.sandbox.state import read_state, state_path, write_state
from tests.sandbox.conftest import STANDIN
from tests.sandbox.sandbox_helpers import wait_for

ACCOUNT = "123456789012"
ECS = f"arn:aws:ecs:us-east-1:{ACCOUNT}"


def make_client(endpoint: str, service: str, keys: Credentials | None = None) -> Any:
    keys = keys or Credentials("testing", "testing-secret")  # the tests' isolation keys
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
    )


@pytest.fixture
def enforced(aws_endpoint: str) -> Iterator[tuple[Credentials, Enforcement]]:
    operator = create_operator(make_client(aws_endpoint, "iam"))
    enforcement = Enforcement()
    enforcement.start()
    yield operator, enforcement
    enforcement.stop()


def user_with(endpoint: str, operator: Credentials, statements: list[dict]) -> Credentials:
    iam = make_client(endpoint, "iam", operator)
    iam.create_user(UserName="deployer")
    policy = {"Version": "2012-10-17", "Statement": statements}
    iam.put_user_policy(UserName="deployer", PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="deployer")["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


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
