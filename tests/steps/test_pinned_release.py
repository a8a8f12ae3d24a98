"""The read-only ``s3.verify`` judges the release a task gets in a versioned bucket.

There the live manifest pins each file's object version and the container's
entrypoint GETs those versions. A sync stopped mid-upload has put new bytes at
some paths but not its manifest: the live release is intact (the versions it
pins are untouched), while the current objects at those paths are the stopped
sync's. ``s3.verify`` reads the pinned versions, as a task does, and says the
sync is unfinished; a pinned version that is gone is a true mismatch.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from opskit.clock import FakeClock
from opskit.errors import Cancelled, StepFailed
from opskit.manifest import MANIFEST_NAME, Manifest
from opskit.s3.transfer import Progress
from opskit.stack.entrypoint import EntrypointError, Settings, download_release
from opskit.steps.s3_sync import STEP as SYNC
from opskit.steps.s3_verify import STEP as VERIFY
from tests.steps.s3_helpers import BUCKET, DEST, write_tree

RELEASE_A = {f"pkg{i % 2}/mod{i}.py": f"# release A, module {i}\n" for i in range(6)}
RELEASE_B = {p: t.replace("release A", "release B") for p, t in RELEASE_A.items()}
RELEASE_B["pkg0/added.py"] = "# new in release B\n"  # uploaded first
STOP_AT = 3  # uploads done when B's sync is stopped


def sync(ctx: Any, tmp_path: Path, name: str, files: dict[str, str]) -> Any:
    source = write_tree(tmp_path / name, files)
    inputs = SYNC.coerce_inputs(
        {"source": str(source), "destination": DEST, "delete": True, "concurrency": 1}
    )
    return SYNC.run(ctx, inputs)


def live(s3: Any) -> Manifest:
    body = s3.get_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}")["Body"].read()
    return Manifest.from_json(body)


def current(s3: Any) -> dict[str, str]:
    """The current object at each path (what a plain GET by key returns)."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="src/"):
        for item in page.get("Contents", []):
            relative = item["Key"][len("src/") :]
            if relative != MANIFEST_NAME and not relative.startswith(".opskit/"):
                body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
                found[relative] = body.decode()
    return found


@pytest.fixture
def stopped(
    make_ctx: Any, aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, list[str]]:
    """Release A synced to a versioned bucket, then B's sync stopped after
    ``STOP_AT`` uploads: A's manifest is live and pins A's versions; the stopped
    sync's paths hold B's bytes. Returns the client and those paths, sorted."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    sync(make_ctx(clock=FakeClock(now=1_700_000_000)), tmp_path, "a", RELEASE_A)
    ctx = make_ctx(clock=FakeClock(now=1_700_000_100))
    real = Progress.file_done
    lock = threading.Lock()

    def file_done(self: Progress) -> None:
        real(self)
        with lock:
            if self.files_done == STOP_AT:
                ctx.cancel.set()  # a signal, mid-upload

    with monkeypatch.context() as patch:
        patch.setattr(Progress, "file_done", file_done)
        with pytest.raises(Cancelled):
            sync(ctx, tmp_path, "b", RELEASE_B)
    assert all(entry.pinned for entry in live(s3).files)
    changed = sorted(path for path, text in current(s3).items() if RELEASE_A.get(path) != text)
    assert len(changed) == STOP_AT
    return s3, changed


def task_starts(s3: Any, tmp_path: Path) -> dict[str, str]:
    settings = Settings(BUCKET, "src/", tmp_path / "task", False, True)
    download_release(s3, settings)
    return {
        p.relative_to(settings.src_dir).as_posix(): p.read_text()
        for p in settings.src_dir.rglob("*")
        if p.is_file()
    }


def verify(make_ctx: Any, **given: Any) -> Any:
    return VERIFY.run(make_ctx(), VERIFY.coerce_inputs({"destination": DEST, **given}))


def note(changed: list[str]) -> str:
    """What the summary adds while the current objects are the stopped sync's."""
    drifted = [path for path in changed if path in RELEASE_A]
    added = [path for path in changed if path not in RELEASE_A]
    left = f", {len(added)} key(s) not in the release: {', '.join(added)}" if added else ""
    return (
        "pinned: the current objects differ from the live release's pinned versions (a "
        f"sync stopped before its manifest); run the sync again ({len(drifted)} file(s) "
        f"read from pinned versions{left})"
    )


