"""Planted release records (issue 21, point 8): whoever may write the bucket may
put a record under ``.opskit/releases/``. One whose paths leave the prefix, or
dated in the future, is refused: never the last good release, never restored.
Releases A (passed) and B (failed) as in test_s3_restore."""

from __future__ import annotations

import json

import pytest

from opskit.errors import StepFailed
from opskit.manifest import MANIFEST_NAME, Manifest, ManifestEntry
from opskit.releases.format import Origin, record_document, record_name
from opskit.steps.s3_releases import STEP as RELEASES
from opskit.steps.s3_restore import STEP as RESTORE
from opskit.steps.s3_sync import STEP as SYNC
from tests.steps.s3_helpers import BUCKET, DEST, write_tree
from tests.steps.test_s3_restore import A, inputs, releases, s3, tree  # noqa: F401 (fixtures)

SHA = "0" * 64
YEAR_2099 = 4_070_908_800.0  # 2099-01-01T00:00:00Z


def plant(client, files: list[ManifestEntry], at: float) -> str:
    """A record as a sync would write it, with a passed verdict, dated ``at``."""
    manifest = Manifest(files, "opskit 0.1.0", "2023-11-14T22:22:00Z")
    name = record_name(at, manifest.digest)
    document = json.loads(
        record_document(manifest, name, origin=Origin("mallory@host"), target="prod", now=at)
    )
    document["release"]["verdict"] = {"status": "passed", "recorded_at": "2023-11-14T22:22:00Z"}
    key = f"src/.opskit/releases/{name}.json"
    client.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document).encode())
    return key


@pytest.fixture
def planted(s3, releases):  # noqa: F811
    latest = {v["Key"]: v for v in s3.list_object_versions(Bucket=BUCKET)["Versions"]}
    pinned = latest["src/app.py"]
    app = ManifestEntry("app.py", pinned["Size"], SHA, pinned["ETag"], pinned["VersionId"])
    evil = ManifestEntry("../evil.txt", 4, SHA, '"x"', "v1")
    leaving = plant(s3, [app, evil], 1_700_000_120)
    future = plant(s3, [app], YEAR_2099)
    return leaving, future


def test_planted_records_never_become_last_good(make_ctx, s3, releases, planted):  # noqa: F811
    a, _ = releases
    leaving, future = planted

    listed = RELEASES.run(make_ctx(), RELEASES.coerce_inputs({"destination": DEST}))

    assert listed.outputs.last_good == a["digest"]
    problems = {r["key"]: r["problem"] for r in listed.outputs.releases if r["problem"]}
    assert problems == {
        leaving: "manifest names a path that leaves its prefix: '../evil.txt'",
        future: "dated in the future (2099-01-01T00:00:00Z, now 2023-11-14T22:13:20Z): a sync "
        "dates its record with its own clock, which S3 keeps within 15 minutes of its own",
    }
    refused = [  # newest first
        f"{future.rsplit('/', 1)[1][:-5]}: refused, never restored: {problems[future]}",
        f"{leaving.rsplit('/', 1)[1][:-5]}: refused, never restored: {problems[leaving]}",
    ]
    assert listed.detail.splitlines()[-2:] == refused


def test_restore_of_last_good_skips_planted_records_and_names_them(
    make_ctx,
    s3,  # noqa: F811
    releases,  # noqa: F811
    planted,
):
    a, _ = releases
    leaving, future = planted

    result = RESTORE.run(make_ctx(), inputs())

    assert result.outputs.digest == a["digest"]
    assert tree(s3) == {k: v.encode() for k, v in A.items()}
    live = Manifest.from_json(
        s3.get_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}")["Body"].read()
    )
    assert sorted(e.path for e in live.files) == sorted(A)
    warnings = make_ctx.messages("warning")
    assert [w.split(" refused: ")[0] for w in warnings] == [
        f"release record s3://{BUCKET}/{future}",
        f"release record s3://{BUCKET}/{leaving}",
    ]


def test_a_planted_record_cannot_be_restored_by_its_digest(make_ctx, s3, releases, planted):  # noqa: F811
    leaving, _ = planted
    digest = leaving.rsplit("-", 1)[1][:12]

    with pytest.raises(StepFailed) as refused:
        RESTORE.run(make_ctx(), inputs(release=digest))

    assert str(refused.value) == (
        f"no release under {DEST} has a digest starting {digest!r} (2 recorded; see opskit "
        "releases)"
    )


def test_a_live_manifest_naming_a_path_outside_the_prefix_is_ignored(make_ctx, s3, tmp_path):  # noqa: F811
    planted = {
        "format": "opskit-manifest/1",
        "files": [{"path": "../evil.txt", "size": 1, "sha256": SHA}],
    }
    planted["digest"] = Manifest([ManifestEntry("../evil.txt", 1, SHA)]).digest
    s3.put_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}", Body=json.dumps(planted).encode())
    source = write_tree(tmp_path / "src", {"app.py": "print('A')\n"})

    SYNC.run(make_ctx(), SYNC.coerce_inputs({"source": str(source), "destination": DEST}))

    assert make_ctx.messages("warning") == [
        f"ignoring s3://{BUCKET}/src/{MANIFEST_NAME}: manifest names a path that leaves its "
        "prefix: '../evil.txt'"
    ]
    live = Manifest.from_json(
        s3.get_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}")["Body"].read()
    )
    assert [e.path for e in live.files] == ["app.py"]
