"""The read-only steps while an interim manifest is live.

A sync in a bucket without versioning stages the new bytes of the keys the live
manifest reads, PUTs an interim manifest naming those staging keys, then moves
them into place (``opskit.s3.staging``). Stopped after that switch, the new
release is live and intact: a task reads each staged file from its ``key``.
``s3.verify``, ``release.diagnose`` and ``s3.releases`` read the prefix the same
way the container's entrypoint does, and say the sync is unfinished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opskit.clock import FakeClock
from opskit.errors import Cancelled, StepFailed
from opskit.manifest import MANIFEST_NAME, Manifest
from opskit.s3 import sync as sync_module
from opskit.s3.staging import Moved
from opskit.stack.entrypoint import Settings, download_release
from opskit.steps.release_diagnose import STEP as DIAGNOSE
from opskit.steps.s3_releases import STEP as RELEASES
from opskit.steps.s3_sync import STEP as SYNC
from opskit.steps.s3_verify import STEP as VERIFY
from tests.ecs_driver import CLUSTER, SERVICE, build_stack
from tests.ecs_driver import clock as driver_clock
from tests.steps.s3_helpers import BUCKET, DEST, write_tree

RELEASE_A = {f"pkg{i % 2}/mod{i}.py": f"# release A, module {i}\n" for i in range(6)}
# B changes every file of A, drops one and adds one
RELEASE_B = {p: t.replace("release A", "release B") for p, t in RELEASE_A.items()}
del RELEASE_B["pkg1/mod5.py"]
RELEASE_B["pkg0/new.py"] = "# new in release B\n"
STAGED = 5  # the files of B the live manifest of A reads: staged, then switched
NOTE = "interim: staged objects not yet in place; run the sync again"


def sync(make_ctx: Any, tmp_path: Path, name: str, files: dict[str, str]) -> Any:
    source = write_tree(tmp_path / name, files)
    inputs = SYNC.coerce_inputs({"source": str(source), "destination": DEST, "delete": True})
    return SYNC.run(make_ctx(clock=FakeClock(now=1_700_000_000)), inputs)


@pytest.fixture
def interim(make_ctx: Any, aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Release A synced, then B's sync stopped right after the switch: B is live
    through its interim manifest; A's bytes are still at B's paths."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    sync(make_ctx, tmp_path, "a", RELEASE_A)

    def stopped(*_: Any, cancel: Any, **__: Any) -> Moved:
        cancel.set()  # a signal, before the first copy into place
        return Moved({}, [])

    with monkeypatch.context() as patch:
        patch.setattr(sync_module, "move_into_place", stopped)
        with pytest.raises(Cancelled):
            sync(make_ctx, tmp_path, "b", RELEASE_B)
    live = Manifest.from_json(
        s3.get_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}")["Body"].read()
    )
    assert sum(1 for entry in live.files if entry.key) == STAGED
    return s3


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


def b_digest(s3: Any) -> str:
    return Manifest.from_json(
        s3.get_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}")["Body"].read()
    ).digest


def test_verify_reads_each_file_where_the_interim_manifest_says_it_is(
    make_ctx: Any, interim: Any, tmp_path: Path
) -> None:
    assert task_starts(interim, tmp_path) == RELEASE_B  # what every new task runs
    digest = b_digest(interim)

    result = verify(make_ctx)

    assert result.status == "ok"
    assert vars(result.outputs) == {"mismatches": [], "checked": 6, "digest": digest}
    assert result.summary == (
        f"{DEST} matches its manifest: 6 objects, digest {digest[:12]}…; {NOTE} "
        f"({STAGED} file(s) read from .opskit/staging/, 1 key(s) not in the release: "
        "pkg1/mod5.py)"
    )


def test_verify_with_the_source_reads_the_staged_files_too(
    make_ctx: Any, interim: Any, tmp_path: Path
) -> None:
    result = verify(make_ctx, source=str(tmp_path / "b"))

    assert result.status == "ok"
    assert result.outputs.mismatches == []
    assert result.summary.startswith(f"{DEST} matches the local tree: 6 objects, digest ")
    assert result.summary.endswith(
        f"; {NOTE} ({STAGED} file(s) read from .opskit/staging/, 1 key(s) not in the "
        "release: pkg1/mod5.py)"
    )


def test_verify_says_a_changed_or_missing_staged_object_differs(
    make_ctx: Any, interim: Any
) -> None:
    live = Manifest.from_json(
        interim.get_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}")["Body"].read()
    ).by_path()
    changed, gone = live["pkg0/mod0.py"].key, live["pkg1/mod1.py"].key
    assert changed and gone
    interim.put_object(Bucket=BUCKET, Key=f"src/{changed}", Body=b"# release X, module 0\n")
    interim.delete_object(Bucket=BUCKET, Key=f"src/{gone}")

    with pytest.raises(StepFailed) as failure:
        verify(make_ctx)

    assert str(failure.value) == (
        f"{DEST} does not match its manifest: 2 key(s): pkg0/mod0.py, pkg1/mod1.py"
    )
    assert failure.value.outputs.mismatches == [
        "pkg0/mod0.py: content differs from the manifest (stored at " + changed + ")",
        "pkg1/mod1.py: missing (stored at " + gone + ")",
    ]


def test_verify_still_flags_an_unlisted_key_once_the_sync_is_done(
    make_ctx: Any, aws: Any, tmp_path: Path
) -> None:
    """Outside an interim state, a key the manifest does not list stays a mismatch."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    sync(make_ctx, tmp_path, "a", RELEASE_A)
    s3.put_object(Bucket=BUCKET, Key="src/planted.py", Body=b"x")

    with pytest.raises(StepFailed) as failure:
        verify(make_ctx)

    assert failure.value.outputs.mismatches == ["planted.py: present but not in the manifest"]


