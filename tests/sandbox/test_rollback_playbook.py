"""Releases and rollback end to end in the sandbox, with the real stack, each
command as on-call runs it (through the CLI's one boundary, in process; one
sandbox for the whole story):
release A passes → release B crashes at start and fails (the old task keeps
serving) → `opskit releases` shows A passed and B failed → rollback.yaml restores
A by copy and proves it live → diagnose.yaml says the live digest is A's; then a
sync without a redeploy, which diagnose.yaml says in words."""

from __future__ import annotations

import json
from pathlib import Path

from opskit.sandbox import SandboxInfo
from tests.cli_helpers import Cli
from tests.sandbox.sandbox_helpers import ROOT, running_task_ids, stack_copy, wait_for

PLAYBOOKS = ROOT / "playbooks"


def report(path: Path) -> dict:
    document = json.loads((path / "report.json").read_text())
    return {s["id"]: s for s in document["steps"]} | {"_status": document["status"]}


def test_rollback_brings_the_last_good_release_back_and_diagnose_says_what_runs(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    good = cli.run(PLAYBOOKS / "redeploy.yaml", "--report", str(tmp_path / "a"))
    assert good.returncode == 0, good.stdout + good.stderr
    digest_a = report(tmp_path / "a")["upload"]["outputs"]["digest"]
    (task_a,) = running_task_ids(sandbox)

    source_b = stack_copy(tmp_path / "broken", broken=True)
    bad = cli.run(
        PLAYBOOKS / "redeploy.yaml", "-e", f"source={source_b}", "--report", str(tmp_path / "b")
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    digest_b = report(tmp_path / "b")["upload"]["outputs"]["digest"]
    wait_for(lambda: running_task_ids(sandbox) == [task_a], "the old task alone serving again", 90)

    listed = cli("releases", str(PLAYBOOKS / "redeploy.yaml"), "--output", "json")
    assert listed.returncode == 0, listed.stderr
    history = json.loads(listed.stdout)["releases"]
    assert [(r["digest"], r["verdict"], r["live"]) for r in history] == [
        (digest_b, "failed", True),
        (digest_a, "passed", False),
    ]
    assert history[0]["deployment_id"].startswith("ecs-svc/")
    table = cli("releases", str(PLAYBOOKS / "redeploy.yaml")).stdout
    assert f"{digest_b[:12]}" in table and "failed" in table and "<- live" in table

    rollback = cli.run(PLAYBOOKS / "rollback.yaml", "--report", str(tmp_path / "r"))
    assert rollback.returncode == 1  # nobody to say yes (no terminal), so nothing restored
    assert "nobody to ask (no terminal): run with --yes to answer yes" in rollback.stdout
    assert report(tmp_path / "r")["restore"]["summary"] == "not run: an earlier step failed"
    rollback = cli.run(PLAYBOOKS / "rollback.yaml", "--yes", "--report", str(tmp_path / "r"))
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    steps = report(tmp_path / "r")
    assert steps["confirm"]["outputs"]["answer"] == "yes"
    assert steps["restore"]["outputs"]["digest"] == digest_a
    assert steps["restore"]["outputs"]["restored"] == 1  # core/backend.py, by copy
    (new_task,) = steps["redeploy"]["outputs"]["new_task_ids"]
    matched = json.dumps(steps["logs"]["outputs"]["matched"])
    assert f"code digest {digest_a} verified" in matched and new_task in matched
    assert running_task_ids(sandbox) == [new_task]

    diagnosed = cli.run(PLAYBOOKS / "diagnose.yaml", "--report", str(tmp_path / "d"))
    assert diagnosed.returncode == 0, diagnosed.stdout + diagnosed.stderr
    found = report(tmp_path / "d")["what_this_means"]["outputs"]
    assert found["running_digests"] == {new_task: digest_a}
    assert found["findings"][0].startswith(
        f"running code is the synced code: release {digest_a[:12]}"
    )
    assert "What this means:" in (tmp_path / "d" / "report.md").read_text()

    # a sync without a redeploy: the bucket says B, the running task still runs A
    synced = cli.run(PLAYBOOKS / "redeploy.yaml", "--only", "upload", "-e", f"source={source_b}")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    again = cli.run(PLAYBOOKS / "diagnose.yaml", "--report", str(tmp_path / "d2"))
    assert again.returncode == 0, again.stdout + again.stderr
    said = report(tmp_path / "d2")["what_this_means"]["outputs"]["findings"]
    assert any(
        f.startswith(
            f"running code is not the synced code: the running task(s) report {digest_a[:12]}"
        )
        and "run the redeploy playbook (opskit run playbooks/redeploy.yaml)" in f
        for f in said
    ), said
    assert any(f.startswith(f"the live release {digest_b[:12]} failed") for f in said), said
