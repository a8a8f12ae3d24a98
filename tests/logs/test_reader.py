"""The exact incremental reader against moto's server."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opskit.clock import FakeClock
from opskit.errors import StepError
from opskit.logs.budget import LogsBudget
from opskit.logs.reader import LogReader, PollResult

GROUP = "/ecs/chatbot"


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def client(aws: Any) -> Any:
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    return logs


def put(client: Any, stream: str, *messages: str, ts: int) -> None:
    events = [{"timestamp": ts + i, "message": m} for i, m in enumerate(messages)]
    client.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)


def texts(result: Any) -> list[str]:
    return [line.text for line in result.lines]


def paced(reader: LogReader, clock: FakeClock) -> PollResult:
    """A poll, then a second passes: the pace of logs.wait's default."""
    result = reader.poll()
    clock.now += 1.0
    return result


class AwsLikeLogs:
    """moto's client, but FilterLogEvents fails as AWS does when a named stream is missing."""

    def __init__(self, client: Any):
        self.client = client
        self.filter_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def filter_log_events(self, **params: Any) -> Any:
        self.filter_calls += 1
        pages = self.client.get_paginator("describe_log_streams").paginate(
            logGroupName=params["logGroupName"]
        )
        existing = {s["logStreamName"] for page in pages for s in page["logStreams"]}
        if set(params.get("logStreamNames", [])) - existing:
            error = {"Code": "ResourceNotFoundException", "Message": "stream does not exist."}
            raise ClientError({"Error": error}, "FilterLogEvents")
        return self.client.filter_log_events(**params)


def test_reads_only_the_named_streams_and_each_event_once(client: Any) -> None:
    for name in ("ecs/app/new", "ecs/app/old"):
        client.create_log_stream(logGroupName=GROUP, logStreamName=name)
    base = now_ms()
    put(client, "ecs/app/new", "one", "two", ts=base)
    put(client, "ecs/app/old", "Traceback", ts=base)
    clock = FakeClock()
    reader = LogReader(client, GROUP, ["ecs/app/new"], base - 1000, clock=clock)

    first = paced(reader, clock)
    put(client, "ecs/app/new", "three", ts=base + 5)
    second = paced(reader, clock)

    assert texts(first) == ["one", "two"]
    assert texts(second) == ["three"]
    assert reader.lines_read == 3


def test_never_names_a_missing_stream_and_reads_it_from_since_once_it_appears(
    client: Any,
) -> None:
    aws_like = AwsLikeLogs(client)
    client.create_log_stream(logGroupName=GROUP, logStreamName="ecs/app/a")
    base = now_ms()
    put(client, "ecs/app/a", "a1", ts=base)
    clock = FakeClock()
    reader = LogReader(aws_like, GROUP, ["ecs/app/a", "ecs/app/b"], base - 60_000, clock=clock)

    first = paced(reader, clock)
    client.create_log_stream(logGroupName=GROUP, logStreamName="ecs/app/b")
    put(client, "ecs/app/b", "b1 stamped before a1", ts=base - 30_000)
    second = paced(reader, clock)

    assert texts(first) == ["a1"]
    assert first.missing == ["ecs/app/b"]
    assert texts(second) == ["b1 stamped before a1"]
    assert second.appeared == ["ecs/app/b"]
    assert second.missing == []


def test_late_event_is_seen_while_the_window_is_small(client: Any) -> None:
    client.create_log_stream(logGroupName=GROUP, logStreamName="s/c/t")
    base = now_ms()
    put(client, "s/c/t", "newest", ts=base)
    clock = FakeClock()
    reader = LogReader(client, GROUP, ["s/c/t"], base - 3_600_000, clock=clock)
    paced(reader, clock)

    put(client, "s/c/t", "stamped ten minutes earlier", ts=base - 600_000)

    assert texts(paced(reader, clock)) == ["stamped ten minutes earlier"]


def test_late_event_within_the_overlap_is_seen_when_the_window_is_large(client: Any) -> None:
    client.create_log_stream(logGroupName=GROUP, logStreamName="s/c/t")
    base = now_ms()
    put(client, "s/c/t", *[f"line {i}" for i in range(50)], ts=base)
    clock = FakeClock(now=base / 1000)
    reader = LogReader(
        client,
        GROUP,
        ["s/c/t"],
        base - 3_600_000,
        clock=clock,
        overlap_ms=30_000,
        full_reread_events=10,
    )
    assert len(paced(reader, clock).lines) == 50
    assert paced(reader, clock).lines == []  # a pass anchored on the newest line: window moves

    put(client, "s/c/t", "20 s late", ts=base - 20_000)
    put(client, "s/c/t", "15 min late, beyond the overlap", ts=base - 900_000)

    assert texts(paced(reader, clock)) == ["20 s late"]


