"""An engineer's AWS files in a temporary home, and credentials of a role in a
chosen account from moto's STS: how the credentials tests set up a machine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest


@dataclass(frozen=True)
class RoleKeys:
    """Temporary credentials of an assumed role, as STS returns them."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    arn: str  # the caller identity they answer to

    def credentials_section(self, profile: str) -> str:
        """The profile's section of ~/.aws/credentials holding these keys."""
        return (
            f"[{profile}]\naws_access_key_id = {self.access_key_id}\n"
            f"aws_secret_access_key = {self.secret_access_key}\n"
            f"aws_session_token = {self.session_token}\n"
        )


def role_keys(
    endpoint: str, account: str, role: str = "release", session: str = "on-call"
) -> RoleKeys:
    """Credentials of ``role`` in ``account``: moto's STS issues keys whose caller
    identity is in the account of the role's ARN, so each profile of a test can
    stand for another AWS account."""
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="admin",
        aws_secret_access_key="admin",
    )
    answer = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName=session)
    keys = answer["Credentials"]
    return RoleKeys(
        keys["AccessKeyId"],
        keys["SecretAccessKey"],
        keys["SessionToken"],
        answer["AssumedRoleUser"]["Arn"],
    )


def aws_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str, credentials: str = ""
) -> Path:
    """A home directory whose ~/.aws/config and ~/.aws/credentials hold ``config``
    and ``credentials``, where botocore looks for them when no AWS_CONFIG_FILE or
    AWS_SHARED_CREDENTIALS_FILE says otherwise (as on an engineer's machine).
    Returns the home."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text(config)
    (home / ".aws" / "credentials").write_text(credentials)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("AWS_CONFIG_FILE", raising=False)
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE", raising=False)
    return home
