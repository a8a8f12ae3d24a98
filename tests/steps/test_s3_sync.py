"""s3.sync against moto's server on loopback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import opskit.s3.digests
import opskit.s3.sync as s3_sync
from opskit.clock import FakeClock
from opskit.errors import InputError, StepError, StepFailed
from opskit.inputs import InvalidInput
from opskit.manifest import MANIFEST_NAME, Manifest, file_sha256
from opskit.s3.transfer import PART_SIZE
from opskit.steps.s3_sync import STEP, SyncInputs
from tests.steps.s3_helpers import (
    BUCKET,
    DEST,
    OperationLog,
    edit_keeping_size_and_mtime,
    remote_keys,
    write_tree,
)

TREE = {
    "chatbot_app.py": "import streamlit as st\nst.title('chat')\n",
    "core/aws_clients.py": "CLIENTS = {}\n",
    "core/streaming_handler.py": "def stream():\n    return 1\n",
    "requirements.txt": "streamlit\n",
    "static/logo.svg": "<svg/>",
}


def inputs(source: Path, **extra) -> SyncInputs:
    """Inputs as the runner hands them over: defaults filled in, values coerced."""
    return STEP.coerce_inputs({"source": str(source), "destination": DEST, **extra})


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "src", TREE)


def test_first_sync_uploads_every_file_with_a_checksum_and_writes_the_manifest(
    make_ctx, s3, source
):
    ctx = make_ctx()
    result = STEP.run(ctx, inputs(source))

    assert result.status == "changed"
    assert result.outputs.uploaded == 5
    assert result.outputs.unchanged == 0
    assert result.outputs.bytes == sum(len(v) for v in TREE.values())
    keys = remote_keys(s3)
    assert set(keys) == {f"src/{p}" for p in TREE} | {f"src/{MANIFEST_NAME}"}
    assert keys["src/core/aws_clients.py"] == b"CLIENTS = {}\n"
    head = s3.head_object(Bucket=BUCKET, Key="src/chatbot_app.py", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == opskit.s3.digests.b64(file_sha256(source / "chatbot_app.py"))
    assert head["ContentType"] == "text/x-python"
    assert s3.head_object(Bucket=BUCKET, Key="src/static/logo.svg")["ContentType"] == (
        "image/svg+xml"
    )
    manifest = Manifest.from_json(keys[f"src/{MANIFEST_NAME}"])
    assert result.outputs.digest == manifest.digest
    assert result.outputs.manifest_key == f"src/{MANIFEST_NAME}"
    assert [e.path for e in manifest.files] == sorted(TREE)
    entry = manifest.by_path()["core/aws_clients.py"]
    assert entry.sha256 == file_sha256(source / "core/aws_clients.py")
    assert entry.etag == s3.head_object(Bucket=BUCKET, Key="src/core/aws_clients.py")["ETag"]


def test_single_part_uploads_send_the_planned_sha256_for_s3_to_check(make_ctx, s3, tmp_path):
    """S3 refuses a body that does not match the SHA-256 the plan was made with;
    a multipart upload asks for per-part SHA-256s instead (S3 takes no full-object
    SHA-256 for it)."""
    big = os.urandom(PART_SIZE + 10)
    source = write_tree(tmp_path / "src", {**TREE, "data/big.bin": big})
    sent: dict[str, dict] = {}

    def record(params, model, **_):
        sent[f"{model.name} {params.get('Key')}"] = dict(params)

    s3.meta.events.register("provide-client-params.s3", record, unique_id="test-sent")
    try:
        STEP.run(make_ctx(), inputs(source))
    finally:
        s3.meta.events.unregister("provide-client-params.s3", unique_id="test-sent")

    for relative in TREE:
        params = sent[f"PutObject src/{relative}"]
        assert params["ChecksumSHA256"] == opskit.s3.digests.b64(file_sha256(source / relative))
        assert params["ChecksumAlgorithm"] == "SHA256"
    create = sent["CreateMultipartUpload src/data/big.bin"]
    assert create["ChecksumAlgorithm"] == "SHA256"
    assert "ChecksumSHA256" not in create
    assert remote_keys(s3)["src/data/big.bin"] == big


def test_file_edited_during_the_upload_fails_the_step_naming_it(make_ctx, s3, source):
    edited = source / "core/aws_clients.py"

    def edit_before_sending(params, model, **_):
        if params.get("Key") == "src/core/aws_clients.py":
            edit_keeping_size_and_mtime(edited, b"CLIENTS = []\n")

    s3.meta.events.register("provide-client-params.s3.PutObject", edit_before_sending, "t-edit")
    try:
        with pytest.raises((StepFailed, StepError)) as failure:
            STEP.run(make_ctx(), inputs(source))
    finally:
        s3.meta.events.unregister("provide-client-params.s3.PutObject", unique_id="t-edit")

    # S3 refuses the body (BadDigest, a StepError); moto stores it, and the check
    # after the upload finds the file changed (StepFailed). Either way: named, no manifest.
    assert "core/aws_clients.py" in str(failure.value)
    if isinstance(failure.value, StepFailed):
        assert "core/aws_clients.py: the file changed during the sync" in failure.value.detail
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="src/").get("Contents", [])
    assert f"src/{MANIFEST_NAME}" not in {item["Key"] for item in listed}


def test_summary_is_one_info_line_and_progress_is_reported(make_ctx, s3, source):
    ctx = make_ctx()
    result = STEP.run(ctx, inputs(source))

    infos = make_ctx.messages("info")
    assert infos == [result.summary]
    assert result.summary.startswith("uploaded 5, deleted 0, unchanged 0 (")
    assert result.outputs.digest[:12] in result.summary
    progress = [e for e in make_ctx.events if e.kind == "progress"]
    assert progress, "no progress event"
    assert progress[-1].data["files_done"] == 5
    assert progress[-1].data["bytes_done"] == result.outputs.bytes
    assert "5/5 files" in progress[-1].message
    (mark,) = [e for e in make_ctx.events if e.kind == "mark"]
    assert (mark.message, mark.data["what"]) == ("5 files uploaded", "sync")


def test_no_op_resync_uploads_nothing_and_hashes_nothing(make_ctx, s3, source, monkeypatch):
    STEP.run(make_ctx(), inputs(source))
    hashed = []
    real = opskit.s3.digests.file_sha256
    monkeypatch.setattr(opskit.s3.digests, "file_sha256", lambda p: hashed.append(p) or real(p))
    oplog = OperationLog(s3)

    result = STEP.run(make_ctx(clock=FakeClock(now=1_700_000_060.0)), inputs(source))
    oplog.close()

    assert result.status == "ok"
    assert (result.outputs.uploaded, result.outputs.unchanged) == (0, 5)
    assert hashed == []
    # one listing of the tree (the release records with it, for pruning), the
    # manifest, no HEAD; the bucket's versioning, asked once; then the one request a
    # release history costs: its record
    assert oplog.operations == ["ListObjectsV2", "GetObject", "GetBucketVersioning", "PutObject"]
    assert "5 by manifest" in result.detail


def test_sync_uploads_nothing_when_only_mtimes_changed(make_ctx, s3, source):
    STEP.run(make_ctx(), inputs(source))
    for path in source.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(1, 1_000_000_000_000_000_000))

    result = STEP.run(make_ctx(), inputs(source))

    assert (result.outputs.uploaded, result.outputs.unchanged) == (0, 5)


def test_same_size_edit_with_old_mtime_restored_is_uploaded(make_ctx, s3, source):
    STEP.run(make_ctx(), inputs(source))
    edit_keeping_size_and_mtime(source / "core/aws_clients.py", b"CLIENTS = []\n")

    result = STEP.run(make_ctx(), inputs(source))

    assert result.outputs.uploaded == 1
    assert remote_keys(s3)["src/core/aws_clients.py"] == b"CLIENTS = []\n"


def test_object_changed_by_another_tool_is_detected_without_a_manifest_match(make_ctx, s3, source):
    STEP.run(make_ctx(), inputs(source))
    s3.put_object(Bucket=BUCKET, Key="src/requirements.txt", Body=b"streamlat\n")

    result = STEP.run(make_ctx(), inputs(source))

    assert result.outputs.uploaded == 1
    assert remote_keys(s3)["src/requirements.txt"] == b"streamlit\n"


def test_objects_uploaded_by_another_tool_with_equal_content_are_not_reuploaded(
    make_ctx, s3, source
):
    big = os.urandom(PART_SIZE + 1000)
    (source / "model.bin").write_bytes(big)
    for relative in TREE:
        s3.put_object(Bucket=BUCKET, Key=f"src/{relative}", Body=(source / relative).read_bytes())
    from boto3.s3.transfer import TransferConfig

    s3.upload_file(
        str(source / "model.bin"),
        BUCKET,
        "src/model.bin",
        Config=TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE),
    )

    result = STEP.run(make_ctx(), inputs(source))

    assert (result.outputs.uploaded, result.outputs.unchanged) == (0, 6)
    assert "by md5" in result.detail
    # the default client checksum (CRC) is stored, but not a SHA-256: the multipart
    # ETag is recomputed locally
    assert "1 by multipart" in result.detail


def test_delete_removes_only_extra_keys_under_the_prefix_and_keeps_excluded_ones(
    make_ctx, s3, source
):
    for key in ("src/old.py", "src/core/gone.py", "src/keep.pyc", "src-old/x.py", "other.txt"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")

    result = STEP.run(make_ctx(), inputs(source, delete=True, exclude=["*.pyc"], max_delete="100%"))

    assert result.outputs.deleted == 2
    keys = set(remote_keys(s3))
    assert "src/old.py" not in keys and "src/core/gone.py" not in keys
    assert {"src/keep.pyc", "src-old/x.py", "other.txt", f"src/{MANIFEST_NAME}"} <= keys


def test_exclude_leaves_pycache_and_pyc_out(make_ctx, s3, source):
    write_tree(source, {"core/__pycache__/x.cpython-311.pyc": b"\0", "stray.pyc": b"\0"})

    result = STEP.run(make_ctx(), inputs(source, exclude=["**/__pycache__/**", "*.pyc"]))

    assert result.outputs.uploaded == 5
    assert not any("pyc" in key for key in remote_keys(s3))


def test_include_limits_the_sync_to_matching_files(make_ctx, s3, source):
    result = STEP.run(make_ctx(), inputs(source, include=["*.py"]))

    assert result.outputs.uploaded == 3
    assert all(k.endswith((".py", MANIFEST_NAME)) for k in remote_keys(s3))


@pytest.mark.parametrize(
    ("max_delete", "message"),
    [
        (
            "50%",
            "refusing to delete 3 of 4 objects under s3://chatbot-code/src/ (75%), more "
            "than max_delete 50%; set max_delete: 3 (or a higher percentage) if that is intended",
        ),
        (
            2,
            "refusing to delete 3 objects under s3://chatbot-code/src/, more than max_delete 2; "
            "set max_delete: 3 if that is intended",
        ),
    ],
)
def test_delete_guard_refuses_a_large_delete_and_says_how_to_override(
    make_ctx, s3, tmp_path, max_delete, message
):
    for name in ("a.py", "b.py", "c.py", "keep.py"):
        s3.put_object(Bucket=BUCKET, Key=f"src/{name}", Body=b"x")
    source = write_tree(tmp_path / "small", {"keep.py": "x"})

    with pytest.raises(StepFailed) as failure:
        STEP.run(make_ctx(), inputs(source, delete=True, max_delete=max_delete))

    assert str(failure.value) == message
    assert len(remote_keys(s3)) == 4


def test_default_guard_is_half_of_the_prefix(make_ctx, s3, tmp_path):
    for name in ("a.py", "keep.py"):
        s3.put_object(Bucket=BUCKET, Key=f"src/{name}", Body=b"x")
    source = write_tree(tmp_path / "small", {"keep.py": "x"})

    result = STEP.run(make_ctx(), inputs(source, delete=True))

    assert result.outputs.deleted == 1


def test_unconfirmed_delete_changes_nothing(make_ctx, s3, source):
    s3.put_object(Bucket=BUCKET, Key="src/old.py", Body=b"x")
    ctx = make_ctx()
    prompts = []
    ctx.confirm = lambda prompt: prompts.append(prompt) or False

    with pytest.raises(StepFailed, match="was not confirmed; nothing was changed"):
        STEP.run(ctx, inputs(source, delete=True, max_delete="100%"))

    assert prompts == ["Delete 1 object(s) under s3://chatbot-code/src/?"]
    assert set(remote_keys(s3)) == {"src/old.py"}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "source {tmp}/nope does not exist"),
        (
            "empty",
            "source {tmp}/empty has no files to sync (after exclude/include); "
            "check source, exclude and include",
        ),
        ("dotdot", ""),
    ],
)
def test_bad_input_is_refused_with_one_line(make_ctx, s3, tmp_path, case, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "a.py").write_text("x")
    given = {
        "missing": lambda: inputs(tmp_path / "nope"),
        "empty": lambda: inputs(tmp_path / "empty", delete=True),
        "dotdot": lambda: inputs(tmp_path / "ok", destination="s3://chatbot-code/src/../etc/"),
    }[case]

    with pytest.raises((InputError, InvalidInput)) as failure:
        STEP.run(make_ctx(), given())

    expected = message.format(tmp=tmp_path)
    if case == "dotdot":
        assert str(failure.value).startswith("destination 's3://chatbot-code/src/../etc/': the")
    else:
        assert str(failure.value) == expected
    assert remote_keys(s3) == {}


@pytest.mark.parametrize(
    ("given", "name", "message"),
    [
        (
            {"destination": "s3://chatbot-code/"},
            "destination",
            "s3://chatbot-code/ is a bucket root; use a prefix (s3://bucket/prefix/) or set "
            "allow_bucket_root: true",
        ),
        (
            {"sse_kms_key_id": "alias/app"},
            "sse_kms_key_id",
            "needs sse: aws:kms (or aws:kms:dsse)",
        ),
        (
            {"sse": "AES256", "sse_kms_key_id": "alias/app"},
            "sse_kms_key_id",
            "needs sse: aws:kms (or aws:kms:dsse)",
        ),
    ],
)
def test_inputs_that_contradict_each_other_are_refused_before_any_file_is_hashed(
    tmp_path, monkeypatch, given, name, message
):
    hashed = []
    monkeypatch.setattr(opskit.s3.digests, "file_sha256", lambda p: hashed.append(p))
    with pytest.raises(InvalidInput) as refused:
        inputs(tmp_path, **given)
    assert (refused.value.name, str(refused.value)) == (name, message)
    assert hashed == []


def test_bucket_root_is_allowed_when_asked(make_ctx, s3, source):
    given = inputs(source, allow_bucket_root=True, destination=f"s3://{BUCKET}")
    result = STEP.run(make_ctx(), given)
    assert result.outputs.manifest_key == MANIFEST_NAME
    assert "core/aws_clients.py" in remote_keys(s3)


def test_missing_bucket_is_one_clear_error(make_ctx, aws, source):
    with pytest.raises(StepError) as failure:
        STEP.run(make_ctx(), inputs(source))
    assert str(failure.value) == (
        "target 'test': s3 ListObjectsV2 s3://chatbot-code/src/: "
        "NoSuchBucket: The specified bucket does not exist"
    )


@pytest.mark.parametrize("source_case", ["missing", "empty", "unreadable"])
def test_source_problem_is_reported_even_when_aws_fails_too(
    make_ctx, aws, tmp_path, monkeypatch, source_case
):
    """The source is read while the prefix is listed; its problem is still the one
    reported (the bucket here does not exist either)."""
    (tmp_path / "empty").mkdir()
    write_tree(tmp_path / "ok", TREE)

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(opskit.s3.digests, "file_sha256", denied)
    folder = {"missing": "nope", "empty": "empty", "unreadable": "ok"}[source_case]
    expected = {
        "missing": "does not exist",
        "empty": "has no files to sync",
        "unreadable": "Permission denied",
    }[source_case]
    with pytest.raises(InputError, match=expected):
        STEP.run(make_ctx(), inputs(tmp_path / folder))


def test_symlinks_are_skipped_by_default_and_never_followed_outside(make_ctx, s3, tmp_path):
    outside = write_tree(tmp_path / "secret", {"id_rsa": "KEY"})
    source = write_tree(tmp_path / "src", {"app.py": "x", "lib/util.py": "y"})
    (source / "link_in.py").symlink_to(source / "app.py")
    (source / "lib_alias").symlink_to(source / "lib")

    ctx = make_ctx()
    result = STEP.run(ctx, inputs(source))
    assert result.outputs.uploaded == 2
    assert make_ctx.messages("warning") == [
        f"skipped 2 symlink(s) in {source}: lib_alias, link_in.py "
        "(set follow_symlinks: true to follow those that stay inside the source)"
    ]

    result = STEP.run(make_ctx(), inputs(source, follow_symlinks=True))
    assert result.outputs.uploaded == 2  # link_in.py and lib_alias/util.py
    assert {"src/link_in.py", "src/lib_alias/util.py"} <= set(remote_keys(s3))

    (source / "leak").symlink_to(outside / "id_rsa")
    with pytest.raises(InputError, match="points outside the source"):
        STEP.run(make_ctx(), inputs(source, follow_symlinks=True))
    assert "src/leak" not in remote_keys(s3)


def test_unreadable_file_is_one_clear_error(make_ctx, s3, source, monkeypatch):
    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(opskit.s3.digests, "file_sha256", denied)
    with pytest.raises(InputError, match=r"cannot read .*: Permission denied"):
        STEP.run(make_ctx(), inputs(source))


def test_dry_run_lists_the_exact_plan_and_makes_only_read_calls(make_ctx, s3, source):
    STEP.run(make_ctx(), inputs(source))
    edit_keeping_size_and_mtime(source / "requirements.txt", b"streamlat\n")
    write_tree(source, {"new.py": "n"})
    s3.put_object(Bucket=BUCKET, Key="src/stale.py", Body=b"x")
    before = remote_keys(s3)
    oplog = OperationLog(s3)
    make_ctx.events.clear()
    ctx = make_ctx()

    result = STEP.plan(ctx, inputs(source, delete=True))
    oplog.close()

    assert set(oplog.operations) <= {"ListObjectsV2", "GetObject", "HeadObject"}
    assert remote_keys(s3) == before
    assert result.outputs.planned_uploads == ["new.py", "requirements.txt"]
    assert result.outputs.planned_deletes == ["stale.py"]
    assert make_ctx.messages("info") == [
        f"would upload {DEST}new.py",
        f"would upload {DEST}requirements.txt",
        f"would delete {DEST}stale.py",
        result.summary,
        f"would record release {result.outputs.digest[:12]} under {DEST}.opskit/releases/",
    ]
    assert result.summary.startswith("would upload 2, delete 1, unchanged 4 (11 B) digest ")

    real = STEP.run(make_ctx(), inputs(source, delete=True))
    assert (real.outputs.uploaded, real.outputs.deleted) == (2, 1)
    assert real.outputs.digest == result.outputs.digest


def test_object_altered_before_verification_fails_the_step_naming_it(
    make_ctx, s3, source, monkeypatch
):
    real_verify = s3_sync.verify_remote

    def tamper_then_verify(client, *args, **kwargs):
        client.put_object(Bucket=BUCKET, Key="src/core/aws_clients.py", Body=b"CLIENTS = None")
        return real_verify(client, *args, **kwargs)

    monkeypatch.setattr(s3_sync, "verify_remote", tamper_then_verify)

    with pytest.raises(StepFailed) as failure:
        STEP.run(make_ctx(), inputs(source))

    assert str(failure.value) == (
        "verification failed under s3://chatbot-code/src/: 1 key(s) do not match: "
        "core/aws_clients.py"
    )
    assert "core/aws_clients.py: size 14, expected 13" in failure.value.detail
    assert f"src/{MANIFEST_NAME}" not in remote_keys(s3)


def test_extra_key_appearing_before_verification_fails_a_delete_sync(
    make_ctx, s3, source, monkeypatch
):
    real_verify = s3_sync.verify_remote

    def add_then_verify(client, *args, **kwargs):
        client.put_object(Bucket=BUCKET, Key="src/intruder.py", Body=b"x")
        return real_verify(client, *args, **kwargs)

    monkeypatch.setattr(s3_sync, "verify_remote", add_then_verify)
    with pytest.raises(StepFailed, match="intruder.py"):
        STEP.run(make_ctx(), inputs(source, delete=True))


def test_manifest_is_not_rewritten_when_nothing_changed(make_ctx, s3, source):
    STEP.run(make_ctx(), inputs(source))
    first = s3.head_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}")["LastModified"]
    oplog = OperationLog(s3)
    STEP.run(make_ctx(clock=FakeClock(now=1_700_000_060.0)), inputs(source))
    oplog.close()
    assert oplog.operations.count("PutObject") == 1  # the run's release record only
    assert s3.head_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}")["LastModified"] == first
    document = json.loads(remote_keys(s3)[f"src/{MANIFEST_NAME}"])
    assert document["format"] == "opskit-manifest/1"


def test_sync_through_faults_finishes_verifies_and_loses_nothing(make_ctx, aws_endpoint, tmp_path):
    from opskit.aws import AwsAccess, AwsSettings
    from tests.faultproxy import FaultPlan, FaultProxy

    files = {f"pkg{i % 4}/mod{i}.py": f"# module {i}\n" * (i + 1) for i in range(40)}
    files["data/big.bin"] = os.urandom(PART_SIZE + 4096)  # a multipart upload
    source = write_tree(tmp_path / "src", files)
    proxy = FaultProxy(aws_endpoint, FaultPlan(seed=3, rate=0.3)).start()
    try:
        flaky = AwsAccess("flaky", AwsSettings(region="us-east-1", endpoint_url=proxy.url))
        direct = AwsAccess("direct", AwsSettings(region="us-east-1", endpoint_url=aws_endpoint))
        direct.client("s3").create_bucket(Bucket=BUCKET)
        direct.client("s3").put_object(Bucket=BUCKET, Key="src/stale.py", Body=b"x")
        ctx = make_ctx()
        ctx.aws = flaky

        result = STEP.run(ctx, inputs(source, delete=True, max_delete=1))
    finally:
        proxy.stop()

    outcomes = proxy.outcomes()
    assert all(
        outcomes[kind] > 0 for kind in ("slowdown", "error500", "cut_request", "cut_response")
    ), outcomes
    assert (result.outputs.uploaded, result.outputs.deleted) == (41, 1)
    stored = remote_keys(direct.client("s3"))
    expected = {f"src/{k}": v.encode() if isinstance(v, str) else v for k, v in files.items()}
    manifest = Manifest.from_json(stored.pop(f"src/{MANIFEST_NAME}"))
    assert stored == expected
    assert manifest.digest == result.outputs.digest
