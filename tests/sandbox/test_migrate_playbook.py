"""The migrate-then-deploy playbook end to end against the sandbox's real stack:
the one-off task runs the release's preflight with ecs.run_task before the
deployment, a confirm guards the deploy (--yes answers it, as in CI), the
repository's task definition file is deployed (the sandbox runs that very
revision: nothing to register), and the report shows each verdict and the
timeline (through the CLI, in process)."""

from __future__ import annotations

import json
from pathlib import Path

from opskit.sandbox import SandboxInfo
from tests.cli_helpers import Cli

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "migrate.yaml"


def test_migrate_then_redeploy_passes(sandbox: SandboxInfo, cli: Cli, tmp_path: Path) -> None:
    result = cli.run(PLAYBOOK, "--yes", "--report", str(tmp_path / "report"))

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    steps = {s["id"]: s for s in report["steps"]}
    migrate = steps["migrate"]["outputs"]
    assert (steps["migrate"]["status"], migrate["exit_code"]) == ("changed", 0)
    assert migrate["log_stream"] == f"ecs/chatbot/{migrate['task_id']}"
    assert migrate["task_id"] not in steps["redeploy"]["outputs"]["new_task_ids"]
    assert steps["go_ahead"]["outputs"]["answer"] == "yes"
    assert steps["go_ahead"]["outputs"]["by"].startswith("--yes")
    redeploy = steps["redeploy"]["outputs"]
    assert redeploy["diff"] == ""  # the file renders to the revision the service runs
    assert redeploy["task_definition"] == redeploy["previous_task_definition"]
    assert "unchanged: chatbot:1 already holds ../opskit/stack/task-definition.json.j2" in result.stdout
    assert steps["probe"]["outputs"]["status"] == 200
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert f"task {migrate['task_id'][:8]} exited 0 after " in markdown
    assert "```mermaid\ngantt" in markdown
    kinds = {event["what"] for event in report["events"]}
    assert {"run_task", "confirm", "deployment", "task_started", "log_marker", "probe"} <= kinds


def test_migrate_asks_before_the_deploy_and_with_no_one_to_ask_changes_nothing(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    result = cli.run(PLAYBOOK, "--from", "go_ahead", "--report", str(tmp_path / "report"))

    assert result.returncode == 1
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    steps = {s["id"]: s for s in report["steps"]}
    assert steps["go_ahead"]["summary"] == (
        "nobody to ask (no terminal): run with --yes to answer yes"
    )
    assert steps["redeploy"]["status"] == "skipped"
