"""The reader against a Logs endpoint that behaves as AWS does about quotas and pages
(``tests/logs_front.py``): the page cap, the budget, throttling, late events in a
read that spans polls, and ten readers of one process sharing the budget."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from pytest import approx

from opskit.aws import AwsAccess, AwsSettings
from opskit.clock import FakeClock
from opskit.errors import StepError
from opskit.logs.budget import LogsBudget, reset_budgets
from opskit.logs.calls import logs_client
from opskit.logs.reader import LogReader, PollResult
from opskit.logs.times import iso_ms
from tests.conftest import REGION
from tests.logs_front import LogsFront

GROUP = "/ecs/chatbot"
STREAM = "ecs/app/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"
START = iso_ms(int(FakeClock().now * 1000))  # when each test's clock starts


@pytest.fixture
def clock() -> FakeClock:
    reset_budgets(lambda: LogsBudget(jitter=lambda: 0.4))  # backoffs at 70 % of their ceiling
    return FakeClock()


@pytest.fixture
def front(aws_endpoint: str, clock: FakeClock) -> Iterator[LogsFront]:
    with LogsFront(aws_endpoint, clock).running() as running:
        yield running


@pytest.fixture
def setup(aws: AwsAccess) -> Any:
    """moto's client, past the front: what the log driver writes."""
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    return logs


def put(logs: Any, stream: str, *messages: str, ts: int, step: int = 1) -> None:
    existing = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=stream)
    if not any(s["logStreamName"] == stream for s in existing["logStreams"]):
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    events = [{"timestamp": ts + i * step, "message": m} for i, m in enumerate(messages)]
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)


def reader_via(front: LogsFront, clock: FakeClock, streams: list[str], since: int, **kw: Any):
    access = AwsAccess("test", AwsSettings(region=REGION, endpoint_url=front.url))
    return LogReader(logs_client(access), GROUP, streams, since, clock=clock, **kw)


def texts(result: PollResult) -> list[str]:
    return [line.text for line in result.lines]


def filter_requests(front: LogsFront) -> list[dict[str, Any]]:
    return [s.params for s in front.seen if s.operation == "FilterLogEvents"]


def test_one_poll_sends_at_most_two_pages_and_the_next_carries_on_from_the_token(
    setup: Any, front: LogsFront, clock: FakeClock
) -> None:
    """AWS may answer a read with empty pages that carry a token; today one poll
    sent them all back to back (14 here), past FilterLogEvents' 5 a second."""
    base = int(time.time() * 1000)
    put(setup, STREAM, "starting", "ready", ts=base)
    front.empty_pages = 13
    reader = reader_via(front, clock, [STREAM], base - 60_000)

    polls = []
    for _ in range(8):
        before = len(filter_requests(front))
        result = reader.poll()
        polls.append((len(filter_requests(front)) - before, texts(result), result.complete))
        clock.now += 2.0  # logs.wait's default poll interval

    assert polls == [(2, [], False)] * 6 + [(2, ["starting", "ready"], True), (2, [], False)]
    tokens = [r.get("nextToken") for r in filter_requests(front)[:14]]
    assert tokens == [None] + [f"front-empty:{n}:" for n in range(1, 14)]
    assert front.throttled() == 0
    assert front.busiest_second("FilterLogEvents") == 2


def test_throttling_ends_the_poll_and_reading_resumes_after_one_jittered_backoff(
    setup: Any, front: LogsFront, clock: FakeClock
) -> None:
    base = int(time.time() * 1000)
    put(setup, STREAM, "ready", ts=base)
    front.throttling.add("FilterLogEvents")
    reader = reader_via(front, clock, [STREAM], base - 60_000)

    throttled = reader.poll()
    clock.now += throttled.wait or 0
    front.throttling.clear()
    answered = reader.poll()

    assert (texts(throttled), throttled.wait, throttled.complete) == ([], approx(1.4), False)
    assert [(n.kind, n.message) for n in throttled.notes] == [
        (
            "warning",
            "CloudWatch Logs is throttling FilterLogEvents (ThrottlingException: Rate exceeded); "
            "backing off 1.4 s",
        )
    ]
    assert texts(answered) == ["ready"]
    assert [(n.kind, n.message) for n in answered.notes] == [
        (
            "info",
            "CloudWatch Logs answers FilterLogEvents again "
            f"(1 request(s) throttled or held back since {START})",
        )
    ]
    # one request each time: botocore did not retry the throttled one
    assert front.counts()["FilterLogEvents"] == 2
    assert (reader.throttling.requests, reader.throttling.throttled) == (4, 1)


