"""AWS access: one line naming the target and the call, never a None client."""

from __future__ import annotations

import pytest

from opskit.aws import AwsAccess, AwsSettings
from opskit.errors import StepError


def list_buckets(access: AwsAccess) -> None:
    with access.call("s3 ListBuckets"):
        access.client("s3").list_buckets()


def test_unknown_profile_names_the_target_and_the_profile(monkeypatch) -> None:
    """The target's profile is used (the environment names no credentials) and missing."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    access = AwsAccess("production", AwsSettings(profile="nope", region="eu-west-1"))
    with pytest.raises(StepError) as failure:
        list_buckets(access)
    assert str(failure.value) == (
        "target 'production': The config profile (nope) could not be found"
    )


def test_missing_credentials_say_how_to_provide_them(monkeypatch, aws_endpoint) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    access = AwsAccess("staging", AwsSettings(region="us-east-1", endpoint_url=aws_endpoint))
    with pytest.raises(StepError) as failure:
        list_buckets(access)
    message = str(failure.value)
    assert message.startswith("target 'staging': s3 ListBuckets: no AWS credentials found")
    assert "AWS_PROFILE" in message


def test_missing_region_is_one_clear_line(monkeypatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    access = AwsAccess("staging", AwsSettings())
    with pytest.raises(StepError) as failure, access.call("ecs DescribeServices chatbot"):
        access.client("ecs")
    assert str(failure.value).startswith("target 'staging': cannot create the ecs client")
    assert "region" in str(failure.value)


def test_access_denied_names_the_call(aws_endpoint) -> None:
    from botocore.stub import Stubber

    access = AwsAccess("production", AwsSettings(region="us-east-1", endpoint_url=aws_endpoint))
    client = access.client("s3")
    with Stubber(client) as stub:
        stub.add_client_error("list_buckets", "AccessDenied", "User is not authorized", 403)
        with pytest.raises(StepError) as failure:
            list_buckets(access)
    assert str(failure.value) == (
        "target 'production': s3 ListBuckets: access denied (AccessDenied): User is not authorized"
    )


def test_clients_are_created_once_and_never_none(aws_endpoint) -> None:
    access = AwsAccess("test", AwsSettings(region="us-east-1", endpoint_url=aws_endpoint))
    first = access.client("logs")
    assert first is not None
    assert access.client("logs") is first
    config = first.meta.config
    assert config.retries["mode"] == "standard"
    assert config.connect_timeout == 10 and config.read_timeout == 60


def test_targets_of_one_process_share_the_parsed_service_models(monkeypatch) -> None:
    """A fleet's targets each have their own session; none parses botocore's JSON
    models again once one target has (about 80 ms of CPU each)."""
    import botocore.loaders

    from opskit.aws import AwsAccess, AwsSettings

    AwsAccess("first", AwsSettings(region="us-east-1")).client("s3")
    read: list[str] = []
    real = botocore.loaders.JSONFileLoader.load_file
    monkeypatch.setattr(
        botocore.loaders.JSONFileLoader,
        "load_file",
        lambda self, path: read.append(path) or real(self, path),
    )
    AwsAccess("second", AwsSettings(region="eu-west-1")).client("s3")
    assert read == []
