"""``http.probe``: prove that a URL answers what a healthy release answers.

A status alone proves little: Streamlit answers 200 on ``/`` even when the app's
script raises (streamlit #3638), so probes should check a body marker or the
script health endpoint. Semantics follow Argo Rollouts' analysis: ``consecutive``
successes are required, and more than ``failure_limit`` failed attempts fail
the step early instead of waiting for the timeout.
"""

from __future__ import annotations

import re
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from opskit.clock import poll_until
from opskit.durations import format_duration
from opskit.errors import StepFailed, StepTimeout
from opskit.iam.needs import NO_AWS
from opskit.shapes import Array, Scalar
from opskit.steps.base import StepContext, StepResult, StepType, at_least, output, param

BODY_LIMIT = 1 << 20  # read at most 1 MiB of a body: enough for any marker
MAX_BACKOFF = 10.0

STATUSES = Array(
    Scalar("integer", minimum=100, maximum=599),
    min_items=1,
    single=True,
    expected="an HTTP status or a list of them",
)


# Sent only to the origin the probe was given: on a redirect to another origin
# (scheme, host or port) they are dropped, as curl does (CURLOPT_UNRESTRICTED_AUTH
# off) and requests does (Session.rebuild_auth, Cookie through its cookie jar).
CREDENTIAL_HEADERS = ("Authorization", "Proxy-Authorization", "Cookie")
_UNSENDABLE = re.compile(r"[\x00-\x20\x7f]")


def _check_url(value: Any) -> str:
    # http.client refuses these with InvalidURL at request time (CVE-2019-9740's fix)
    if _UNSENDABLE.search(value):
        raise ValueError(
            "a URL cannot contain spaces or control characters (percent-encode them: %20)"
        )
    return value


def _check_regex(value: Any) -> str:
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError(f"not a valid regular expression: {err}") from None
    return value


@dataclass(frozen=True, kw_only=True)
class ProbeInputs:
    url: str = param("The URL to request.", "string", required=True, check=_check_url)
    method: str = param("GET or HEAD.", "string", default="GET", choices=("GET", "HEAD"))
    headers: dict[str, str] | None = param("Extra request headers.", "object")
    secret_headers: list[str] = param(
        "Names of headers (besides Authorization, Proxy-Authorization and Cookie) that "
        "are credentials: a redirect to another origin (scheme, host or port) drops them.",
        "string_list",
        default=[],
    )
    expect_status: list[int] = param(
        "Expected status code, or a list of them.",
        STATUSES,
        default=[200],
    )
    expect_body: str | None = param("A substring the body must contain.", "string")
    expect_regex: str | None = param(
        "A regular expression the body must match.", "string", check=_check_regex
    )
    max_latency: float | None = param("Slower answers count as failures.", "duration")
    consecutive: int = param(
        "Successes in a row required.", "integer", default=1, check=at_least(1)
    )
    failure_limit: int | None = param(
        "Fail as soon as more attempts than this have failed (default: retry until timeout).",
        "integer",
    )
    interval: float = param(
        "Delay between attempts; doubles after a failure (max 10s).", "duration", default=1.0
    )
    request_timeout: float = param("Timeout of one request.", "duration", default=10.0)
    follow_redirects: bool = param("Follow 3xx redirects.", "boolean", default=True)
    verify_tls: bool = param("Verify TLS certificates.", "boolean", default=True)


@dataclass(frozen=True, kw_only=True)
class ProbeOutputs:
    status: int | None = output("HTTP status of the last attempt (null when no answer).", "integer")
    latency_ms: float | None = output("Latency of the last attempt in milliseconds.", "number")
    attempts: int = output("Number of requests made.", "integer")


@dataclass
class Attempt:
    ok: bool
    status: int | None
    latency_ms: float
    reason: str  # why it failed, or what matched


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port, the port filled in for http and https (RFC 6454)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port or default


