"""AWS access: one line naming the target and the call, never a None client."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.aws import AwsAccess, AwsSettings, CredentialChoice, choose_credentials
from opskit.errors import StepError
from opskit.model import Identity


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


# -- whose credentials: the environment over a target's profile ----------------------


def write_profiles(tmp_path: Path, monkeypatch, config: str, credentials: str = "") -> None:
    """An AWS config (and credentials) file, as on an engineer's machine."""
    (tmp_path / "config").write_text(config)
    (tmp_path / "credentials").write_text(credentials)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, (None, "boto3's default chain")),
        ({"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "s"}, "AWS_ACCESS_KEY_ID"),
        ({"AWS_ACCESS_KEY_ID": "AKIA1"}, (None, "boto3's default chain")),  # half a pair
        (
            {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"},
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ),
        ({"AWS_WEB_IDENTITY_TOKEN_FILE": "/t"}, (None, "boto3's default chain")),
        (
            {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/c"},
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        ),
        (
            {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1/c"},
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ),
        (
            {"AWS_PROFILE": "ops", "AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "s"},
            "AWS_ACCESS_KEY_ID",  # botocore's chain reads the keys first
        ),
    ],
)
def test_the_environment_names_credentials_by_botocores_variables(
    environ: dict[str, str], expected: object
) -> None:
    """Without a target profile: the default chain either way, named for the line."""
    choice = choose_credentials(AwsSettings(), environ)
    if isinstance(expected, tuple):
        assert (choice.profile, choice.source) == expected
    else:
        assert (choice.profile, choice.source) == (None, f"the environment ({expected})")


def test_a_target_profile_is_used_only_when_the_environment_names_no_credentials() -> None:
    target = AwsSettings(profile="prod")
    assert choose_credentials(target, {}) == CredentialChoice("prod", "the target's profile 'prod'")
    assert choose_credentials(target, {"AWS_PROFILE": "ops"}) == CredentialChoice(
        None,
        "the environment (AWS_PROFILE=ops); the target's profile 'prod' is not used",
    )
    assert choose_credentials(target, {"AWS_PROFILE": "prod"}).source == (
        "the environment (AWS_PROFILE=prod)"
    )
    sandbox = AwsSettings(profile="prod", access_key_id="sandbox", secret_access_key="x")
    assert choose_credentials(sandbox, {"AWS_PROFILE": "ops"}).source == "the sandbox"


def test_environment_credentials_win_over_a_profile_this_machine_lacks(
    monkeypatch, tmp_path: Path, aws_endpoint: str
) -> None:
    """GitHub's OIDC role as configure-aws-credentials exports it, and a target that
    names the profile of somebody's laptop: botocore alone would refuse ("The config
    profile (prod) could not be found")."""
    write_profiles(tmp_path, monkeypatch, "")
    access = AwsAccess(
        "production", AwsSettings(region="us-east-1", profile="prod", endpoint_url=aws_endpoint)
    )
    identity = access.caller_identity()
    assert identity == Identity(
        account="123456789012",
        arn="arn:aws:sts::123456789012:user/moto",
        region="us-east-1",
        credentials="the environment (AWS_ACCESS_KEY_ID); the target's profile 'prod' is not used",
    )
    list_buckets(access)


def test_a_web_identity_token_and_role_win_over_the_targets_profile(
    monkeypatch, tmp_path: Path, aws_endpoint: str
) -> None:
    """EKS and other OIDC setups: botocore assumes the role with the token itself
    (``AssumeRoleWithWebIdentity`` at AWS_ENDPOINT_URL, here moto's server)."""
    write_profiles(tmp_path, monkeypatch, "")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/chatbot-release")
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "on-call")
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    access = AwsAccess("production", AwsSettings(region="us-east-1", profile="prod"))

    identity = access.caller_identity()

    assert identity.arn == "arn:aws:sts::123456789012:assumed-role/chatbot-release/on-call"
    assert identity.credentials == (
        "the environment (AWS_WEB_IDENTITY_TOKEN_FILE); the target's profile 'prod' is not used"
    )


def test_aws_profile_in_the_environment_wins_over_the_targets_profile(
    monkeypatch, tmp_path: Path, aws_endpoint: str
) -> None:
    write_profiles(
        tmp_path,
        monkeypatch,
        "[profile ops]\nregion = eu-west-1\n",
        "[ops]\naws_access_key_id = AKIAOPS\naws_secret_access_key = ops-secret\n",
    )
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # the profile's region, then
    monkeypatch.setenv("AWS_PROFILE", "ops")
    access = AwsAccess("production", AwsSettings(profile="prod", endpoint_url=aws_endpoint))

    identity = access.caller_identity()

    assert (identity.region, identity.credentials) == (
        "eu-west-1",
        "the environment (AWS_PROFILE=ops); the target's profile 'prod' is not used",
    )
    assert access.session.get_credentials().access_key == "AKIAOPS"


def test_the_targets_profile_serves_when_the_environment_names_none(
    monkeypatch, tmp_path: Path, aws_endpoint: str
) -> None:
    write_profiles(
        tmp_path,
        monkeypatch,
        "[profile prod]\nregion = ap-northeast-1\n",
        "[prod]\naws_access_key_id = AKIAPROD\naws_secret_access_key = prod-secret\n",
    )
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    access = AwsAccess("production", AwsSettings(profile="prod", endpoint_url=aws_endpoint))

    identity = access.caller_identity()

    assert (identity.region, identity.credentials) == (
        "ap-northeast-1",
        "the target's profile 'prod'",
    )
    assert access.session.get_credentials().access_key == "AKIAPROD"


def test_the_default_chain_names_the_provider_that_answered(
    monkeypatch, tmp_path: Path, aws_endpoint: str
) -> None:
    write_profiles(
        tmp_path,
        monkeypatch,
        "[default]\nregion = us-west-2\n",
        "[default]\naws_access_key_id = AKIADEF\naws_secret_access_key = def-secret\n",
    )
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    access = AwsAccess("laptop", AwsSettings(endpoint_url=aws_endpoint))
    assert access.caller_identity().credentials == (
        "boto3's default chain (shared-credentials-file)"
    )


def test_no_credentials_at_the_identity_call_is_one_line_naming_the_target(
    monkeypatch, aws_endpoint: str
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    access = AwsAccess("production", AwsSettings(region="us-east-1", endpoint_url=aws_endpoint))
    with pytest.raises(StepError) as failure:
        access.caller_identity()
    assert str(failure.value) == (
        "target 'production': sts GetCallerIdentity: no AWS credentials found (set AWS_PROFILE, "
        "the target's aws.profile, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
    )


# -- the user's retry settings ------------------------------------------------------------


def retries_of(access: AwsAccess) -> dict[str, object]:
    """What botocore's retry handler of a client reads."""
    return dict(access.client("logs").meta.config.retries)


def test_retries_default_to_standard_mode_and_nine_attempts(aws_endpoint: str) -> None:
    """Nothing set by the user: what opskit always asked for (8 retries)."""
    access = AwsAccess("t", AwsSettings(region="us-east-1", endpoint_url=aws_endpoint))
    assert retries_of(access) == {"mode": "standard", "total_max_attempts": 9}


def test_retries_follow_aws_retry_mode_and_aws_max_attempts(monkeypatch, aws_endpoint: str) -> None:
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    access = AwsAccess("t", AwsSettings(region="us-east-1", endpoint_url=aws_endpoint))
    assert retries_of(access) == {"mode": "adaptive", "total_max_attempts": 3}


def test_retries_follow_the_profiles_retry_mode_and_max_attempts(
    monkeypatch, tmp_path: Path, aws_endpoint: str
) -> None:
    write_profiles(tmp_path, monkeypatch, "[profile prod]\nretry_mode = legacy\nmax_attempts = 5\n")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    access = AwsAccess(
        "production", AwsSettings(region="us-east-1", profile="prod", endpoint_url=aws_endpoint)
    )
    assert retries_of(access) == {"mode": "legacy", "total_max_attempts": 5}


def test_only_the_setting_the_user_gave_changes(monkeypatch, aws_endpoint: str) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    access = AwsAccess("t", AwsSettings(region="us-east-1", endpoint_url=aws_endpoint))
    assert retries_of(access) == {"mode": "standard", "total_max_attempts": 2}


def test_a_retry_setting_that_is_no_number_is_one_line(monkeypatch, aws_endpoint: str) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "many")
    access = AwsAccess("t", AwsSettings(region="us-east-1", endpoint_url=aws_endpoint))
    with pytest.raises(StepError) as failure:
        access.client("s3")
    assert str(failure.value) == (
        "target 't': cannot create the s3 client: AWS_MAX_ATTEMPTS (or the profile's "
        "max_attempts) is not a whole number: invalid literal for int() with base 10: 'many'"
    )


def test_a_missing_profile_named_by_aws_profile_says_where_it_was_named(monkeypatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_PROFILE", "ops")
    access = AwsAccess("production", AwsSettings(profile="prod", region="eu-west-1"))
    with pytest.raises(StepError) as failure:
        access.caller_identity()
    assert str(failure.value) == (
        "target 'production': The config profile (ops) could not be found (named by AWS_PROFILE)"
    )


def test_an_expired_token_at_the_identity_call_is_one_line_naming_the_target(
    aws_endpoint: str,
) -> None:
    """STS's own error code and message (botocore's model of GetCallerIdentity has no
    modelled errors; AWS answers ExpiredToken with HTTP 403)."""
    from botocore.stub import Stubber

    access = AwsAccess("production", AwsSettings(region="us-east-1", endpoint_url=aws_endpoint))
    with Stubber(access.client("sts")) as stub:
        stub.add_client_error(
            "get_caller_identity",
            "ExpiredToken",
            "The security token included in the request is expired",
            403,
        )
        with pytest.raises(StepError) as failure:
            access.caller_identity()
    assert str(failure.value) == (
        "target 'production': sts GetCallerIdentity: ExpiredToken: "
        "The security token included in the request is expired"
    )