def test_verify_passes_on_the_pinned_release_a_stopped_sync_left_live(
    make_ctx: Any, stopped: tuple[Any, list[str]], tmp_path: Path
) -> None:
    s3, changed = stopped
    assert task_starts(s3, tmp_path) == RELEASE_A  # what every new task runs
    digest = live(s3).digest

    result = verify(make_ctx)

    assert result.status == "ok"
    assert vars(result.outputs) == {"mismatches": [], "checked": 6, "digest": digest}
    assert result.summary == (
        f"{DEST} matches its manifest: 6 objects, digest {digest[:12]}…; {note(changed)}"
    )


def test_verify_lists_versions_once_rather_than_a_request_per_file(
    make_ctx: Any, stopped: tuple[Any, list[str]]
) -> None:
    s3, _ = stopped
    operations: list[str] = []

    def record(model: Any, **_: Any) -> None:
        operations.append(model.name)

    ctx = make_ctx()
    client = ctx.aws.client("s3")
    client.meta.events.register("before-call.s3", record, unique_id="test-pinned-ops")
    try:
        VERIFY.run(ctx, VERIFY.coerce_inputs({"destination": DEST}))
    finally:
        client.meta.events.unregister("before-call.s3", unique_id="test-pinned-ops")

    # the prefix, the manifest, the versions: the pinned versions' recorded ETags
    # vouch for their content, so no file is read
    assert operations == ["ListObjectsV2", "GetObject", "ListObjectVersions"]


def test_verify_with_the_source_compares_it_with_the_pinned_versions(
    make_ctx: Any, stopped: tuple[Any, list[str]], tmp_path: Path
) -> None:
    s3, changed = stopped

    result = verify(make_ctx, source=str(tmp_path / "a"))

    assert result.status == "ok"
    assert result.summary.startswith(f"{DEST} matches the local tree: 6 objects, digest ")
    assert result.summary.endswith(f"; {note(changed)}")
    # B is not the live release: each file of A it changes differs from what a task gets
    with pytest.raises(StepFailed) as failure:
        verify(make_ctx, source=str(tmp_path / "b"))
    pins = live(s3).by_path()
    assert failure.value.outputs.mismatches == [
        f"{path}: content differs (manifest) (version {pins[path].version_id})"
        for path in sorted(RELEASE_A)
    ]


def test_verify_names_a_pinned_version_that_is_gone(
    make_ctx: Any, stopped: tuple[Any, list[str]], tmp_path: Path
) -> None:
    s3, changed = stopped
    pins = live(s3).by_path()
    drifted = next(path for path in changed if path in RELEASE_A)  # holds B's bytes now
    untouched = next(path for path in sorted(RELEASE_A) if path not in changed)
    # the same bytes put again: the current object still matches the manifest
    s3.put_object(Bucket=BUCKET, Key=f"src/{untouched}", Body=RELEASE_A[untouched].encode())
    for path in (drifted, untouched):
        s3.delete_object(Bucket=BUCKET, Key=f"src/{path}", VersionId=pins[path].version_id)
    with pytest.raises(EntrypointError) as refused:
        task_starts(s3, tmp_path)  # a task cannot get the release
    assert "the version the manifest pins no longer exists" in str(refused.value)

    with pytest.raises(StepFailed) as failure:
        verify(make_ctx)

    first, second = sorted((drifted, untouched))
    assert str(failure.value) == (
        f"{DEST} does not match its manifest: 2 key(s): {first}, {second}"
    )
    assert failure.value.outputs.mismatches == [
        f"{path}: the version the manifest pins is gone (version {pins[path].version_id})"
        for path in (first, second)
    ]


def test_contains_and_not_contains_read_the_pinned_version_a_task_reads(
    make_ctx: Any, stopped: tuple[Any, list[str]]
) -> None:
    s3, changed = stopped
    drifted = next(path for path in changed if path in RELEASE_A)
    assert current(s3)[drifted].startswith("# release B")  # what a GET by key returns

    result = verify(
        make_ctx,
        contains={drifted: "release A"},
        not_contains={drifted: "release B"},
    )

    assert result.status == "ok"
    with pytest.raises(StepFailed) as failure:
        verify(make_ctx, contains={drifted: "release B"})
    assert failure.value.outputs.mismatches == [f"{drifted}: does not contain 'release B'"]
