"""IAM enforcement in the sandbox: its own user, and AWS's authorization of every
request once enforcement is on.

At start the sandbox creates, while moto still lets every request through, an
IAM user with full access for its own use (``create_operator``): seeding, its
tasks' S3 reads, its log shipping and its runs sign with that user's keys.
With ``Sandbox(enforce_iam=True)`` it then turns enforcement on
(``Enforcement.start``): moto's server authorizes each request once
``settings.INITIAL_NO_AUTH_ACTION_COUNT`` requests were served, and that count
becomes 0; the check itself is replaced by AWS's (``authorization.checks``:
the IAM action, the ARN and the condition keys AWS evaluates, where moto checks
the API operation's name on ``*``), decided by ``opskit.iam.evaluate`` on the
caller's identity policies. A denied request gets AWS's answer: for S3
``AccessDenied`` (HTTP 403), for JSON services ``AccessDeniedException``, each
with the message that names the action and resource.

moto's setting and its check are process-wide: ``stop`` restores both, so the
next test (or sandbox) in this process sees moto as it was. Every decision is
kept (``decisions``): which principal asked for which action on what.
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opskit.iam.evaluate import evaluate
from opskit.sandbox.authorization import Check, Request, checks, json_params

OPERATOR_USER = "opskit-sandbox"
_FULL_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


def create_operator(iam: Any) -> Credentials:
    """The sandbox's own IAM user (full access) and its keys; call before enforcement."""
    iam.create_user(UserName=OPERATOR_USER)
    iam.put_user_policy(
        UserName=OPERATOR_USER, PolicyName="full-access", PolicyDocument=json.dumps(_FULL_ACCESS)
    )
    key = iam.create_access_key(UserName=OPERATOR_USER)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


@dataclass(frozen=True)
class Decided:
    """One authorization the sandbox decided."""

    principal: str
    operation: str  # service:Operation as called
    action: str
    resource: str
    outcome: str  # allowed | implicit deny | explicit deny
    context: Mapping[str, str] = field(default_factory=dict)  # the request's condition keys


def denied_message(principal: str, check: Check, outcome: str, *, quoted: bool) -> str:
    """AWS's AccessDenied text for an identity-policy denial ("Troubleshoot access
    denied error messages", IAM User Guide); S3 quotes the resource."""
    resource = f'"{check.resource}"' if quoted else check.resource
    why = (
        "with an explicit deny in an identity-based policy"
        if outcome == "explicit deny"
        else f"because no identity-based policy allows the {check.action} action"
    )
    action = check.action
    return f"User: {principal} is not authorized to perform: {action} on resource: {resource} {why}"


class Enforcement:
    """The switch: ``start`` turns AWS's authorization on in this process's moto,
    ``stop`` puts moto back as it was. One at a time (moto's state is global)."""

    _active: Enforcement | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._decisions: list[Decided] = []
        self._decisions_lock = threading.Lock()
        self._saved: tuple[Any, Any] | None = None

    @property
    def decisions(self) -> list[Decided]:
        with self._decisions_lock:
            return list(self._decisions)

    def start(self) -> None:
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        with Enforcement._lock:
            if Enforcement._active is not None:
                raise RuntimeError("IAM enforcement is already on in this process")
            self._saved = (
                settings.INITIAL_NO_AUTH_ACTION_COUNT,
                ActionAuthenticatorMixin.__dict__["_authenticate_and_authorize_action"],
            )
            hook = _authorize_hook(self)
            ActionAuthenticatorMixin._authenticate_and_authorize_action = hook  # type: ignore[method-assign]
            settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
            Enforcement._active = self

    def stop(self) -> None:
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        with Enforcement._lock:
            if self._saved is None:
                return
            settings.INITIAL_NO_AUTH_ACTION_COUNT, original = self._saved
            ActionAuthenticatorMixin._authenticate_and_authorize_action = original  # type: ignore[method-assign]
            self._saved = None
            Enforcement._active = None

    def record(self, decided: Decided) -> None:
        with self._decisions_lock:
            self._decisions.append(decided)


