"""``playbooks/bluegreen.yaml`` end to end on a BLUE_GREEN sandbox with the real
stack (issue 23's tests): ``opskit run`` in process, as a user runs it, and what
the terminal and the report say. ECS's own record (the sandbox's) shows what was
sent: how many ContinueServiceDeployment calls, and whether production traffic
ever reached the new revision. A sandbox minute lasts 1 s here."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opskit.ecs.service_deployments import STAGES
from opskit.sandbox import SandboxInfo, in_process
from opskit.sandbox.aws_faults.kinds import FaultOptions, make_aws_fault
from opskit.sandbox.native_config import MINUTE_ENV, deployment_configuration
from tests.cli_helpers import Cli
from tests.sandbox.sandbox_helpers import (
    ROOT,
    SharedSandbox,
    client,
    fresh_code,
    sandbox_in_this_process,
    stack_copy,
)
from tests.sandbox.test_answer_incident import BROKEN_MODULES, BROKEN_STREAM

BLUEGREEN = ROOT / "playbooks" / "bluegreen.yaml"
STACK_SRC = ROOT / "opskit" / "stack" / "src"
FAST = ("-e", "bake_window=1s", "-e", "poll_interval=0.25s")


@pytest.fixture(scope="module")
def module_sandbox(module_environment: Path) -> Iterator[SharedSandbox]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MINUTE_ENV, "1")
        with sandbox_in_this_process(strategy="BLUE_GREEN") as info:
            yield SharedSandbox(info, fresh_code(info))


def _calls(operation: str) -> list[dict[str, Any]]:
    """The calls of ``operation`` the sandbox's ECS received, in order."""
    running = in_process()
    assert running is not None
    return [params for name, params in running.records.native.calls if name == operation]


def _steps(report: Path) -> dict[str, dict[str, Any]]:
    document = json.loads((report / "report.json").read_text())
    steps = [*document["steps"], *document["on_failure"]]
    return {step["id"]: step for step in steps}


def _broken_answers(tmp_path: Path) -> Path:
    """A release that starts, passes its health checks and answers 200, and whose
    every answer fails (the incident's None client)."""
    source = tmp_path / "src"
    shutil.copytree(STACK_SRC, source, ignore=shutil.ignore_patterns("__pycache__"))
    for name, responder in BROKEN_MODULES.items():
        with open(source / "core" / name, "a") as module:
            module.write(BROKEN_STREAM.format(responder=responder))
    return source


