"""Durations as CI users write them, and as opskit prints them."""

from __future__ import annotations

import pytest

from opskit.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("90s", 90.0),
        ("10m", 600.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("2.5s", 2.5),
        (" 1H 5M ", 3900.0),
        (0, 0.0),
    ],
)
def test_parse_duration_reads_what_users_write(written: object, seconds: float) -> None:
    assert parse_duration(written) == seconds


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("soon", "expected a duration like 90s or 10m, got 'soon'"),
        ("", "expected a duration like 90s or 10m, got ''"),
        ("10 minutes", "expected a duration like 90s or 10m, got '10 minutes'"),
        ("5d", "expected a duration like 90s or 10m, got '5d'"),
        (True, "expected a duration like 90s or 10m, got True"),
        (None, "expected a duration like 90s or 10m, got None"),
        ([5], "expected a duration like 90s or 10m, got [5]"),
        (-1, "expected a non-negative duration, got -1"),
    ],
)
def test_parse_duration_refuses_with_a_message_for_the_user(written: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(written)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.0, "0ms"),
        (0.85, "850ms"),
        (4.23, "4.2s"),
        (59.94, "59.9s"),
        (185, "3m05s"),
        (3599.4, "59m59s"),
        (3599.6, "1h00m"),
        (3600, "1h00m"),
        (5430, "1h30m"),
    ],
)
def test_format_duration_is_short(seconds: float, shown: str) -> None:
    assert format_duration(seconds) == shown
