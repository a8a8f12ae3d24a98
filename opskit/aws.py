"""AWS access for one target: one boto3 Session, cached clients, clear errors.

Every AWS call in opskit goes through ``AwsAccess.client`` and is wrapped in
``AwsAccess.call`` (or ``aws_errors``), so a missing credential, an unknown
profile or region, or an access denied becomes one line that names the target
and the call, never a botocore traceback and never a ``None`` client.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opskit.errors import StepError

# Generous read timeout: ECS and Logs answer in well under a second, but a large
# S3 part on a slow link must not be cut off. Standard retry mode retries
# throttling, 5xx and dropped connections with backoff (botocore's own logic).
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class AwsSettings:
    """What a target's ``aws:`` block says; ``None`` leaves it to boto3's usual
    chain (``AWS_PROFILE``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``, config files)."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    # Only the sandbox sets these: its moto server takes any key.
    access_key_id: str | None = None
    secret_access_key: str | None = None


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


class AwsAccess:
    """Clients for one target, created on first use and cached (thread-safe)."""

    def __init__(self, target: str, settings: AwsSettings | None = None):
        self.target = target
        self.settings = settings or AwsSettings()
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                self._session = self._new_session()
            return self._session

    def _new_session(self) -> Any:
        import boto3
        import botocore.session
        from botocore.exceptions import BotoCoreError

        s = self.settings
        core = botocore.session.get_session()
        # botocore's public hook for response parsing (aws-cli sets its own
        # timestamp parser the same way): see parse_timestamp.
        core.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=parse_timestamp
        )
        try:
            session = boto3.Session(
                botocore_session=core,
                profile_name=s.profile,
                region_name=s.region,
                aws_access_key_id=s.access_key_id,
                aws_secret_access_key=s.secret_access_key,
            )
            core.register_component("data_loader", _shared_loader(core))
        except BotoCoreError as err:
            raise StepError(f"target {self.target!r}: {err}") from None
        return session

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
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError

            config = Config(
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=READ_TIMEOUT,
                retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
                max_pool_connections=64,
            )
            if retries is not None:
                config = config.merge(Config(retries=dict(retries)))
            kwargs: dict[str, Any] = {"config": config}
            if self.settings.endpoint_url:
                kwargs["endpoint_url"] = self.settings.endpoint_url
            try:
                created = session.client(service, **kwargs)
            except BotoCoreError as err:
                raise StepError(
                    f"target {self.target!r}: cannot create the {service} client: {err}"
                ) from None
            self._clients[key] = created
            return created

    @property
    def region(self) -> str | None:
        return self.session.region_name

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
