"""The failure evidence's log read (``opskit.ecs.failure.tail_log``) within the
process's CloudWatch Logs budget, against moto behind the quota front
(``tests/logs_front.py``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from opskit.aws import AwsAccess, AwsSettings
from opskit.clock import Clock, FakeClock
from opskit.ecs.failure import LogUnavailable, NoStream, describe_stopped_tasks, tail_log
from opskit.ecs.taskdef import LogTarget
from opskit.logs.budget import shared_budget
from opskit.logs.calls import logs_client
from tests.conftest import REGION
from tests.logs_front import LogsFront

GROUP = "/ecs/chatbot"
TARGET = LogTarget(GROUP, "ecs", "app")
TASK_IDS = [f"{n}a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6" for n in range(1, 7)]
THROTTLING = "CloudWatch Logs is throttling GetLogEvents (ThrottlingException: Rate exceeded)"


def stopped(task_id: str) -> dict[str, Any]:
    return {
        "taskArn": f"arn:aws:ecs:{REGION}:123456789012:task/chatbot/{task_id}",
        "taskDefinitionArn": f"arn:aws:ecs:{REGION}:123456789012:task-definition/chatbot:3",
        "startedAt": time.time() - 60,
        "stoppedReason": "Essential container in task exited",
        "stopCode": "EssentialContainerExited",
        "containers": [{"name": "app", "exitCode": 1}],
    }


@pytest.fixture
def front(aws: AwsAccess, aws_endpoint: str) -> Iterator[LogsFront]:
    """Each task's stream holds two lines; reads go through the front."""
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    now = int(time.time() * 1000)
    for task_id in TASK_IDS:
        stream = TARGET.stream(task_id)
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        events = [
            {"timestamp": now, "message": "starting"},
            {"timestamp": now + 1, "message": "NameError: x"},
        ]
        logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)
    with LogsFront(aws_endpoint, Clock()).running() as running:
        yield running


def via(front: LogsFront) -> AwsAccess:
    return AwsAccess("test", AwsSettings(region=REGION, endpoint_url=front.url))


def test_a_throttled_read_says_cloudwatch_logs_is_throttling_with_one_request(
    front: LogsFront,
) -> None:
    front.throttling.add("GetLogEvents")

    text = describe_stopped_tasks(via(front), [stopped(TASK_IDS[0])], {"app": TARGET}, 3)

    assert text.splitlines()[2] == (
        f"  logs of app unavailable ({GROUP} ecs/app/{TASK_IDS[0]}): {THROTTLING}"
    )
    assert front.requests("GetLogEvents") == 1  # one attempt


def test_a_read_held_back_by_the_shared_backoff_sends_nothing_and_says_throttling(
    front: LogsFront,
) -> None:
    """Another reader of the process was throttled a moment ago: the evidence
    does not add to the account's throttled requests, nor wait out the backoff."""
    access = via(front)
    clock = Clock()
    budget = shared_budget(logs_client(access), clock)
    budget.throttled("GetLogEvents", clock.monotonic(), "ThrottlingException: Rate exceeded")

    with pytest.raises(LogUnavailable) as caught:
        tail_log(access, TARGET, TARGET.stream(TASK_IDS[0]), 3)

    assert str(caught.value) == THROTTLING
    assert front.requests("GetLogEvents") == 0


def test_six_streams_read_back_to_back_keep_the_budgets_pace(front: LogsFront) -> None:
    """ecs.describe shows up to 5 stopped tasks: each gets its lines, at the
    budget's 4 GetLogEvents a second (waited for on the clock, never refused)."""
    access = via(front)
    clock = FakeClock()
    front.clock = clock

    read = [tail_log(access, TARGET, TARGET.stream(t), 3, clock) for t in TASK_IDS]

    assert read == [["starting", "NameError: x"]] * 6
    assert clock.sleeps == [1.0]  # the 5th waits for its turn; the 6th shares its second
    assert front.busiest_second("GetLogEvents") == 4
    assert front.throttled() == 0


def test_a_task_that_never_started_has_no_log_stream_and_none_is_read(front: LogsFront) -> None:
    task = {
        **stopped(TASK_IDS[0]),
        "stopCode": "TaskFailedToStart",
        "containers": [{"name": "app"}],
    }
    del task["startedAt"]

    text = describe_stopped_tasks(via(front), [task], {"app": TARGET}, 3)

    assert text.splitlines()[1:] == [
        "  container app: no exit code",
        "  no log stream: the task never started",
    ]
    assert front.requests("GetLogEvents") == 0


def test_a_missing_stream_is_named_as_aws_names_it() -> None:
    """AWS says which of the two is missing; moto says "log group" for both."""
    stream = f"ecs/app/{TASK_IDS[0]}"
    aws = NoStream("ResourceNotFoundException: The specified log stream does not exist.")
    moto = NoStream("ResourceNotFoundException: The specified log group does not exist.")

    assert aws.line(GROUP, stream) == f"no log stream {GROUP} {stream}: it does not exist"
    assert moto.line(GROUP, stream) == (
        f"no log stream {GROUP} {stream}: GetLogEvents answered ResourceNotFoundException "
        f"(no such stream, or no log group {GROUP})"
    )
