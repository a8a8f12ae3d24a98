"""s3.restore against moto's server on loopback: releases A (passed) and B (failed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.clock import FakeClock
from opskit.errors import StepFailed
from opskit.manifest import MANIFEST_NAME, Manifest, ManifestEntry
from opskit.releases.choose import choose_release
from opskit.releases.format import ReleaseRecord, Verdict
from opskit.releases.store import set_verdict
from opskit.steps.s3_restore import STEP
from opskit.steps.s3_sync import STEP as SYNC
from opskit.steps.s3_verify import STEP as VERIFY
from tests.releases.test_records import _call
from tests.steps.s3_helpers import BUCKET, DEST, OperationLog, remote_keys, write_tree

A = {"app.py": "print('A')\n", "core/x.py": "X = 1\n", "old.py": "gone in B\n"}
B = {"app.py": "print('B, broken')\n", "core/x.py": "X = 1\n", "new.py": "only in B\n"}


def inputs(**given):
    return STEP.coerce_inputs({"destination": DEST, **given})


def sync(make_ctx, source: Path, files: dict[str, str], at: float, status: str) -> dict:
    for path in source.rglob("*"):
        if path.is_file():
            path.unlink()
    write_tree(source, files)
    given = {"source": str(source), "destination": DEST, "delete": True, "max_delete": "100%"}
    outputs = vars(SYNC.run(make_ctx(clock=FakeClock(now=at)), SYNC.coerce_inputs(given)).outputs)
    key = outputs["release_record"].removeprefix(f"s3://{BUCKET}/")
    verdict = Verdict(status=status, recorded_at="2023-11-14T22:20:00Z", deployment_id="ecs-svc/1")
    set_verdict(make_ctx().aws.client("s3"), BUCKET, key, verdict, _call)
    return outputs


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture
def releases(make_ctx, s3, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    a = sync(make_ctx, source, A, 1_700_000_000, "passed")
    b = sync(make_ctx, source, B, 1_700_000_060, "failed")
    return a, b


def tree(s3) -> dict[str, bytes]:
    keys = remote_keys(s3, "src/")
    keys.pop(f"src/{MANIFEST_NAME}", None)
    return {k.removeprefix("src/"): v for k, v in keys.items()}


def test_restore_last_good_copies_its_versions_back_and_makes_its_manifest_current(
    make_ctx, s3, releases
):
    a, _ = releases

    result = STEP.run(make_ctx(), inputs())

    assert result.status == "changed"
    assert result.outputs.digest == a["digest"]
    assert (result.outputs.restored, result.outputs.deleted) == (
        2,
        1,
    )  # app.py, old.py; new.py
    assert result.outputs.unchanged == 1
    assert tree(s3) == {k: v.encode() for k, v in A.items()}
    manifest = Manifest.from_json(
        s3.get_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}")["Body"].read()
    )
    assert manifest.digest == a["digest"]
    head = s3.head_object(Bucket=BUCKET, Key="src/app.py")
    assert manifest.by_path()["app.py"].version_id == head["VersionId"]
    verified = VERIFY.run(make_ctx(), VERIFY.coerce_inputs({"destination": DEST}))
    assert verified.outputs.mismatches == []


def test_a_restore_to_the_tree_already_there_copies_nothing(make_ctx, s3, releases):
    STEP.run(make_ctx(), inputs())
    oplog = OperationLog(s3)

    again = STEP.run(make_ctx(), inputs())
    oplog.close()

    assert again.status == "ok"
    assert (again.outputs.restored, again.outputs.deleted) == (0, 0)
    assert "CopyObject" not in oplog.operations and "PutObject" not in oplog.operations


def test_previous_is_the_release_before_the_live_one(make_ctx, s3, releases):
    a, _ = releases

    result = STEP.plan(make_ctx(), inputs(release="previous"))

    assert result.outputs.digest == a["digest"]


def test_dry_run_lists_every_copy_and_delete_and_makes_only_read_calls(make_ctx, s3, releases):
    before = remote_keys(s3, records=True)
    oplog = OperationLog(s3)
    make_ctx.events.clear()

    planned = STEP.plan(make_ctx(), inputs())
    oplog.close()

    assert set(oplog.operations) <= {
        "GetBucketVersioning", "ListObjectsV2", "GetObject", "ListObjectVersions",
    }  # fmt: skip
    assert remote_keys(s3, records=True) == before
    assert planned.outputs.planned_copies == ["app.py", "old.py"]
    assert planned.outputs.planned_deletes == ["new.py"]
    infos = make_ctx.messages("info")
    assert [m.split(" from version ")[0] for m in infos if m.startswith("would copy")] == [
        f"would copy {DEST}app.py",
        f"would copy {DEST}old.py",
    ]
    assert f"would delete {DEST}new.py" in infos
    done = STEP.run(make_ctx(), inputs())
    assert (done.outputs.restored, done.outputs.deleted) == (2, 1)


def test_a_bucket_without_versioning_is_refused_with_the_command_that_fixes_it(make_ctx, aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)

    with pytest.raises(StepFailed) as refused:
        STEP.run(make_ctx(), inputs())

    assert str(refused.value) == (
        "bucket chatbot-code has versioning not enabled: a release is restored from the object "
        "versions it recorded; turn versioning on with: aws s3api put-bucket-versioning "
        "--bucket chatbot-code --versioning-configuration Status=Enabled (releases synced "
        "after that can be restored)"
    )


def _a_version(s3, relative: str, body: str) -> str:
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=f"src/{relative}")["Versions"]
    for version in versions:
        content = s3.get_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])
        if content["Body"].read() == body.encode():
            return version["VersionId"]
    raise AssertionError(f"no version of {relative} holds {body!r}")


def test_a_missing_version_is_named_and_nothing_changes(make_ctx, s3, releases):
    s3.delete_object(
        Bucket=BUCKET, Key="src/old.py", VersionId=_a_version(s3, "old.py", A["old.py"])
    )
    before = remote_keys(s3, records=True)

    with pytest.raises(StepFailed) as failed:
        STEP.run(make_ctx(), inputs())

    assert "the recorded version of old.py no longer exists" in str(failed.value)
    assert str(failed.value).endswith("nothing was changed")
    assert remote_keys(s3, records=True) == before


def test_a_version_gone_between_plan_and_copy_fails_naming_it_and_undoes_the_copies(
    make_ctx, s3, releases, monkeypatch
):
    import opskit.steps.s3_restore as module

    real_plan = module.plan_restore

    def plan_then_expire(client, *args):
        plan = real_plan(client, *args)
        version = _a_version(s3, "old.py", A["old.py"])
        s3.delete_object(Bucket=BUCKET, Key="src/old.py", VersionId=version)
        return plan

    monkeypatch.setattr(module, "plan_restore", plan_then_expire)
    before = tree(s3)
    latest_before = {v["Key"]: v["VersionId"] for v in _latest(s3)}

    with pytest.raises(StepFailed) as failed:
        STEP.run(make_ctx(), inputs())

    message = str(failed.value)
    assert "failed at old.py: the recorded version no longer exists" in message
    assert "nothing was changed (the 1 copies already made were removed)" in message
    assert tree(s3) == before
    assert {v["Key"]: v["VersionId"] for v in _latest(s3)} == latest_before


def _latest(s3):
    found = s3.list_object_versions(Bucket=BUCKET, Prefix="src/")
    return [v for v in found["Versions"] if v["IsLatest"] and "/.opskit/" not in v["Key"]]


def _record(status: str, n: int) -> ReleaseRecord:
    manifest = Manifest([ManifestEntry("a", 1, "0" * 64)])
    record = ReleaseRecord(f"k{n}", f"n{n}", manifest, synced_at=f"t{n}", by="ana@laptop")
    record.verdict = Verdict(status, "t")
    return record


def test_an_ambiguous_digest_prefix_lists_the_candidates(monkeypatch):
    one, two = _record("passed", 1), _record("failed", 2)
    monkeypatch.setattr(
        ReleaseRecord,
        "digest",
        property(lambda r: {"k1": "abcd1" + "0" * 59, "k2": "abcd2" + "0" * 59}[r.key]),
    )

    with pytest.raises(StepFailed) as ambiguous:
        choose_release([two, one], "abcd", None, DEST)

    assert str(ambiguous.value) == (
        f"release 'abcd' is ambiguous under {DEST}: 2 releases match: "
        "abcd20000000 (synced t2 by ana@laptop, failed); "
        "abcd10000000 (synced t1 by ana@laptop, passed); give more digest characters"
    )
    assert choose_release([two, one], "abcd1", None, DEST) is one


def test_release_input_refuses_what_is_neither_a_keyword_nor_a_digest_prefix():
    from opskit.inputs import InvalidInput

    with pytest.raises(InvalidInput, match="expected last_good, previous, or a digest prefix"):
        inputs(release="latest")
