"""Exact stream names, task ids and since values."""

from __future__ import annotations

import pytest

from opskit.ecs.names import stream_name, task_id_of
from opskit.logs.streams import short_id, task_id_from_stream
from opskit.logs.times import iso_ms, parse_since

ARN = "arn:aws:ecs:ap-northeast-1:123456789012:task/chatbot/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"


def test_stream_name_is_prefix_container_task_id() -> None:
    assert stream_name("ecs", "app", ARN) == "ecs/app/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"
    assert task_id_of(ARN) == "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"
    assert short_id(ARN) == "1a2b3c4d"
    assert task_id_from_stream("ecs/app/abc") == "abc"
    assert task_id_from_stream("plain-stream") == "plain-stream"


@pytest.mark.parametrize(
    ("since", "expected_ms"),
    [
        ("10m", 1_000_000_000_000 - 600_000),
        (90, 1_000_000_000_000 - 90_000),
        ("2026-11-24T03:10:00.123Z", 1_795_489_800_123),
        ("2026-11-24T03:10:00.123", 1_795_489_800_123),
        ("2026-11-24T12:10:00.123+09:00", 1_795_489_800_123),
    ],
)
def test_since_is_a_duration_ago_or_an_iso_time(since: object, expected_ms: int) -> None:
    assert parse_since(since, 1_000_000_000.0) == expected_ms


def test_iso_ms_is_the_ecs_form() -> None:
    assert iso_ms(1_795_489_800_123) == "2026-11-24T03:10:00.123Z"
