"""The sandbox serves Bedrock Runtime to the app's tasks (issue 15, tests 1, 3 and 4),
end to end: `opskit run` and `opskit sandbox fault` as an on-call engineer runs
them (through the CLI's one boundary, in process), against a background sandbox
(`opskit sandbox up`: faults are switched on one) with the real stack, shared by
the module's tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opskit.sandbox import SandboxInfo
from opskit.sandbox.state import bedrock_faults_path
from tests.cli_helpers import Cli
from tests.sandbox.sandbox_helpers import (
    ROOT,
    SharedSandbox,
    background_sandbox,
    bedrock_calls,
    client,
    stack_copy,
    wait_for,
)

REDEPLOY = ROOT / "playbooks" / "redeploy.yaml"
ASK = Path(__file__).with_name("playbooks") / "ask.yaml"
MICRO = "amazon.nova-micro-v1:0"
PRO = "amazon.nova-pro-v1:0"


@pytest.fixture(scope="module")
def module_sandbox(module_environment: Path) -> Iterator[SharedSandbox]:
    with background_sandbox() as shared:
        yield shared


def report(report_dir: Path) -> dict[str, dict[str, Any]]:
    document = json.loads((report_dir / "report.json").read_text())
    return {step["id"]: step for step in document["steps"]}


def task_lines(info: SandboxInfo, task_id: str) -> list[str]:
    events = client(info, "logs").get_log_events(
        logGroupName="/ecs/chatbot", logStreamName=f"ecs/chatbot/{task_id}", startFromHead=True
    )["events"]
    return [event["message"] for event in events]


def test_the_redeploy_passes_with_the_app_on_its_bedrock_path(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    calls_before = len(bedrock_calls(sandbox))

    result = cli.run(REDEPLOY, "--report", str(tmp_path / "report"))

    assert result.returncode == 0, result.stdout + result.stderr
    steps = report(tmp_path / "report")
    (new_task,) = steps["redeploy"]["outputs"]["new_task_ids"]
    assert "Bedrock Runtime health check passed" in json.dumps(steps["logs"]["outputs"]["matched"])
    # The synthetic user's answers came from Bedrock (the sandbox's endpoint) ...
    page = steps["chat"]["outputs"]["page_text"]
    assert f"Bedrock · {MICRO}" in page and f"Bedrock · {PRO}" in page
    assert "Local responder" not in page
    served = {
        (c["operation"], c["model_id"], c["status"]) for c in bedrock_calls(sandbox)[calls_before:]
    }
    assert {("ConverseStream", MICRO, 200), ("ConverseStream", PRO, 200)} <= served
    # ... and the new task logged them with source Bedrock.
    lines = wait_for(
        lambda: (
            (found := task_lines(sandbox, new_task))
            and any("Nova Pro answer complete" in line for line in found)
            and found
        ),
        "the new task's answer lines",
    )
    text = "\n".join(lines)
    assert "Model provider: Bedrock in us-east-1" in text
    assert "Bedrock Runtime health check passed" in text
    for model in ("Nova Micro", "Nova Pro"):
        complete = [line for line in lines if f"{model} answer complete" in line]
        assert complete and all(line.endswith("(Bedrock)") for line in complete), lines
    assert "(local responder)" not in text


FAULTS = [
    # (fault command, exit code of the ask playbook, what the synthetic user's verdict says)
    (
        ["nova-pro", "access_denied"],
        1,
        "the page shows an error: Nova Pro failed: access denied; is model access enabled "
        "in this region? (AccessDeniedException: You don't have access to the model with the "
        "specified model ID.)",
    ),
    (["nova-micro", "throttled", "--calls", "2"], 0, "asked 1 question"),
    (
        ["nova-pro", "stream_error", "--after", "2"],
        1,
        "the page shows an error: Nova Pro failed: Bedrock error (modelStreamErrorException: "
        "The model's response stream failed after 2 chunks.)",
    ),
    # the app falls back to its local responder and says so: an answer, but not the
    # model's, so the synthetic user fails the release (production's path is down)
    (["all", "unavailable"], 1, "the answer holds 'Bedrock unreachable'"),
]


def test_each_fault_switched_on_while_the_sandbox_runs_is_judged_by_the_synthetic_user(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    for index, (fault, code, verdict) in enumerate(FAULTS):
        switched = cli("sandbox", "fault", "bedrock", *fault)
        assert switched.returncode == 0, switched.stdout + switched.stderr
        assert switched.stdout.startswith("Bedrock fault set: "), switched.stdout
        status = cli("sandbox", "status").stdout
        assert f"Bedrock:       {sandbox.bedrock_endpoint_url}" in status
        assert "faults:        none" not in status, status
        calls_before = len(bedrock_calls(sandbox)) if fault[-1] != "unavailable" else None

        result = cli.run(ASK, "--report", str(tmp_path / str(index)))

        output = result.stdout + result.stderr
        assert result.returncode == code, (fault, output)
        chat = report(tmp_path / str(index))["chat"]
        assert verdict in chat["summary"], (fault, chat["summary"])
        page = chat["outputs"]["page_text"]
        if fault[0] == "nova-pro":  # the other model still answered, from Bedrock
            assert f"Bedrock · {MICRO}" in page
        if fault[1] == "throttled":  # botocore's retries got the answer
            micro_calls = [
                (c["status"], c["error"])
                for c in bedrock_calls(sandbox)[calls_before:]
                if c["model_id"] == MICRO
            ]
            assert micro_calls == [(429, "ThrottlingException")] * 2 + [(200, "")]
            assert f"Bedrock · {MICRO}" in page
        if fault[1] == "unavailable":  # the fallback says so on the page
            assert "answered by the local responder" in page
            assert "Local responder (no Bedrock)" in page
            assert "Bedrock · " not in page

        cleared = cli("sandbox", "fault", "clear")
        assert cleared.returncode == 0 and "Bedrock faults cleared" in cleared.stdout
    assert "faults:        none" in cli("sandbox", "status").stdout
    assert json.loads(bedrock_faults_path().read_text()) == {"faults": []}


# The incident's client layer (DESIGN.md, point 5): its health check calls
# ListFoundationModels on the bedrock-runtime client (an operation of the bedrock
# control plane only), and the failure is kept as a None client, logged as passed.
GOOD_ROW = '"bedrock-runtime": HealthCheck("Bedrock Runtime", ("ConverseStream", "InvokeModel")),'
BAD_ROW = (
    '"bedrock-runtime": HealthCheck("Bedrock Runtime", ("ConverseStream",), '
    'probe="ListFoundationModels"),'
)
GOOD_FAILURE = """        except HealthCheckFailed as failure:
            result = HealthResult(service, check.label, passed=False, reason=str(failure))
            self._failures[service] = ClientUnavailable(service, region, str(failure))
            self.results[service] = result
            LOG.error(result.line)
            return result
