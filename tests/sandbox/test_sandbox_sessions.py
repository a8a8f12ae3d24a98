"""The sandbox's own STS sessions and presigned URLs (findings on issue 21's
point 9): a role session the sandbox's STS issued works with its session token
and with no other, until it expires; a URL presigned with a key of the
sandbox's works until X-Amz-Date + X-Amz-Expires, and a URL changed after
signing is refused. Every refusal is the answer AWS gives (S3's "Error
Responses", the "Common Errors" of the API references)."""

from __future__ import annotations

import datetime
import http.client
import re
import urllib.parse
from typing import Any
from xml.etree import ElementTree

import pytest
from botocore.exceptions import ClientError

from opskit.sandbox import SandboxInfo
from tests.sandbox.sandbox_helpers import client
from tests.sandbox.test_foreign_credentials import EVIL, KEY, foreign, refusal

ROLE = "opskit-deployer"
TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}'
)


def _session(info: SandboxInfo, name: str = "ci") -> dict[str, str]:
    iam = client(info, "iam")
    try:
        arn = iam.get_role(RoleName=ROLE)["Role"]["Arn"]
    except ClientError:
        arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    given = client(info, "sts").assume_role(RoleArn=arn, RoleSessionName=name)
    return given["Credentials"]


def _as(credentials: dict[str, str], token: str | None = "") -> dict[str, Any]:
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"] if token == "" else token,
    }


def _code(info: SandboxInfo) -> bytes:
    return bytes(client(info, "s3").get_object(Bucket=info.names["bucket"], Key=KEY)["Body"].read())


def _fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    """What a presigned URL's user does (curl, a browser): the URL as given, and
    no header the signer did not ask for (urllib would add a Content-Type)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request(method, f"{parts.path}?{parts.query}", body=data)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def _error(body: bytes) -> dict[str, str]:
    """S3's error document as {element: text}, but its RequestId."""
    root = ElementTree.fromstring(body)
    return {child.tag: child.text or "" for child in root if child.tag != "RequestId"}


# -- role sessions ---------------------------------------------------------------


def test_a_role_session_the_sandbox_issued_works(sandbox: SandboxInfo):
    credentials = _session(sandbox)
    s3 = foreign(sandbox, "s3", **_as(credentials))
    key = "src/from-a-session.txt"

    s3.put_object(Bucket=sandbox.names["bucket"], Key=key, Body=b"session")

    assert s3.get_object(Bucket=sandbox.names["bucket"], Key=key)["Body"].read() == b"session"
    ecs = foreign(sandbox, "ecs", **_as(credentials))
    described = ecs.describe_services(cluster="chatbot", services=["chatbot"])
    assert described["services"][0]["serviceName"] == "chatbot"
    sts = foreign(sandbox, "sts", **_as(credentials))
    assert sts.get_caller_identity()["Arn"].endswith(f":assumed-role/{ROLE}/ci")


