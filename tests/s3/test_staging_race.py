"""A task that read an interim manifest is still downloading when the sync ends.

A sync in a bucket without versioning stages the new bytes of the keys the live
manifest reads and PUTs an interim manifest naming those staging keys
(``opskit.s3.staging``); once its files are in place it PUTs the final manifest.
A task that read the interim manifest a moment before must still get the
release: the sync leaves its own staging objects for the next sync to sweep,
and the entrypoint, finding a file gone, reads the manifest again and starts
over when it changed (S3 reads are strongly consistent after a write: the
re-read sees the new manifest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opskit.clock import FakeClock
from opskit.errors import Cancelled
from opskit.manifest import STAGING_DIR
from opskit.s3 import sync as sync_module
from opskit.s3.staging import Moved
from opskit.stack.entrypoint import Settings, download_file, download_release, fetch_manifest
from opskit.steps.s3_sync import STEP as SYNC
from tests.steps.s3_helpers import BUCKET, DEST, remote_keys, write_tree

RELEASE_A = {f"pkg/mod{i}.py": f"# release A, module {i}\n" for i in range(4)}
RELEASE_B = {p: t.replace("release A", "release B") for p, t in RELEASE_A.items()}
RELEASE_C = {p: t.replace("release A", "release C") for p, t in RELEASE_A.items()}


def sync(make_ctx: Any, tmp_path: Path, name: str, files: dict[str, str]) -> Any:
    source = write_tree(tmp_path / name, files)
    inputs = SYNC.coerce_inputs({"source": str(source), "destination": DEST})
    return SYNC.run(make_ctx(clock=FakeClock(now=1_700_000_000)), inputs)


def settings(tmp_path: Path) -> Settings:
    return Settings(BUCKET, "src/", tmp_path / "task", False, True)


def downloaded(tmp_path: Path) -> dict[str, str]:
    src = settings(tmp_path).src_dir
    return {p.relative_to(src).as_posix(): p.read_text() for p in src.rglob("*") if p.is_file()}


def staging_folders(s3: Any) -> set[str]:
    found = [k for k in remote_keys(s3, "src/", records=True) if k.startswith("src/" + STAGING_DIR)]
    return {key[len("src/" + STAGING_DIR) :].split("/", 1)[0] for key in found}


@pytest.fixture
def s3(aws: Any) -> Any:
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)  # no versioning: changed files are staged
    return client


def test_a_task_that_read_the_interim_manifest_gets_the_release_after_the_sync_ends(
    make_ctx: Any, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync(make_ctx, tmp_path, "a", RELEASE_A)
    task = settings(tmp_path)
    read: dict[str, Any] = {}
    real_move = sync_module.move_into_place

    def task_reads_the_manifest_then_move(*args: Any, **kwargs: Any) -> Any:
        read["manifest"] = fetch_manifest(s3, task)  # a task starts during the switch
        return real_move(*args, **kwargs)

    monkeypatch.setattr(sync_module, "move_into_place", task_reads_the_manifest_then_move)
    synced = sync(make_ctx, tmp_path, "b", RELEASE_B)
    digest, entries = read["manifest"]
    assert digest == synced.outputs.digest
    assert all(entry.key for entry in entries)  # the interim manifest: every file staged

    for entry in entries:  # ... and downloads them after the final manifest is PUT
        download_file(s3, task, entry, task.src_dir / entry.path)

    assert downloaded(tmp_path) == RELEASE_B


def test_the_next_sync_sweeps_the_staging_a_finished_sync_left(
    make_ctx: Any, s3: Any, tmp_path: Path
) -> None:
    sync(make_ctx, tmp_path, "a", RELEASE_A)
    sync(make_ctx, tmp_path, "b", RELEASE_B)
    (left,) = staging_folders(s3)

    sync(make_ctx, tmp_path, "c", RELEASE_C)

    assert left not in staging_folders(s3)
    assert len(staging_folders(s3)) == 1  # C's own, for the sync after it


class SyncEndsDuringTheDownload:
    """The task's S3 client: the first GET of a staging key first lets ``finish``
    run (the rest of the sync: files in place, final manifest, staging swept)."""

    def __init__(self, s3: Any, finish: Any):
        self.s3, self.finish, self.gets = s3, finish, []

    def get_object(self, **request: Any) -> Any:
        self.gets.append(request["Key"])
        if STAGING_DIR in request["Key"] and self.finish is not None:
            finish, self.finish = self.finish, None
            finish()
        return self.s3.get_object(**request)


def test_the_entrypoint_starts_again_when_a_file_is_gone_because_the_manifest_changed(
    make_ctx: Any, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    sync(make_ctx, tmp_path, "a", RELEASE_A)

    def stopped(*_: Any, cancel: Any, **__: Any) -> Moved:
        cancel.set()  # B's sync stops right after its switch: B is live, staged
        return Moved({}, [])

    with monkeypatch.context() as patch:
        patch.setattr(sync_module, "move_into_place", stopped)
        with pytest.raises(Cancelled):
            sync(make_ctx, tmp_path, "b", RELEASE_B)
    # the next sync of B finishes it and sweeps the staging the interim manifest names
    client = SyncEndsDuringTheDownload(s3, lambda: sync(make_ctx, tmp_path, "b2", RELEASE_B))
    capsys.readouterr()

    digest = download_release(client, settings(tmp_path))

    assert downloaded(tmp_path) == RELEASE_B
    out = capsys.readouterr().out.splitlines()
    gone = client.gets[1]  # the manifest, then the first staged file
    assert out[1] == (
        f"INFO entrypoint: pkg/mod0.py is listed in the manifest but missing from "
        f"s3://{BUCKET}/{gone}; the manifest changed since it was read: reading it again"
    )
    assert out[-1] == f"INFO entrypoint: code digest {digest} verified"
    assert [line for line in out if " manifest s3://" in line] == [
        f"INFO entrypoint: manifest s3://{BUCKET}/src/.opskit-manifest.json: 4 files, "
        f"digest {digest}",
    ] * 2