def test_releases_says_the_live_release_is_interim(make_ctx: Any, interim: Any) -> None:
    digest = b_digest(interim)

    result = RELEASES.run(make_ctx(), RELEASES.coerce_inputs({"destination": DEST}))

    assert (result.outputs.live_digest, result.outputs.live_staged) == (digest, STAGED)
    assert result.detail.splitlines()[-1] == (  # what `opskit releases` prints last
        f"the live manifest is interim: it reads {STAGED} file(s) from .opskit/staging/ (a "
        "sync stopped before moving them into place); run the sync again to finish"
    )
    assert result.summary == (
        f"1 release(s) under {DEST}; live {digest[:12]} (not a recorded release; {NOTE}: "
        f"{STAGED} file(s) read from .opskit/staging/); last good none"
    )


def test_diagnose_says_the_sync_is_unfinished_not_that_something_else_changed_the_bucket(
    make_ctx: Any, aws: Any, interim: Any
) -> None:
    """diagnose.yaml's chain: s3.verify's mismatches feed release.diagnose."""
    driver = build_stack(aws)
    digest = b_digest(interim)
    (task,) = driver.tasks()
    driver.put_logs(task, [f"code digest {digest} verified"])  # a task started since
    checked = verify(make_ctx)

    result = DIAGNOSE.run(
        make_ctx(clock=driver_clock()),
        DIAGNOSE.coerce_inputs(
            {
                "cluster": CLUSTER,
                "service": SERVICE,
                "destination": DEST,
                "bucket_mismatches": checked.outputs.mismatches,
            }
        ),
    )

    assert result.outputs.findings == [
        f"running code is the synced code: release {digest[:12]} (not a recorded release)",
        f"the live release {digest[:12]} is interim: its manifest reads {STAGED} file(s) from "
        ".opskit/staging/ (a sync stopped before moving them into place); a task that "
        "starts gets it intact; run the sync again to finish (opskit run playbooks/redeploy.yaml)",
    ]


def test_contains_and_not_contains_read_the_staged_key_a_task_reads(
    make_ctx: Any, interim: Any
) -> None:
    """At B's path the bytes are still A's; the task reads B's from staging."""
    assert interim.get_object(Bucket=BUCKET, Key="src/pkg0/mod0.py")["Body"].read() == (
        b"# release A, module 0\n"
    )

    result = verify(
        make_ctx, contains={"pkg0/mod0.py": "release B"}, not_contains={"pkg0/mod0.py": "release A"}
    )

    assert result.status == "ok"
    with pytest.raises(StepFailed) as failure:
        verify(make_ctx, contains={"pkg0/mod0.py": "release A"})
    assert failure.value.outputs.mismatches == ["pkg0/mod0.py: does not contain 'release A'"]
