"""Release records as s3.sync writes them, against moto's server on loopback."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from opskit.clock import FakeClock
from opskit.manifest import MANIFEST_NAME, Manifest
from opskit.releases.format import Origin, origin_from_env, parse_record
from opskit.releases.store import list_record_keys, read_records, write_record
from opskit.s3.location import parse_s3_url
from opskit.stack.entrypoint import Settings, download_release
from opskit.steps.s3_sync import STEP as SYNC
from opskit.steps.s3_verify import STEP as VERIFY
from tests.steps.s3_helpers import BUCKET, DEST, remote_keys, write_tree

TREE = {"app.py": "print('a')\n", "core/x.py": "X = 1\n"}


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


def sync(make_ctx, source: Path, at: float, **extra):
    given = {"source": str(source), "destination": DEST, "delete": True, **extra}
    return SYNC.run(make_ctx(clock=FakeClock(now=at)), SYNC.coerce_inputs(given))


def test_a_verified_sync_keeps_its_manifest_as_a_release_record_with_versions(
    make_ctx, s3, tmp_path, monkeypatch
):
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/chatbot")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    source = write_tree(tmp_path / "src", TREE)

    result = sync(make_ctx, source, 1_700_000_000.25)

    digest = result.outputs.digest
    key = f"src/.opskit/releases/20231114T221320.250Z-{digest[:12]}.json"
    assert result.outputs.release_record == f"s3://{BUCKET}/{key}"
    record = parse_record(key, s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert record.problem is None
    assert record.digest == digest
    assert record.who == "https://github.com/acme/chatbot/actions/runs/42"
    assert record.target == "test" and record.versioned
    assert record.status == "unknown"  # until the run's verdict is written
    current = Manifest.from_json(
        s3.get_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}")["Body"].read()
    )
    head = s3.head_object(Bucket=BUCKET, Key="src/app.py")
    assert current.by_path()["app.py"].version_id == head["VersionId"]
    assert record.manifest is not None
    assert record.manifest.files == current.files


def test_who_is_the_person_and_host_outside_ci(monkeypatch):
    origin = origin_from_env({"USER": "ana"})
    assert "@" in origin.by and origin.ci_url is None and origin.who == origin.by
    gitlab = origin_from_env({"CI_PIPELINE_URL": "https://gitlab.example/p/-/pipelines/7"})
    assert gitlab.who == "https://gitlab.example/p/-/pipelines/7"


def test_records_are_capped_at_keep_releases_oldest_pruned_first(make_ctx, s3, tmp_path):
    source = write_tree(tmp_path / "src", TREE)
    for n in range(4):
        (source / "app.py").write_text(f"print({n})\n")
        sync(make_ctx, source, 1_700_000_000 + 60 * n, keep_releases=3)

    records = read_records(s3, parse_s3_url(DEST), _call)

    assert [r.synced_at for r in records] == [
        "2023-11-14T22:16:20Z",
        "2023-11-14T22:15:20Z",
        "2023-11-14T22:14:20Z",
    ]


def test_concurrent_syncs_of_one_prefix_never_lose_a_record(s3):
    location = parse_s3_url(DEST)
    manifest = Manifest([], generator="test")
    start = threading.Barrier(6)

    def write() -> None:
        start.wait()
        write_record(
            s3, location, manifest, origin=Origin("a@b"), target="t",
            now=1_700_000_000.0, call=_call,
        )  # fmt: skip

    threads = [threading.Thread(target=write) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(list_record_keys(s3, location, _call)) == 6


def test_a_record_from_a_newer_format_is_reported_not_misread():
    body = json.dumps({"format": "opskit-manifest/2", "release": {"format": "opskit-release/2"}})

    record = parse_record("src/.opskit/releases/20300101T000000.000Z-abcdef123456.json", body)

    assert record.manifest is None
    assert record.problem == (
        "written in opskit-release/2, a newer format than this opskit reads "
        "(opskit-release/1); upgrade opskit to read it"
    )
    assert record.digest == "abcdef123456"


def test_delete_verification_and_s3_verify_never_count_or_remove_records(make_ctx, s3, tmp_path):
    source = write_tree(tmp_path / "src", TREE)
    sync(make_ctx, source, 1_700_000_000)
    (source / "core" / "x.py").unlink()

    result = sync(make_ctx, source, 1_700_000_060, max_delete=1)
    verified = VERIFY.run(make_ctx(), VERIFY.coerce_inputs({"destination": DEST}))

    assert result.outputs.deleted == 1  # core/x.py only
    assert len(list_record_keys(s3, parse_s3_url(DEST), _call)) == 2
    assert verified.outputs.checked == 1 and verified.outputs.mismatches == []


def test_the_container_downloads_none_of_the_records(make_ctx, s3, tmp_path, monkeypatch):
    source = write_tree(tmp_path / "src", TREE)
    sync(make_ctx, source, 1_700_000_000)
    assert any("/.opskit/releases/" in k for k in remote_keys(s3, records=True))
    settings = Settings(BUCKET, "src/", tmp_path / "app", False, True)

    download_release(s3, settings)

    downloaded = sorted(
        p.relative_to(settings.src_dir).as_posix()
        for p in settings.src_dir.rglob("*")
        if p.is_file()
    )
    assert downloaded == sorted(TREE)


def test_a_source_folder_named_opskit_is_refused(make_ctx, s3, tmp_path):
    from opskit.errors import InputError

    source = write_tree(tmp_path / "src", {**TREE, ".opskit/releases/x.json": "{}"})

    with pytest.raises(InputError, match=r"a folder named \.opskit/, where opskit keeps"):
        sync(make_ctx, source, 1_700_000_000)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _call(_what: str) -> _Null:
    return _Null()


def test_pruning_never_deletes_the_last_release_that_passed(make_ctx, s3, tmp_path):
    """After more failed syncs than keep_releases, the last good release is still
    there to restore: its verdict named it, and pruning leaves that record."""
    from opskit.releases.format import Verdict
    from opskit.releases.store import last_good_record, set_verdict

    source = write_tree(tmp_path / "src", TREE)
    good = sync(make_ctx, source, 1_700_000_000, keep_releases=2)
    good_key = good.outputs.release_record.split(f"s3://{BUCKET}/", 1)[1]
    passed = Verdict("passed", "2023-11-14T22:13:20Z", "run1", "p.yaml", None, None)
    set_verdict(s3, BUCKET, good_key, passed, _call)
    assert last_good_record(s3, parse_s3_url(DEST), _call) == good_key
    for n in range(1, 5):  # four more syncs, whose runs never pass
        (source / "app.py").write_text(f"print({n})\n")
        sync(make_ctx, source, 1_700_000_000 + 60 * n, keep_releases=2)

    keys = list_record_keys(s3, parse_s3_url(DEST), _call)
    assert good_key in keys
    assert len(keys) == 3  # the newest two, and the last good one
    assert [r.status for r in read_records(s3, parse_s3_url(DEST), _call)][-1] == "passed"


class RefuseDeletes:
    """Plays S3 refusing some keys of a DeleteObjects (an object lock, a bucket
    policy): the answer is 200 and the refusals are in its ``Errors`` list, in the
    shape botocore's S3 model gives (``Key``, ``Code``, ``Message``)."""

    def __init__(self, client, refuse):
        self.refuse = refuse
        self.events = client.meta.events
        self.events.register("before-parameter-build.s3.DeleteObjects", self.keep_back)
        self.events.register("after-call.s3.DeleteObjects", self.answer)
        self.kept: list[str] = []

    def keep_back(self, params, **_):
        objects = params["Delete"]["Objects"]
        self.kept = [o["Key"] for o in objects if self.refuse(o["Key"])]
        params["Delete"]["Objects"] = [o for o in objects if o["Key"] not in self.kept]

    def answer(self, parsed, **_):
        parsed.setdefault("Errors", []).extend(
            {"Key": key, "Code": "AccessDenied", "Message": "Access Denied"} for key in self.kept
        )

    def close(self):
        self.events.unregister("before-parameter-build.s3.DeleteObjects", self.keep_back)
        self.events.unregister("after-call.s3.DeleteObjects", self.answer)


def test_pruning_reports_only_the_records_s3_deleted_and_warns_of_the_refused(
    make_ctx, s3, tmp_path
):
    source = write_tree(tmp_path / "src", TREE)
    for n in range(3):
        sync(make_ctx, source, 1_700_000_000 + 60 * n)
    oldest = list_record_keys(s3, parse_s3_url(DEST), _call)[0]
    ctx = make_ctx(clock=FakeClock(now=1_700_000_180))
    refusing = RefuseDeletes(ctx.aws.client("s3"), lambda key: key == oldest)
    try:
        given = {"source": str(source), "destination": DEST, "keep_releases": 1}
        SYNC.run(ctx, SYNC.coerce_inputs(given))
    finally:
        refusing.close()

    assert make_ctx.messages("info")[-2] == "pruned 2 release record(s) beyond 1"
    assert make_ctx.messages("warning") == [
        f"S3 refused to prune 1 old release record(s): {oldest}: AccessDenied Access Denied"
    ]
    assert oldest in list_record_keys(s3, parse_s3_url(DEST), _call)
