"""The run's verdict on the release its s3.sync recorded (``run_playbook``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit import RunOptions, run_playbook
from opskit.releases.store import read_records
from opskit.s3.location import parse_s3_url
from tests.releases.test_records import TREE, _call
from tests.steps.s3_helpers import BUCKET, DEST, write_tree

pytestmark = pytest.mark.usefixtures("engine_steps")


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def playbook(tmp_path: Path, endpoint: str, then: str) -> Path:
    source = write_tree(tmp_path / "src", TREE)
    path = tmp_path / "release.yaml"
    path.write_text(
        f"""
name: release
targets:
  test: {{aws: {{region: us-east-1, endpoint_url: "{endpoint}"}}}}
steps:
  - id: upload
    uses: s3.sync
    with: {{source: "{source}", destination: "{DEST}"}}
{then}
"""
    )
    return path


def records(s3):
    return read_records(s3, parse_s3_url(DEST), _call)


def test_a_passed_run_records_passed_on_its_release(s3, aws_endpoint, tmp_path):
    path = playbook(tmp_path, aws_endpoint, "  - {id: check, uses: test.echo, with: {value: 1}}")

    result = run_playbook(path, RunOptions(handle_sigint=False))

    assert result.status == "passed"
    (record,) = records(s3)
    assert record.status == "passed"
    assert record.verdict is not None
    assert record.verdict.run_id == result.run_id
    assert record.verdict.playbook == result.playbook
    assert record.verdict.failed_step is None


def test_a_failed_run_records_failed_and_the_failed_step(s3, aws_endpoint, tmp_path):
    path = playbook(
        tmp_path, aws_endpoint, "  - {id: redeploy, uses: test.flaky, with: {key: v, failures: 9}}"
    )

    result = run_playbook(path, RunOptions(handle_sigint=False))

    assert result.status == "failed"
    (record,) = records(s3)
    assert record.status == "failed"
    assert record.verdict is not None and record.verdict.failed_step == "redeploy"


def test_a_run_interrupted_with_ctrl_c_records_interrupted(s3, aws_endpoint, tmp_path):
    path = playbook(
        tmp_path, aws_endpoint, "  - {id: wait, uses: test.wait, with: {interrupt: true}}"
    )

    result = run_playbook(path, RunOptions())

    assert result.status == "interrupted"
    (record,) = records(s3)
    assert record.status == "interrupted"


def test_a_run_stopped_by_sigterm_records_interrupted(s3, aws_endpoint, tmp_path):
    """A CI cancel or ``kill``: SIGTERM's default would end the process with no
    verdict on the release (the test process would end too: a guard raises)."""
    import signal

    def terminated(*_: object) -> None:
        raise AssertionError("SIGTERM reached the test process")

    path = playbook(
        tmp_path, aws_endpoint, "  - {id: wait, uses: test.wait, with: {signals: [SIGTERM]}}"
    )
    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        result = run_playbook(path, RunOptions())
    finally:
        signal.signal(signal.SIGTERM, previous)

    assert (result.status, result.exit_code) == ("interrupted", 143)
    (record,) = records(s3)
    assert record.status == "interrupted"


def test_a_dry_run_records_nothing(s3, aws_endpoint, tmp_path):
    path = playbook(tmp_path, aws_endpoint, "  - {id: check, uses: test.echo}")

    run_playbook(path, RunOptions(dry_run=True, handle_sigint=False))

    assert records(s3) == []


def test_a_run_whose_sync_failed_records_nothing(s3, aws_endpoint, tmp_path):
    path = playbook(tmp_path, aws_endpoint, "  - {id: check, uses: test.echo}")
    path.write_text(path.read_text().replace(str(tmp_path / "src"), str(tmp_path / "missing")))

    result = run_playbook(path, RunOptions(handle_sigint=False))

    assert result.status in ("failed", "invalid")
    assert records(s3) == []


def test_a_run_that_left_steps_out_records_partial_never_last_good(s3, aws_endpoint, tmp_path):
    path = playbook(tmp_path, aws_endpoint, "  - {id: check, uses: test.echo}")

    result = run_playbook(path, RunOptions(only=("upload",), handle_sigint=False))

    assert result.status == "passed"
    (record,) = records(s3)
    assert record.status == "partial"
