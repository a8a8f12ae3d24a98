"""moto's server with the sandbox's IAM enforcement on, and users with given
policies: how a test sees what AWS answers a caller under a policy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opskit.aws import boto3_session
from opskit.sandbox.enforcement import Credentials, Enforcement, create_operator

ACCOUNT = "123456789012"


def make_client(endpoint: str, service: str, keys: Credentials | None = None) -> Any:
    keys = keys or Credentials("testing", "testing-secret")  # the tests' isolation keys
    return boto3_session().client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
    )


@contextmanager
def enforcing(endpoint: str) -> Iterator[tuple[Credentials, Enforcement]]:
    """Enforcement on for the block; yields the operator's keys (full access: the
    test's set-up) and the enforcement (its decisions)."""
    operator = create_operator(make_client(endpoint, "iam"))
    enforcement = Enforcement()
    enforcement.start()
    try:
        yield operator, enforcement
    finally:
        enforcement.stop()


def user_with(
    endpoint: str, operator: Credentials, statements: list[dict[str, Any]], name: str = "deployer"
) -> Credentials:
    """A new IAM user whose one policy holds ``statements``; its keys."""
    iam = make_client(endpoint, "iam", operator)
    iam.create_user(UserName=name)
    policy = {"Version": "2012-10-17", "Statement": statements}
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])
