"""How s3.sync knows the object versions a release record needs (moto's server on
loopback): it asks the bucket for its versioning once per sync; then S3's answer
to each upload carries the new version's id, and the current manifest already
records the versions of the objects it vouches for, so the prefix's versions
are listed only when versioning was turned on since the last sync."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.clock import FakeClock
from opskit.errors import StepFailed
from opskit.manifest import MANIFEST_NAME, Manifest
from opskit.releases.format import parse_record
from opskit.steps.s3_restore import STEP as RESTORE
from opskit.steps.s3_sync import STEP as SYNC
from tests.steps.s3_helpers import BUCKET, DEST, OperationLog, write_tree

A = {"app.py": "print('A')\n", "core/x.py": "X = 1\n"}


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def versioning_on(s3) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})


def sync(make_ctx, source: Path, at: float, **extra):
    given = {"source": str(source), "destination": DEST, "delete": True, **extra}
    return SYNC.run(make_ctx(clock=FakeClock(now=at)), SYNC.coerce_inputs(given))


def logged_sync(make_ctx, s3, source: Path, at: float, **extra):
    oplog = OperationLog(s3)
    try:
        result = sync(make_ctx, source, at, **extra)
    finally:
        oplog.close()
    return result, oplog.operations


def record_of(s3, result):
    key = result.outputs.release_record.removeprefix(f"s3://{BUCKET}/")
    return parse_record(key, s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def current_manifest(s3) -> Manifest:
    return Manifest.from_json(
        s3.get_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}")["Body"].read()
    )


def current_versions(s3) -> dict[str, str]:
    """Each file's latest version (``null`` for an object from before versioning)."""
    listed = s3.list_object_versions(Bucket=BUCKET, Prefix="src/")["Versions"]
    return {
        v["Key"].removeprefix("src/"): v["VersionId"]
        for v in listed
        if v["IsLatest"] and v["Key"].removeprefix("src/") in A
    }


def test_uploads_to_a_versioned_bucket_record_the_versions_s3_answered_without_asking(
    make_ctx, s3, tmp_path
):
    versioning_on(s3)
    source = write_tree(tmp_path / "src", A)

    result, operations = logged_sync(make_ctx, s3, source, 1_700_000_000)

    assert operations.count("GetBucketVersioning") == 1
    assert "ListObjectVersions" not in operations
    record = record_of(s3, result)
    assert record.versioned
    assert record.manifest is not None
    assert {e.path: e.version_id for e in record.manifest.files} == current_versions(s3)
    assert current_manifest(s3).files == record.manifest.files


def test_a_no_op_on_a_versioned_bucket_is_the_listing_the_manifest_and_the_record(
    make_ctx, s3, tmp_path
):
    versioning_on(s3)
    source = write_tree(tmp_path / "src", A)
    first = sync(make_ctx, source, 1_700_000_000)

    again, operations = logged_sync(make_ctx, s3, source, 1_700_000_060)

    assert operations == ["ListObjectsV2", "GetObject", "GetBucketVersioning", "PutObject"]
    assert record_of(s3, again).manifest.files == record_of(s3, first).manifest.files


def test_an_unversioned_bucket_records_no_versions_and_its_release_is_refused_by_restore(
    make_ctx, s3, tmp_path
):
    source = write_tree(tmp_path / "src", A)

    result, operations = logged_sync(make_ctx, s3, source, 1_700_000_000)

    assert operations.count("GetBucketVersioning") == 1
    assert "ListObjectVersions" not in operations
    record = record_of(s3, result)
    assert not record.versioned
    assert all(e.version_id is None for e in record.manifest.files)
    versioning_on(s3)  # too late for this release
    digest = result.outputs.digest[:12]
    with pytest.raises(StepFailed) as refused:
        RESTORE.run(make_ctx(), RESTORE.coerce_inputs({"destination": DEST, "release": digest}))
    assert str(refused.value) == (
        f"release {digest} was recorded without object versions (the bucket had no "
        "versioning when it was synced), e.g. app.py: it cannot be restored by copy; "
        "sync its source again instead"
    )


