"""Only the sandbox's own credentials: a WSGI middleware in front of moto's server.

moto's server takes any key (unless IAM enforcement is on, which is process-wide
and off by default), so on a shared host any local user could rewrite the code
bucket through the loopback port, and the local agent would then run that code
as the sandbox's owner. This middleware checks every request's AWS Signature
Version 4 (the ``Authorization`` header's ``Credential``, ``SignedHeaders`` and
``Signature``, recomputed with botocore's signer on the signed headers only) with
the secret of an access key the sandbox's IAM holds: the keys of the user it
created at start (kept in the 0600 state file) and of users created through it
with those. Anything else gets the answer AWS gives ("Common Errors" of the API
references; S3's "Error Responses"):

- no signature: S3 ``AccessDenied`` (403), JSON services
  ``MissingAuthenticationTokenException`` (403), query services
  ``MissingAuthenticationToken`` (403);
- an unknown access key: S3 ``InvalidAccessKeyId`` (403), JSON services
  ``UnrecognizedClientException`` (400), query services ``InvalidClientTokenId``
  (403);
- a wrong signature: S3 and query services ``SignatureDoesNotMatch`` (403), JSON
  services ``InvalidSignatureException`` (400).

moto's admin API (``/moto-api/``: reset, seed, its data dump with every secret) is
refused too, but for its front page, which ``opskit sandbox status`` reads to know
the endpoint is up; so are the fault counts (``GET /opskit-api/faults``), read only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from xml.sax.saxutils import escape

from opskit.sandbox.aws_faults.middleware import ADMIN_PATH, read_body

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
SecretFor = Callable[[str], "str | None"]  # access key id -> its secret, None when unknown

MOTO_FRONT_PAGE = "/moto-api/"
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<credential>[^,]+),\s*"
    r"SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_MESSAGES = {
    "missing": "Missing Authentication Token",
    "unknown": "The security token included in the request is invalid.",
    "signature": "The request signature we calculated does not match the signature you "
    "provided. Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details.",
}
_S3_ERRORS = {
    "missing": ("AccessDenied", "Access Denied"),
    "unknown": (
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
    ),
    "signature": (
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    ),
}
_JSON_ERRORS = {
    "missing": ("MissingAuthenticationTokenException", "403 Forbidden"),
    "unknown": ("UnrecognizedClientException", "400 Bad Request"),
    "signature": ("InvalidSignatureException", "400 Bad Request"),
}
_QUERY_ERRORS = {
    "missing": "MissingAuthenticationToken",
    "unknown": "InvalidClientTokenId",
    "signature": "SignatureDoesNotMatch",
}


class SignedOnly:
    """Passes a request to ``app`` only when signed with a key ``secret_for`` knows."""

    def __init__(self, app: WsgiApp, secret_for: SecretFor):
        self.app = app
        self.secret_for = secret_for

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
        problem, service = check_signature(environ, body, self.secret_for)
        if problem is None:
            return self.app(environ, start_response)
        return _refuse(environ, start_response, problem, service)


def check_signature(
    environ: dict[str, Any], body: bytes, secret_for: SecretFor
) -> tuple[str | None, str]:
    """``(None, service)`` for a request signed with a known key, else why not
    (``missing``, ``unknown`` or ``signature``) and the service its scope names."""
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = _headers(environ)
    found = _AUTH.match(headers.get("authorization", ""))
    if found is None:
        return "missing", ""
    scope = found["credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return "missing", ""
    key_id, _, region, service, _ = scope
    secret = secret_for(key_id)
    if secret is None:
        return "unknown", service
    signed = found["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return "signature", service
    request = AWSRequest(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        url=f"http://{headers.get('host', '')}{_raw_uri(environ)}",
        data=body,
        headers={name: headers.get(name, "") for name in signed},
    )
    request.context["timestamp"] = headers.get("x-amz-date", "")
    signer_class = S3SigV4Auth if service == "s3" else SigV4Auth
    signer = signer_class(Credentials(key_id, secret), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, found["signature"]):
        return "signature", service
    declared = headers.get("x-amz-content-sha256", "")
    if re.fullmatch(r"[0-9a-f]{64}", declared) and declared != hashlib.sha256(body).hexdigest():
        return "signature", service  # a signed header, another body
    return None, service


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def _raw_uri(environ: dict[str, Any]) -> str:
    """The path and query as sent (werkzeug keeps it): the signature covers the
    percent-encoded path, which ``PATH_INFO`` has decoded."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    query = environ.get("QUERY_STRING")
    return str(environ.get("PATH_INFO", "/")) + (f"?{query}" if query else "")


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
    environ: dict[str, Any], start_response: Callable[..., Any], problem: str, service: str
) -> list[bytes]:
    request_id = str(uuid.uuid4())
    protocol = _protocol(environ, service)
    if protocol == "json":
        code, status = _JSON_ERRORS[problem]
        body = f'{{"__type":"{code}","message":"{_MESSAGES[problem]}"}}'
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
    elif protocol == "query":
        code, status = _QUERY_ERRORS[problem], "403 Forbidden"
        body = (
            f'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>'
            f"<Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{escape(_MESSAGES[problem])}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        code, message = _S3_ERRORS[problem]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        status = "403 Forbidden"
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    encoded = body.encode("utf-8")
    start_response(status, [*headers, ("Content-Length", str(len(encoded)))])
    return [encoded]


def sandbox_secrets(account_id: str, partition: str = "aws") -> SecretFor:
    """The secret of an active access key of a user in moto's IAM for the account:
    the sandbox's own user, made at start, and users made through it since."""

    def secret_for(key_id: str) -> str | None:
        from moto.iam.models import iam_backends

        try:
            backend = iam_backends[account_id][partition]
        except KeyError:
            return None
        for user in list(backend.users.values()):
            for key in list(user.access_keys):
                if key.access_key_id == key_id and key.status == "Active":
                    return str(key.secret_access_key)
        return None

    return secret_for
