"""The OIDC workflow of docs/ci.md as CI runs it: the role's credentials in the
environment (as aws-actions/configure-aws-credentials exports them after GitHub's
OIDC exchange), a home with no ~/.aws, and a bundled playbook's `production` target,
whose `profile: prod` exists on no CI machine. moto's server stands in for AWS
(AWS_ENDPOINT_URL), and answers STS as AWS does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from tests.cli_helpers import Cli

REDEPLOY = Path(__file__).resolve().parents[1] / "playbooks" / "redeploy.yaml"
ROLE = "arn:aws:iam::123456789012:role/chatbot-release"
ROLE_SESSION = "arn:aws:sts::123456789012:assumed-role/chatbot-release/GitHubActions"
NOT_HERE = (
    "target 'production' names profile 'prod', which is not configured here; "
    "using the credentials the environment names "
)


@pytest.fixture
def ci_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aws_endpoint: str) -> Path:
    """A CI runner's environment: an empty home (no ~/.aws, no profiles), the region
    configure-aws-credentials exports (the workflow's aws-region), no other AWS
    variables; the "AWS" is moto's server. Returns the empty home."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "ap-northeast-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    monkeypatch.chdir(tmp_path)
    return home


def the_stack(endpoint: str) -> None:
    """The production names the test passes with -e, made in moto's us-east-1."""
    session = boto3.Session(
        aws_access_key_id="admin", aws_secret_access_key="admin", region_name="us-east-1"
    )
    session.client("s3", endpoint_url=endpoint).create_bucket(Bucket="release-code")
    ecs = session.client("ecs", endpoint_url=endpoint)
    ecs.create_cluster(clusterName="release")
    ecs.register_task_definition(
        family="chatbot",
        containerDefinitions=[{"name": "chatbot", "image": "chatbot:1", "memory": 512}],
    )
    ecs.create_service(
        cluster="release", serviceName="chatbot", taskDefinition="chatbot", desiredCount=1
    )


def dry_run_production(cli: Cli, tmp_path: Path) -> tuple[int, str, str, dict]:
    """What the workflow's job runs, as a dry run of its first two steps (the
    later ones read what a real deployment produces), moved to us-east-1 with -e."""
    result = cli.run(
        REDEPLOY,
        "--target", "production",
        "--dry-run", "--only", "upload", "--only", "redeploy",
        "-e", "region=us-east-1",
        "-e", "bucket=release-code",
        "-e", "cluster=release",
        "-e", "service=chatbot",
        "--report", str(tmp_path / "report"),
    )  # fmt: skip
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    return result.returncode, result.stdout, result.stderr, report


def role_credentials(endpoint: str, role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What configure-aws-credentials exports after the OIDC exchange for ``role``."""
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED),
    )
    keys = sts.assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="GitHubActions", WebIdentityToken="a GitHub OIDC token"
    )["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", keys["SessionToken"])


def test_the_documented_oidc_workflow_runs_the_production_target_with_the_roles_credentials(
    ci_machine: Path, tmp_path: Path, aws_endpoint: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    the_stack(aws_endpoint)
    role_credentials(aws_endpoint, ROLE, monkeypatch)

    code, out, err, report = dry_run_production(cli, tmp_path)

    assert (code, err) == (0, "")
    assert list(ci_machine.iterdir()) == []  # nothing read or written under ~/.aws
    assert out.splitlines()[1:3] == [
        f"  ! {NOT_HERE}(AWS_ACCESS_KEY_ID)",
        f"  acting as {ROLE_SESSION} (account 123456789012) in us-east-1; credentials from "
        "the environment (AWS_ACCESS_KEY_ID)",
    ]
    assert report["warnings"] == [f"{NOT_HERE}(AWS_ACCESS_KEY_ID)"]
    # the bundled target declares account_id 123456789012: the role's account
    assert report["identity"]["arn"] == ROLE_SESSION
    upload, redeploy, *rest = report["steps"]
    assert upload["status"] == "changed"  # the bundled app's files, all new to the bucket
    assert re.match(r"would upload \d+, delete 0, unchanged 0 ", upload["summary"])
    assert (
        redeploy["summary"]
        == "would update ECS service 'chatbot': force a new deployment of chatbot:1"
    )
    assert [s["summary"] for s in rest] == ["not selected (--from/--only)"] * len(rest)


def test_a_role_in_another_account_than_the_production_target_declares_changes_nothing(
    ci_machine: Path, tmp_path: Path, aws_endpoint: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workflow assumes the staging account's role by mistake: the bundled
    target's account_id stops the run before any step, dry run or not."""
    the_stack(aws_endpoint)
    role_credentials(aws_endpoint, "arn:aws:iam::210987654321:role/chatbot-release", monkeypatch)

    code, out, err, report = dry_run_production(cli, tmp_path)

    assert (code, err) == (
        1,
        "opskit: error: target 'production' declares account 123456789012, but the credentials "
        "are for account 210987654321 "
        "(arn:aws:sts::210987654321:assumed-role/chatbot-release/GitHubActions); "
        "nothing was changed\n",
    )
    assert (report["status"], report["steps"]) == ("error", [])


def test_a_web_identity_token_and_role_in_the_environment_run_the_production_target(
    ci_machine: Path, tmp_path: Path, aws_endpoint: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other OIDC setups leave the exchange to the SDK: botocore assumes the role."""
    the_stack(aws_endpoint)
    token = tmp_path / "token"
    token.write_text("a GitHub OIDC token")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "GitHubActions")

    code, out, err, report = dry_run_production(cli, tmp_path)

    assert (code, err) == (0, "")
    assert out.splitlines()[1:3] == [
        f"  ! {NOT_HERE}(AWS_WEB_IDENTITY_TOKEN_FILE)",
        f"  acting as {ROLE_SESSION} (account 123456789012) in us-east-1; credentials from "
        "the environment (AWS_WEB_IDENTITY_TOKEN_FILE)",
    ]
    assert [s["status"] for s in report["steps"][:2]] == ["changed", "changed"]


def test_a_ci_machine_without_credentials_stops_before_any_step_naming_the_target(
    ci_machine: Path, tmp_path: Path, cli: Cli
) -> None:
    """The role step was forgotten: the target's profile is used, and missing."""
    code, out, err, report = dry_run_production(cli, tmp_path)

    assert (code, err) == (
        1,
        "opskit: error: target 'production': The config profile (prod) could not be found\n",
    )
    assert (report["status"], report["steps"]) == ("error", [])