def test_a_reader_held_back_by_another_readers_throttling_says_so_once(
    setup: Any, front: LogsFront, clock: FakeClock
) -> None:
    base = int(time.time() * 1000)
    put(setup, STREAM, "ready", ts=base)
    first = reader_via(front, clock, [STREAM], base - 60_000)
    second = reader_via(front, clock, [STREAM], base - 60_000)
    front.throttling.add("FilterLogEvents")

    first.poll()
    held = [second.poll() for _ in range(2)]

    assert [h.wait for h in held] == [approx(1.4), approx(1.4)]  # the shared backoff
    assert [[n.message for n in h.notes] for h in held] == [
        [
            "CloudWatch Logs is throttling FilterLogEvents (ThrottlingException: Rate "
            "exceeded); backing off 1.4 s"
        ],
        [],
    ]
    assert front.counts()["FilterLogEvents"] == 1  # the second reader sent none
    assert second.throttling.describe() == (
        f"FilterLogEvents (ThrottlingException: Rate exceeded) since {START}, "
        "0 of 2 requests throttled, 2 more held back"
    )


def test_a_reader_on_another_clock_is_not_held_by_this_clocks_backoff(
    setup: Any, front: LogsFront, clock: FakeClock
) -> None:
    """Two tests' clocks (two FakeClocks, the same times) on one endpoint: each
    counts its own budget, so one's backoff never holds the other."""
    base = int(time.time() * 1000)
    put(setup, STREAM, "ready", ts=base)
    throttled = reader_via(front, clock, [STREAM], base - 60_000)
    other_clock = FakeClock()
    other = reader_via(front, other_clock, [STREAM], base - 60_000)
    front.throttling.add("FilterLogEvents")
    throttled.poll()
    front.throttling.clear()

    result = other.poll()

    assert (texts(result), result.wait, result.notes) == (["ready"], None, [])
    assert front.counts()["FilterLogEvents"] == 2


def test_an_event_15_s_late_is_read_although_its_range_was_paged_before_it_arrived(
    setup: Any, front: LogsFront, clock: FakeClock
) -> None:
    """A pass that spans polls (2 pages per poll): the late event arrives after its
    time range was paged, and the rest of the pass reads lines 40 s newer. With a
    30 s overlap (shorter than the default 2 minutes, so that 40 s tells the two
    anchors apart) the next pass re-reads from 30 s before the newest line read
    when the pass began, so the event counts; a window moved by what the pass
    itself read would have passed it by."""
    base = int(time.time() * 1000)
    since = base - 120_000
    old = [f"old {i}" for i in range(40)]
    put(setup, STREAM, *old, ts=base - 70_000, step=500)  # 70 s .. 50.5 s ago
    put(setup, STREAM, *[f"recent {i}" for i in range(10)], ts=base - 40_000)
    front.page_size = 20
    reader = reader_via(front, clock, [STREAM], since, full_reread_events=10, overlap_ms=30_000)
    read: list[str] = []

    def poll() -> PollResult:
        result = reader.poll()
        read.extend(texts(result))
        clock.now += 2.0
        return result

    first_pass = [poll().complete for _ in range(2)]
    newest_read = base - 40_000 + 9
    poll()  # the second pass pages the old lines...
    put(setup, STREAM, "late marker", ts=newest_read - 15_000)  # ...then this arrives
    put(setup, STREAM, *[f"newer {i}" for i in range(10)], ts=base)
    second_pass_end = poll()
    third_pass = [poll() for _ in range(2)]

    assert first_pass == [False, True]
    assert second_pass_end.complete
    assert "late marker" not in read[:60]  # not in the pass it arrived during
    assert read.count("late marker") == 1
    assert third_pass[-1].complete
    assert len(read) == len(set(read)) == 61  # every line once


