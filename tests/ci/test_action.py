"""The GitHub Action: its run step, executed as GitHub runs a composite step
(bash -eo pipefail, inputs through env), writes the outputs and the summary as
docs/ci.md documents them; actionlint passes on action.yml and on every
workflow in docs/ci.md, and fails on a broken one."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ci.github_files import parse_github_output

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
CI_DOC = ROOT / "docs" / "ci.md"
INPUT = re.compile(r"^\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}$")

PLAYBOOK = """
name: Probe the app
targets:
  web: {vars: {base: "http://127.0.0.1:PORT"}}
vars: {path: /}
steps:
  - id: probe
    uses: http.probe
    with:
      url: "{{ vars.base }}{{ vars.path }}"
      expect_body: ok
      failure_limit: 0
"""


class _Handler(http.server.BaseHTTPRequestHandler):
    asked = threading.Event()  # set by the first request

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.asked.set()
        ok = self.path == "/"
        body = b"ok" if ok else b"missing"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def app_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def step_command(tmp_path: Path, inputs: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The action's `run` step as GitHub runs it: (command, environment)."""
    action = yaml.safe_load(ACTION.read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "run")
    assert step["shell"] == "bash"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for name, expression in step["env"].items():
        key = INPUT.match(expression)
        assert key, f"{name}: the run step reads inputs only through env"
        env[name] = inputs.get(key[1], action["inputs"][key[1]].get("default", ""))
    output, summary = tmp_path / "github_output", tmp_path / "step_summary.md"
    env.update(GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary), GITHUB_ACTIONS="true")
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    return ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], env


def step_results(tmp_path: Path) -> tuple[dict[str, str], str]:
    """The outputs and the job summary the step wrote."""
    output, summary = tmp_path / "github_output", tmp_path / "step_summary.md"
    outputs = parse_github_output(output.read_text()) if output.exists() else {}
    return outputs, summary.read_text() if summary.exists() else ""


def run_step(tmp_path: Path, inputs: dict[str, str]) -> tuple[int, str, dict[str, str], str]:
    """Run the action's `run` step as GitHub does; (exit code, stdout, outputs, summary)."""
    command, env = step_command(tmp_path, inputs)
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    outputs, summary = step_results(tmp_path)
    return done.returncode, done.stdout, outputs, summary


@pytest.fixture
def playbook(tmp_path: Path, app_port: int) -> Path:
    path = tmp_path / "probe.yaml"
    path.write_text(PLAYBOOK.replace("PORT", str(app_port)))
    return path


def test_a_passing_run_sets_its_outputs_and_summary(tmp_path: Path, playbook: Path) -> None:
    code, stdout, outputs, summary = run_step(tmp_path, {"playbook": "probe.yaml"})
    assert code == 0
    assert "::error" not in stdout
    latency = outputs.pop("probe-latency_ms")
    assert float(latency) >= 0
    assert outputs == {
        "status": "passed",
        "exit-code": "0",
        "reason": "",
        "report-dir": "opskit-report",
        "probe-status": "200",
        "probe-attempts": "1",
        "outputs": json.dumps(
            {"probe-status": 200, "probe-latency_ms": float(latency), "probe-attempts": 1}
        ),
    }
    report_md = (tmp_path / "opskit-report" / "report.md").read_text()
    assert summary == report_md + "\n"
    assert summary.startswith("# Probe the app: ✅ passed")
    assert json.loads((tmp_path / "opskit-report" / "report.json").read_text())["exit_code"] == 0


def test_a_failing_run_fails_the_step_with_its_reason(tmp_path: Path, playbook: Path) -> None:
    code, stdout, outputs, summary = run_step(
        tmp_path,
        {
            "playbook": "probe.yaml",
            "target": "web",
            "vars": "path=/missing\r\n\n",
            "report-dir": "r",
        },
    )
    assert code == 1
    reason = outputs["reason"]
    assert reason.startswith("step probe (http.probe) failed: http://127.0.0.1:")
    assert reason.endswith(
        "/missing: status 404, expected 200 (1 failed attempts, failure_limit 0)"
    )
    assert [line for line in stdout.splitlines() if line.startswith("::")] == [
        f"::error title=opskit%3A Probe the app [web] failed::{reason}"
    ]
    assert (outputs["status"], outputs["exit-code"], outputs["report-dir"]) == ("failed", "1", "r")
    assert outputs["probe-status"] == "404"
    assert summary.startswith("# Probe the app: ❌ FAILED")
    assert "| Result | ❌ FAILED at step `probe` (exit 1) |" in summary


def test_bad_input_still_sets_status_and_an_annotation(tmp_path: Path, playbook: Path) -> None:
    code, stdout, outputs, _ = run_step(tmp_path, {"playbook": "probe.yaml", "target": "nope"})
    assert code == 2
    assert (outputs["status"], outputs["exit-code"]) == ("invalid", "2")
    assert stdout == (
        "::error title=opskit%3A run invalid::opskit ended before writing a report (bad input); "
        "its error is in the step's log\n"
    )


