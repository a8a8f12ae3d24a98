"""s3.verify against moto's server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.aws import AwsAccess, AwsSettings
from opskit.errors import StepFailed
from opskit.iam.policy import policy_document
from opskit.iam.scope import Scope
from opskit.manifest import MANIFEST_NAME
from opskit.sandbox.enforcement import Credentials
from opskit.steps.s3_sync import STEP as SYNC
from opskit.steps.s3_verify import STEP as VERIFY
from tests.conftest import REGION
from tests.enforced import ACCOUNT, enforcing, user_with
from tests.steps.s3_helpers import BUCKET, DEST, OperationLog, write_tree

TREE = {"chatbot_app.py": "import streamlit\n", "core/aws_clients.py": "invoke_model\n"}


@pytest.fixture
def synced(make_ctx, aws, tmp_path: Path):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    source = write_tree(tmp_path / "src", TREE)
    result = SYNC.run(make_ctx(), SYNC.coerce_inputs({"source": str(source), "destination": DEST}))
    return client, source, result


def test_manifest_mode_passes_on_a_synced_prefix(make_ctx, synced):
    _, _, sync_result = synced
    result = VERIFY.run(make_ctx(), VERIFY.coerce_inputs({"destination": DEST}))
    assert result.status == "ok"
    assert vars(result.outputs) == {
        "mismatches": [],
        "checked": 2,
        "digest": sync_result.outputs.digest,
    }
    assert result.summary.startswith(f"{DEST} matches its manifest: 2 objects, digest ")


def test_source_mode_passes_and_reports_the_same_digest(make_ctx, synced):
    _, source, sync_result = synced
    result = VERIFY.run(
        make_ctx(), VERIFY.coerce_inputs({"destination": DEST, "source": str(source)})
    )
    assert result.outputs.mismatches == []
    assert result.outputs.digest == sync_result.outputs.digest


@pytest.mark.parametrize("mode", ["manifest", "source"])
def test_altered_missing_and_extra_objects_are_named(make_ctx, synced, mode):
    client, source, _ = synced
    client.put_object(Bucket=BUCKET, Key="src/core/aws_clients.py", Body=b"list_modelz!\n")
    client.delete_object(Bucket=BUCKET, Key="src/chatbot_app.py")
    client.put_object(Bucket=BUCKET, Key="src/extra.py", Body=b"x")
    given = {"destination": DEST} | ({"source": str(source)} if mode == "source" else {})

    with pytest.raises(StepFailed) as failure:
        VERIFY.run(make_ctx(), VERIFY.coerce_inputs(given))

    reference = "its manifest" if mode == "manifest" else "the local tree"
    assert str(failure.value) == (
        f"{DEST} does not match {reference}: 3 key(s): chatbot_app.py, core/aws_clients.py, "
        "extra.py"
    )
    mismatches = failure.value.outputs.mismatches
    assert "chatbot_app.py: missing" in mismatches
    assert any(m.startswith("core/aws_clients.py: content differs") for m in mismatches)


def test_contains_and_not_contains_read_the_named_objects(make_ctx, synced):
    given = {
        "destination": DEST,
        "contains": {"core/aws_clients.py": ["invoke_model"], "chatbot_app.py": "streamlit"},
        "not_contains": {"core/aws_clients.py": ["list_foundation_models"]},
    }
    assert VERIFY.run(make_ctx(), VERIFY.coerce_inputs(given)).outputs.mismatches == []

    given = {
        "destination": DEST,
        "contains": {"core/aws_clients.py": ["list_foundation_models"], "gone.py": ["x"]},
        "not_contains": {"chatbot_app.py": ["streamlit"]},
    }
    with pytest.raises(StepFailed) as failure:
        VERIFY.run(make_ctx(), VERIFY.coerce_inputs(given))
    assert failure.value.outputs.mismatches == [
        "chatbot_app.py: contains 'streamlit'",
        "core/aws_clients.py: does not contain 'list_foundation_models'",
        "gone.py: missing (needed by contains/not_contains)",
    ]


def test_a_named_key_the_listing_does_not_show_is_missing_without_a_read(make_ctx, synced):
    client, _, _ = synced
    operations = OperationLog(client)
    given = {"destination": DEST, "contains": {"gone.py": "x", "chatbot_app.py": "streamlit"}}

    with pytest.raises(StepFailed) as failure:
        VERIFY.run(make_ctx(), VERIFY.coerce_inputs(given))
    operations.close()

    assert failure.value.outputs.mismatches == [
        "gone.py: missing (needed by contains/not_contains)"
    ]
    # the listing, the manifest, chatbot_app.py: no read of gone.py
    assert operations.operations == ["ListObjectsV2", "GetObject", "GetObject"]


def test_a_named_key_that_is_not_there_is_missing_under_the_policy_opskit_iam_prints(
    aws_endpoint, make_ctx, tmp_path: Path
):
    """Under a policy that lets the caller list only the prefix, S3 answers a read
    of a missing key with 403 (the enforcing sandbox plays it): the step still says
    "missing", not "access denied"."""
    given = {"destination": DEST, "contains": {"gone.py": "x", "chatbot_app.py": "streamlit"}}
    with enforcing(aws_endpoint) as (operator, _):
        make_ctx.aws = keys_access(aws_endpoint, operator)
        make_ctx.aws.client("s3").create_bucket(Bucket=BUCKET)
        source = write_tree(tmp_path / "src", TREE)
        SYNC.run(make_ctx(), SYNC.coerce_inputs({"source": str(source), "destination": DEST}))
        inputs = VERIFY.coerce_inputs(given)
        grants = VERIFY.permissions.grants(vars(inputs), Scope(REGION, ACCOUNT))
        printed = policy_document(grants)["Statement"]
        make_ctx.aws = keys_access(aws_endpoint, user_with(aws_endpoint, operator, printed))

        with pytest.raises(StepFailed) as failure:
            VERIFY.run(make_ctx(), inputs)

    assert str(failure.value) == f"{DEST} does not match its manifest: 1 key(s): gone.py"
    assert failure.value.outputs.mismatches == [
        "gone.py: missing (needed by contains/not_contains)"
    ]


def keys_access(endpoint: str, keys: Credentials) -> AwsAccess:
    return AwsAccess(
        "test",
        AwsSettings(
            region=REGION,
            endpoint_url=endpoint,
            access_key_id=keys.access_key_id,
            secret_access_key=keys.secret_access_key,
        ),
    )


def test_missing_manifest_says_what_to_do(make_ctx, synced):
    client, _, _ = synced
    client.delete_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}")
    with pytest.raises(StepFailed) as failure:
        VERIFY.run(make_ctx(), VERIFY.coerce_inputs({"destination": DEST}))
    assert str(failure.value) == (
        f"no manifest {DEST}{MANIFEST_NAME}: sync with s3.sync first, "
        "or give source to compare with a local folder"
    )


def test_object_rewritten_with_same_content_still_verifies(make_ctx, synced):
    client, _, _ = synced
    # a plain PutObject from another tool: new write, no SHA-256 stored, same bytes
    client.put_object(
        Bucket=BUCKET,
        Key="src/chatbot_app.py",
        Body=b"import streamlit\n",
        ChecksumAlgorithm="CRC32",
    )
    result = VERIFY.run(make_ctx(), VERIFY.coerce_inputs({"destination": DEST}))
    assert result.outputs.mismatches == []


def test_contains_must_be_a_mapping_of_lists():
    spec = VERIFY.input("contains")
    with pytest.raises(ValueError, match="expected a string or a list of strings"):
        spec.coerce({"a.py": [1]})