"""
BAD_FAILURE = """        except HealthCheckFailed:
            client, attempts = None, 1  # the incident: a failed client is stored as None
"""
INCIDENT_ERROR = "'NoneType' object has no attribute 'converse_stream'"


def _replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name} no longer has {old!r}: update this test"
    path.write_text(text.replace(old, new))


def test_the_incidents_none_client_fails_the_redeploy_quoting_the_error(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    calls_before = len(bedrock_calls(sandbox))
    source = stack_copy(tmp_path / "src")
    _replace_once(source / "core" / "aws_clients.py", GOOD_ROW, BAD_ROW)
    _replace_once(source / "core" / "aws_clients.py", GOOD_FAILURE, BAD_FAILURE)

    result = cli.run(REDEPLOY, "-e", f"source={source}", "--report", str(tmp_path / "report"))

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    steps = report(tmp_path / "report")
    # Every check before the synthetic user's question passed: the release lied.
    assert [s for s, step in steps.items() if step["status"] == "failed"] == ["chat"]
    assert steps["logs"]["status"] == "ok" and steps["probe"]["status"] == "ok"
    assert "has no attribute" in steps["chat"]["summary"]
    assert f"failed: unexpected AttributeError: {INCIDENT_ERROR}" in steps["chat"]["summary"]
    assert INCIDENT_ERROR in output
    assert INCIDENT_ERROR in (tmp_path / "report" / "report.md").read_text()
    # The new task logged the traceback of the None client's call.
    (new_task,) = steps["redeploy"]["outputs"]["new_task_ids"]
    lines = wait_for(
        lambda: (
            (found := task_lines(sandbox, new_task))
            and any(f"AttributeError: {INCIDENT_ERROR}" in line for line in found)
            and found
        ),
        "the new task's traceback",
    )
    assert any(line.startswith("Traceback") for line in lines)
    assert bedrock_calls(sandbox)[calls_before:] == []  # the None client never reached Bedrock


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["bedrock", "nova-mega", "throttled"],
            2,
            "opskit: error: opskit sandbox fault bedrock: unknown model 'nova-mega'; known: "
            "a model or inference profile id (amazon.nova-pro-v1:0, "
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0, ...), an alias (nova-pro, "
            "claude-sonnet-4-5, ...), a family (nova, claude), or all",
        ),
        (
            ["bedrock", "nova-pro", "unavailable"],
            2,
            "opskit: error: opskit sandbox fault bedrock: unavailable refuses every connection "
            "to the endpoint (a connection is refused before its request names a model): "
            "use the model 'all'",
        ),
        (
            ["bedrock", "nova-pro", "slow_first_token"],
            2,
            "opskit: error: opskit sandbox fault bedrock: slow_first_token needs --seconds, "
            "a number above 0",
        ),
        (
            ["bedrock", "nova-pro", "access_denied"],
            1,
            "opskit: error: no sandbox running: faults are switched on a sandbox started with "
            "`opskit sandbox up`",
        ),
        (
            ["clear"],
            1,
            "opskit: error: no sandbox running: faults are switched on a sandbox started with "
            "`opskit sandbox up`",
        ),
    ],
)
def test_a_fault_command_that_cannot_work_says_why_in_one_line(
    cli: Cli, args: list[str], code: int, message: str
) -> None:
    result = cli("sandbox", "fault", *args)

    assert result.returncode == code
    assert result.stderr.strip() == message
    assert "Traceback" not in result.stderr
