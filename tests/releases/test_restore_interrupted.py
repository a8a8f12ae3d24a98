"""A restore stopped halfway (SIGTERM, a lost connection that also stops its undo)
never breaks the live release: a task that starts afterwards gets exactly the
release the live manifest names, verified by the container's entrypoint.

Releases A then B are synced (versioning on); B is live; ``s3.restore`` of
``previous`` (A) is stopped after 14 of its 40 copies.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from botocore.client import BaseClient

from opskit import RunOptions, run_playbook
from opskit.manifest import MANIFEST_NAME, Manifest, ManifestEntry, tree_digest
from tests.s3.test_sync_interrupted import (
    RELEASE_A,
    RELEASE_B,
    STOP_AT,
    CuttingFront,
    live_digest,
    playbook,
    sigterm,
    sigterm_guard,  # noqa: F401 - a fixture
    task_starts,
)
from tests.steps.s3_helpers import BUCKET, DEST


@pytest.fixture
def s3(aws, aws_endpoint, tmp_path):
    """B live, A recorded before it, both passed."""
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for name, files in (("a", RELEASE_A), ("b", RELEASE_B)):
        assert run_playbook(playbook(tmp_path, aws_endpoint, files, name), RunOptions()).status == (
            "passed"
        )
    return client


def restore_playbook(tmp_path: Path, endpoint: str) -> Path:
    path = tmp_path / "restore.yaml"
    path.write_text(
        f"""
name: restore
targets:
  test: {{aws: {{region: us-east-1, endpoint_url: "{endpoint}"}}}}
steps:
  - id: restore
    uses: s3.restore
    with: {{destination: "{DEST}", release: previous, concurrency: 1}}
"""
    )
    return path


def before_copy(monkeypatch: pytest.MonkeyPatch, count: int, act) -> None:
    """Call ``act()`` before the ``count``-th CopyObject is sent."""
    real = BaseClient._make_api_call
    seen = {"copies": 0}

    def call(self, operation, params):
        if operation == "CopyObject":
            seen["copies"] += 1
            if seen["copies"] == count:
                act()
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)


def test_sigterm_mid_restore_undoes_the_copies_and_the_live_release_stays_intact(
    s3,
    aws_endpoint,
    tmp_path,
    monkeypatch,
    sigterm_guard,  # noqa: F811
):
    digest_b = live_digest(s3)
    before_copy(monkeypatch, STOP_AT, sigterm(monkeypatch))

    result = run_playbook(
        restore_playbook(tmp_path, aws_endpoint), RunOptions(), report_dir=tmp_path / "r"
    )

    assert (result.status, result.exit_code) == ("interrupted", 143)
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["steps"][0]["summary"] == (
        f"interrupted while restoring {DEST}; nothing was changed (the "
        f"{STOP_AT} copies already made were removed); the live release {digest_b[:12]} is "
        "intact (its manifest pins its object versions); run the restore again to finish"
    )
    assert task_starts(s3, tmp_path) == RELEASE_B


@pytest.mark.parametrize("pinned", [True, False], ids=["pinned", "written-unpinned"])
def test_a_lost_connection_mid_restore_leaves_the_live_release_intact(
    s3, aws_endpoint, tmp_path, monkeypatch, pinned
):
    from tests.faultproxy import FaultPlan

    digest_b = live_digest(s3)
    if not pinned:  # a live manifest from before versioning was on: no version ids
        body = s3.get_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}")["Body"].read()
        document = json.loads(body)
        for entry in document["files"]:
            entry.pop("version_id")
        s3.put_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}", Body=json.dumps(document))
        assert not any(e.version_id for e in Manifest.from_json(json.dumps(document)).files)
    front = CuttingFront(aws_endpoint, FaultPlan(rate=0.0)).start()
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # no retries: the link is gone for good
    before_copy(monkeypatch, STOP_AT, front.cut_from_now)
    try:
        result = run_playbook(
            restore_playbook(tmp_path, front.url), RunOptions(handle_sigint=False)
        )
    finally:
        front.stop()

    assert result.status == "failed"
    # a task that starts now runs the live release
    assert task_starts(s3, tmp_path) == RELEASE_B
    summary = result.steps[0].summary
    assert summary.startswith(f"restoring release {digest_of(RELEASE_A)[:12]} failed at ")
    assert summary.endswith(
        f"run the restore again; the live release {digest_b[:12]} is intact (its manifest pins "
        "its object versions); run the restore again to finish"
    )


def digest_of(files: dict[str, str]) -> str:
    return tree_digest(
        ManifestEntry(path, len(text.encode()), hashlib.sha256(text.encode()).hexdigest())
        for path, text in files.items()
    )
