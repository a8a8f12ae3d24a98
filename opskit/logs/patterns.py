"""Success and failure markers, and which task has matched which marker.

A pattern is a plain substring, or a regular expression when written
``re:...`` (searched anywhere in the line, like ``grep -E``). Substrings are the
default because markers such as ``code digest 3f2a… verified`` are literal text
that a regular expression would misread (``.``, ``(``, ``+``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from opskit.logs.reader import LogLine
from opskit.logs.streams import short_id
from opskit.logs.times import iso_ms

EVERY_TASK = "every_task"
ANY_TASK = "any_task"
REGEX_PREFIX = "re:"


@dataclass(frozen=True)
class Pattern:
    text: str  # as the user wrote it, also the key in outputs
    regex: re.Pattern[str] | None = None

    @classmethod
    def parse(cls, text: str) -> Pattern:
        """Raise ``ValueError`` naming the pattern when a ``re:`` expression is invalid."""
        if text.startswith(REGEX_PREFIX):
            try:
                return cls(text, re.compile(text[len(REGEX_PREFIX) :]))
            except re.error as err:
                raise ValueError(f"invalid regular expression {text!r}: {err}") from None
        if not text:
            raise ValueError("a pattern must not be empty")
        return cls(text)

    def matches(self, line: str) -> bool:
        if self.regex is not None:
            return self.regex.search(line) is not None
        return self.text in line


def parse_patterns(values: Iterable[str] | None) -> list[Pattern]:
    return [Pattern.parse(str(v)) for v in values or []]


def check_patterns(values: Any) -> list[str]:
    """``Input.check`` for pattern lists: reject a bad regex before anything runs."""
    parse_patterns(values)
    return list(values)


def first_match(patterns: Iterable[Pattern], line: str) -> Pattern | None:
    return next((p for p in patterns if p.matches(line)), None)


@dataclass(frozen=True)
class Match:
    task_id: str
    line: LogLine

    def as_output(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "timestamp": iso_ms(self.line.timestamp),
            "stream": self.line.stream,
            "line": self.line.text,
        }


@dataclass
class SuccessTracker:
    """Which success pattern each task has logged.

    ``every_task``: each task must log every pattern (a pattern seen only in one of
    two new tasks proves nothing about the other). ``any_task``: each pattern must
    appear in some task.
    """

    patterns: list[Pattern]
    task_ids: list[str]
    require: str = EVERY_TASK
    matches: dict[str, dict[str, Match]] = field(default_factory=dict)  # pattern -> task -> match

    def observe(self, task_id: str, line: LogLine) -> list[Pattern]:
        """Record the patterns this line matches for the first time in its task."""
        newly = []
        for pattern in self.patterns:
            by_task = self.matches.setdefault(pattern.text, {})
            if task_id not in by_task and pattern.matches(line.text):
                by_task[task_id] = Match(task_id, line)
                newly.append(pattern)
        return newly

    def satisfied(self) -> bool:
        return not self.missing()

    def missing(self) -> dict[str, list[str]]:
        """Patterns not matched yet: task id -> patterns (``*`` for any_task)."""
        if self.require == ANY_TASK:
            absent = [p.text for p in self.patterns if not self.matches.get(p.text)]
            return {"*": absent} if absent else {}
        out: dict[str, list[str]] = {}
        for task_id in self.task_ids:
            absent = [p.text for p in self.patterns if task_id not in self.matches.get(p.text, {})]
            if absent:
                out[task_id] = absent
        return out

    def describe_missing(self) -> str:
        parts = []
        for task_id, absent in self.missing().items():
            where = "in any task" if task_id == "*" else f"in task {short_id(task_id)}"
            parts.append(f"{where}: " + ", ".join(repr(p) for p in absent))
        return "; ".join(parts)

    def matched_output(self) -> dict[str, dict[str, str]]:
        """``matched`` output: pattern -> task id -> the line that matched."""
        return {
            pattern: {task_id: m.line.text for task_id, m in by_task.items()}
            for pattern, by_task in self.matches.items()
            if by_task
        }

    def evidence(self) -> list[str]:
        """One line per pattern and task: which line matched, when, where."""
        lines = []
        for pattern in self.patterns:
            for task_id, m in sorted(self.matches.get(pattern.text, {}).items()):
                lines.append(
                    f"{pattern.text!r} ← task {short_id(task_id)} "
                    f"at {iso_ms(m.line.timestamp)}: {m.line.text}"
                )
        return lines