@dataclass
class _CrossOriginGuard(urllib.request.HTTPRedirectHandler):
    """Follows redirects; the first that leaves the probe's origin drops the
    credential headers from that request on (urllib copies every header but the
    content ones to the next request: ``HTTPRedirectHandler.redirect_request``).
    ``dropped`` records where they stopped being sent and which ones."""

    secret: frozenset[str]
    dropped: list[tuple[str, list[str]]] = field(default_factory=list)

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is None or origin(new.full_url) == origin(req.full_url):
            return new
        names = [name for name in list(new.headers) if name.lower() in self.secret]
        for name in names:
            new.remove_header(name)
        if names:
            self.dropped.append((new.full_url, names))
        return new


def request_once(inputs: ProbeInputs, timeout: float) -> Attempt:
    headers = dict(inputs.headers or {})
    request = urllib.request.Request(inputs.url, method=inputs.method, headers=headers)
    context = ssl.create_default_context()
    if not inputs.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    secret = {name.lower() for name in (*CREDENTIAL_HEADERS, *inputs.secret_headers)}
    guard = _CrossOriginGuard(frozenset(secret))
    handlers: list[Any] = [urllib.request.HTTPSHandler(context=context)]
    handlers.append(guard if inputs.follow_redirects else _NoRedirect())
    opener = urllib.request.build_opener(*handlers)
    attempt = _answer(inputs, opener, request, timeout)
    if guard.dropped:
        where = guard.dropped[0][0]
        names = [
            _header_name(headers, n) for n in dict.fromkeys(n for _, d in guard.dropped for n in d)
        ]
        attempt.reason += f" (redirected to {where}, another origin: {', '.join(names)} not sent)"
    return attempt


def _header_name(given: dict[str, str], name: str) -> str:
    """The header's name as the playbook wrote it (urllib stores ``X-api-key``)."""
    return next((g for g in given if g.lower() == name.lower()), name)


def _answer(
    inputs: ProbeInputs,
    opener: urllib.request.OpenerDirector,
    request: urllib.request.Request,
    timeout: float,
) -> Attempt:
    started = time.perf_counter()
    try:
        with opener.open(request, timeout=max(timeout, 0.05)) as response:
            status, body = response.status, response.read(BODY_LIMIT)
    except urllib.error.HTTPError as err:  # a 4xx/5xx (or an unfollowed 3xx) is an answer
        status, body = err.code, err.read(BODY_LIMIT) if err.fp else b""
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, ConnectionRefusedError):
            reason = "connection refused"
        elif isinstance(reason, TimeoutError) or "timed out" in str(reason):
            reason = f"no answer within {format_duration(timeout)}"
        return Attempt(False, None, (time.perf_counter() - started) * 1000, str(reason))
    latency_ms = (time.perf_counter() - started) * 1000
    return judge(inputs, status, body.decode("utf-8", "replace"), latency_ms)


def judge(inputs: ProbeInputs, status: int, text: str, latency_ms: float) -> Attempt:
    expected = inputs.expect_status
    if status not in expected:
        wanted = " or ".join(str(s) for s in expected)
        return Attempt(False, status, latency_ms, f"status {status}, expected {wanted}")
    body, regex = inputs.expect_body, inputs.expect_regex
    if body is not None and body not in text:
        return Attempt(
            False, status, latency_ms, f"body does not contain {body!r}: {_excerpt(text)}"
        )
    if regex is not None and not re.search(regex, text):
        return Attempt(
            False, status, latency_ms, f"body does not match /{regex}/: {_excerpt(text)}"
        )
    limit = inputs.max_latency
    if limit is not None and latency_ms > limit * 1000:
        return Attempt(
            False,
            status,
            latency_ms,
            f"answered in {latency_ms:.0f} ms, over max_latency {format_duration(limit)}",
        )
    checks = [f"status {status}"]
    if body is not None:
        checks.append(f"body contains {body!r}")
    if regex is not None:
        checks.append(f"body matches /{regex}/")
    return Attempt(True, status, latency_ms, ", ".join(checks))


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat[:80] + ("..." if len(flat) > 80 else ""))


def _probe_label(attempt: Attempt) -> str:
    """``probe 200``, ``probe 503``, ``probe error``; ``probe 200 failed`` when a
    check of its body or latency said no (fixed words: no body text)."""
    if attempt.status is None:
        return "probe error"
    failed = not attempt.ok and attempt.status < 400
    return f"probe {attempt.status}" + (" failed" if failed else "")


