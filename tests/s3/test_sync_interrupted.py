"""A sync stopped halfway (SIGTERM, a step ``timeout:``, a lost connection) never
breaks the live release: a task that starts afterwards downloads exactly the
release the live manifest names, verified by the container's entrypoint.

Release A is synced, then release B (every file changed) is stopped after 14 of
its 40 uploads. With versioning the live manifest pins A's versions; without
it, B's changed files are staged and switched (``opskit.s3.staging``).
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from opskit import RunOptions, run_playbook
from opskit.clock import FakeClock
from opskit.manifest import MANIFEST_NAME, Manifest
from opskit.report import mdtext
from opskit.s3 import sync as sync_module
from opskit.s3.transfer import Progress
from opskit.stack.entrypoint import Settings, download_release
from tests.steps.s3_helpers import BUCKET, DEST, remote_keys, write_tree

RELEASE_A = {f"pkg{i % 4}/mod{i}.py": f"# release A, module {i}\n" * (i + 1) for i in range(40)}
RELEASE_B = {path: text.replace("release A", "release B") for path, text in RELEASE_A.items()}
STOP_AT = 14  # uploads done when the sync is stopped


class Terminated(Exception):
    """What SIGTERM raises in this test process when opskit does not handle it."""


@pytest.fixture
def sigterm_guard() -> Iterator[None]:
    """SIGTERM's default would end the test process: outside a run, it raises."""

    def terminated(*_: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture(params=["versioned", "unversioned"])
def s3(request: pytest.FixtureRequest, aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    if request.param == "versioned":
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


def playbook(
    tmp_path: Path, endpoint: str, files: dict[str, str], name: str, timeout: str = ""
) -> Path:
    source = write_tree(tmp_path / name, files)
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"""
name: release {name}
targets:
  test: {{aws: {{region: us-east-1, endpoint_url: "{endpoint}"}}}}
steps:
  - id: upload
    uses: s3.sync
    with: {{source: "{source}", destination: "{DEST}", concurrency: 1}}
    {timeout}
"""
    )
    return path


def live_digest(s3) -> str:
    body = s3.get_object(Bucket=BUCKET, Key=f"src/{MANIFEST_NAME}")["Body"].read()
    return Manifest.from_json(body).digest


def task_starts(s3, tmp_path: Path) -> dict[str, str]:
    """What a task that starts now runs: the entrypoint's verified download."""
    settings = Settings(BUCKET, "src/", tmp_path / "task", False, True)
    digest = download_release(s3, settings)
    assert digest == live_digest(s3)
    return {
        p.relative_to(settings.src_dir).as_posix(): p.read_text()
        for p in settings.src_dir.rglob("*")
        if p.is_file()
    }


def sigterm(monkeypatch: pytest.MonkeyPatch):
    """A function that sends this process SIGTERM and returns once the run heard
    it (the runner's handler runs in the main thread, the upload in another)."""
    from opskit.runner import Runner

    heard = threading.Event()
    real = Runner.interrupt

    def interrupt(self: Runner, signum: int = signal.SIGINT) -> None:
        heard.set()
        real(self, signum)

    monkeypatch.setattr(Runner, "interrupt", interrupt)

    def send() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        assert heard.wait(5)

    return send


def stop_after_uploads(monkeypatch: pytest.MonkeyPatch, count: int, stop) -> None:
    """Call ``stop()`` once ``count`` files are uploaded (from the upload's thread)."""
    real = Progress.file_done
    lock = threading.Lock()

    def file_done(self: Progress) -> None:
        real(self)
        with lock:
            if self.files_done == count:
                stop()

    monkeypatch.setattr(Progress, "file_done", file_done)


def test_sigterm_mid_sync_writes_the_report_and_leaves_the_live_release_intact(
    s3, aws_endpoint, tmp_path, monkeypatch, sigterm_guard
):
    first = run_playbook(playbook(tmp_path, aws_endpoint, RELEASE_A, "a"), RunOptions())
    assert first.status == "passed"
    digest_a = live_digest(s3)
    stop_after_uploads(monkeypatch, STOP_AT, sigterm(monkeypatch))

    result = run_playbook(
        playbook(tmp_path, aws_endpoint, RELEASE_B, "b"), RunOptions(), report_dir=tmp_path / "r"
    )

    assert (result.status, result.signal, result.exit_code) == ("interrupted", "SIGTERM", 143)
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert (report["status"], report["exit_code"], report["signal"]) == (
        "interrupted", 143, "SIGTERM",
    )  # fmt: skip
    (step,) = report["steps"]
    assert step["summary"] == (
        f"interrupted during upload; the live release {digest_a[:12]} under "
        f"{DEST} is intact (no object its manifest reads was changed); {STOP_AT} of 40 "
        "upload(s) done; run the sync again to finish"
    )
    # As GitHub shows it: report.md escapes outside text (s3:// is no autolink).
    assert mdtext.text(step["summary"]) in (tmp_path / "r" / "report.md").read_text()
    assert task_starts(s3, tmp_path) == RELEASE_A
    assert live_digest(s3) == digest_a


def staging_folders(s3) -> set[str]:
    staged = [k for k in remote_keys(s3, "src/", records=True) if "/.opskit/staging/" in k]
    return {key.split("/")[3] for key in staged}


def test_the_next_sync_finishes_an_interrupted_one_and_sweeps_its_staging(
    s3, aws_endpoint, tmp_path, monkeypatch, sigterm_guard
):
    run_playbook(playbook(tmp_path, aws_endpoint, RELEASE_A, "a"), RunOptions())
    with monkeypatch.context() as patch:
        stop_after_uploads(patch, STOP_AT, sigterm(patch))
        stopped = run_playbook(playbook(tmp_path, aws_endpoint, RELEASE_B, "b"), RunOptions())
    assert stopped.status == "interrupted"
    left = staging_folders(s3)

    again = run_playbook(playbook(tmp_path, aws_endpoint, RELEASE_B, "b2"), RunOptions())

    assert again.status == "passed"
    assert task_starts(s3, tmp_path) == RELEASE_B
    stored = remote_keys(s3, "src/", records=True)
    # the stopped sync's staging is swept; the sync that finished keeps its own (a
    # task may still read its interim manifest's keys) for the next sync to sweep
    assert not left & staging_folders(s3)
    assert len(staging_folders(s3)) == (1 if left else 0)
    assert {k[len("src/") :] for k in stored if "/.opskit/" not in k} == {*RELEASE_B, MANIFEST_NAME}


def test_sigterm_after_the_switch_leaves_the_new_release_live_and_intact(
    aws, aws_endpoint, tmp_path, monkeypatch, sigterm_guard
):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)  # no versioning: B's files are staged, then switched
    run_playbook(playbook(tmp_path, aws_endpoint, RELEASE_A, "a"), RunOptions())
    real_move = sync_module.move_into_place
    send = sigterm(monkeypatch)

    def move_after_signal(*args, **kwargs):
        send()
        return real_move(*args, **kwargs)

    monkeypatch.setattr(sync_module, "move_into_place", move_after_signal)

    result = run_playbook(playbook(tmp_path, aws_endpoint, RELEASE_B, "b"), RunOptions())

    assert (result.status, result.exit_code) == ("interrupted", 143)
    digest_b = live_digest(s3)
    assert result.steps[0].summary == (
        "interrupted while moving staged objects into place; release "
        f"{digest_b[:12]} is live under {DEST} and intact: its manifest reads 40 file(s) "
        "from .opskit/staging/ until they are in place; run the sync again to finish"
    )
    assert task_starts(s3, tmp_path) == RELEASE_B


