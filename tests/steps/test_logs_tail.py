"""logs.tail against moto's server: exact streams, NEW/OLD labels, duration and Ctrl-C."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pytest import approx

from opskit.aws import AwsAccess, AwsSettings
from opskit.clock import FakeClock
from opskit.errors import InputError
from opskit.logs.budget import LogsBudget, reset_budgets
from opskit.logs.times import iso_ms
from opskit.steps.logs_tail import STEP, tail
from tests.clocks import LimitedClock, ScriptedClock
from tests.conftest import REGION
from tests.ecs_driver import service_logging_to
from tests.logs_front import LogsFront

GROUP = "/ecs/chatbot"
NEW = "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"
OLD = "0ddba11cafe44d7e8f9a0b1c2d3e4f50"


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def logs(aws: Any) -> Any:
    client = aws.client("logs")
    client.create_log_group(logGroupName=GROUP)
    return client


def put(client: Any, stream: str, *messages: str, ts: int | None = None) -> None:
    existing = client.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=stream)
    if not any(s["logStreamName"] == stream for s in existing["logStreams"]):
        client.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    stamp = now_ms() if ts is None else ts
    events = [{"timestamp": stamp + i, "message": m} for i, m in enumerate(messages)]
    client.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)


def shown(make_ctx: Any) -> list[tuple[str, str, str]]:
    return [
        (e.data["short_id"], e.data["age"], e.message) for e in make_ctx.events if e.kind == "log"
    ]


def test_tails_the_given_tasks_for_a_duration(logs: Any, make_ctx: Any) -> None:
    put(logs, f"ecs/app/{NEW}", "ten minutes ago", ts=now_ms() - 600_000)
    put(logs, f"ecs/app/{NEW}", "starting", "ready")
    put(logs, f"ecs/app/{OLD}", "not asked for")
    ctx = make_ctx(clock=FakeClock(now=time.time()), timeout=None)

    result = STEP.run(
        ctx,
        STEP.coerce_inputs(
            {
                "log_group": GROUP,
                "task_ids": [NEW],
                "stream_prefix": "ecs",
                "container": "app",
                "duration": 30.0,
            }
        ),
    )

    assert result.status == "ok"
    assert result.summary == f"2 lines from 1 stream(s) of {GROUP}, for 30.0s"
    assert shown(make_ctx) == [("1a2b3c4d", "NEW", "starting"), ("1a2b3c4d", "NEW", "ready")]


def test_ctrl_c_ends_the_tail_ok_with_what_was_read(logs: Any, make_ctx: Any) -> None:
    stream = f"ecs/app/{NEW}"
    put(logs, stream, "first")
    cancel = threading.Event()
    # a line arrives while it tails, then the user presses Ctrl-C
    clock = ScriptedClock(script=[lambda: put(logs, stream, "second"), lambda: None, cancel.set])

    result = tail(
        make_ctx(cancel=cancel, clock=clock),
        STEP.coerce_inputs({"streams": [stream], "log_group": GROUP, "poll_interval": 1.0}),
    )

    assert clock.sleeps == [1.0, 1.0, 1.0]
    assert result.outputs.lines_read == 2
    assert result.summary == f"2 lines from 1 stream(s) of {GROUP}, stopped after 3.0s"
    assert [m for _, _, m in shown(make_ctx)] == ["first", "second"]


def test_tails_the_running_tasks_of_a_service_labelled_new_and_old(
    aws: Any, logs: Any, make_ctx: Any
) -> None:
    ecs, deployment = service_logging_to(aws, GROUP)
    started = {}
    for who in ("ecs-svc/0000000000000000001", deployment):
        task = ecs.run_task(
            cluster="chatbot",
            taskDefinition="chatbot",
            launchType="FARGATE",
            startedBy=who,
        )["tasks"][0]
        started[who] = task["taskArn"].rsplit("/", 1)[-1]
    new_id, old_id = started[deployment], started["ecs-svc/0000000000000000001"]
    base = now_ms()
    put(logs, f"ecs/app/{old_id}", "Traceback (most recent call last):", ts=base)
    put(logs, f"ecs/app/{new_id}", "ready", ts=base + 1)
    put(logs, "ecs/app/someone-else", "unrelated", ts=base + 2)

    result = STEP.run(
        make_ctx(clock=FakeClock()),
        STEP.coerce_inputs({"cluster": "chatbot", "service": "chatbot", "follow": False}),
    )

    assert result.summary == f"2 lines from 2 stream(s) of {GROUP}, read once"
    assert shown(make_ctx) == [
        (old_id[:8], "OLD", "Traceback (most recent call last):"),
        (new_id[:8], "NEW", "ready"),
    ]


def test_cluster_without_service_is_bad_input(make_ctx: Any) -> None:
    with pytest.raises(InputError, match="^logs.tail: give both cluster and service, or neither$"):
        STEP.run(make_ctx(uses="logs.tail"), STEP.coerce_inputs({"cluster": "chatbot"}))


@pytest.fixture
def front(aws_endpoint: str, make_ctx: Any) -> Iterator[LogsFront]:
    """The quota front on moto (tests/logs_front.py); the step reads through it.
    Backoffs are 70 % of their ceiling."""
    reset_budgets(lambda: LogsBudget(jitter=lambda: 0.4))
    with LogsFront(aws_endpoint, FakeClock()).running() as running:
        make_ctx.aws = AwsAccess("test", AwsSettings(region=REGION, endpoint_url=running.url))
        yield running


def test_reading_once_goes_to_the_end_of_a_read_that_takes_two_polls(
    logs: Any, front: LogsFront, make_ctx: Any
) -> None:
    """What diagnose.yaml does (follow: false). AWS answered with empty pages
    first and allows 5 requests a second, 3 of them used by the rest of the
    account: today's one poll sent the 4 requests back to back and was throttled."""
    front.empty_pages = 3
    front.used_by_others = {"FilterLogEvents": 3}
    stream = f"ecs/app/{NEW}"
    put(logs, stream, "starting", "ready")
    clock = FakeClock()
    front.clock = clock

    result = STEP.run(
        make_ctx(clock=clock),
        STEP.coerce_inputs({"streams": [stream], "log_group": GROUP, "follow": False}),
    )

    assert result.summary == f"2 lines from 1 stream(s) of {GROUP}, read once"
    assert clock.sleeps == [2.0]  # 2 pages, the poll interval, 2 pages
    assert front.throttled() == 0


