"""Markers: substrings or re: expressions, and per-task matching state."""

from __future__ import annotations

import pytest

from opskit.logs.patterns import ANY_TASK, EVERY_TASK, Pattern, SuccessTracker, parse_patterns
from opskit.logs.reader import LogLine


def line(text: str, stream: str = "s/c/t", ts: int = 0) -> LogLine:
    return LogLine(stream=stream, timestamp=ts, message=text)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("code digest 3f2a.1 verified", "code digest 3f2a.1 verified", True),
        ("code digest 3f2a.1 verified", "code digest 3f2aX1 verified", False),  # '.' is literal
        ("re:digest [0-9a-f]{4} ok", "digest 3f2a ok", True),
        ("re:^ready$", "not ready", False),
        ("Traceback", "Traceback (most recent call last):", True),
    ],
)
def test_substring_unless_written_as_regex(pattern: str, text: str, expected: bool) -> None:
    assert Pattern.parse(pattern).matches(text) is expected


def test_invalid_regex_names_the_pattern() -> None:
    with pytest.raises(ValueError, match=r"^invalid regular expression 're:\[a': "):
        parse_patterns(["re:[a"])


def test_every_task_needs_each_pattern_in_each_task() -> None:
    tracker = SuccessTracker(parse_patterns(["A", "B"]), ["task1aaaaa", "task2bbbbb"], EVERY_TASK)
    tracker.observe("task1aaaaa", line("A and B"))
    tracker.observe("task2bbbbb", line("A only"))

    assert not tracker.satisfied()
    assert tracker.describe_missing() == "in task task2bbb: 'B'"
    assert tracker.matched_output() == {
        "A": {"task1aaaaa": "A and B", "task2bbbbb": "A only"},
        "B": {"task1aaaaa": "A and B"},
    }


def test_any_task_needs_each_pattern_somewhere() -> None:
    tracker = SuccessTracker(parse_patterns(["A", "B"]), ["t1", "t2"], ANY_TASK)
    tracker.observe("t1", line("A"))
    assert tracker.describe_missing() == "in any task: 'B'"
    tracker.observe("t2", line("B"))
    assert tracker.satisfied()


def test_first_matching_line_per_task_is_kept() -> None:
    tracker = SuccessTracker(parse_patterns(["ready"]), ["t1"])
    assert [p.text for p in tracker.observe("t1", line("ready 1"))] == ["ready"]
    assert tracker.observe("t1", line("ready 2")) == []
    assert tracker.matched_output() == {"ready": {"t1": "ready 1"}}
