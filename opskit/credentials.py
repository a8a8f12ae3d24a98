"""Whose credentials a target's session uses: the target's profile or what the
environment names.

A target's ``profile`` is used when this machine has it, whatever the
environment names, so ``AWS_PROFILE=dev`` exported in a shell never moves the
production target onto dev's account; a profile this machine lacks gives way to
credentials the environment names, so a CI job's role (GitHub's OIDC) runs a
playbook whose target names the profile of somebody's laptop. Either way the run
is warned (``CredentialChoice.warning``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opskit.aws import AwsSettings

# The variables by which the environment names credentials, in about the order
# botocore's default chain reads them (botocore/credentials.py,
# create_credential_resolver; a profile's role_arn goes before a web identity):
# access keys (what aws-actions/configure-aws-credentials exports after GitHub's
# OIDC), a web identity token with its role (EKS, other OIDC setups), a profile
# (AWS_DEFAULT_PROFILE is botocore's older name and wins over AWS_PROFILE there),
# and the ECS/EKS container credentials endpoint. A session given a profile skips
# the first two (create_credential_resolver drops the environment provider and
# passes disable_env_vars to the web identity one) and fails on a machine without
# that profile ("The config profile (prod) could not be found").
ENVIRONMENT_CREDENTIALS: tuple[tuple[str, ...], ...] = (
    ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"),
    ("AWS_DEFAULT_PROFILE",),
    ("AWS_PROFILE",),
    ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",),
    ("AWS_CONTAINER_CREDENTIALS_FULL_URI",),
)
PROFILE_VARIABLES = ("AWS_DEFAULT_PROFILE", "AWS_PROFILE")


@dataclass(frozen=True)
class CredentialChoice:
    """The profile the session is given (``None``: boto3's default chain), where
    the credentials come from, in words for the run's identity line, and what the
    run warns about when the target and the environment name different ones."""

    profile: str | None
    source: str
    warning: str | None = None


def environment_credentials(environ: Mapping[str, str]) -> str | None:
    """The first variable by which ``environ`` names credentials (all of a group set
    and non-empty), or ``None``."""
    for group in ENVIRONMENT_CREDENTIALS:
        if all(environ.get(name) for name in group):
            return group[0]
    return None


def _named_in_words(named: str, environ: Mapping[str, str]) -> str:
    """``AWS_PROFILE=dev`` for a profile variable (its value says which), else the
    variable's name (never a key's value)."""
    return f"{named}={environ[named]}" if named in PROFILE_VARIABLES else named


def choose_credentials(
    settings: AwsSettings,
    environ: Mapping[str, str],
    configured: Collection[str],
    target: str,
) -> CredentialChoice:
    """Whose credentials the session of ``target`` uses; ``configured`` are the
    profiles of this machine's config and credentials files.

    Keys given by the sandbox win. A target that names no profile uses boto3's
    default chain (whatever the environment names). A target's ``profile`` that is
    configured here is used, with a warning when the environment names other
    credentials. One that is not configured here gives way to credentials the
    environment names (``ENVIRONMENT_CREDENTIALS``: a CI job's role), with a
    warning; when the environment names none, the session is given it anyway and
    botocore says it cannot be found."""
    if settings.access_key_id:
        return CredentialChoice(None, "the sandbox")
    named = environment_credentials(environ)
    if settings.profile is None:
        if named is None:
            return CredentialChoice(None, "boto3's default chain")
        return CredentialChoice(None, f"the environment ({_named_in_words(named, environ)})")
    profile = settings.profile
    own = CredentialChoice(profile, f"the target's profile {profile!r}")
    if named is None or (named in PROFILE_VARIABLES and environ[named] == profile):
        return own
    in_words = _named_in_words(named, environ)
    if profile in configured:
        return dataclasses.replace(
            own,
            warning=f"the environment names credentials ({in_words}); "
            f"target {target!r} uses its profile {profile!r}",
        )
    return CredentialChoice(
        None,
        f"the environment ({in_words})",
        warning=f"target {target!r} names profile {profile!r}, which is not configured "
        f"here; using the credentials the environment names ({in_words})",
    )
