"""``opskit releases``: the history a person reads, from the target's bucket."""

from __future__ import annotations

import json
import re

import pytest

from opskit import RunOptions, run_playbook
from opskit.cli import main
from tests.releases.test_verdict import playbook
from tests.steps.s3_helpers import BUCKET

pytestmark = pytest.mark.usefixtures("engine_steps")


def releases(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(["releases", *args])
    out, err = capsys.readouterr()
    return int(exit_.value.code or 0), out, err


def test_releases_lists_newest_first_with_verdicts_and_the_live_one(
    aws, aws_endpoint, tmp_path, capsys
):
    aws.client("s3").create_bucket(Bucket=BUCKET)
    good = playbook(tmp_path / "a", aws_endpoint, "  - {id: check, uses: test.echo}")
    run_playbook(good, RunOptions(handle_sigint=False))
    bad = playbook(
        tmp_path / "b",
        aws_endpoint,
        "  - {id: redeploy, uses: test.flaky, with: {key: r, failures: 9}}",
    )
    (tmp_path / "b" / "src" / "app.py").write_text("print('b')\n")
    run_playbook(bad, RunOptions(handle_sigint=False))
    capsys.readouterr()

    code, out, err = releases(
        capsys, str(good), "-e", f"bucket={BUCKET}", "--destination", f"s3://{BUCKET}/src/"
    )

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"releases under s3://{BUCKET}/src/ (newest first):"
    assert re.split(r"\s{2,}", lines[1]) == [
        "SYNCED (UTC)", "DIGEST", "FILES", "SIZE", "VERDICT", "DEPLOYMENT", "WHO",
    ]  # fmt: skip
    newest, older = (re.split(r"\s{2,}", line) for line in lines[2:4])
    assert newest[2:6] == ["2", "17 B", "failed", "-"] and newest[-1] == "<- live"
    assert older[2:6] == ["2", "17 B", "passed", "-"] and older[-1] != "<- live"
    assert "@" in newest[6]

    code, out, _ = releases(
        capsys, str(good), "--destination", f"s3://{BUCKET}/src/", "--output", "json"
    )
    document = json.loads(out)
    assert [r["verdict"] for r in document["releases"]] == ["failed", "passed"]
    assert document["last_good"] == document["releases"][1]["digest"]


def test_releases_of_a_prefix_with_no_records_says_so(aws, aws_endpoint, tmp_path, capsys):
    aws.client("s3").create_bucket(Bucket=BUCKET)
    path = playbook(tmp_path, aws_endpoint, "")

    code, out, _ = releases(capsys, str(path), "--destination", f"s3://{BUCKET}/src/")

    assert code == 0
    assert out.strip() == (
        f"no release recorded under s3://{BUCKET}/src/ yet (each verified s3.sync records one)"
    )


def test_releases_of_a_missing_bucket_is_one_line_and_exit_1(aws, aws_endpoint, tmp_path, capsys):
    path = playbook(tmp_path, aws_endpoint, "")

    code, out, err = releases(capsys, str(path), "--destination", "s3://no-such-bucket/src/")

    assert code == 1
    assert out == ""
    assert err.startswith("opskit: error: ") and "no-such-bucket" in err
    assert len(err.strip().splitlines()) == 1


def test_only_the_newest_record_of_the_live_digest_is_marked_live(
    aws, aws_endpoint, tmp_path, capsys
):
    """The same tree synced twice (a re-run, or a rollback to it) leaves two records
    of one digest: the newest is the live release, the older one history."""
    aws.client("s3").create_bucket(Bucket=BUCKET)
    good = playbook(tmp_path / "a", aws_endpoint, "  - {id: check, uses: test.echo}")
    run_playbook(good, RunOptions(handle_sigint=False))
    run_playbook(good, RunOptions(handle_sigint=False))
    capsys.readouterr()

    code, out, err = releases(capsys, str(good), "--destination", f"s3://{BUCKET}/src/")

    assert code == 0, err
    newest, older = (re.split(r"\s{2,}", line) for line in out.splitlines()[2:4])
    assert newest[1] == older[1]  # one digest
    assert out.count("<- live") == 1 and newest[-1] == "<- live"