def test_a_marker_90_s_late_is_found_past_the_full_reread_size(client: Any) -> None:
    """DESIGN: events become readable "seconds to minutes late". With the
    default overlap (2 minutes) and past the default 1,000 lines re-read from
    ``since``, a marker stamped 90 s before the newest line read is still read."""
    client.create_log_stream(logGroupName=GROUP, logStreamName="s/c/t")
    base = now_ms()
    put(client, "s/c/t", *[f"line {i}" for i in range(1_001)], ts=base - 1_001)
    clock = FakeClock(now=base / 1000)
    reader = LogReader(client, GROUP, ["s/c/t"], base - 3_600_000, clock=clock)
    assert len(paced(reader, clock).lines) == 1_001
    assert paced(reader, clock).lines == []  # anchored on the newest line: the window moved

    put(client, "s/c/t", "marker, readable 90 s late", ts=base - 90_000)
    put(client, "s/c/t", "three minutes late: past the overlap", ts=base - 180_000)

    assert texts(paced(reader, clock)) == ["marker, readable 90 s late"]


def test_a_quiet_stream_in_a_busy_batch_keeps_reading_from_since(client: Any) -> None:
    """A window moves on its own stream's newest line, never on another stream's
    of the same batch: a task that has logged nothing yet may log a line stamped
    long before the busy task's newest (its clock, a late delivery)."""
    for name in ("ecs/app/busy", "ecs/app/quiet"):
        client.create_log_stream(logGroupName=GROUP, logStreamName=name)
    base = now_ms()
    put(client, "ecs/app/busy", *[f"line {i}" for i in range(50)], ts=base)
    clock = FakeClock(now=base / 1000)
    since = base - 3_600_000
    reader = LogReader(
        client, GROUP, ["ecs/app/busy", "ecs/app/quiet"], since, clock=clock,
        full_reread_events=10,
    )  # fmt: skip
    assert len(paced(reader, clock).lines) == 50
    assert paced(reader, clock).lines == []  # the busy stream's window moved

    put(client, "ecs/app/quiet", "first line, stamped 30 min ago", ts=base - 1_800_000)

    assert texts(paced(reader, clock)) == ["first line, stamped 30 min ago"]


def test_an_event_stamped_in_the_future_does_not_carry_the_window_past_later_lines(
    client: Any,
) -> None:
    # CloudWatch accepts events up to two hours ahead (a writer whose clock is off).
    client.create_log_stream(logGroupName=GROUP, logStreamName="s/c/t")
    base = now_ms()
    put(client, "s/c/t", *[f"line {i}" for i in range(50)], ts=base)
    put(client, "s/c/t", "from a clock an hour fast", ts=base + 3_600_000)
    clock = FakeClock(now=base / 1000)
    reader = LogReader(
        client,
        GROUP,
        ["s/c/t"],
        base - 60_000,
        clock=clock,
        overlap_ms=30_000,
        full_reread_events=10,
    )
    assert len(paced(reader, clock).lines) == 51
    assert paced(reader, clock).lines == []

    put(client, "s/c/t", "the marker, stamped right", ts=base + 5_000)

    assert texts(paced(reader, clock)) == ["the marker, stamped right"]


def test_follows_pagination_past_ten_thousand_events(client: Any) -> None:
    aws_like = AwsLikeLogs(client)
    client.create_log_stream(logGroupName=GROUP, logStreamName="s/c/t")
    base = now_ms() - 60_000
    for chunk in range(3):
        put(client, "s/c/t", *[f"e{chunk}-{i}" for i in range(4000)], ts=base + chunk * 4000)
    clock = FakeClock()
    reader = LogReader(aws_like, GROUP, ["s/c/t"], base, clock=clock)

    result = paced(reader, clock)

    assert len(result.lines) == 12_000
    assert len({line.event_id for line in result.lines}) == 12_000
    assert aws_like.filter_calls == 2  # moto pages at 10,000 events
    assert paced(reader, clock).lines == []


def test_batches_stream_names_by_one_hundred(client: Any) -> None:
    """101 streams: one more than FilterLogEvents takes, so exactly two calls."""
    aws_like = AwsLikeLogs(client)
    names = [f"ecs/app/task{i:03d}" for i in range(101)]
    base = now_ms()
    for name in names:
        client.create_log_stream(logGroupName=GROUP, logStreamName=name)
        put(client, name, f"hello from {name}", ts=base)
    # Probing 101 new streams takes 101 GetLogEvents: unlimited here, paced below.
    reader = LogReader(aws_like, GROUP, names, base - 1000, budget=LogsBudget(per_second={}))

    result = reader.poll()

    assert sorted(texts(result)) == [f"hello from {name}" for name in names]
    assert aws_like.filter_calls == 2


def test_missing_group_is_one_clear_error(aws: Any) -> None:
    reader = LogReader(aws.client("logs"), "/ecs/nope", ["a/b/c"], 0, target="prod")

    with pytest.raises(StepError, match=r"^log group /ecs/nope does not exist \(target 'prod'\)$"):
        reader.poll()


def test_group_prefix_match_is_not_enough(client: Any) -> None:
    reader = LogReader(client, "/ecs/chat", ["a/b/c"], 0)

    with pytest.raises(StepError, match="^log group /ecs/chat does not exist$"):
        reader.poll()
