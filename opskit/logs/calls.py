"""One CloudWatch Logs read request: paced by the budget, throttling handled here.

botocore's standard retry mode would retry a throttled request up to its
attempt limit, sleeping for real between attempts: each attempt spends the
account's shared quota again, the step's clock and Ctrl-C do not reach those
sleeps, and a step that overruns its timeout there reads "did not stop within
its timeout" instead of what happened. So the log reader's client makes one
attempt (``logs_client``), and this module decides:

- throttled (botocore's throttling codes, or HTTP 429): the whole endpoint
  backs off with jitter (``LogsBudget.throttled``); the poll ends and the
  reader carries on after the backoff. The first throttled answer of a stretch
  becomes one warning, not one per request; the answer that ends it, one info.
- transient (HTTP 5xx, a timeout, a dropped connection: what botocore's
  standard mode retries): the poll ends and the next one tries again after a
  short backoff; after ``TRANSIENT_IN_A_ROW`` in a row the error stands.
- ResourceNotFoundException: ``NotFound``, which the reader interprets.
- anything else: one ``StepError`` line naming the target and the call.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

from opskit.aws import AwsAccess, aws_errors, describe_client_error, error_code
from opskit.clock import Clock
from opskit.logs.budget import LogsBudget
from opskit.logs.times import iso_ms

# botocore.retries.standard.ThrottledRetryableChecker's codes: every error code
# AWS services use for "slow down" (CloudWatch Logs answers ThrottlingException).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
    }
)
# botocore.retries.standard.TransientRetryableChecker's codes and statuses;
# CloudWatch Logs models ServiceUnavailableException as a fault (a 5xx).
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
TRANSIENT_IN_A_ROW = 5
TRANSIENT_FIRST_BACKOFF = 0.5
READER_RETRIES = {"mode": "standard", "total_max_attempts": 1}


def logs_client(aws: AwsAccess) -> Any:
    """The Logs client of ``aws`` that the reader uses: one attempt per request."""
    return aws.client("logs", retries=READER_RETRIES)


class Deferred(Exception):
    """Not sent, or throttled: this poll stops here; carry on in ``seconds``.
    ``cause``: the answer that made it wait (none when the budget paced it)."""

    def __init__(self, seconds: float, *, throttled: bool = False, cause: str = ""):
        super().__init__(f"wait {seconds:.1f}s")
        self.seconds = seconds
        self.throttled = throttled
        self.cause = cause


class NotFound(Exception):
    """ResourceNotFoundException, kept apart from other AWS errors."""


@dataclass(frozen=True)
class Note:
    """Something for the step to show: ``kind`` is an event kind."""

    kind: Literal["warning", "info"]
    message: str


@dataclass
class Throttling:
    """What one reader saw of throttling, for its messages and summaries."""

    requests: int = 0  # sent
    throttled: int = 0  # answered "slow down"
    held: int = 0  # not sent: the endpoint was backing off (maybe for another reader)
    first_at: float | None = None  # wall clock (epoch s) of the first throttling seen
    since: float | None = None  # wall clock of the start of the current stretch
    active: bool = False  # the last answer (or hold) was throttling
    api: str = ""
    cause: str = ""  # e.g. "ThrottlingException: Rate exceeded"
    stretch: int = 0  # throttled or held in the current stretch

    def mostly(self) -> bool:
        """Throttling still going on, or most requests were throttled."""
        return self.active or (self.throttled > 0 and self.throttled * 2 >= self.requests)

    def describe(self) -> str:
        """``FilterLogEvents (ThrottlingException: Rate exceeded) since ..., 14 of
        16 requests throttled``; the stretch still going on, else the first."""
        since = self.since if self.active else self.first_at
        text = f"{self.api} ({self.cause})"
        if since is not None:
            text += f" since {iso_ms(int(since * 1000))}"
        text += f", {self.throttled} of {self.requests} requests throttled"
        if self.held:
            text += f", {self.held} more held back"
        return text


@dataclass
class LogsCaller:
    """Sends the reader's requests; keeps its counts and what to tell the user."""

    client: Any
    budget: LogsBudget
    clock: Clock
    call: Callable[[str], AbstractContextManager[Any]] = aws_errors
    throttling: Throttling = field(default_factory=Throttling)
    notes: list[Note] = field(default_factory=list)
    _transient_in_a_row: int = 0

    def send(
        self, api: str, method: str, what: str, *, keep_place: bool = True, **params: Any
    ) -> dict[str, Any]:
        """The answer; raises ``Deferred``, ``NotFound`` or ``StepError``.
        ``keep_place``: when the budget says wait, keep this reader's turn."""
        from botocore.exceptions import ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as DroppedConnection

        who = id(self) if keep_place else None
        wait = self.budget.request(api, self.clock.monotonic(), who)
        if wait is not None:
            if wait.throttled:
                self.throttling.held += 1
                self._throttled(api, wait.cause, wait.seconds)
            raise Deferred(wait.seconds, throttled=wait.throttled, cause=wait.cause)
        self.throttling.requests += 1
        with self.call(what):
            try:
                answer = getattr(self.client, method)(**params)
            except ClientError as err:
                if error_code(err) == "ResourceNotFoundException":
                    self._answered(api)
                    raise NotFound(describe_client_error(err)) from None
                if is_throttling(err):
                    self.throttling.throttled += 1
                    cause = describe_client_error(err)
                    backoff = self.budget.throttled(api, self.clock.monotonic(), cause)
                    self._throttled(api, cause, backoff)
                    raise Deferred(backoff, throttled=True, cause=cause) from None
                if is_transient(err):
                    self._transient(api, describe_client_error(err))
                raise
            except (DroppedConnection, HTTPClientError) as err:
                self._transient(api, str(err))
                raise
        self._answered(api)
        return dict(answer)

    def take_notes(self) -> list[Note]:
        notes, self.notes = self.notes, []
        return notes

    def _throttled(self, api: str, cause: str, backoff: float) -> None:
        state = self.throttling
        state.stretch += 1
        if state.active:
            return
        now = self.clock.time()
        state.active, state.api, state.cause, state.since = True, api, cause, now
        state.first_at = state.first_at if state.first_at is not None else now
        self.notes.append(
            Note(
                "warning",
                f"CloudWatch Logs is throttling {api} ({cause}); backing off {backoff:.1f} s",
            )
        )

    def _answered(self, api: str) -> None:
        self.budget.answered(api)
        self._transient_in_a_row = 0
        state = self.throttling
        if state.active:
            since = iso_ms(int((state.since or 0) * 1000))
            self.notes.append(
                Note(
                    "info",
                    f"CloudWatch Logs answers {api} again "
                    f"({state.stretch} request(s) throttled or held back since {since})",
                )
            )
            state.active, state.stretch = False, 0

    def _transient(self, api: str, cause: str) -> None:
        """Raise ``Deferred`` for a short backoff, unless it failed too often in a
        row: then return, and the caller re-raises the error (a ``StepError``)."""
        self._transient_in_a_row += 1
        if self._transient_in_a_row >= TRANSIENT_IN_A_ROW:
            return
        ceiling = TRANSIENT_FIRST_BACKOFF * 2 ** (self._transient_in_a_row - 1)
        backoff = ceiling * (0.5 + 0.5 * self.budget.jitter())
        if self._transient_in_a_row == 1:
            message = f"CloudWatch Logs {api} failed ({cause}); retrying in {backoff:.1f} s"
            self.notes.append(Note("warning", message))
        raise Deferred(backoff, cause=cause)


def is_throttling(err: Any) -> bool:
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error_code(err) in THROTTLING_CODES or status == 429


def is_transient(err: Any) -> bool:
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error_code(err) in TRANSIENT_CODES or status in TRANSIENT_STATUSES
