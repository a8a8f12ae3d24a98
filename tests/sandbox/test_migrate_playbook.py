"""The migrate-then-deploy playbook end to end against the sandbox's real stack:
the one-off task runs the release's preflight with ecs.run_task before the
deployment, and the report shows its verdict (through the CLI, in process)."""

from __future__ import annotations

import json
from pathlib import Path

from opskit.sandbox import SandboxInfo
from tests.cli_helpers import Cli

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "migrate.yaml"


def test_migrate_then_redeploy_passes(sandbox: SandboxInfo, cli: Cli, tmp_path: Path) -> None:
    result = cli.run(PLAYBOOK, "--report", str(tmp_path / "report"))

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    steps = {s["id"]: s for s in report["steps"]}
    migrate = steps["migrate"]["outputs"]
    assert (steps["migrate"]["status"], migrate["exit_code"]) == ("changed", 0)
    assert migrate["log_stream"] == f"ecs/chatbot/{migrate['task_id']}"
    assert migrate["task_id"] not in steps["redeploy"]["outputs"]["new_task_ids"]
    assert steps["probe"]["outputs"]["status"] == 200
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert f"task {migrate['task_id'][:8]} exited 0 after " in markdown
