"""playbooks/fleet.yaml end to end: three sandbox services, one target each, run as
CI runs it (`opskit run` in its own process) — all pass; then one service gets a
release that crashes, with and without a canary (issue 13, test 2)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from opskit.sandbox import SandboxInfo, down, up
from opskit.sandbox.core import STACK_DIR
from opskit.sandbox.ports import free_port
from tests.sandbox.sandbox_helpers import opskit_run

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "playbooks" / "fleet.yaml"


@pytest.fixture(scope="module")
def fleet_sandbox() -> Iterator[SandboxInfo]:
    info = up(app_port=free_port(), services=3)
    try:
        yield info
    finally:
        down()


@pytest.fixture
def broken_fleet(tmp_path: Path) -> Path:
    """fleet.yaml whose sandbox-2 target deploys a release that crashes at start."""
    source = tmp_path / "broken-src"
    shutil.copytree(STACK_DIR / "src", source, ignore=shutil.ignore_patterns("__pycache__"))
    with open(source / "core" / "backend.py", "a") as module:
        module.write("\ndef broken(:\n")
    playbook = yaml.safe_load(FLEET.read_text())
    playbook["targets"]["sandbox-2"]["vars"]["source"] = str(source)
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(playbook, sort_keys=False))
    return path


def targets_of(report_dir: Path) -> dict[str, dict]:
    report = json.loads((report_dir / "report.json").read_text())
    assert report["kind"] == "fleet"
    return {run["target"]: run for run in report["targets"]}


def test_fleet_of_three_services_passes_in_parallel(
    fleet_sandbox: SandboxInfo, tmp_path: Path
) -> None:
    result = opskit_run(FLEET, "-t", "sandbox-*", "--parallel", "3", "--report", str(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    runs = targets_of(tmp_path)
    assert {t: r["status"] for t, r in runs.items()} == {
        "sandbox-1": "passed",
        "sandbox-2": "passed",
        "sandbox-3": "passed",
    }
    # each service has its own tasks and app: three deployments, three different URLs
    deployments = {r["steps"][1]["outputs"]["deployment_id"] for r in runs.values()}
    urls = {r["steps"][3]["summary"].split("/_stcore")[0] for r in runs.values()}
    assert len(deployments) == 3 and len(urls) == 3
    assert "[sandbox-2] ✓ ok chat" in result.stdout or "[sandbox-2] + ok chat" in result.stdout


def test_a_broken_canary_stops_the_fleet_before_the_healthy_targets_start(
    fleet_sandbox: SandboxInfo, broken_fleet: Path, tmp_path: Path
) -> None:
    result = opskit_run(
        broken_fleet,
        *("-t", "sandbox-2", "-t", "sandbox-1", "-t", "sandbox-3"),
        *("--canary", "1", "--parallel", "3", "--report", str(tmp_path)),
    )

    assert result.returncode == 1, result.stdout + result.stderr
    runs = targets_of(tmp_path)
    assert {t: r["status"] for t, r in runs.items()} == {
        "sandbox-2": "failed",
        "sandbox-1": "skipped",
        "sandbox-3": "skipped",
    }
    why = "not started: canary sandbox-2 did not pass (--canary 1)"
    assert runs["sandbox-1"]["error"] == why
    assert why in result.stdout
    assert "[sandbox-1] NOT STARTED: canary sandbox-2 did not pass" in result.stdout
    assert "[sandbox-1] ▶" not in result.stdout  # it never started a step
    markdown = (tmp_path / "report.md").read_text()
    assert why in markdown and "SyntaxError" in markdown


def test_without_a_canary_the_healthy_services_pass_and_the_broken_one_fails(
    fleet_sandbox: SandboxInfo, broken_fleet: Path, tmp_path: Path
) -> None:
    result = opskit_run(
        broken_fleet, "-t", "sandbox-*", "--parallel", "3", "--report", str(tmp_path)
    )

    assert result.returncode == 1, result.stdout + result.stderr
    runs = targets_of(tmp_path)
    assert {t: r["status"] for t, r in runs.items()} == {
        "sandbox-1": "passed",
        "sandbox-2": "failed",
        "sandbox-3": "passed",
    }
    failed = next(s for s in runs["sandbox-2"]["steps"] if s["status"] == "failed")
    assert failed["id"] == "redeploy"
    assert "SyntaxError: invalid syntax" in failed["detail"]
    junit = (tmp_path / "junit.xml").read_text()
    assert junit.count("<testsuite ") == 3