def test_versioning_turned_on_later_lists_the_versions_once_and_records_them(
    make_ctx, s3, tmp_path
):
    source = write_tree(tmp_path / "src", A)
    sync(make_ctx, source, 1_700_000_000)
    versioning_on(s3)

    learnt, operations = logged_sync(make_ctx, s3, source, 1_700_000_060)

    # the bucket says versioning is on and the manifest names no version: the
    # objects' versions are listed once, then the manifest and the record written
    assert operations == [
        "ListObjectsV2",
        "GetObject",
        "GetBucketVersioning",
        "ListObjectVersions",
        "PutObject",
        "PutObject",
    ]
    assert learnt.status == "ok"  # nothing uploaded or deleted: the release is the same
    record = record_of(s3, learnt)
    assert record.versioned
    versions = {e.path: e.version_id for e in record.manifest.files}
    assert versions == current_versions(s3) and all(versions.values())
    assert current_manifest(s3).files == record.manifest.files
    again, operations = logged_sync(make_ctx, s3, source, 1_700_000_120)
    assert operations == ["ListObjectsV2", "GetObject", "GetBucketVersioning", "PutObject"]
    assert again.status == "ok"
    # restorable: app.py from its version from before versioning (S3's "null" version)
    (source / "app.py").write_text("print('B')\n")
    sync(make_ctx, source, 1_700_000_180)
    given = {"destination": DEST, "release": learnt.outputs.digest[:12]}
    restored = RESTORE.run(make_ctx(), RESTORE.coerce_inputs(given))
    assert restored.outputs.restored == 1
    assert s3.get_object(Bucket=BUCKET, Key="src/app.py")["Body"].read() == b"print('A')\n"


def test_versioning_turned_on_later_with_an_edit_lists_the_older_objects_versions(
    make_ctx, s3, tmp_path
):
    source = write_tree(tmp_path / "src", A)
    sync(make_ctx, source, 1_700_000_000)
    versioning_on(s3)
    (source / "app.py").write_text("print('A2')\n")

    result, operations = logged_sync(make_ctx, s3, source, 1_700_000_060)

    assert operations.count("GetBucketVersioning") == 1
    assert operations.count("ListObjectVersions") == 1  # core/x.py predates versioning
    record = record_of(s3, result)
    assert record.versioned
    assert {e.path: e.version_id for e in record.manifest.files} == current_versions(s3)


def test_pruning_reads_the_records_from_the_syncs_own_listing(make_ctx, s3, tmp_path):
    source = write_tree(tmp_path / "src", A)
    for n in range(3):
        sync(make_ctx, source, 1_700_000_000 + 60 * n, keep_releases=5)

    _, operations = logged_sync(make_ctx, s3, source, 1_700_000_180, keep_releases=2)

    # No run passed, so the listing shows no last-good.json and pruning asks for
    # none: under a prefix-scoped policy S3 would answer that GET 403, not 404.
    assert operations == [
        "ListObjectsV2",
        "GetObject",
        "GetBucketVersioning",
        "PutObject",
        "DeleteObjects",
    ]
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="src/.opskit/releases/")["Contents"]
    assert [item["Key"].rsplit("/", 1)[-1][:19] for item in listed] == [
        "20231114T221520.000",
        "20231114T221620.000",
    ]


def test_a_sync_that_may_not_read_the_versioning_warns_and_pins_no_versions(
    make_ctx, s3, tmp_path, monkeypatch
):
    import opskit.s3.sync
    from opskit.errors import StepError

    versioning_on(s3)

    def denied(client, bucket, call):
        raise StepError(f"target 'test': s3 GetBucketVersioning {bucket}: access denied")

    monkeypatch.setattr(opskit.s3.sync, "bucket_versioning", denied)
    source = write_tree(tmp_path / "src", A)

    result = sync(make_ctx, source, 1_700_000_000)

    assert make_ctx.messages("warning") == [
        f"target 'test': s3 GetBucketVersioning {BUCKET}: access denied; "
        "the release record will not pin object versions"
    ]
    record = record_of(s3, result)
    assert not record.versioned
    assert all(e.version_id is None for e in record.manifest.files)