def _authorize_hook(enforcement: Enforcement) -> Callable[..., None]:
    """What replaces moto's ``_authenticate_and_authorize_action`` while enforcing."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    def authorize(response: Any, iam_request_cls: type, resource: str = "*") -> None:
        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            ActionAuthenticatorMixin.request_count += 1
            return
        _authorize(enforcement, response, iam_request_cls, resource)

    return authorize


def _request_of(response: Any, iam_request: Any, resource: str) -> Request:
    service, region = iam_request._service, iam_request._region
    operation = response._get_action() or ""
    headers = {k.lower(): v for k, v in dict(response.headers).items()}
    body = response.raw_body if isinstance(response.raw_body, bytes) else b""
    if service == "s3":
        query = urllib.parse.urlparse(response.uri).query
        params = {k: v[0] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
        path = resource.split(":::", 1)[-1]
        bucket, _, key = path.partition("/")
    else:
        params, bucket, key = json_params(body), "", ""
    return Request(
        service=service, operation=operation, region=region, account=response.current_account,
        params=params, headers=headers, bucket=bucket, key=key, body=body,
    )  # fmt: skip


def _next_revision(account: str, region: str) -> Callable[[str], int]:
    def revision(family: str) -> int:
        from moto.ecs.models import ecs_backends

        try:
            known = ecs_backends[account][region].task_definitions.get(family) or {}
        except KeyError:
            known = {}
        return max(known, default=0) + 1

    return revision


def _object_exists(account: str, partition: str) -> Callable[[str, str, str | None], bool]:
    """Whether moto's S3 holds the object (a named version of it), for S3's 403 for
    a missing key; read from its records, without the side effects of its getters."""

    def exists(bucket: str, key: str, version_id: str | None) -> bool:
        from moto.s3.models import FakeKey, s3_backends

        try:
            keys = s3_backends[account][partition].buckets[bucket].keys
        except KeyError:  # no such bucket: S3 answers NoSuchBucket, whoever asks
            return True
        if version_id is None:  # the current version; a delete marker reads as deleted
            return isinstance(keys.get(key), FakeKey)
        return any(
            isinstance(v, FakeKey) and str(v.version_id) == version_id
            for v in keys.getlist(key, [])
        )

    return exists


def _authorize(
    enforcement: Enforcement, response: Any, iam_request_cls: type, resource: str
) -> None:
    from moto.iam.access_control import IAMPolicy

    path = response.raw_path
    query = urllib.parse.urlparse(response.uri).query
    with _json_errors("x-amz-target" in {k.lower() for k in dict(response.headers)}):
        iam_request = iam_request_cls(
            account_id=response.current_account,
            method=response.method,
            path=path + ("?" + query if query else ""),
            data=response.data,
            body=response.raw_body,
            headers=response.headers,
            action=response._get_action(),
        )
        iam_request.check_signature()  # an unknown key, a bad signature: refused
    request = _request_of(response, iam_request, resource)
    principal = iam_request._access_key.arn
    policies = [IAMPolicy(p)._policy_json for p in iam_request._access_key.collect_policies()]
    operation = f"{request.service}:{request.operation}"
    state = (
        _next_revision(request.account, request.region),
        _object_exists(request.account, request.partition),
    )
    for check in checks(request, *state):
        decision = evaluate(policies, check.action, check.resource, check.context)
        enforcement.record(
            Decided(
                principal,
                operation,
                check.action,
                check.resource,
                decision.outcome,
                dict(check.context),
            )  # fmt: skip
        )
        if not decision.allowed:
            _deny(request, principal, check, decision.outcome)


# What a JSON protocol service (ECS, Logs) answers for a key or signature it does
# not accept; moto answers in XML, which a JSON client cannot read.
_JSON_CODES = {
    "InvalidClientTokenId": "UnrecognizedClientException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
}


@contextlib.contextmanager
def _json_errors(json_protocol: bool) -> Iterator[None]:
    from moto.core.exceptions import JsonRESTError

    try:
        yield
    except JsonRESTError:
        raise
    except Exception as err:
        code = getattr(err, "error_type", None)
        if not json_protocol or code not in _JSON_CODES:
            raise
        raise JsonRESTError(_JSON_CODES[code], str(getattr(err, "message", ""))) from None


def _deny(request: Request, principal: str, check: Check, outcome: str) -> None:
    if request.service == "s3":
        from moto.s3.exceptions import BucketAccessDeniedError

        error = BucketAccessDeniedError(request.bucket)
        error.message = denied_message(principal, check, outcome, quoted=True)
        raise error
    message = denied_message(principal, check, outcome, quoted=False)
    if "x-amz-target" in request.headers:  # a JSON protocol service (ECS, Logs, ...)
        from moto.core.exceptions import JsonRESTError

        raise JsonRESTError("AccessDeniedException", message)
    from moto.core.exceptions import AccessDeniedError  # the query protocol's (IAM, STS)

    # moto words it "User: PRINCIPAL is not authorized to perform: ACTION": the rest
    # of AWS's message rides on the action.
    raise AccessDeniedError(principal, message.split("to perform: ", 1)[1])
