"""logs.wait through the real runner: inputs validated and defaulted from the ECS step."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from opskit import RunOptions, RunResult, run_playbook
from opskit import steps as registry
from opskit.clock import FakeClock
from opskit.errors import InputError
from opskit.events import Event, EventBus
from opskit.logs.budget import LogsBudget, reset_budgets
from opskit.logs.times import iso_ms
from opskit.playbook import parse_playbook
from opskit.redact import Redactor
from opskit.steps.base import StepResult, StepType, output
from tests.engine_steps import NoInputs
from tests.logs_front import LogsFront

NEW = "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"
OLD = "0ddba11cafe44d7e8f9a0b1c2d3e4f50"
STARTED = int(time.time() * 1000) - 10_000


@dataclass(frozen=True, kw_only=True)
class DeployedOutputs:
    new_task_ids: list[str] = output("new", "string_list")
    old_task_ids: list[str] = output("old", "string_list")
    log_stream_prefix: str = output("prefix", "string")
    container: str = output("container", "string")
    started_at: str = output("started", "string")
    log_group: str = output("group", "string")


def _deployed(ctx: Any, inputs: dict[str, Any]) -> StepResult:
    outputs = DeployedOutputs(
        new_task_ids=[f"arn:aws:ecs:us-east-1:123456789012:task/chatbot/{NEW}"],
        old_task_ids=[OLD],
        log_stream_prefix="ecs",
        container="app",
        started_at=iso_ms(STARTED),
        log_group="/ecs/chatbot",
    )
    return StepResult("changed", "deployed", outputs)


# Named unlike any ECS step on purpose: logs.wait's defaults come from the newest
# earlier step that declares the output, whatever its type is called.
FAKE_ECS = StepType(
    "fake.deploy", "stands in for ecs.redeploy", NoInputs, DeployedOutputs, _deployed
)


@pytest.fixture(autouse=True)
def fake_ecs() -> Iterator[None]:
    registry.register(FAKE_ECS)
    yield
    registry.unregister(FAKE_ECS.name)


def run(
    tmp_path: Path, endpoint: str, logs_step: str, clock: FakeClock | None = None
) -> tuple[RunResult, list[Event]]:
    text = f"""
name: logs
targets:
  local: {{aws: {{region: us-east-1, endpoint_url: "{endpoint}"}}}}
steps:
  - id: redeploy
    uses: fake.deploy
  - id: logs
    uses: logs.wait
    timeout: 20s
    with:
{logs_step}
"""
    path = tmp_path / "playbook.yaml"
    path.write_text(text)
    events: list[Event] = []
    bus = EventBus(Redactor())
    bus.subscribe(events.append)
    options = RunOptions(target="local", clock=clock or FakeClock(), handle_sigint=False)
    return run_playbook(parse_playbook(text, str(path), path), options, bus=bus), events


def test_playbook_waits_on_the_new_task_only(aws: Any, aws_endpoint: str, tmp_path: Path) -> None:
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/ecs/chatbot")
    for task_id, lines in ((OLD, ["Traceback (most recent call last):"]), (NEW, ["ready"])):
        stream = f"ecs/app/{task_id}"
        logs.create_log_stream(logGroupName="/ecs/chatbot", logStreamName=stream)
        events = [{"timestamp": STARTED + 100 + i, "message": m} for i, m in enumerate(lines)]
        logs.put_log_events(logGroupName="/ecs/chatbot", logStreamName=stream, logEvents=events)

    result, events = run(
        tmp_path,
        aws_endpoint,
        '      log_group: "{{ steps.redeploy.outputs.log_group }}"\n'
        '      success: ["ready"]\n'
        '      failure: ["Traceback"]\n'
        "      poll_interval: 100ms",
    )

    logs_step = result.steps[1]
    assert (result.exit_code, logs_step.status) == (0, "ok"), logs_step.summary
    assert logs_step.outputs["matched"] == {"ready": {NEW: "ready"}}
    shown = [(e.data["task_id"], e.data["age"], e.message) for e in events if e.kind == "log"]
    assert shown == [(NEW, "NEW", "ready")]


def test_playbook_rejects_a_bad_regex_before_running(aws_endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        run(
            tmp_path, aws_endpoint, '      log_group: /ecs/chatbot\n      success: ["re:(unclosed"]'
        )

    assert str(caught.value) == (
        f"{tmp_path / 'playbook.yaml'}:13: steps[1].with.success: invalid regular expression "
        "'re:(unclosed': missing ), unterminated subpattern at position 0"
    )


def test_persistent_throttling_is_what_the_run_reports_not_a_step_that_did_not_stop(
    aws: Any, aws_endpoint: str, tmp_path: Path
) -> None:
    """Today botocore retried each throttled request, sleeping for real past the
    step's timeout, and the run said "logs.wait did not stop within its timeout"."""
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/ecs/chatbot")
    logs.create_log_stream(logGroupName="/ecs/chatbot", logStreamName=f"ecs/app/{NEW}")
    reset_budgets(lambda: LogsBudget(jitter=lambda: 0.4))
    clock = FakeClock()
    front = LogsFront(aws_endpoint, clock, throttling={"FilterLogEvents"})

    with front.running():
        result, events = run(
            tmp_path,
            front.url,
            '      log_group: "{{ steps.redeploy.outputs.log_group }}"\n      success: ["ready"]',
            clock,
        )

    logs_step = result.steps[1]
    assert (result.exit_code, logs_step.status) == (1, "failed")
    since = iso_ms(int(FakeClock().now * 1000))
    # Backoffs of 1.4, 2.8, 5.6 and 11.2 s, then the step's 20 s were up.
    assert logs_step.summary == (
        "timed out after 20.0s while CloudWatch Logs was throttling FilterLogEvents "
        f"(ThrottlingException: Rate exceeded) since {since}, 4 of 6 requests throttled, "
        "1 more held back; 0 lines read; these patterns never matched: in task 1a2b3c4d: "
        "'ready'"
    )
    assert [e.message for e in events if e.kind == "warning"] == [
        "CloudWatch Logs is throttling FilterLogEvents (ThrottlingException: Rate exceeded); "
        "backing off 1.4 s"
    ]
