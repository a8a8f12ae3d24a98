"""AWS access for one target: one boto3 Session, cached clients, clear errors.

Every AWS call in opskit goes through ``AwsAccess.client`` and is wrapped in
``AwsAccess.call`` (or ``aws_errors``), so a missing credential, an unknown
profile or region, or an access denied becomes one line that names the target
and the call, never a botocore traceback and never a ``None`` client.

Whose credentials: ``opskit.credentials``; every run says which account and
principal it acts as (``AwsAccess.caller_identity``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opskit.credentials import (
    PROFILE_VARIABLES,
    CredentialChoice,
    choose_credentials,
    environment_credentials,
)
from opskit.errors import StepError
from opskit.model import Identity

# Generous read timeout: ECS and Logs answer in well under a second, but a large
# S3 part on a slow link must not be cut off. Standard retry mode retries
# throttling, 5xx and dropped connections with backoff (botocore's own logic).
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
# Unless the user sets their own (AWS_RETRY_MODE, AWS_MAX_ATTEMPTS, the profile's
# retry_mode/max_attempts): standard mode, 9 attempts in all, i.e. the 8 retries
# opskit has always asked for (a Config's ``max_attempts`` counts retries, while
# AWS_MAX_ATTEMPTS and ``total_max_attempts`` count attempts: botocore's
# "Retries" guide).
RETRY_MODE = "standard"
TOTAL_MAX_ATTEMPTS = 9


@dataclass(frozen=True)
class AwsSettings:
    """What a target's ``aws:`` block says, rendered; ``None`` leaves it to boto3's
    usual chain (``AWS_PROFILE``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``, config files)."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    # The account the credentials must be in (12 digits): a run in another
    # account stops before any step.
    account_id: str | None = None
    # Only the sandbox sets these: its moto server takes any key.
    access_key_id: str | None = None
    secret_access_key: str | None = None


def _user_setting(core: Any, name: str) -> Any:
    """A setting as the user gave it (the session, the environment, the profile),
    ``None`` when they did not: botocore's own lookup for the variable without its
    default (which differs between botocore versions: ``retry_mode`` defaults to
    legacy before 1.36)."""
    from botocore.configprovider import ConfigChainFactory

    config_name, env_vars, _default, convert = core.session_var_map[name]
    chain = ConfigChainFactory(session=core).create_config_chain(
        instance_name=name,
        env_var_names=env_vars,
        config_property_names=config_name,
        conversion_func=convert,
    )
    return chain.provide()


def client_config(core: Any) -> Any:
    """The botocore ``Config`` of every client: timeouts, a pool for parallel
    uploads, and retries as the user set them, else standard mode with
    ``TOTAL_MAX_ATTEMPTS``. ``core`` is the target's botocore session (its
    profile's ``retry_mode``/``max_attempts`` are read from it)."""
    from botocore.config import Config

    try:
        attempts = _user_setting(core, "max_attempts")
    except ValueError as err:
        raise ValueError(
            f"AWS_MAX_ATTEMPTS (or the profile's max_attempts) is not a whole number: {err}"
        ) from None
    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={
            "mode": _user_setting(core, "retry_mode") or RETRY_MODE,
            "total_max_attempts": attempts or TOTAL_MAX_ATTEMPTS,
        },
        max_pool_connections=64,
    )


_loader_lock = threading.Lock()
_loaders: dict[Any, Any] = {}


def _shared_loader(core: Any) -> Any:
    """One botocore data loader for every target of the process: each loader
    parses the service models it is asked for (~80 ms of CPU for S3, ECS and
    Logs), and a fleet's targets, or the runs of one process, ask for the same
    ones. Keyed by the data path, which the environment may set."""
    key = core.get_config_variable("data_path")
    with _loader_lock:
        if key not in _loaders:
            _loaders[key] = core.get_component("data_loader")
        return _loaders[key]


def botocore_session() -> Any:
    """A botocore session as opskit makes them: timestamps parsed fast
    (``parse_timestamp``, through botocore's public hook for response parsing, as
    aws-cli sets its own). Hand it to ``boto3_session``."""
    import botocore.session

    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=parse_timestamp
    )
    return core


def boto3_session(core: Any | None = None, **kwargs: Any) -> Any:
    """A boto3 session over ``core`` (``botocore_session()`` when not given) that
    reads service models through the process's one loader (``_shared_loader``):
    every session of the process, the sandbox's and tests' included, parses each
    model once. The loader is swapped in after boto3 made the session, since
    boto3 adds its own data path to the loader it finds then."""
    import boto3

    core = core or botocore_session()
    session = boto3.Session(botocore_session=core, **kwargs)
    core.register_component("data_loader", _shared_loader(core))
    return session