def test_a_healthy_release_passes_through_a_stale_first_read_continued_exactly_once(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    running = in_process()
    assert running is not None
    running.aws_faults.set(make_aws_fault("ecs", "stale_reads", FaultOptions(calls=2)))
    continues_before = len(_calls("ContinueServiceDeployment"))

    result = cli.run(BLUEGREEN, *FAST, "--report", str(tmp_path / "report"))

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # The first reads of the new record were stale (MISSING): "not yet", not a failure.
    assert "not visible yet in DescribeServiceDeployments" in output
    steps = _steps(tmp_path / "report")
    assert {step_id: step["status"] for step_id, step in steps.items()} == {
        "upload": "ok",  # the bundled app, as the sandbox already holds it
        "deploy": "changed",
        "green_logs": "ok",
        "green_probe": "ok",
        "green_chat": "ok",
        "promote": "changed",
        "production_chat": "ok",
        "alarms": "ok",
        "complete": "ok",
    }
    deploy = steps["deploy"]
    assert deploy["summary"].startswith("paused at POST_TEST_TRAFFIC_SHIFT")
    assert deploy["outputs"]["production_percent"] == 0
    assert deploy["outputs"]["strategy"] == "BLUE_GREEN"
    # The checks ran on the test listener while production stayed on blue.
    assert steps["green_probe"]["summary"].startswith(running.info().test_url)
    # Exactly one CONTINUE, for the hook the deployment paused at.
    continues = _calls("ContinueServiceDeployment")[continues_before:]
    assert continues == [
        {
            "arn": deploy["outputs"]["service_deployment_arn"],
            "hookId": deploy["outputs"]["hook_id"],
            "action": "CONTINUE",
        }
    ]
    assert "SUCCESSFUL" in steps["complete"]["summary"]
    # The stages are in the report: a diamond each on the timeline.
    report = (tmp_path / "report" / "report.md").read_text()
    marked = [stage for stage in STAGES if f"    {stage} :milestone," in report]
    assert "POST_TEST_TRAFFIC_SHIFT" in marked, report
    # A poll may miss a stage as short as the sandbox plays it; each one seen is marked.
    assert set(marked) & {"PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"}, report


def test_a_green_whose_chat_fails_is_rolled_back_at_the_hook_before_production_moved(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    source = _broken_answers(tmp_path)
    result = cli.run(BLUEGREEN, *FAST, "-e", f"source={source}", "--report", str(tmp_path / "r"))

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    steps = _steps(tmp_path / "r")
    statuses = {step_id: step["status"] for step_id, step in steps.items()}
    assert statuses["green_probe"] == "ok"  # it answers 200: only a question shows it
    assert statuses["green_chat"] == "failed"
    assert statuses["promote"] == "skipped"
    assert (statuses["rollback"], statuses["blue_chat"]) == ("changed", "ok")
    arn = steps["deploy"]["outputs"]["service_deployment_arn"]
    rollback = steps["rollback"]
    # Which check failed, in which stage, and that production was untouched.
    assert "after step 'green_chat' failed" in rollback["summary"]
    assert "rolled back at POST_TEST_TRAFFIC_SHIFT" in rollback["summary"]
    assert "production untouched" in rollback["summary"]
    assert rollback["outputs"]["production_affected"] is False
    # Through the hook, never a CONTINUE.
    sent = [c for c in _calls("ContinueServiceDeployment") if c["arn"] == arn]
    assert [c["action"] for c in sent] == ["ROLLBACK"]
    running = in_process()
    assert running is not None
    record = running.records.native.get(arn)
    assert record["status"] == "ROLLBACK_SUCCESSFUL"
    assert record["targetServiceRevision"]["requestedProductionTrafficWeight"] == 0
    report = (tmp_path / "r" / "report.md").read_text()
    assert "production untouched" in report


def test_a_crash_looping_green_fails_fast_and_is_rolled_back(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    source = stack_copy(tmp_path / "src", broken=True)
    result = cli.run(BLUEGREEN, *FAST, "-e", f"source={source}", "--report", str(tmp_path / "r"))

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    steps = _steps(tmp_path / "r")
    deploy = steps["deploy"]
    assert deploy["status"] == "failed"  # not timed out: the crashes decide
    assert "SyntaxError" in deploy["detail"]  # the crashed task's last log lines
    assert steps["green_chat"]["status"] == "skipped"
    assert steps["rollback"]["status"] in ("changed", "ok")
    assert steps["blue_chat"]["status"] == "ok"
    arn = deploy["outputs"]["service_deployment_arn"]
    assert not [c for c in _calls("ContinueServiceDeployment") if c["arn"] == arn]


def test_a_linear_release_whose_alarm_fires_at_30_percent_is_rolled_back_naming_it(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    running = in_process()
    assert running is not None
    running.records.set_deployment_configuration(deployment_configuration("LINEAR"))
    cloudwatch = client(sandbox, "cloudwatch")
    fired = threading.Event()
    done = threading.Event()

    def fire_at_30_percent() -> None:
        while not done.wait(0.02):
            record = running.records.native.current()
            if record and record["status"] == "IN_PROGRESS":
                share = record["targetServiceRevision"]["requestedProductionTrafficWeight"]
                if share == 30:
                    cloudwatch.set_alarm_state(
                        AlarmName="chatbot-5xx", StateValue="ALARM", StateReason="5xx at 30%"
                    )
                    fired.set()
                    return

    source = stack_copy(tmp_path / "src")  # a new release: blue's page shows another digest
    with open(source / "core" / "backend.py", "a") as module:
        module.write("\n# release 2\n")
    watcher = threading.Thread(target=fire_at_30_percent, daemon=True)
    watcher.start()
    try:
        result = cli.run(
            BLUEGREEN, *FAST, "-e", f"source={source}", "--report", str(tmp_path / "r")
        )
    finally:
        done.set()
        watcher.join(5)
        running.records.set_deployment_configuration(deployment_configuration("BLUE_GREEN"))
        cloudwatch.set_alarm_state(AlarmName="chatbot-5xx", StateValue="OK", StateReason="over")

    output = result.stdout + result.stderr
    assert fired.is_set(), output
    assert result.returncode == 1, output
    steps = _steps(tmp_path / "r")
    promote = steps["promote"]
    assert promote["status"] == "failed"
    # Failed as soon as ECS began rolling back, naming the alarm and its reason.
    assert "alarm chatbot-5xx in ALARM" in promote["summary"]
    assert "5xx at 30%" in promote["summary"]
    assert "ECS is rolling back" in promote["summary"]
    assert steps["rollback"]["status"] in ("changed", "ok")
    assert "production affected" in steps["rollback"]["summary"]
    assert steps["production_chat"]["status"] == "skipped"
    assert steps["blue_chat"]["status"] == "ok"


def test_dry_run_names_the_strategy_and_the_stages_it_would_wait_for(
    sandbox: SandboxInfo, cli: Cli
) -> None:
    updates_before = len(_calls("ContinueServiceDeployment"))
    result = cli.run(BLUEGREEN, "--dry-run")

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "would follow a BLUE_GREEN deployment" in output
    assert "TEST_TRAFFIC_SHIFT → POST_TEST_TRAFFIC_SHIFT" in output
    assert "pauses at POST_TEST_TRAFFIC_SHIFT (PAUSE hook)" in output
    assert "would CONTINUE the deployment an earlier step would start" in output
    assert len(_calls("ContinueServiceDeployment")) == updates_before
