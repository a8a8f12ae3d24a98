"""AWS access: one line naming the target and the call, never a None client."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.aws import AwsAccess, AwsSettings
from opskit.credentials import CredentialChoice, choose_credentials
from opskit.errors import StepError
from opskit.model import Identity
from tests.aws_profiles import RoleKeys, aws_home, role_keys


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


@pytest.mark.parametrize(
    ("target", "aws_region", "default_region", "expected"),
    [
        (None, "eu-west-1", "us-east-1", "eu-west-1"),  # AWS_REGION first, as the CLI v2
        (None, None, "us-east-1", "us-east-1"),
        ("ap-northeast-1", "eu-west-1", "us-east-1", "ap-northeast-1"),  # the target's wins
    ],
)
def test_the_region_is_the_targets_else_aws_region_else_aws_default_region(
    monkeypatch, target, aws_region, default_region, expected
) -> None:
    if aws_region:
        monkeypatch.setenv("AWS_REGION", aws_region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", default_region)
    assert AwsAccess("staging", AwsSettings(region=target)).region == expected


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


# -- whose credentials: the target's profile when this machine has it, else the environment --

PROD, DEV, SEOUL = "111111111111", "222222222222", "333333333333"


def write_profiles(tmp_path: Path, monkeypatch, config: str, credentials: str = "") -> None:
    """An engineer's ~/.aws/config and ~/.aws/credentials, in a temporary home."""
    aws_home(tmp_path, monkeypatch, config, credentials)


def profiles_in_accounts(
    tmp_path: Path, monkeypatch, endpoint: str, **accounts: str
) -> dict[str, RoleKeys]:
    """A home whose profiles (name=account) each hold a role's keys in its account."""
    keys = {name: role_keys(endpoint, account) for name, account in accounts.items()}
    aws_home(
        tmp_path,
        monkeypatch,
        "".join(f"[profile {name}]\nregion = us-east-1\n" for name in keys),
        "".join(k.credentials_section(name) for name, k in keys.items()),
    )
    return keys


def choice(
    profile: str | None, configured: tuple[str, ...], environ: dict[str, str]
) -> tuple[str | None, str, str | None]:
    made = choose_credentials(AwsSettings(profile=profile), environ, configured, "production")
    return made.profile, made.source, made.warning


