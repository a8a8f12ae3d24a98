"""One client manager for the app's AWS clients.

The incident this guards against: a health check called
``list_foundation_models`` on a ``bedrock-runtime`` client (only the
``bedrock`` control plane has it) and the failure was stored as a ``None``
client, so it surfaced far from its cause. Here:

- each service's health check is data in ``HEALTH_CHECKS``, keyed by service
  name, and may only use operations that the service's botocore model lists
  (``client.meta.service_model.operation_names``); anything else fails the
  check with one clear line before any call is made;
- a client that could not be created or failed its check is never handed out:
  asking for it raises ``ClientUnavailable`` naming the service, the region and
  the reason;
- each client logs exactly one health line (``core.markers``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from core.applog import get_logger
from core.markers import HEALTH_CHECK_FAILED, HEALTH_CHECK_PASSED
from core.settings import Settings

LOG = get_logger("aws_clients")

# Error codes that mean "try again later", across the services used here.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "ModelNotReadyException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
HEALTH_CHECK_ATTEMPTS = 3
HEALTH_CHECK_BACKOFF = 0.5  # seconds before the 2nd attempt; doubles each time


def _no_params(settings: Settings) -> dict[str, Any]:
    return {}


def _bucket_params(settings: Settings) -> dict[str, Any]:
    if not settings.s3_bucket:
        raise HealthCheckFailed("no bucket configured (set CHATBOT_S3_BUCKET)")
    return {"Bucket": settings.s3_bucket}


@dataclass(frozen=True)
class HealthCheck:
    """How one service proves its client works.

    ``operations`` must all exist on the client; ``probe`` is the one operation
    called (``None``: no request, e.g. ``bedrock-runtime`` whose calls cost
    tokens), with ``params(settings)`` as its arguments.
    """

    label: str
    operations: tuple[str, ...]
    probe: str | None = None
    params: Callable[[Settings], dict[str, Any]] = _no_params

    def needed_operations(self) -> tuple[str, ...]:
        extra = (self.probe,) if self.probe and self.probe not in self.operations else ()
        return self.operations + extra


HEALTH_CHECKS: Mapping[str, HealthCheck] = MappingProxyType(
    {
        # The data plane: the app streams with ConverseStream. Its only read-only
        # calls cost tokens, so the check is that the operations exist.
        "bedrock-runtime": HealthCheck("Bedrock Runtime", ("ConverseStream", "InvokeModel")),
        # The control plane: ListFoundationModels lives here, and only here.
        "bedrock": HealthCheck(
            "Bedrock",
            ("ListFoundationModels",),
            probe="ListFoundationModels",
            params=lambda settings: {"byOutputModality": "TEXT"},
        ),
        "s3": HealthCheck("S3", ("HeadBucket",), probe="HeadBucket", params=_bucket_params),
    }
)


class HealthCheckFailed(Exception):
    """The check said no; the message is the reason logged after ``failed:``."""


class ClientUnavailable(RuntimeError):
    """A client that cannot be used, and why. Raised instead of returning ``None``."""

    def __init__(self, service: str, region: str | None, reason: str):
        self.service = service
        self.region = region
        self.reason = reason
        super().__init__(f"{service} client in {region or 'no region'} is unavailable: {reason}")


@dataclass(frozen=True)
class HealthResult:
    service: str
    label: str
    passed: bool
    reason: str = ""
    detail: str = ""
    attempts: int = 1

    @property
    def line(self) -> str:
        if self.passed:
            line = HEALTH_CHECK_PASSED.format(label=self.label)
            return f"{line} ({self.detail})" if self.detail else line
        return HEALTH_CHECK_FAILED.format(label=self.label, reason=self.reason)


def describe_error(err: BaseException) -> str:
    """One line for a botocore error: ``Code: message`` or the exception text."""
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = error.get("Code") or "Error"
        message = error.get("Message") or ""
        if not message and code.isdigit():  # HEAD answers carry no body
            return f"HTTP {code}"
        return f"{code}: {message}" if message else code
    return str(err) or type(err).__name__


def is_transient(err: BaseException) -> bool:
    """Worth retrying: throttling, 5xx, dropped or timed-out connections."""
    if isinstance(err, ClientError):
        code = err.response.get("Error", {}).get("Code", "")
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in TRANSIENT_ERROR_CODES or status == 429 or status >= 500
    return isinstance(err, (BotoConnectionError, ConnectionClosedError, ReadTimeoutError))


def new_session() -> Any:
    """A boto3 session from the standard chain (env, container role, profile)."""
    return boto3.session.Session()


def client_config(service: str, region: str) -> Config:
    # Bedrock streams long answers: a generous read timeout; botocore's
    # standard mode retries throttling and 5xx on each call.
    read_timeout = 120 if service == "bedrock-runtime" else 30
    return Config(
        region_name=region,
        connect_timeout=5,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": 3},
    )


def run_health_check(
    client: Any,
    check: HealthCheck,
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = HEALTH_CHECK_ATTEMPTS,
    backoff: float = HEALTH_CHECK_BACKOFF,
) -> int:
    """Run ``check`` on ``client``; return the attempts used or raise ``HealthCheckFailed``.

    Every operation is looked up in the client's service model first, so an
    operation of another service fails here, by name, without a call.
    """
    available = set(client.meta.service_model.operation_names)
    for operation in check.needed_operations():
        method = xform_name(operation)
        if operation not in available or not callable(getattr(client, method, None)):
            raise HealthCheckFailed(f"'{type(client).__name__}' object has no attribute '{method}'")
    if check.probe is None:
        return 1
    call = getattr(client, xform_name(check.probe))
    params = check.params(settings)
    for attempt in range(1, attempts + 1):
        try:
            call(**params)
            return attempt
        except (ClientError, BotoCoreError) as err:
            if attempt == attempts or not is_transient(err):
                target = f" on bucket {params['Bucket']}" if "Bucket" in params else ""
                suffix = f" (after {attempt} attempts)" if attempt > 1 else ""
                raise HealthCheckFailed(
                    f"{xform_name(check.probe)}{target}: {describe_error(err)}{suffix}"
                ) from None
            sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # the loop returns or raises


class ClientManager:
    """Creates each client once, health-checks it, caches it; thread-safe."""

    def __init__(
        self,
        settings: Settings,
        *,
        session: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self._session = session
        self._sleep = sleep
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._failures: dict[str, ClientUnavailable] = {}
        self.results: dict[str, HealthResult] = {}

    def client(self, service: str) -> Any:
        """The checked client for ``service``; raises ``ClientUnavailable``, never ``None``."""
        with self._lock:
            self._check_locked(service)
            if service in self._failures:
                raise self._failures[service]
            return self._clients[service]

    def check(self, service: str) -> HealthResult:
        """Create and check the client once; later calls return the first result."""
        with self._lock:
            return self._check_locked(service)

    def check_all(self, services: Iterable[str]) -> list[HealthResult]:
        return [self.check(service) for service in services]

    def _check_locked(self, service: str) -> HealthResult:
        if service in self.results:
            return self.results[service]
        check = HEALTH_CHECKS.get(service)
        if check is None:
            known = ", ".join(sorted(HEALTH_CHECKS))
            raise ValueError(f"no health check for service {service!r} (known: {known})")
        region = self.settings.region
        try:
            client = self._create(service, region)
            attempts = run_health_check(client, check, self.settings, sleep=self._sleep)
        except HealthCheckFailed as failure:
            result = HealthResult(service, check.label, passed=False, reason=str(failure))
            self._failures[service] = ClientUnavailable(service, region, str(failure))
            self.results[service] = result
            LOG.error(result.line)
            return result
        self._clients[service] = client
        detail = self._detail(check, region, attempts)
        result = HealthResult(service, check.label, True, detail=detail, attempts=attempts)
        self.results[service] = result
        LOG.info(result.line)
        return result

    def _create(self, service: str, region: str | None) -> Any:
        if not region:
            raise HealthCheckFailed(
                "no region configured (set AWS_REGION or CHATBOT_BEDROCK_REGION)"
            )
        try:
            session = self._session if self._session is not None else new_session()
            if session.get_credentials() is None:
                raise HealthCheckFailed("no AWS credentials found (environment, role or profile)")
            return session.client(service, config=client_config(service, region))
        except BotoCoreError as err:
            raise HealthCheckFailed(describe_error(err)) from None

    def _detail(self, check: HealthCheck, region: str | None, attempts: int) -> str:
        if check.probe is None:
            names = ", ".join(xform_name(op) for op in check.operations)
            what = f"client has {names}; no request needed"
        else:
            what = f"{xform_name(check.probe)} answered"
            if check.probe == "HeadBucket":
                what += f" for {self.settings.s3_bucket}"
        retries = f", after {attempts} attempts" if attempts > 1 else ""
        return f"{what}; region {region or 'from the environment'}{retries}"
