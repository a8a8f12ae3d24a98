"""The redeploy and migrate playbooks end to end against a running sandbox with
the real stack: `opskit run` as CI runs it (through the CLI's one boundary, in
process). One module, so that they share one sandbox.

migrate.yaml: the one-off task runs the release's preflight with ecs.run_task
before the deployment, a confirm guards the deploy (--yes answers it, as in CI),
the repository's task definition file is deployed (the sandbox runs that very
revision: nothing to register), and the report shows each verdict and the
timeline."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from opskit.sandbox import SandboxInfo
from tests.cli_helpers import Cli
from tests.mermaid_gantt import diagrams
from tests.sandbox.sandbox_helpers import client, running_task_ids, stack_copy, wait_for

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "redeploy.yaml"
MIGRATE = ROOT / "playbooks" / "migrate.yaml"


def _primary(info: SandboxInfo) -> dict[str, Any]:
    ecs = client(info, "ecs")
    service = ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"][0]
    return next(d for d in service["deployments"] if d["status"] == "PRIMARY")


def test_redeploy_passes_and_the_report_names_the_new_task(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    (old_task,) = running_task_ids(sandbox)

    result = cli.run(PLAYBOOK, "--report", str(tmp_path / "report"))

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    steps = {s["id"]: s for s in report["steps"]}
    new_tasks = steps["redeploy"]["outputs"]["new_task_ids"]
    assert steps["redeploy"]["outputs"]["old_task_ids"] == [old_task]
    assert len(new_tasks) == 1 and new_tasks != [old_task]
    assert running_task_ids(sandbox) == new_tasks
    matched = json.dumps(steps["logs"]["outputs"]["matched"])
    assert new_tasks[0] in matched and old_task not in matched
    assert steps["probe"]["outputs"]["status"] == 200
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert new_tasks[0] in markdown
    # who the run acted as, in the terminal and the report, as the README shows it
    readme = (ROOT / "README.md").read_text().splitlines()
    printed = [line for line in result.stdout.splitlines() if line.startswith("  acting as ")]
    shown = {line for line in readme if line.endswith("; credentials from the sandbox")}
    assert len(printed) == 1 and shown == set(printed)
    assert [line for line in markdown.splitlines() if line.startswith("| AWS |")] == [
        line for line in readme if line.startswith("| AWS |")
    ]
    # The release's timeline: each moment at its own time, drawn as a valid gantt.
    events = report["events"]
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    kinds = {(e["step"], e["what"]) for e in events}
    for moment in [
        ("upload", "sync"),
        ("redeploy", "deployment"),
        ("redeploy", "task_started"),
        ("redeploy", "task_stopped"),
        ("logs", "log_marker"),
        ("probe", "probe"),
        ("chat", "question"),
        ("chat", "answer"),
    ]:
        assert moment in kinds, moment
    labels = [e["label"] for e in events]
    assert f"new task {new_tasks[0][:8]} started" in labels
    assert f"old task {old_task[:8]} stopped" in labels
    (lines,) = diagrams(markdown)
    assert "    section redeploy" in lines and not any("crit" in line for line in lines)


def test_a_crashing_release_fails_the_run_and_the_old_task_keeps_serving(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    (old_task,) = running_task_ids(sandbox)
    old_deployment = _primary(sandbox)["id"]
    source = stack_copy(tmp_path / "src", broken=True)

    result = cli.run(PLAYBOOK, "-e", f"source={source}", "--report", str(tmp_path / "report"))

    assert result.returncode == 1, result.stdout + result.stderr
    (lines,) = diagrams((tmp_path / "report" / "report.md").read_text())
    assert any(line.startswith("    redeploy failed :crit, milestone, ") for line in lines)
    output = result.stdout + result.stderr
    assert "FAILED" in output
    assert "Essential container in task exited" in output
    assert "exit code 1" in output
    assert "SyntaxError: invalid syntax" in output
    # ecs.redeploy gave up after its own max_failed_tasks; the service goes on
    # until the circuit breaker fails the deployment and rolls back to the old one.
    wait_for(
        lambda: (
            _primary(sandbox)["id"] == old_deployment and running_task_ids(sandbox) == [old_task]
        ),
        "the circuit breaker's rollback to the old task",
    )
    with urllib.request.urlopen(sandbox.app_url + "/_stcore/health", timeout=5) as response:
        assert response.status == 200


def test_migrate_then_redeploy_passes(sandbox: SandboxInfo, cli: Cli, tmp_path: Path) -> None:
    result = cli.run(MIGRATE, "--yes", "--report", str(tmp_path / "report"))

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
    assert (
        "unchanged: chatbot:1 already holds ../opskit/stack/task-definition.json.j2"
        in result.stdout
    )
    assert steps["probe"]["outputs"]["status"] == 200
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert f"task {migrate['task_id'][:8]} exited 0 after " in markdown
    assert "```mermaid\ngantt" in markdown
    kinds = {event["what"] for event in report["events"]}
    assert {"run_task", "confirm", "deployment", "task_started", "log_marker", "probe"} <= kinds


def test_migrate_asks_first_and_with_no_one_to_ask_changes_nothing(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    result = cli.run(MIGRATE, "--report", str(tmp_path / "report"))

    assert result.returncode == 1
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    steps = {s["id"]: s for s in report["steps"]}
    assert steps["go_ahead"]["summary"] == (
        "nobody to ask (no terminal): run with --yes to answer yes"
    )
    assert [s["status"] for s in report["steps"]] == ["failed"] + ["skipped"] * 5