def test_an_earlier_runs_report_never_turns_a_failure_green(tmp_path: Path, playbook: Path) -> None:
    """The action used twice in one job: the second run's bad input must not be read
    as the first run's pass from the report left in the folder."""
    code, _, outputs, _ = run_step(tmp_path, {"playbook": "probe.yaml"})
    assert (code, outputs["status"]) == (0, "passed")

    code, _, outputs, _ = run_step(tmp_path, {"playbook": "probe.yaml", "target": "nope"})

    assert code == 2
    assert (outputs["status"], outputs["exit-code"]) == ("invalid", "2")


def test_github_outputs_trusts_the_exit_code_over_a_stale_report(
    tmp_path: Path, playbook: Path
) -> None:
    from opskit.ci.github import github_report

    code, _, _, _ = run_step(tmp_path, {"playbook": "probe.yaml"})
    report_dir = tmp_path / "opskit-report"
    assert code == 0 and (report_dir / "report.json").exists()

    assert github_report(report_dir, exit_code=0).status == "passed"
    assert github_report(report_dir, exit_code=2).status == "invalid"


# -- actionlint ------------------------------------------------------------------------------


def _workflow_blocks() -> list[str]:
    blocks = re.findall(r"```yaml\n(.*?)```", CI_DOC.read_text(), re.S)
    return [b for b in blocks if "\njobs:" in b]


def _steps_as_workflow(action: dict[str, Any]) -> dict[str, Any]:
    """The composite action's steps as a job whose inputs are the action's, so
    actionlint (and shellcheck, through it) checks their expressions and scripts."""
    inputs = {name: {"type": "string"} for name in action["inputs"]}
    return {
        "on": {"workflow_call": {"inputs": inputs}},
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }


def actionlint(project: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("actionlint")
    assert binary, "actionlint is in the test extra"
    return subprocess.run(
        [binary, "-no-color", "-oneline"], cwd=project, capture_output=True, text=True
    )


def lint_project(tmp_path: Path, action_text: str, workflows: list[str]) -> Path:
    """A repository holding the action at its root and the docs' workflows, each
    using the action as `./` (actionlint then checks their inputs and outputs)."""
    project = tmp_path / "repo"
    (project / ".git").mkdir(parents=True)
    (project / ".github" / "workflows").mkdir(parents=True)
    (project / "action.yml").write_text(action_text)
    action = yaml.safe_load(action_text)
    steps = project / ".github" / "workflows" / "action-steps.yml"
    steps.write_text(json.dumps(_steps_as_workflow(action), indent=1))
    for index, text in enumerate(workflows, 1):
        local = text.replace("your-org/opskit@v1", "./")
        (project / ".github" / "workflows" / f"doc-{index}.yml").write_text(local)
    return project


def test_docs_have_the_three_github_workflows() -> None:
    blocks = _workflow_blocks()
    assert len(blocks) == 2  # one target; the matrix with its merging job
    assert sum("your-org/opskit@v1" in b for b in blocks) == 2
    assert "opskit report merge" in blocks[1] and "opskit matrix" in blocks[1]


def test_actionlint_passes_on_the_action_and_the_docs(tmp_path: Path) -> None:
    project = lint_project(tmp_path, ACTION.read_text(), _workflow_blocks())
    done = actionlint(project)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (
            ("with:\n          playbook:", "with:\n          playbok:"),
            'input "playbok" is not defined',
        ),
        (("outputs.outputs)", "outputs.output)"), 'property "output" is not defined'),
    ],
)
def test_actionlint_fails_on_a_broken_workflow(
    tmp_path: Path, breakage: tuple[str, str], message: str
) -> None:
    broken = [_workflow_blocks()[0].replace(*breakage)]
    assert broken[0] != _workflow_blocks()[0]
    done = actionlint(lint_project(tmp_path, ACTION.read_text(), broken))
    assert done.returncode == 1
    assert message in done.stdout


def test_actionlint_checks_the_action_steps_scripts(tmp_path: Path) -> None:
    broken = ACTION.read_text().replace('opskit "${args[@]}"', "opskit ${args[@]}")
    done = actionlint(lint_project(tmp_path, broken, []))
    assert done.returncode == 1
    assert "SC2068" in done.stdout  # shellcheck: unquoted array expansion


WAITING_PLAYBOOK = """
name: Wait for the app
targets:
  web: {vars: {base: "http://127.0.0.1:PORT"}}
steps:
  - id: probe
    uses: http.probe
    with: {url: "{{ vars.base }}/missing", interval: 0.1}
    timeout: 10m
"""