class AwsAccess:
    """Clients for one target, created on first use and cached (thread-safe)."""

    def __init__(self, target: str, settings: AwsSettings | None = None):
        self.target = target
        self.settings = settings or AwsSettings()
        self._session: Any = None
        self._core: Any = None  # the botocore session under it
        self._credentials: CredentialChoice | None = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                self._session = self._new_session()
            return self._session

    def _new_session(self) -> Any:
        from botocore.exceptions import BotoCoreError

        s = self.settings
        core = botocore_session()
        choice: CredentialChoice | None = None
        try:
            # Read when the session is made, as botocore reads the same variables
            # and files (available_profiles: the config file's and the credentials
            # file's, the names botocore's own ProfileNotFound check reads).
            choice = choose_credentials(s, os.environ, core.available_profiles, self.target)
            session = boto3_session(
                core,
                profile_name=choice.profile,
                # AWS_REGION as the AWS CLI v2 and the other SDKs read it (before
                # AWS_DEFAULT_REGION and the profile's); boto3 reads only the latter two.
                region_name=s.region or os.environ.get("AWS_REGION") or None,
                aws_access_key_id=s.access_key_id,
                aws_secret_access_key=s.secret_access_key,
            )
        except BotoCoreError as err:
            named = environment_credentials(os.environ)
            by_environment = choice is not None and choice.profile is None
            hint = f" (named by {named})" if by_environment and named in PROFILE_VARIABLES else ""
            raise StepError(f"target {self.target!r}: {err}{hint}") from None
        self._credentials = choice
        self._core = core
        return session

    @property
    def credentials(self) -> CredentialChoice:
        """Whose credentials the session uses, and the warning the run gives about
        them (``choose_credentials``). Raises ``StepError`` when there is no session."""
        self.session  # noqa: B018 - made with the session, from the same environment
        assert self._credentials is not None
        return self._credentials

    def client(self, service: str, *, retries: Mapping[str, Any] | None = None) -> Any:
        """A cached client; raises ``StepError`` (never returns ``None``).

        ``retries`` replaces the retry configuration (botocore ``Config(retries=...)``)
        for this client, cached apart from the default one: the log reader makes
        one attempt per request and handles throttling itself
        (``opskit.logs.calls``)."""
        session = self.session
        key = service if retries is None else f"{service} {sorted(retries.items())}"
        with self._lock:
            existing = self._clients.get(key)
            if existing is not None:
                return existing
            from botocore.exceptions import BotoCoreError

            kwargs: dict[str, Any] = {}
            if self.settings.endpoint_url:
                kwargs["endpoint_url"] = self.settings.endpoint_url
            try:
                config = client_config(self._core)
                if retries is not None:
                    from botocore.config import Config

                    config = config.merge(Config(retries=dict(retries)))
                kwargs["config"] = config
                created = session.client(service, **kwargs)
            except (BotoCoreError, ValueError) as err:
                raise StepError(
                    f"target {self.target!r}: cannot create the {service} client: {err}"
                ) from None
            self._clients[key] = created
            return created

    @property
    def region(self) -> str | None:
        with aws_errors(f"target {self.target!r}"):
            return self.session.region_name

    @property
    def profile(self) -> str | None:
        """The profile the session reads (the target's or ``AWS_PROFILE``'s), if any."""
        with aws_errors(f"target {self.target!r}"):
            self.session  # noqa: B018 - makes the botocore session
            return self._core.profile

    def caller_identity(self) -> Identity:
        """Who the credentials are (``sts:GetCallerIdentity``, which needs no
        permission: the STS API reference of the call), where, and where they
        came from.
        Raises ``StepError`` naming the target when it cannot be asked."""
        with self.call("sts GetCallerIdentity"):
            answer = self.client("sts").get_caller_identity()
            method = getattr(self.session.get_credentials(), "method", None)
        source = self.credentials.source
        if source == "boto3's default chain" and method:
            source += f" ({method})"  # botocore's name of the provider that answered
        return Identity(
            account=str(answer["Account"]),
            arn=str(answer["Arn"]),
            region=self.region,
            credentials=source,
        )

    def secret_values(self) -> list[str]:
        """Credential values to redact from every output."""
        values = [self.settings.secret_access_key]
        try:
            creds = self.session.get_credentials()
        except Exception:  # noqa: BLE001 - redaction must never break a run
            creds = None
        if creds is not None:
            frozen = creds.get_frozen_credentials()
            values += [frozen.access_key, frozen.secret_key, frozen.token]
        return [v for v in values if v]

    @contextmanager
    def call(self, description: str) -> Iterator[None]:
        """Turn any AWS failure inside the block into one clear ``StepError`` line."""
        with aws_errors(f"target {self.target!r}: {description}"):
            yield


def parse_timestamp(value: Any) -> Any:
    """botocore parses every timestamp with dateutil, about 0.1 ms each: more than
    half the client-side cost of a 2,000-key S3 listing. ISO 8601 as S3 writes it
    (``2026-12-04T19:20:39.000Z``) parses with ``datetime.fromisoformat`` to an
    equal aware UTC datetime; anything else (and every non-string, e.g. the JSON
    protocols' epoch numbers) goes to botocore's own parser."""
    from datetime import datetime, timezone

    from botocore.parsers import DEFAULT_TIMESTAMP_PARSER

    if isinstance(value, str) and value.endswith("Z") and "T" in value:
        try:
            return datetime.fromisoformat(value[:-1] + "+00:00").astimezone(timezone.utc)
        except ValueError:
            pass
    return DEFAULT_TIMESTAMP_PARSER(value)


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """``what`` names the target, call and resource, e.g. ``target 'prod': s3
    ListObjectsV2 s3://bucket/src/``."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    try:
        yield
    except ClientError as err:
        raise StepError(f"{what}: {describe_client_error(err)}") from None
    except NoCredentialsError:
        raise StepError(
            f"{what}: no AWS credentials found (set AWS_PROFILE, the target's aws.profile, "
            "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
        ) from None
    except NoRegionError:
        raise StepError(
            f"{what}: no AWS region configured (set the target's aws.region or AWS_REGION)"
        ) from None
    except ProfileNotFound as err:
        raise StepError(f"{what}: {err}") from None
    except BotoCoreError as err:
        raise StepError(f"{what}: {err}") from None


def describe_client_error(err: Any) -> str:
    error = err.response.get("Error", {})
    code = error.get("Code") or "Error"
    message = error.get("Message") or ""
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
        return f"access denied ({code}): {message}".rstrip(": ")
    if not message and status:
        message = f"HTTP {status}"
    return f"{code}: {message}" if message else code


def error_code(err: Any) -> str:
    """The AWS error code of a ``ClientError`` ('' for anything else)."""
    response = getattr(err, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
