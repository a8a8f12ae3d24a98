"""Only the sandbox's own credentials: a WSGI middleware in front of moto's server.

moto's server takes any key (unless IAM enforcement is on, which is process-wide
and off by default), so on a shared host any local user could rewrite the code
bucket through the loopback port, and the local agent would then run that code
as the sandbox's owner. This middleware checks every request's signature
(``signatures.check_request``: the ``Authorization`` header, or a presigned URL's
query string, Signature Version 4 or 2) with a key of the sandbox's account
(``sandbox_keys``): the keys of the user it created at start (kept in the 0600
state file), of users created through it with those, and of the role sessions
its STS issued, each with its own session token and until it ends. Anything
else gets the answer AWS gives ("Common Errors" of the API references; S3's
"Error Responses"), in the tables below (problem -> status, code, message):
unsigned, an unknown key, a wrong signature, a session token that is not the
key's (``token``), an ended session (``expired_token``), a presigned URL past
its life (``expired``) or with malformed parameters (``query``).

moto's admin API (``/moto-api/``: reset, seed, its data dump with every secret) is
refused too, but for its front page, which ``opskit sandbox status`` reads to know
the endpoint is up; so are the fault counts (``GET /opskit-api/faults``), read only.
"""

from __future__ import annotations

import calendar
import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from xml.sax.saxutils import escape

from opskit.sandbox.aws_faults.middleware import ADMIN_PATH, read_body
from opskit.sandbox.signatures import KeyFor, SigningKey, Verdict, check_request

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MOTO_FRONT_PAGE = "/moto-api/"
_INVALID = "The security token included in the request is invalid."
_EXPIRED = "The security token included in the request is expired"
_NO_MATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details."
)
# problem -> (HTTP status, code, message); "query" takes its message from the verdict.
_S3_ERRORS = {
    "missing": (403, "AccessDenied", "Access Denied"),
    "unknown": (
        403,
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
    ),
    "signature": (
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    ),
    "token": (400, "InvalidToken", "The provided token is malformed or otherwise invalid."),
    "expired_token": (400, "ExpiredToken", "The provided token has expired."),
    "expired": (403, "AccessDenied", "Request has expired"),
    "query": (400, "AuthorizationQueryParametersError", ""),
}
_JSON_ERRORS = {
    "missing": (403, "MissingAuthenticationTokenException", "Missing Authentication Token"),
    "unknown": (400, "UnrecognizedClientException", _INVALID),
    "signature": (400, "InvalidSignatureException", _NO_MATCH),
    "token": (400, "UnrecognizedClientException", _INVALID),
    "expired_token": (400, "ExpiredTokenException", _EXPIRED),
    "expired": (400, "RequestExpired", "Request has expired."),
    "query": (403, "IncompleteSignature", ""),
}
_QUERY_ERRORS = {
    "missing": (403, "MissingAuthenticationToken", "Missing Authentication Token"),
    "unknown": (403, "InvalidClientTokenId", _INVALID),
    "signature": (403, "SignatureDoesNotMatch", _NO_MATCH),
    "token": (403, "InvalidClientTokenId", _INVALID),
    "expired_token": (403, "ExpiredToken", _EXPIRED),
    "expired": (400, "RequestExpired", "Request has expired."),
    "query": (403, "IncompleteSignature", ""),
}
_REASONS = {400: "Bad Request", 403: "Forbidden"}


class SignedOnly:
    """Passes a request to ``app`` only when signed with a key ``key_for`` knows,
    as AWS checks it (``signatures``); ``now`` is the time presigned URLs and
    sessions are judged at."""

    def __init__(self, app: WsgiApp, key_for: KeyFor, now: Callable[[], float] = time.time):
        self.app = app
        self.key_for = key_for
        self.now = now

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = str(environ.get("PATH_INFO", ""))
        if path == ADMIN_PATH and environ.get("REQUEST_METHOD") == "GET":
            return self.app(environ, start_response)  # the fault counts: read only
        if path.startswith("/moto-api"):
            if path == MOTO_FRONT_PAGE and environ.get("REQUEST_METHOD") == "GET":
                return self.app(environ, start_response)
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"the sandbox refuses moto's admin API\n"]
        body = read_body(environ)
        verdict = check_request(environ, body, self.key_for, self.now)
        if verdict.problem is None:
            return self.app(environ, start_response)
        return _refuse(environ, start_response, verdict)


def _protocol(environ: dict[str, Any], service: str) -> str:
    """How the service answers: the signature's scope names it; an unsigned
    request is told by its ``X-Amz-Target`` (JSON) or form body (query)."""
    if service == "s3":
        return "s3"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    content_type = str(environ.get("CONTENT_TYPE", ""))
    if service or content_type.startswith("application/x-www-form-urlencoded"):
        return "query"
    return "s3"


def _refuse(
    environ: dict[str, Any], start_response: Callable[..., Any], verdict: Verdict
) -> list[bytes]:
    request_id = str(uuid.uuid4())
    protocol = _protocol(environ, verdict.service)
    problem = str(verdict.problem)
    details = dict(verdict.details)
    if protocol == "json":
        status, code, message = _JSON_ERRORS[problem]
        message = details.pop("message", message)
        body = json.dumps({"__type": code, "message": message}, separators=(",", ":"))
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
    elif protocol == "query":
        status, code, message = _QUERY_ERRORS[problem]
        message = details.pop("message", message)
        body = (
            f'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>'
            f"<Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        status, code, message = _S3_ERRORS[problem]
        message = details.pop("message", message)
        # An expired presigned URL's answer names its life and the server's
        # time: <X-Amz-Expires>, <Expires>, <ServerTime> (S3 "Error Responses").
        extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in details.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{extra}"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    encoded = body.encode("utf-8")
    start_response(
        f"{status} {_REASONS[status]}", [*headers, ("Content-Length", str(len(encoded)))]
    )
    return [encoded]


def sandbox_keys(account_id: str, partition: str = "aws") -> KeyFor:
    """The keys of the sandbox's account: an active access key of a user in
    moto's IAM (the sandbox's own user, made at start, and users made through
    it since), and the key of a role session moto's STS issued (AssumeRole),
    with its session token and end. GetSessionToken and GetFederationToken
    are left out: moto answers them with AWS's documentation example keys, which
    anyone knows."""

    def key_for(key_id: str) -> SigningKey | None:
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        try:
            users = list(iam_backends[account_id][partition].users.values())
            sessions = list(sts_backends[account_id][partition].assumed_roles)
        except KeyError:
            return None
        for user in users:
            for key in list(user.access_keys):
                if key.access_key_id == key_id and key.status == "Active":
                    return SigningKey(str(key.secret_access_key))
        for session in sessions:
            if session.access_key_id == key_id:
                # moto keeps the end as a naive UTC datetime
                ends = calendar.timegm(session.expiration.utctimetuple())
                return SigningKey(
                    str(session.secret_access_key), str(session.session_token), float(ends)
                )
        return None

    return key_for