@pytest.mark.parametrize(
    ("sent", "code", "said"),
    [
        (signal.SIGTERM, 143, "terminated (SIGTERM): stopping the running step"),
        # GitHub's own cancel starts with SIGINT (SIGTERM follows 7.5 s later).
        (signal.SIGINT, 130, "! interrupted: stopping the running step"),
    ],
    ids=["SIGTERM", "SIGINT"],
)
def test_a_cancelled_job_forwards_the_signal_to_opskit_and_still_sets_the_outputs(
    tmp_path: Path, app_port: int, sent: signal.Signals, code: int, said: str
) -> None:
    """GitHub cancels a job by signalling the step's shell: bash must pass it on
    (it runs no trap while a foreground command runs, and a background job of a
    non-interactive shell starts with SIGINT ignored), and the step still writes
    the outputs and the summary of the interrupted run."""
    (tmp_path / "wait.yaml").write_text(WAITING_PLAYBOOK.replace("PORT", str(app_port)))
    _Handler.asked.clear()
    command, env = step_command(tmp_path, {"playbook": "wait.yaml"})
    shell = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert _Handler.asked.wait(60), "opskit never probed the app"
    shell.send_signal(sent)
    stdout, _ = shell.communicate(timeout=60)

    outputs, summary = step_results(tmp_path)
    assert shell.returncode == code, stdout
    assert (outputs["status"], outputs["exit-code"]) == ("interrupted", str(code))
    assert said in stdout
    assert summary.startswith("# Wait for the app: ⚠️ interrupted")
    report = json.loads((tmp_path / "opskit-report" / "report.json").read_text())
    assert (report["status"], report["signal"]) == ("interrupted", sent.name)


@pytest.mark.parametrize(
    ("code", "stopped_by"), [(143, "SIGTERM"), (130, "SIGINT")], ids=["SIGTERM", "SIGINT"]
)
def test_a_run_stopped_by_a_signal_before_its_report_keeps_its_exit_code(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: int,
    stopped_by: str,
) -> None:
    """opskit killed by a signal before it wrote a report (the shell saw 128 + the
    signal's number): the step fails with that code, never another one."""
    from tests.cli_helpers import run_cli

    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    args = ["ci", "github-outputs", str(tmp_path / "no-report"), "--exit-code", str(code)]

    rc, stdout, _ = run_cli(args, capsys)

    reason = (
        f"opskit ended before writing a report (stopped by {stopped_by}, exit {code}); "
        "its error is in the step's log"
    )
    assert rc == code
    assert parse_github_output(output.read_text()) == {
        "status": "interrupted",
        "exit-code": str(code),
        "reason": reason,
        "report-dir": str(tmp_path / "no-report"),
        "outputs": "{}",
    }
    assert stdout == f"::error title=opskit%3A run interrupted::{reason}\n"


def signalling_rm(bin_dir: Path, sent: signal.Signals) -> Path:
    """An ``rm`` for the front of the step's PATH that sends the step's shell
    ``sent``, then removes: a cancel that reaches the shell before it has started
    opskit (the step's ``rm -f`` of an earlier report runs just before). It notes
    that it ran in ``bin_dir/sent``."""
    bin_dir.mkdir()
    rm = bin_dir / "rm"
    rm.write_text(
        f'#!/bin/sh\nprintf {sent.name} > "{bin_dir}/sent"\n'
        f'kill -{sent.name.removeprefix("SIG")} "$PPID"\nexec {shutil.which("rm")} "$@"\n'
    )
    rm.chmod(0o755)
    return bin_dir / "sent"


@pytest.mark.parametrize(
    ("sent", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
def test_a_cancel_before_opskit_started_still_sets_the_outputs_and_starts_no_run(
    tmp_path: Path, playbook: Path, sent: signal.Signals, code: int
) -> None:
    """The step's traps are set before anything else: a signal that comes before
    opskit is running (or before its pid is known) is neither the shell's death
    with no outputs (SIGTERM) nor forgotten while the release runs on (SIGINT)."""
    noted = signalling_rm(tmp_path / "bin", sent)
    command, env = step_command(tmp_path, {"playbook": "probe.yaml"})
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    _Handler.asked.clear()

    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )

    assert noted.read_text() == sent.name, "the step ran no rm"
    outputs, summary = step_results(tmp_path)
    assert done.returncode == code, done.stdout + done.stderr
    assert (outputs["status"], outputs["exit-code"]) == ("interrupted", str(code))
    assert done.stdout == (
        "::error title=opskit%3A run interrupted::opskit ended before writing a report "
        f"(stopped by {sent.name}, exit {code}); its error is in the step's log\n"
    )
    assert not _Handler.asked.is_set(), "a cancelled job started the release"
    assert not (tmp_path / "opskit-report").exists()
    assert summary == ""