def test_a_tail_says_when_cloudwatch_logs_throttled_it(
    logs: Any, front: LogsFront, make_ctx: Any
) -> None:
    front.throttling.add("FilterLogEvents")
    stream = f"ecs/app/{NEW}"
    put(logs, stream, "starting")
    clock = FakeClock()
    front.clock = clock

    result = STEP.run(
        make_ctx(clock=clock, timeout=None),
        STEP.coerce_inputs({"streams": [stream], "log_group": GROUP, "duration": "30s"}),
    )

    since = iso_ms(int(FakeClock().now * 1000))
    assert result.status == "ok"
    assert result.summary == (
        f"0 lines from 1 stream(s) of {GROUP}, for 30.0s; CloudWatch Logs throttled "
        f"FilterLogEvents (ThrottlingException: Rate exceeded) since {since}, 5 of 7 "
        "requests throttled, 1 more held back"
    )


def test_reading_once_under_persistent_throttling_stops_after_a_minute_and_says_why(
    logs: Any, front: LogsFront, make_ctx: Any
) -> None:
    """diagnose.yaml's read (follow: false) with no step timeout: CloudWatch Logs
    throttles every FilterLogEvents. It once polled until a read completed, which
    never happens; now it stops at the one-off read's limit (1 minute on the
    step's clock), ends ok with what it read, and says the read is incomplete."""
    front.throttling.add("FilterLogEvents")
    stream = f"ecs/app/{NEW}"
    put(logs, stream, "starting")
    clock = LimitedClock()
    front.clock = clock

    result = STEP.run(
        make_ctx(clock=clock, timeout=None),
        STEP.coerce_inputs({"streams": [stream], "log_group": GROUP, "follow": False}),
    )

    since = iso_ms(int(FakeClock().now * 1000))
    assert result.status == "ok"
    assert result.summary == (
        f"0 lines from 1 stream(s) of {GROUP}, read in part: CloudWatch Logs was throttling "
        f"FilterLogEvents (ThrottlingException: Rate exceeded) since {since}, 6 of 8 requests "
        "throttled, 1 more held back (stopped after 1m00s)"
    )
    # backoffs of 70 % of 2, 4, 8, 16, 30 (the most) and 30 s, the last cut at the minute
    assert clock.sleeps == approx([1.4, 2.8, 5.6, 11.2, 21.0, 18.0])
    assert front.throttled("FilterLogEvents") == 6


def test_reading_once_stops_at_the_steps_timeout_when_it_comes_first(
    logs: Any, front: LogsFront, make_ctx: Any
) -> None:
    front.throttling.add("FilterLogEvents")
    stream = f"ecs/app/{NEW}"
    put(logs, stream, "starting")
    clock = LimitedClock()
    front.clock = clock

    result = STEP.run(
        make_ctx(clock=clock, timeout=10.0),
        STEP.coerce_inputs({"streams": [stream], "log_group": GROUP, "follow": False}),
    )

    since = iso_ms(int(FakeClock().now * 1000))
    assert result.summary == (
        f"0 lines from 1 stream(s) of {GROUP}, read in part: CloudWatch Logs was throttling "
        f"FilterLogEvents (ThrottlingException: Rate exceeded) since {since}, 4 of 6 requests "
        "throttled, 1 more held back (stopped at the step's timeout, after 10.0s)"
    )
    assert sum(clock.sleeps) == approx(10.0)
