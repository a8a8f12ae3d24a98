"""playbooks/fleet.yaml end to end: three sandbox services, one target each, run as
CI runs it (`opskit run`, through the CLI's one boundary, in process) — all pass;
then one service gets a release that crashes, with and without a canary (issue 13,
test 2). The module's sandbox has the three services (``sandbox_services``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from opskit.sandbox import SandboxInfo
from tests.cli_helpers import Cli
from tests.sandbox.sandbox_helpers import stack_copy

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "playbooks" / "fleet.yaml"


@pytest.fixture(scope="module")
def sandbox_services() -> int:
    return 3


@pytest.fixture
def broken_fleet(tmp_path: Path) -> Path:
    """fleet.yaml whose sandbox-2 target deploys a release that crashes at start."""
    source = stack_copy(tmp_path / "broken-src", broken=True)
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
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    result = cli.run(FLEET, "-t", "sandbox-*", "--parallel", "3", "--report", str(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    runs = targets_of(tmp_path)
    assert {t: r["status"] for t, r in runs.items()} == {
        "sandbox-1": "passed",
        "sandbox-2": "passed",
        "sandbox-3": "passed",
    }
    # each service has its own tasks and app: three deployments, each target its own URL
    deployments = {r["steps"][1]["outputs"]["deployment_id"] for r in runs.values()}
    assert len(deployments) == 3
    probed = {t: r["steps"][3]["summary"].split("/_stcore")[0] for t, r in runs.items()}
    app_urls = [s["app_url"] for s in sandbox.service_list()]
    assert probed == {f"sandbox-{n}": url for n, url in enumerate(app_urls, start=1)}
    # what the user reads: each target's synthetic user saw its new release, and the verdicts
    release = runs["sandbox-1"]["steps"][0]["outputs"]["digest"][:12]
    lines = result.stdout.splitlines()
    chat = [line for line in lines if " ok chat " in line]
    numbers = re.compile(r"\d+(\.\d+)?(ms|s| s| chars)\b")
    assert sorted(numbers.sub("N", line) for line in chat) == [
        f"[{target}] ✓ ok chat N  asked 1 question: N in N (first text N); "
        f"no exception, no error; the page shows 'release {release}'"
        for target in ("sandbox-1", "sandbox-2", "sandbox-3")
    ]
    assert lines[-5:-2] == [
        "✓ passed      sandbox-1",
        "✓ passed      sandbox-2",
        "✓ passed      sandbox-3",
    ]
    assert numbers.sub("N", lines[-2]) == "PASSED in N (exit 0)"
    reports = ", ".join(str(tmp_path / name) for name in ("report.json", "report.md", "junit.xml"))
    assert lines[-1] == f"report: {reports}"


def test_a_broken_canary_stops_the_fleet_before_the_healthy_targets_start(
    sandbox: SandboxInfo, cli: Cli, broken_fleet: Path, tmp_path: Path
) -> None:
    result = cli.run(
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
    sandbox: SandboxInfo, cli: Cli, broken_fleet: Path, tmp_path: Path
) -> None:
    result = cli.run(broken_fleet, "-t", "sandbox-*", "--parallel", "3", "--report", str(tmp_path))

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