def test_a_step_timeout_mid_upload_leaves_the_live_release_intact(
    s3, aws_endpoint, tmp_path, monkeypatch
):
    run_playbook(playbook(tmp_path, aws_endpoint, RELEASE_A, "a"), RunOptions())
    digest_a = live_digest(s3)
    clock = FakeClock()
    # the 14th upload ends after the step's 10 minutes
    stop_after_uploads(monkeypatch, STOP_AT, lambda: setattr(clock, "now", clock.now + 601))

    result = run_playbook(
        playbook(tmp_path, aws_endpoint, RELEASE_B, "b", timeout="timeout: 10m"),
        RunOptions(clock=clock, handle_sigint=False),
    )

    assert result.status == "failed"
    assert result.steps[0].summary == (
        f"timed out after 600s: interrupted during upload; the live release {digest_a[:12]} "
        f"under {DEST} is intact (no object its manifest reads was changed); {STOP_AT} of 40 "
        "upload(s) done; run the sync again to finish"
    )
    assert task_starts(s3, tmp_path) == RELEASE_A


def test_a_lost_connection_mid_sync_leaves_the_live_release_intact(
    s3, aws_endpoint, tmp_path, monkeypatch
):
    from tests.faultproxy import FaultPlan

    run_playbook(playbook(tmp_path, aws_endpoint, RELEASE_A, "a"), RunOptions())
    digest_a = live_digest(s3)
    front = CuttingFront(aws_endpoint, FaultPlan(rate=0.0)).start()
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # no retries: the link is gone for good
    stop_after_uploads(monkeypatch, STOP_AT, front.cut_from_now)
    try:
        result = run_playbook(
            playbook(tmp_path, front.url, RELEASE_B, "b"), RunOptions(handle_sigint=False)
        )
    finally:
        front.stop()

    assert result.status == "failed"
    # a task that starts now runs the live release
    assert task_starts(s3, tmp_path) == RELEASE_A
    summary = result.steps[0].summary
    assert summary.startswith(f"target 'test': {40 - STOP_AT} upload(s) to ")
    assert summary.endswith(
        f"; the live release {digest_a[:12]} under {DEST} is intact (no object its manifest "
        f"reads was changed); {STOP_AT} of 40 upload(s) done; run the sync again to finish"
    )


class CuttingFront:
    """moto behind a front whose link is cut at a moment the test picks: from then
    on every connection is closed before an answer."""

    def __new__(cls, upstream: str, plan):
        from tests.faultproxy import FaultProxy

        class _Front(FaultProxy):
            cut = False

            def cut_from_now(self) -> None:
                self.cut = True

            def _serve(self, handler) -> None:
                if self.cut:
                    handler.close_connection = True
                    handler.connection.close()
                    return
                super()._serve(handler)

        return _Front(upstream, plan)