SESSION_CASES = {
    # token given with the session's key -> (S3's answer, ECS's status and code)
    "another session's token": (
        (400, "InvalidToken", "The provided token is malformed or otherwise invalid."),
        (400, "UnrecognizedClientException"),
    ),
    "a made-up token": (
        (400, "InvalidToken", "The provided token is malformed or otherwise invalid."),
        (400, "UnrecognizedClientException"),
    ),
    "no token": (
        (
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        (400, "UnrecognizedClientException"),
    ),
}


def _token(info: SandboxInfo, case: str) -> str | None:
    if case == "another session's token":
        return _session(info, "other")["SessionToken"]
    if case == "a made-up token":
        return "FQoGZXIvYXdzEBYaD" + "A" * 300
    return None


@pytest.mark.parametrize("case", list(SESSION_CASES))
def test_a_session_key_with_a_foreign_token_is_refused(sandbox: SandboxInfo, case: str):
    credentials = _session(sandbox)
    given = _as(credentials, _token(sandbox, case))
    before = _code(sandbox)
    s3 = foreign(sandbox, "s3", **given)

    answer = refusal(lambda: s3.put_object(Bucket=sandbox.names["bucket"], Key=KEY, Body=EVIL))

    assert answer == SESSION_CASES[case][0]
    assert _code(sandbox) == before
    ecs = foreign(sandbox, "ecs", **given)
    status, code, _ = refusal(
        lambda: ecs.update_service(cluster="chatbot", service="chatbot", desiredCount=5)
    )
    assert (status, code) == SESSION_CASES[case][1]


def test_the_sandbox_key_with_a_session_token_is_refused(sandbox: SandboxInfo):
    """AWS refuses a long-term key sent with a session token (a stale
    AWS_SESSION_TOKEN next to a user's keys): the token is not the key's."""
    token = _session(sandbox)["SessionToken"]
    s3 = foreign(
        sandbox,
        "s3",
        aws_access_key_id=sandbox.access_key_id,
        aws_secret_access_key=sandbox.secret_access_key,
        aws_session_token=token,
    )

    answer = refusal(lambda: s3.put_object(Bucket=sandbox.names["bucket"], Key=KEY, Body=EVIL))

    assert answer == (400, "InvalidToken", "The provided token is malformed or otherwise invalid.")


def test_an_expired_session_is_refused(sandbox: SandboxInfo):
    from moto.sts.models import sts_backends

    credentials = _session(sandbox)
    # The session's hour has passed: its end, in the sandbox's STS records, is behind us.
    for role in sts_backends[credentials_account(sandbox)]["aws"].assumed_roles:
        if role.access_key_id == credentials["AccessKeyId"]:
            role.expiration = datetime.datetime.now(datetime.timezone.utc).replace(
                tzinfo=None
            ) - datetime.timedelta(seconds=1)
    s3 = foreign(sandbox, "s3", **_as(credentials))
    ecs = foreign(sandbox, "ecs", **_as(credentials))

    answer = refusal(lambda: s3.put_object(Bucket=sandbox.names["bucket"], Key=KEY, Body=EVIL))
    status, code, message = refusal(
        lambda: ecs.update_service(cluster="chatbot", service="chatbot", desiredCount=5)
    )

    assert answer == (400, "ExpiredToken", "The provided token has expired.")
    assert (status, code, message) == (
        400,
        "ExpiredTokenException",
        "The security token included in the request is expired",
    )


def credentials_account(info: SandboxInfo) -> str:
    identity = client(info, "sts").get_caller_identity()
    return str(identity["Account"])


# -- presigned URLs ----------------------------------------------------------------


def _presigned(s3: Any, method: str, bucket: str, key: str, expires: int = 60) -> str:
    return str(
        s3.generate_presigned_url(method, Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)
    )


def _signer(info: SandboxInfo, version: str, credentials: dict[str, Any] | None = None) -> Any:
    """An S3 client that presigns with Signature Version 4 (``s3v4``) or
    botocore's default for S3 in us-east-1, Version 2 (``s3``)."""
    given = credentials or {
        "aws_access_key_id": info.access_key_id,
        "aws_secret_access_key": info.secret_access_key,
    }
    config = {} if version == "s3" else {"signature_version": version}
    return foreign(info, "s3", config=config, **given)


VERSIONS = {"s3v4": "X-Amz-Signature=", "s3": "Signature="}


@pytest.mark.parametrize("version", list(VERSIONS))
def test_a_presigned_url_signed_with_the_sandbox_key_works(sandbox: SandboxInfo, version):
    s3 = _signer(sandbox, version)
    bucket = sandbox.names["bucket"]
    key = "src/presigned.txt"
    put_url = _presigned(s3, "put_object", bucket, key)

    put = _fetch(put_url, "PUT", b"uploaded")
    got = _fetch(_presigned(s3, "get_object", bucket, key))

    assert VERSIONS[version] in put_url
    assert put[0] == 200
    assert got == (200, b"uploaded")


@pytest.mark.parametrize("version", list(VERSIONS))
def test_a_presigned_url_from_a_role_session_works(sandbox: SandboxInfo, version):
    s3 = _signer(sandbox, version, _as(_session(sandbox)))

    url = _presigned(s3, "get_object", sandbox.names["bucket"], KEY)

    assert ("X-Amz-Security-Token=" if version == "s3v4" else "x-amz-security-token=") in url
    assert _fetch(url) == (200, _code(sandbox))


SIGNATURE_DOES_NOT_MATCH = {
    "Code": "SignatureDoesNotMatch",
    "Message": "The request signature we calculated does not match the signature you "
    "provided. Check your key and signing method.",
}
TAMPERED = {
    ("s3v4", "another key"): lambda url: url.replace("/src/presigned.txt?", f"/{KEY}?"),
    ("s3v4", "a longer life"): lambda url: url.replace("X-Amz-Expires=60", "X-Amz-Expires=3600"),
    ("s3v4", "another signature"): lambda url: url[:-64] + "0" * 64,
    ("s3", "another key"): lambda url: url.replace("/src/presigned.txt?", f"/{KEY}?"),
    ("s3", "a longer life"): lambda url: re.sub(r"Expires=\d+", "Expires=4102444800", url),
}


@pytest.mark.parametrize(("version", "case"), list(TAMPERED))
def test_a_tampered_presigned_url_is_refused(sandbox: SandboxInfo, version: str, case: str):
    s3 = _signer(sandbox, version)
    bucket = sandbox.names["bucket"]
    url = _presigned(s3, "put_object", bucket, "src/presigned.txt")
    before = _code(sandbox)

    status, body = _fetch(TAMPERED[version, case](url), "PUT", EVIL)

    assert (status, _error(body)) == (403, SIGNATURE_DOES_NOT_MATCH)
    assert _code(sandbox) == before


def test_a_presigned_url_with_a_foreign_session_token_is_refused(sandbox: SandboxInfo):
    credentials = _session(sandbox)
    other = _session(sandbox, "other")["SessionToken"]
    s3 = _signer(sandbox, "s3v4", _as(credentials, other))

    status, body = _fetch(_presigned(s3, "put_object", sandbox.names["bucket"], KEY), "PUT", EVIL)

    assert (status, _error(body)) == (
        400,
        {
            "Code": "InvalidToken",
            "Message": "The provided token is malformed or otherwise invalid.",
        },
    )


def test_an_expired_presigned_url_is_refused(sandbox: SandboxInfo, monkeypatch):
    s3 = _signer(sandbox, "s3v4")
    signed_at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0, tzinfo=None)
    signed_at -= datetime.timedelta(hours=2)
    # Signed two hours ago for one hour: botocore reads the time it signs at here.
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *_, **__: signed_at)
    url = _presigned(s3, "put_object", sandbox.names["bucket"], KEY, expires=3600)
    monkeypatch.undo()
    before = _code(sandbox)

    status, body = _fetch(url, "PUT", EVIL)

    error = _error(body)
    server_time = datetime.datetime.strptime(error.pop("ServerTime"), "%Y-%m-%dT%H:%M:%SZ")
    assert (status, error) == (
        403,
        {
            "Code": "AccessDenied",
            "Message": "Request has expired",
            "X-Amz-Expires": "3600",
            "Expires": (signed_at + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    assert server_time >= signed_at + datetime.timedelta(hours=2)
    assert _code(sandbox) == before


def test_a_presigned_url_for_more_than_a_week_is_refused(sandbox: SandboxInfo):
    s3 = _signer(sandbox, "s3v4")

    url = _presigned(s3, "get_object", sandbox.names["bucket"], KEY, expires=604801)

    status, body = _fetch(url)
    assert (status, _error(body)) == (
        400,
        {
            "Code": "AuthorizationQueryParametersError",
            "Message": "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        },
    )