KEYS = {"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "s"}
CONTAINER = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/build"}
USES_PROD = "target 'production' uses its profile 'prod'"
NOT_HERE = "target 'production' names profile 'prod', which is not configured here; "


@pytest.mark.parametrize(
    ("profile", "configured", "environ", "expected"),
    [
        (None, (), {}, (None, "boto3's default chain", None)),
        (None, ("prod",), KEYS, (None, "the environment (AWS_ACCESS_KEY_ID)", None)),
        ("prod", ("prod",), {}, ("prod", "the target's profile 'prod'", None)),
        (
            "prod",
            ("prod", "dev"),
            {"AWS_PROFILE": "dev"},
            (
                "prod",
                "the target's profile 'prod'",
                f"the environment names credentials (AWS_PROFILE=dev); {USES_PROD}",
            ),
        ),
        (
            "prod",
            ("prod",),
            KEYS,
            (
                "prod",
                "the target's profile 'prod'",
                f"the environment names credentials (AWS_ACCESS_KEY_ID); {USES_PROD}",
            ),
        ),
        (
            "prod",
            ("prod",),
            CONTAINER,
            (
                "prod",
                "the target's profile 'prod'",
                "the environment names credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI); "
                + USES_PROD,
            ),
        ),
        ("prod", ("prod",), {"AWS_PROFILE": "prod"}, ("prod", "the target's profile 'prod'", None)),
        (
            "prod",
            ("default",),
            KEYS,
            (
                None,
                "the environment (AWS_ACCESS_KEY_ID)",
                NOT_HERE + "using the credentials the environment names (AWS_ACCESS_KEY_ID)",
            ),
        ),
        (
            "prod",
            ("dev",),
            {"AWS_PROFILE": "dev"},
            (
                None,
                "the environment (AWS_PROFILE=dev)",
                NOT_HERE + "using the credentials the environment names (AWS_PROFILE=dev)",
            ),
        ),
        # nothing else to use: the target's profile, and botocore's clear error
        ("prod", (), {}, ("prod", "the target's profile 'prod'", None)),
        ("prod", (), {"AWS_PROFILE": "prod"}, ("prod", "the target's profile 'prod'", None)),
    ],
)
def test_whose_credentials_a_target_uses(
    profile: str | None,
    configured: tuple[str, ...],
    environ: dict[str, str],
    expected: tuple[str | None, str, str | None],
) -> None:
    assert choice(profile, configured, environ) == expected


def test_the_sandbox_uses_its_own_keys_whatever_the_target_and_environment_say() -> None:
    sandbox = AwsSettings(profile="prod", access_key_id="sandbox", secret_access_key="x")
    made = choose_credentials(sandbox, {"AWS_PROFILE": "ops", **KEYS}, ("prod",), "sandbox")
    assert made == CredentialChoice(None, "the sandbox")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, (None, "boto3's default chain")),
        (KEYS, "AWS_ACCESS_KEY_ID"),
        ({"AWS_ACCESS_KEY_ID": "AKIA1"}, (None, "boto3's default chain")),  # half a pair
        (
            {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"},
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ),
        ({"AWS_WEB_IDENTITY_TOKEN_FILE": "/t"}, (None, "boto3's default chain")),
        (CONTAINER, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        (
            {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1/c"},
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ),
        (
            {"AWS_PROFILE": "ops", **KEYS},
            "AWS_ACCESS_KEY_ID",  # botocore's chain reads the keys first
        ),
    ],
)
def test_the_environment_names_credentials_by_botocores_variables(
    environ: dict[str, str], expected: object
) -> None:
    """Without a target profile: the default chain either way, named for the line."""
    made = choose_credentials(AwsSettings(), environ, (), "laptop")
    if isinstance(expected, tuple):
        assert (made.profile, made.source, made.warning) == (*expected, None)
    else:
        assert (made.profile, made.source, made.warning) == (
            None,
            f"the environment ({expected})",
            None,
        )


def test_a_targets_profile_configured_here_wins_over_aws_profile(
    monkeypatch, tmp_path: Path, aws_endpoint: str
) -> None:
    """A developer with AWS_PROFILE=dev exported runs the production target: it
    acts in production's account, and is told that dev is not used."""
    keys = profiles_in_accounts(tmp_path, monkeypatch, aws_endpoint, prod=PROD, dev=DEV)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_PROFILE", "dev")
    access = AwsAccess("production", AwsSettings(profile="prod", endpoint_url=aws_endpoint))

    identity = access.caller_identity()

    assert (identity.account, identity.arn, identity.credentials) == (
        PROD,
        keys["prod"].arn,
        "the target's profile 'prod'",
    )
    assert access.credentials.warning == (
        "the environment names credentials (AWS_PROFILE=dev); "
        "target 'production' uses its profile 'prod'"
    )


def test_a_targets_profile_configured_here_wins_over_environment_keys(
    monkeypatch, tmp_path: Path, aws_endpoint: str
) -> None:
    """Keys exported in the shell (here the test's own AWS_ACCESS_KEY_ID) do not
    move the production target off its profile's account."""
    profiles_in_accounts(tmp_path, monkeypatch, aws_endpoint, prod=PROD)
    access = AwsAccess("production", AwsSettings(profile="prod", endpoint_url=aws_endpoint))

    assert access.caller_identity().account == PROD
    assert access.credentials.warning == (
        "the environment names credentials (AWS_ACCESS_KEY_ID); "
        "target 'production' uses its profile 'prod'"
    )


def test_a_targets_profile_configured_here_wins_over_container_credentials(
    monkeypatch, tmp_path: Path, aws_endpoint: str
) -> None:
    """A build container (CodeBuild) names its task role's endpoint; a target whose
    profile the build's config file has keeps it. The endpoint is never asked:
    169.254.170.2 is no loopback address, and the tests refuse any other."""
    profiles_in_accounts(tmp_path, monkeypatch, aws_endpoint, prod=PROD)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/build")
    access = AwsAccess("production", AwsSettings(profile="prod", endpoint_url=aws_endpoint))

    assert access.caller_identity().account == PROD
    assert access.credentials.warning == (
        "the environment names credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI); "
        "target 'production' uses its profile 'prod'"
    )


def test_a_fleets_targets_keep_their_per_account_profiles(
    monkeypatch, tmp_path: Path, aws_endpoint: str
) -> None:
    """Each target of a fleet names its account's profile; AWS_PROFILE exported in
    the shell does not collapse them onto one account."""
    profiles_in_accounts(tmp_path, monkeypatch, aws_endpoint, tokyo=PROD, seoul=SEOUL, dev=DEV)
    monkeypatch.setenv("AWS_PROFILE", "dev")
    accounts = [
        AwsAccess(name, AwsSettings(profile=name, endpoint_url=aws_endpoint))
        .caller_identity()
        .account
        for name in ("tokyo", "seoul")
    ]
    assert accounts == [PROD, SEOUL]


def test_environment_credentials_serve_a_target_whose_profile_is_not_configured_here(
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
        credentials="the environment (AWS_ACCESS_KEY_ID)",
    )
    assert access.credentials.warning == (
        "target 'production' names profile 'prod', which is not configured here; "
        "using the credentials the environment names (AWS_ACCESS_KEY_ID)"
    )
    list_buckets(access)


def test_a_web_identity_token_and_role_serve_a_target_whose_profile_is_not_configured_here(
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
    assert identity.credentials == "the environment (AWS_WEB_IDENTITY_TOKEN_FILE)"
    assert access.credentials.warning == (
        "target 'production' names profile 'prod', which is not configured here; "
        "using the credentials the environment names (AWS_WEB_IDENTITY_TOKEN_FILE)"
    )


def test_aws_profile_serves_a_target_whose_profile_is_not_configured_here(
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
        "the environment (AWS_PROFILE=ops)",
    )
    assert access.session.get_credentials().access_key == "AKIAOPS"
    assert access.credentials.warning == (
        "target 'production' names profile 'prod', which is not configured here; "
        "using the credentials the environment names (AWS_PROFILE=ops)"
    )


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
    assert access.credentials.warning is None


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
