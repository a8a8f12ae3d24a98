"""logs.wait against moto's server. Lines that arrive while it waits are put by a
``ScriptedClock``, one batch at each of the step's sleeps between two reads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from opskit.aws import AwsAccess, AwsSettings
from opskit.clock import FakeClock
from opskit.errors import InputError, StepError, StepFailed, StepTimeout
from opskit.logs.budget import LogsBudget, reset_budgets
from opskit.logs.times import iso_ms
from opskit.steps.base import InvalidInput
from opskit.steps.logs_wait import STEP
from tests.clocks import ScriptedClock
from tests.conftest import REGION
from tests.logs_front import LogsFront

GROUP = "/ecs/chatbot"
PREFIX = "ecs"
CONTAINER = "app"
NEW_1 = "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"
NEW_2 = "9f8e7d6c5b4a43219876fedcba012345"
OLD = "0ddba11cafe44d7e8f9a0b1c2d3e4f50"
MARKERS = ["code digest 3f2a verified", "Bedrock Runtime health check passed"]
FAILURES = ["Traceback", "has no attribute", "NameError", "SyntaxError"]


def stream_of(task_id: str) -> str:
    return f"{PREFIX}/{CONTAINER}/{task_id}"


def now_ms() -> int:
    return int(time.time() * 1000)


class Logs:
    """The log group as the awslogs driver fills it."""

    def __init__(self, client: Any):
        self.client = client
        client.create_log_group(logGroupName=GROUP)

    def stream(self, task_id: str) -> str:
        name = stream_of(task_id)
        self.client.create_log_stream(logGroupName=GROUP, logStreamName=name)
        return name

    def put(self, task_id: str, *messages: str, ts: int | None = None) -> None:
        stamp = now_ms() if ts is None else ts
        events = [{"timestamp": stamp + i, "message": m} for i, m in enumerate(messages)]
        self.client.put_log_events(
            logGroupName=GROUP, logStreamName=stream_of(task_id), logEvents=events
        )


@pytest.fixture
def logs(aws: Any) -> Logs:
    return Logs(aws.client("logs"))


def inputs(**overrides: Any) -> Any:
    base: dict[str, Any] = {
        "log_group": GROUP,
        "task_ids": [NEW_1],
        "stream_prefix": PREFIX,
        "container": CONTAINER,
        "since": iso_ms(now_ms() - 60_000),
        "success": MARKERS,
        "failure": FAILURES,
        "poll_interval": 1.0,  # within the budget: 2 FilterLogEvents a second
    }
    base.update(overrides)
    return STEP.coerce_inputs(base)


def log_events(make_ctx: Any) -> list[Any]:
    return [e for e in make_ctx.events if e.kind == "log"]


def test_passes_when_every_task_logs_every_marker(logs: Logs, make_ctx: Any) -> None:
    logs.stream(NEW_1)
    logs.stream(NEW_2)
    clock = ScriptedClock(
        script=[
            lambda: logs.put(NEW_1, "starting", MARKERS[0]),
            lambda: logs.put(NEW_2, "starting", MARKERS[0], MARKERS[1]),
            lambda: logs.put(NEW_1, f"{MARKERS[1]} in 42 ms"),
        ]
    )

    result = STEP.run(make_ctx(clock=clock), inputs(task_ids=[NEW_1, NEW_2]))

    assert clock.sleeps == [1.0, 1.0, 1.0]  # a read after each batch, then it passed
    assert result.status == "ok"
    assert result.outputs.matched == {
        MARKERS[0]: {NEW_1: MARKERS[0], NEW_2: MARKERS[0]},
        MARKERS[1]: {NEW_1: f"{MARKERS[1]} in 42 ms", NEW_2: MARKERS[1]},
    }
    assert result.outputs.first_failure is None
    assert result.outputs.lines_read == 6
    assert result.summary == "2 pattern(s) matched in 2 task(s) (1a2b3c4d, 9f8e7d6c), 6 lines read"
    # which line matched each pattern, per task, is the step's detail (the report)
    assert f"{MARKERS[1]!r} ← task 1a2b3c4d at " in result.detail
    assert f": {MARKERS[1]} in 42 ms" in result.detail
    assert f"{MARKERS[0]!r} ← task 9f8e7d6c at " in result.detail
    shown = [(e.data["short_id"], e.data["age"], e.message) for e in log_events(make_ctx)]
    assert ("1a2b3c4d", "NEW", "starting") in shown
    assert ("9f8e7d6c", "NEW", MARKERS[1]) in shown
    # The timeline: each marker when its line was logged; a long pattern by its number.
    logged = {(e.data["short_id"], e.message): e.data["timestamp"] for e in log_events(make_ctx)}
    marks = [(e.message, e.data["at"]) for e in make_ctx.events if e.kind == "mark"]
    assert marks == [
        (f"marker {MARKERS[0]} matched in task 1a2b3c4d", logged["1a2b3c4d", MARKERS[0]] / 1000),
        (f"marker {MARKERS[0]} matched in task 9f8e7d6c", logged["9f8e7d6c", MARKERS[0]] / 1000),
        ("marker 2 matched in task 9f8e7d6c", logged["9f8e7d6c", MARKERS[1]] / 1000),
        ("marker 2 matched in task 1a2b3c4d", logged["1a2b3c4d", f"{MARKERS[1]} in 42 ms"] / 1000),
    ]
    assert {e.data["what"] for e in make_ctx.events if e.kind == "mark"} == {"log_marker"}


def test_any_task_passes_when_one_task_logs_every_marker(logs: Logs, make_ctx: Any) -> None:
    logs.stream(NEW_1)
    logs.stream(NEW_2)
    clock = ScriptedClock(script=[lambda: logs.put(NEW_2, *MARKERS)])

    result = STEP.run(make_ctx(clock=clock), inputs(task_ids=[NEW_1, NEW_2], require="any_task"))

    assert clock.sleeps == [1.0]
    assert result.outputs.matched == {m: {NEW_2: m} for m in MARKERS}


def test_every_task_times_out_naming_the_silent_task(logs: Logs, make_ctx: Any) -> None:
    logs.stream(NEW_1)
    logs.stream(NEW_2)
    logs.put(NEW_1, *MARKERS)
    logs.put(NEW_2, MARKERS[0])
    ctx = make_ctx(clock=FakeClock(), timeout=30)

    with pytest.raises(StepTimeout) as caught:
        STEP.run(ctx, inputs(task_ids=[NEW_1, NEW_2], poll_interval=2))

    assert str(caught.value) == (
        "timed out after 30.0s (3 lines read): these patterns never matched: "
        f"in task 9f8e7d6c: {MARKERS[1]!r}"
    )
    assert caught.value.outputs.matched[MARKERS[0]] == {NEW_1: MARKERS[0], NEW_2: MARKERS[0]}


def test_failure_in_the_new_task_fails_at_once_with_context(logs: Logs, make_ctx: Any) -> None:
    logs.stream(NEW_1)
    base = now_ms()
    crash = [
        "loading clients",
        "Traceback (most recent call last):",
        '  File "/app/src/core/aws_clients.py", line 40, in check',
        "AttributeError: 'BedrockRuntime' object has no attribute 'list_foundation_models'",
    ]
    clock = ScriptedClock(script=[lambda: logs.put(NEW_1, "starting", *crash, ts=base)])
    with pytest.raises(StepFailed) as caught:
        STEP.run(make_ctx(clock=clock), inputs(context_lines=2))

    assert clock.sleeps == [1.0]  # failed at the first read that saw the traceback
    err = caught.value
    assert type(err) is StepFailed
    # the traceback's first line matched; its last line, read in the same poll,
    # says what broke: both are in the one-line summary
    assert str(err) == (
        f"failure pattern 'Traceback' in task 1a2b3c4d at {iso_ms(base + 2)}: "
        "Traceback (most recent call last): … AttributeError: 'BedrockRuntime' object has "
        "no attribute 'list_foundation_models'"
    )
    assert err.detail.splitlines() == [
        f"task {NEW_1} (NEW), stream {stream_of(NEW_1)}:",
        f"  {iso_ms(base)}  starting",
        f"  {iso_ms(base + 1)}  loading clients",
        f"> {iso_ms(base + 2)}  Traceback (most recent call last):",
        f'  {iso_ms(base + 3)}    File "/app/src/core/aws_clients.py", line 40, in check',
        f"  {iso_ms(base + 4)}  {crash[3]}",
    ]
    first = err.outputs.first_failure
    assert first["task_id"] == NEW_1
    assert first["timestamp"] == iso_ms(base + 2)
    assert first["line"] == "Traceback (most recent call last):"
    assert first["context"] == ["starting", "loading clients"]
    assert first["after"] == crash[2:]
    # the run's failure is drawn where it happened: at the line's timestamp
    marks = [(e.message, e.data["what"], e.data["at"]) for e in make_ctx.events if e.kind == "mark"]
    assert marks == [
        ("failure marker Traceback matched in task 1a2b3c4d", "failure", (base + 2) / 1000)
    ]


def test_failure_text_only_in_the_old_task_does_not_fail(logs: Logs, make_ctx: Any) -> None:
    """The incident's false alarm: the error came from the OLD task's stream."""
    logs.stream(OLD)
    logs.stream(NEW_1)
    old_error = "AttributeError: 'BedrockRuntime' object has no attribute 'list_foundation_models'"
    clock = ScriptedClock(
        script=[
            lambda: logs.put(OLD, "Traceback (most recent call last):", old_error),
            lambda: logs.put(OLD, "NameError: name 'x' is not defined"),
            lambda: logs.put(NEW_1, *MARKERS),
        ]
    )
    ctx = make_ctx(
        clock=clock,
        steps={"redeploy": {"uses": "ecs.redeploy", "outputs": {"old_task_ids": [OLD]}}},
    )

    result = STEP.run(ctx, inputs())

    assert clock.sleeps == [1.0, 1.0, 1.0]  # it read on while the old task logged errors
    assert result.status == "ok"
    assert {e.data["stream"] for e in log_events(make_ctx)} == {stream_of(NEW_1)}


def test_waits_for_a_stream_that_appears_late(logs: Logs, make_ctx: Any) -> None:
    def task_starts() -> None:
        logs.stream(NEW_1)
        logs.put(NEW_1, *MARKERS)

    clock = ScriptedClock(script=[lambda: None, task_starts])

    result = STEP.run(make_ctx(clock=clock), inputs())

    assert clock.sleeps == [1.0, 1.0]
    assert result.outputs.matched == {m: {NEW_1: m} for m in MARKERS}
    assert f"waiting for stream {stream_of(NEW_1)} to appear" in make_ctx.messages("progress")
    assert f"stream {stream_of(NEW_1)} appeared" in make_ctx.messages("info")


def test_sees_a_marker_that_arrives_late_with_an_earlier_timestamp(
    logs: Logs, make_ctx: Any
) -> None:
    logs.stream(NEW_1)
    base = now_ms()
    clock = ScriptedClock(
        script=[
            lambda: logs.put(NEW_1, "ready", MARKERS[0], ts=base),
            # shipped late: stamped 20 s before the lines already read
            lambda: logs.put(NEW_1, MARKERS[1], ts=base - 20_000),
        ]
    )

    result = STEP.run(make_ctx(clock=clock), inputs())

    assert clock.sleeps == [1.0, 1.0]
    assert result.outputs.matched[MARKERS[1]] == {NEW_1: MARKERS[1]}


def test_reads_more_than_ten_thousand_events_to_the_end(logs: Logs, make_ctx: Any) -> None:
    logs.stream(NEW_1)
    base = now_ms() - 30_000
    for chunk in range(3):
        lines = [f"request {chunk * 4000 + i} ok" for i in range(4000)]
        logs.put(NEW_1, *lines, ts=base + chunk * 4000)
    logs.put(NEW_1, *MARKERS, ts=base + 20_000)

    result = STEP.run(make_ctx(clock=FakeClock()), inputs())

    assert result.outputs.lines_read == 12_002
    assert result.outputs.matched == {m: {NEW_1: m} for m in MARKERS}


def test_missing_log_group_is_a_clear_error(aws: Any, make_ctx: Any) -> None:
    with pytest.raises(StepError) as caught:
        STEP.run(make_ctx(), inputs(log_group="/ecs/x"))

    assert str(caught.value) == "log group /ecs/x does not exist (target 'test')"


def test_timeout_lists_the_patterns_that_never_matched(logs: Logs, make_ctx: Any) -> None:
    logs.stream(NEW_1)
    logs.put(NEW_1, "starting", "code digest 3f2a verified")

    with pytest.raises(StepTimeout) as caught:
        STEP.run(
            make_ctx(clock=FakeClock(), timeout=60),
            inputs(task_ids=[NEW_1, NEW_2], poll_interval=5),
        )

    assert str(caught.value) == (
        "timed out after 1m00s (2 lines read): these patterns never matched: "
        f"in task 1a2b3c4d: {MARKERS[1]!r}; in task 9f8e7d6c: {MARKERS[0]!r}, {MARKERS[1]!r}; "
        f"these streams never appeared: {stream_of(NEW_2)}"
    )


def test_defaults_come_from_the_ecs_step_and_skip_older_markers(logs: Logs, make_ctx: Any) -> None:
    logs.stream(NEW_1)
    started = now_ms()
    logs.put(NEW_1, MARKERS[0], ts=started - 5_000)  # before the deployment started
    logs.put(NEW_1, MARKERS[1], ts=started + 10)
    ecs = {
        "uses": "ecs.redeploy",
        "outputs": {
            "new_task_ids": [f"arn:aws:ecs:us-east-1:123456789012:task/chatbot/{NEW_1}"],
            "log_stream_prefix": PREFIX,
            "container": CONTAINER,
            "started_at": iso_ms(started),
        },
    }
    ctx = make_ctx(clock=FakeClock(), timeout=10, steps={"redeploy": ecs})

    with pytest.raises(StepTimeout) as caught:
        STEP.run(
            ctx, STEP.coerce_inputs({"log_group": GROUP, "success": MARKERS, "poll_interval": 1})
        )

    assert f"in task 1a2b3c4d: {MARKERS[0]!r}" in str(caught.value)
    assert caught.value.outputs.matched == {MARKERS[1]: {NEW_1: MARKERS[1]}}


def test_regular_expression_markers(logs: Logs, make_ctx: Any) -> None:
    logs.stream(NEW_1)
    logs.put(NEW_1, "code digest 3f2a9c01 verified")

    result = STEP.run(
        make_ctx(clock=FakeClock()),
        inputs(success=[r"re:code digest [0-9a-f]{8} verified"], failure=["re:Error\\b"]),
    )

    assert result.outputs.matched == {
        r"re:code digest [0-9a-f]{8} verified": {NEW_1: "code digest 3f2a9c01 verified"}
    }


def test_failure_patterns_alone_pass_once_every_stream_was_read(logs: Logs, make_ctx: Any) -> None:
    logs.stream(NEW_1)
    logs.put(NEW_1, "starting", "ready")

    result = STEP.run(make_ctx(clock=FakeClock()), inputs(success=[]))

    assert result.summary == "no failure pattern in 2 lines from 1 task(s)"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            {"stream_prefix": None, "container": None},
            "logs.wait: task_ids need stream_prefix and container to name their log streams "
            "(PREFIX/CONTAINER/TASK_ID), and no earlier ECS step provides them",
        ),
        ({"task_ids": []}, "logs.wait: task_ids is empty: there is no task to read logs from"),
        (
            {"success": [], "failure": []},
            "logs.wait: give success patterns, failure patterns, or both",
        ),
    ],
)
def test_bad_input_is_one_clear_line(make_ctx: Any, given: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as caught:
        STEP.run(make_ctx(uses="logs.wait"), inputs(**given))

    assert str(caught.value) == message


def test_a_bad_since_is_rejected_before_running() -> None:
    with pytest.raises(InvalidInput) as caught:
        inputs(since="last tuesday")

    assert caught.value.name == "since"
    assert str(caught.value) == (
        "since: expected a duration like 10m or an ISO 8601 time like 2026-11-24T03:10:00Z, "
        "got 'last tuesday'"
    )


def test_invalid_regular_expression_is_rejected_before_running() -> None:
    spec = STEP.input("failure")
    assert spec is not None
    with pytest.raises(ValueError, match=r"invalid regular expression 're:\(': "):
        spec.coerce(["re:("])


# -- CloudWatch Logs' quotas and late delivery (tests/logs_front.py plays AWS) ------

START = iso_ms(int(FakeClock().now * 1000))  # when each test's clock starts
THROTTLED = "FilterLogEvents (ThrottlingException: Rate exceeded)"


@pytest.fixture
def front(aws_endpoint: str, make_ctx: Any) -> Iterator[LogsFront]:
    """The quota front on moto; the step reads through it, on the front's clock
    (each test gives its own: ``front.clock = clock``). Backoffs are 70 % of
    their ceiling (a jitter the test can predict)."""
    reset_budgets(lambda: LogsBudget(jitter=lambda: 0.4))
    with LogsFront(aws_endpoint, FakeClock()).running() as running:
        make_ctx.aws = AwsAccess("test", AwsSettings(region=REGION, endpoint_url=running.url))
        yield running


def warnings(make_ctx: Any) -> list[str]:
    return make_ctx.messages("warning")


def test_a_healthy_wait_passes_against_an_endpoint_that_allows_five_requests_a_second(
    logs: Logs, front: LogsFront, make_ctx: Any
) -> None:
    """AWS's FilterLogEvents quota (5 a second), 3 of them used by the rest of the
    account, and 13 empty pages before the lines, as AWS may answer: today's
    reader sent the 14 requests of one read back to back and was throttled."""
    front.empty_pages = 13
    front.used_by_others = {"FilterLogEvents": 3}
    logs.stream(NEW_1)
    logs.stream(NEW_2)
    base = now_ms()
    for task_id in (NEW_1, NEW_2):
        logs.put(task_id, *[f"pip line {i}" for i in range(200)], ts=base)
    clock = ScriptedClock(
        script=[
            lambda: logs.put(NEW_1, MARKERS[0], ts=base + 1000),
            lambda: logs.put(NEW_2, *MARKERS, ts=base + 2000),
            lambda: logs.put(NEW_1, MARKERS[1], ts=base + 3000),
        ]
    )
    front.clock = clock

    result = STEP.run(make_ctx(clock=clock), inputs(task_ids=[NEW_1, NEW_2], poll_interval=2.0))

    assert result.summary == (
        "2 pattern(s) matched in 2 task(s) (1a2b3c4d, 9f8e7d6c), 404 lines read"
    )
    assert clock.sleeps == [2.0] * 6  # one read: 14 pages, 2 per poll
    assert front.throttled() == 0
    assert front.busiest_second("FilterLogEvents") == 2
    assert front.counts() == {"DescribeLogGroups": 1, "GetLogEvents": 2, "FilterLogEvents": 14}
    assert warnings(make_ctx) == []


def test_persistent_throttling_is_named_when_the_wait_times_out(
    logs: Logs, front: LogsFront, make_ctx: Any
) -> None:
    front.throttling.add("FilterLogEvents")
    logs.stream(NEW_1)
    clock = FakeClock()
    front.clock = clock

    with pytest.raises(StepTimeout) as caught:
        STEP.run(make_ctx(clock=clock, timeout=60), inputs())

    # Backoffs of 1.4, 2.8, 5.6, 11.2, 21 and 21 s: six requests, then the deadline.
    assert str(caught.value) == (
        f"timed out after 1m00s while CloudWatch Logs was throttling {THROTTLED} since "
        f"{START}, 6 of 8 requests throttled, 1 more held back; 0 lines read; these "
        f"patterns never matched: in task 1a2b3c4d: {MARKERS[0]!r}, {MARKERS[1]!r}"
    )
    assert warnings(make_ctx) == [f"CloudWatch Logs is throttling {THROTTLED}; backing off 1.4 s"]
    assert front.counts()["FilterLogEvents"] == 6  # botocore did not retry any of them


def test_a_stretch_of_throttling_is_one_warning_and_one_line_when_it_ends(
    logs: Logs, front: LogsFront, make_ctx: Any
) -> None:
    front.throttling.add("FilterLogEvents")  # someone else is using the account's quota
    logs.stream(NEW_1)
    logs.put(NEW_1, *MARKERS)
    clock = ScriptedClock(script=[lambda: None, front.throttling.clear])
    front.clock = clock

    result = STEP.run(make_ctx(clock=clock), inputs())

    assert result.status == "ok"
    assert clock.sleeps == [pytest.approx(1.4), pytest.approx(2.8)]  # the backoffs
    assert warnings(make_ctx) == [f"CloudWatch Logs is throttling {THROTTLED}; backing off 1.4 s"]
    assert (
        "CloudWatch Logs answers FilterLogEvents again "
        f"(2 request(s) throttled or held back since {START})"
    ) in make_ctx.messages("info")


def test_a_marker_15_s_late_is_found_while_each_read_takes_two_polls(
    logs: Logs, front: LogsFront, make_ctx: Any
) -> None:
    """Past full_reread_events (1,200 lines), each read 4 pages (2 polls), the
    endpoint at AWS's 5 a second with 3 used by others: the marker that arrives
    15 s late, stamped before lines already read, still counts."""
    front.empty_pages = 3
    front.used_by_others = {"FilterLogEvents": 3}
    logs.stream(NEW_1)
    base = now_ms() - 10_000
    logs.put(NEW_1, *[f"request {i} ok" for i in range(1200)], MARKERS[0], ts=base - 1200)
    newest = base + 1  # MARKERS[0]

    def arrives_late() -> None:
        logs.put(NEW_1, MARKERS[1], ts=newest - 15_000)
        logs.put(NEW_1, "request 1200 ok", ts=newest + 20_000)

    # reads end at the 2nd, 4th and 6th poll: the late marker arrives after the 5th
    clock = ScriptedClock(script=[lambda: None] * 4 + [arrives_late])
    front.clock = clock

    result = STEP.run(make_ctx(clock=clock), inputs(poll_interval=2.0))

    assert result.outputs.matched == {m: {NEW_1: m} for m in MARKERS}
    assert clock.sleeps == [2.0] * 5
    assert front.throttled() == 0


def test_a_marker_15_s_late_is_found_past_full_reread_events(logs: Logs, make_ctx: Any) -> None:
    """moto's single pages, no quota: today's reader got this right too."""
    logs.stream(NEW_1)
    base = now_ms() - 10_000
    logs.put(NEW_1, *[f"request {i} ok" for i in range(1200)], MARKERS[0], ts=base - 1200)
    clock = ScriptedClock(
        script=[lambda: None, lambda: logs.put(NEW_1, MARKERS[1], ts=base + 1 - 15_000)]
    )

    result = STEP.run(make_ctx(clock=clock), inputs())

    assert result.outputs.matched == {m: {NEW_1: m} for m in MARKERS}
    assert result.outputs.lines_read == 1202