def test_a_transient_error_ends_the_poll_and_the_next_one_tries_again(
    setup: Any, front: LogsFront, clock: FakeClock
) -> None:
    """botocore's retries are off for the reader's client: a 503 is retried at
    opskit's level, at the next poll, on the step's clock."""
    base = int(time.time() * 1000)
    put(setup, STREAM, "ready", ts=base)
    front.faults.append(("FilterLogEvents", 503, "ServiceUnavailableException"))
    reader = reader_via(front, clock, [STREAM], base - 60_000)

    failed = reader.poll()
    clock.now += failed.wait or 0
    retried = reader.poll()

    assert (texts(failed), failed.wait) == ([], approx(0.35))
    assert [n.message for n in failed.notes] == [
        "CloudWatch Logs FilterLogEvents failed (ServiceUnavailableException: The service "
        "cannot complete the request.); retrying in 0.3 s"
    ]
    assert texts(retried) == ["ready"]


def test_a_transient_error_five_times_in_a_row_is_one_clear_error(
    setup: Any, front: LogsFront, clock: FakeClock
) -> None:
    base = int(time.time() * 1000)
    put(setup, STREAM, "ready", ts=base)
    front.faults += [("FilterLogEvents", 503, "ServiceUnavailableException")] * 5
    reader = reader_via(front, clock, [STREAM], base - 60_000, target="prod")

    waits = []
    with pytest.raises(StepError) as caught:
        for _ in range(5):
            result = reader.poll()
            waits.append(result.wait)
            clock.now += result.wait or 0

    assert waits == approx([0.35, 0.7, 1.4, 2.8])
    assert str(caught.value) == (
        f"logs FilterLogEvents {GROUP}: ServiceUnavailableException: The service cannot "
        "complete the request."
    )


def test_ten_readers_of_one_process_stay_inside_the_budget_by_construction(
    setup: Any, front: LogsFront, clock: FakeClock
) -> None:
    """A fleet of 10 targets in one Region, each waiting for its marker with
    logs.wait's default 2 s interval: 5 FilterLogEvents a second wanted, the
    quota is 5, and the rest of the account uses 3 of them. The shared budget
    spaces the readers: nothing is throttled, no second carries more than 2 of
    this process's requests, and each reader keeps its turn."""
    base = int(time.time() * 1000)
    streams = [f"ecs/app/task{i:02d}" for i in range(10)]
    for stream in streams:
        put(setup, stream, "starting", f"marker of {stream}", ts=base)
    front.used_by_others = {"FilterLogEvents": 3}
    readers = [reader_via(front, clock, [s], base - 60_000) for s in streams]
    due = [clock.now] * len(readers)
    read: dict[int, list[str]] = {i: [] for i in range(len(readers))}
    completed = [0] * len(readers)

    while clock.now < FakeClock().now + 60:  # a minute of the fleet, one clock
        index = min(range(len(readers)), key=lambda i: (due[i], i))
        clock.now = due[index]
        result = readers[index].poll()
        read[index] += texts(result)
        completed[index] += result.complete
        due[index] = clock.now + (2.0 if result.wait is None else result.wait)

    assert read == {i: ["starting", f"marker of {s}"] for i, s in enumerate(streams)}
    assert front.throttled() == 0
    assert front.busiest_second("FilterLogEvents") == 2
    assert front.requests("FilterLogEvents") == 120  # the budget's 2 a second, all used
    assert min(completed) >= 11  # each reader read its whole stream about every 5 s
