"""Whether a request to the sandbox is signed as AWS checks it, and if not why.

Three ways of signing reach it (AWS General Reference, "Signing AWS API
requests"; S3 API reference, "Authenticating Requests: Using Query Parameters"
and "Query string request authentication alternative" for Signature Version 2):

- the ``Authorization`` header, Signature Version 4 (every SDK call);
- the query string, Signature Version 4 (``X-Amz-Algorithm``,
  ``X-Amz-Credential``, ``X-Amz-Date``, ``X-Amz-Expires``,
  ``X-Amz-SignedHeaders``, ``X-Amz-Signature``): a presigned URL;
- the query string, Signature Version 2 (``AWSAccessKeyId``, ``Expires``,
  ``Signature``): the presigned URL botocore makes for S3 by default where the
  region still takes Version 2 (us-east-1, the sandbox's).

Each is recomputed with botocore's own signer over what the request carries.
A key is one of the sandbox's (``KeyFor``); a session's key must come with its
own session token (``X-Amz-Security-Token``) and is refused once the session
has ended; a long-term key must come with none ("The security token included in
the request is invalid", what AWS answers a stale ``AWS_SESSION_TOKEN`` next to
a user's keys). A presigned URL lives until ``X-Amz-Date`` + ``X-Amz-Expires``
(at most 604800 seconds, a week), or its ``Expires`` for Version 2.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from opskit.clock import utc_epoch

SIGV4_TIME = "%Y%m%dT%H%M%SZ"
MAX_EXPIRES = 604800  # "X-Amz-Expires must be less than a week (in seconds)"
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<credential>[^,]+),\s*"
    r"SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_V4_QUERY = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
)


@dataclass(frozen=True)
class SigningKey:
    """An access key the sandbox knows: its secret and, for a role session,
    the session token issued with it and when the session ends (epoch seconds)."""

    secret: str
    session_token: str | None = None
    expires_at: float | None = None


KeyFor = Callable[[str], "SigningKey | None"]  # access key id -> the key, None when unknown


@dataclass
class Verdict:
    """``problem`` is None for a request signed as AWS checks it, else one of
    ``missing``, ``unknown``, ``signature``, ``token``, ``expired_token``,
    ``expired`` (a presigned URL past its life) or ``query`` (its parameters
    are malformed; ``details`` has AWS's message); ``service`` is what the
    credential scope names (``s3`` for Version 2)."""

    problem: str | None
    service: str = ""
    details: dict[str, str] = field(default_factory=dict)


def check_request(
    environ: dict[str, Any], body: bytes, key_for: KeyFor, now: Callable[[], float]
) -> Verdict:
    headers = request_headers(environ)
    query = query_parameters(environ)
    if "authorization" in headers:
        return _check_header(environ, headers, body, key_for, now)
    if "X-Amz-Algorithm" in query or "X-Amz-Signature" in query:
        return _check_query_v4(environ, headers, query, body, key_for, now)
    if "AWSAccessKeyId" in query or "Signature" in query:
        return _check_query_v2(environ, headers, query, key_for, now)
    return Verdict("missing")


def _check_key(key_id: str, token: str, key_for: KeyFor, now: float) -> tuple[str | None, Any]:
    """The key, or why it is not one of the sandbox's as given."""
    key = key_for(key_id)
    if key is None:
        return "unknown", None
    if key.session_token is None:
        return ("token", None) if token else (None, key)
    if not token:
        return "unknown", None  # a session's key id alone names no key AWS knows
    if not hmac.compare_digest(token.encode(), key.session_token.encode()):
        return "token", None
    if key.expires_at is not None and now >= key.expires_at:
        return "expired_token", None
    return None, key


def _check_header(
    environ: dict[str, Any],
    headers: dict[str, str],
    body: bytes,
    key_for: KeyFor,
    now: Callable[[], float],
) -> Verdict:
    from botocore.auth import S3SigV4Auth, SigV4Auth

    found = _AUTH.match(headers.get("authorization", ""))
    if found is None:
        return Verdict("missing")
    scope = found["credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return Verdict("missing")
    key_id, _, region, service, _ = scope
    problem, key = _check_key(key_id, headers.get("x-amz-security-token", ""), key_for, now())
    if problem is not None:
        return Verdict(problem, service)
    signed = found["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return Verdict("signature", service)
    signer_class = S3SigV4Auth if service == "s3" else SigV4Auth
    expected = _v4_signature(
        signer_class(_credentials(key_id, key), service, region),
        environ,
        url_path=_raw_uri(environ),
        headers={name: headers.get(name, "") for name in signed},
        body=body,
        timestamp=headers.get("x-amz-date", ""),
    )
    if not hmac.compare_digest(expected, found["signature"]):
        return Verdict("signature", service)
    declared = headers.get("x-amz-content-sha256", "")
    if re.fullmatch(r"[0-9a-f]{64}", declared) and declared != hashlib.sha256(body).hexdigest():
        return Verdict("signature", service)  # a signed header, another body
    return Verdict(None, service)


def _check_query_v4(
    environ: dict[str, Any],
    headers: dict[str, str],
    query: dict[str, str],
    body: bytes,
    key_for: KeyFor,
    now: Callable[[], float],
) -> Verdict:
    from botocore.auth import S3SigV4QueryAuth, SigV4QueryAuth

    scope = query.get("X-Amz-Credential", "").split("/")
    service = scope[3] if len(scope) == 5 else ""
    if any(name not in query for name in _V4_QUERY) or len(scope) != 5:
        return _malformed(
            service,
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
            "and X-Amz-Expires parameters.",
        )
    if query["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
        return _malformed(service, 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    if not re.fullmatch(r"-?[0-9]+", query["X-Amz-Expires"]):
        return _malformed(service, "X-Amz-Expires should be a number")
    lifetime = int(query["X-Amz-Expires"])
    if lifetime < 0:
        return _malformed(service, "X-Amz-Expires must be non-negative")
    if lifetime > MAX_EXPIRES:
        return _malformed(
            service, f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES}"
        )
    signed_at = utc_epoch(query["X-Amz-Date"], SIGV4_TIME)
    if signed_at is None:
        return _malformed(service, "X-Amz-Date must be in the ISO8601 Long Format")
    key_id, _, region, _, _ = scope
    current = now()
    problem, key = _check_key(key_id, query.get("X-Amz-Security-Token", ""), key_for, current)
    if problem is not None:
        return Verdict(problem, service)
    if current > signed_at + lifetime:
        return Verdict(
            "expired",
            service,
            {
                "X-Amz-Expires": str(lifetime),
                "Expires": _iso(signed_at + lifetime),
                "ServerTime": _iso(current),
            },
        )
    signed = query["X-Amz-SignedHeaders"].split(";")
    if "host" not in signed:
        return Verdict("signature", service)
    signer_class = S3SigV4QueryAuth if service == "s3" else SigV4QueryAuth
    # The canonical query string is every parameter but the signature itself.
    path, _, raw_query = _raw_uri(environ).partition("?")
    unsigned = "&".join(
        pair for pair in raw_query.split("&") if pair.partition("=")[0] != "X-Amz-Signature"
    )
    expected = _v4_signature(
        signer_class(_credentials(key_id, key), service, region),
        environ,
        url_path=f"{path}?{unsigned}",
        headers={name: headers.get(name, "") for name in signed},
        body=body,
        timestamp=query["X-Amz-Date"],
    )
    if not hmac.compare_digest(expected, query["X-Amz-Signature"]):
        return Verdict("signature", service)
    return Verdict(None, service)


def _check_query_v2(
    environ: dict[str, Any],
    headers: dict[str, str],
    query: dict[str, str],
    key_for: KeyFor,
    now: Callable[[], float],
) -> Verdict:
    from botocore.auth import HmacV1QueryAuth
    from botocore.awsrequest import HTTPHeaders

    if not all(name in query for name in ("AWSAccessKeyId", "Expires", "Signature")):
        return Verdict("missing", "s3")
    if not re.fullmatch(r"[0-9]+", query["Expires"]):
        return Verdict("signature", "s3")
    current = now()
    token = query.get("x-amz-security-token", "")
    problem, key = _check_key(query["AWSAccessKeyId"], token, key_for, current)
    if problem is not None:
        return Verdict(problem, "s3")
    expires_at = int(query["Expires"])
    if current > expires_at:
        return Verdict("expired", "s3", {"Expires": _iso(expires_at), "ServerTime": _iso(current)})

    class AsSigned(HmacV1QueryAuth):  # the Expires the URL names, not now + a life
        def _get_date(self) -> str:
            return query["Expires"]

    signed = HTTPHeaders()
    for name in ("content-md5", "content-type"):
        if name in headers:
            signed[name] = headers[name]
    for name, value in [*headers.items(), *query.items()]:
        if name.lower().startswith("x-amz-"):
            signed[name.lower()] = value
    signer = AsSigned(_credentials(query["AWSAccessKeyId"], key))
    split = urlsplit(f"http://{headers.get('host', '')}{_raw_uri(environ)}")
    method = str(environ.get("REQUEST_METHOD", "GET"))
    expected = signer.get_signature(method, split, signed)
    if not hmac.compare_digest(expected.encode(), query["Signature"].encode()):
        return Verdict("signature", "s3")
    return Verdict(None, "s3")


def _v4_signature(
    signer: Any,
    environ: dict[str, Any],
    *,
    url_path: str,
    headers: dict[str, str],
    body: bytes,
    timestamp: str,
) -> str:
    from botocore.awsrequest import AWSRequest

    host = request_headers(environ).get("host", "")
    request = AWSRequest(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        url=f"http://{host}{url_path}",
        data=body,
        headers=headers,
    )
    request.context["timestamp"] = timestamp
    canonical = signer.canonical_request(request)
    return str(signer.signature(signer.string_to_sign(request, canonical), request))


def _credentials(key_id: str, key: SigningKey) -> Any:
    from botocore.credentials import Credentials

    return Credentials(key_id, key.secret, key.session_token)


def _malformed(service: str, message: str) -> Verdict:
    return Verdict("query", service, {"message": message})


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def request_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def query_parameters(environ: dict[str, Any]) -> dict[str, str]:
    """The query's parameters, percent-decoded (``+`` stays ``+``: a Version 2
    signature is base64, and a presigned URL encodes a space as ``%20``)."""
    raw = _raw_uri(environ).partition("?")[2]
    found: dict[str, str] = {}
    for pair in raw.split("&") if raw else []:
        name, _, value = pair.partition("=")
        found.setdefault(unquote(name), unquote(value))
    return found


def _raw_uri(environ: dict[str, Any]) -> str:
    """The path and query as sent (werkzeug keeps it): the signature covers the
    percent-encoded path, which ``PATH_INFO`` has decoded."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    query = environ.get("QUERY_STRING")
    return str(environ.get("PATH_INFO", "/")) + (f"?{query}" if query else "")