def run(ctx: StepContext, inputs: ProbeInputs) -> StepResult:
    needed = inputs.consecutive
    failure_limit = inputs.failure_limit
    base_interval = inputs.interval
    state = {"attempts": 0, "failures": 0, "streak": 0, "delay": base_interval}
    last: list[Attempt] = []
    # The newest attempt's mark, held until its verdict is known: the attempt
    # the step fails at is the run's failure mark, drawn where it happened.
    held: list[tuple[str, float]] = []

    def mark(failure: str = "") -> None:
        if held:
            text, at = held.pop()
            if failure:
                ctx.emit("mark", f"{text} ({failure})", at=at, what="failure")
            else:
                ctx.emit("mark", text, at=at, what="probe")

    def outputs() -> ProbeOutputs:
        a = last[-1] if last else None
        return ProbeOutputs(
            status=a.status if a else None,
            latency_ms=round(a.latency_ms, 1) if a else None,
            attempts=int(state["attempts"]),
        )

    def attempt() -> Attempt | None:
        remaining = ctx.deadline.remaining()
        timeout = inputs.request_timeout
        if remaining is not None:
            timeout = min(timeout, max(remaining, 0.05))
        mark()
        sent_at = ctx.clock.time()
        result = request_once(inputs, timeout)
        last.append(result)
        held.append((_probe_label(result), sent_at))
        state["attempts"] += 1
        if result.ok:
            state["streak"] += 1
            state["delay"] = base_interval
            ctx.emit(
                "progress",
                f"attempt {state['attempts']}: {result.reason} "
                f"({result.latency_ms:.0f} ms), {state['streak']}/{needed} in a row",
            )
            return result if state["streak"] >= needed else None
        state["streak"] = 0
        state["failures"] += 1
        ctx.emit("progress", f"attempt {state['attempts']}: {result.reason}")
        if failure_limit is not None and state["failures"] > failure_limit:
            mark("failure_limit reached")
            raise StepFailed(
                f"{inputs.url}: {result.reason} "
                f"({state['failures']} failed attempts, failure_limit {failure_limit})",
                outputs=outputs(),
            )
        return None

    def next_delay() -> float:
        delay = state["delay"]
        if state["streak"] == 0:
            state["delay"] = min(MAX_BACKOFF, max(state["delay"], 0.1) * 2)
        return delay

    def describe() -> str:
        if not last:
            return "no attempt finished"
        return f"{inputs.url}: {last[-1].reason} (after {state['attempts']} attempts)"

    try:
        result = poll_until(
            attempt,
            clock=ctx.clock,
            deadline=ctx.deadline,
            interval=next_delay,
            cancel=ctx.cancel,
            describe=describe,
        )
    except StepTimeout as err:
        mark("timed out" if last and not last[-1].ok else "")
        raise StepTimeout(err.summary, outputs=outputs()) from None
    finally:
        mark()  # passed or interrupted: the last attempt as it was
    tries = state["attempts"]
    return StepResult(
        "ok",
        f"{inputs.url}: {result.reason} in {result.latency_ms:.0f} ms"
        + (f" ({tries} attempts)" if tries > 1 else ""),
        outputs(),
    )


def plan(ctx: StepContext, inputs: ProbeInputs) -> StepResult:
    """One request, reported but never failing: a dry run shows today's answer."""
    result = request_once(inputs, min(inputs.request_timeout, 10.0))
    now = result.reason if result.ok else f"would fail now: {result.reason}"
    return StepResult(
        "ok",
        f"would probe {inputs.url}; {now}",
        ProbeOutputs(status=result.status, latency_ms=round(result.latency_ms, 1), attempts=1),
    )


PERMISSIONS = NO_AWS  # HTTP only


STEP = StepType(
    name="http.probe",
    summary="Request a URL until it answers the expected status and body.",
    inputs=ProbeInputs,
    outputs=ProbeOutputs,
    run=run,
    plan=plan,
    read_only=True,
    permissions=PERMISSIONS,
)
