"""The run's timeline in ``report.md``: a Mermaid ``gantt`` that GitHub draws
in Markdown and in job summaries, so a person sees when each thing happened.

Each step is a bar (``done`` when it passed, ``crit`` when it failed, ``active``
when the run ended before it did); the marks steps emitted (the sync, the
deployment, each task's start, health and stop, log markers, probe attempts,
questions and answers, a failure where it happened) are ``milestone``s on the
step's row group (``section``). A fleet draws one section (lane) per target.

Mermaid's gantt lexer (``gantt.jison``) reads a task line as ``[^:\\n]+`` (its
label) then ``":"[^#\\n;]+`` (its data), and matches its keywords (``section``,
``title``, ``click``, a ``YYYY-MM-DD`` date, ``%%`` comments...) at the start of
a line before the label rule. So every label and section name keeps only
letters, digits, spaces and ``_.,()/+=-`` (no ``:`` ``#`` ``;`` ``%`` ``>``
``<`` ``&``, backtick or newline: nothing can end the line, the data, the
Markdown fence or become HTML), is cut at ``MAX_LABEL`` characters, and one
that would begin with a keyword gets ``- `` before it. Labels carry no outside
text by the marks' contract; this holds whatever a playbook's vars put there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from opskit.model import RunResult

MAX_LABEL = 60
# Marks drawn per step (per lane in a fleet); the rest are in report.json.
MAX_MARKS = 12
# Mermaid refuses a diagram over 50 000 characters (``maxTextSize``).
MAX_DIAGRAM = 40_000
STEP_KINDS = ("step_start", "step_end")

_UNSAFE = re.compile(r"[^A-Za-z0-9 _.,()/+=-]+")
# What gantt.jison's lexer matches before a task's label: a label starting so
# would be read as that statement (case-insensitive, as the lexer is).
_KEYWORD = re.compile(
    r"(gantt|dateformat|inclusiveenddates|topaxis|axisformat|tickinterval|includes|"
    r"excludes|todaymarker|weekday|weekend|title|accdescription|acctitle|accdescr|"
    r"section|click|call|href|\d\d\d\d-\d\d-\d\d)",
    re.IGNORECASE,
)


def label(text: object, limit: int = MAX_LABEL) -> str:
    """``text`` as a gantt label or section name: inert, one line, short."""
    clean = " ".join(_UNSAFE.sub(" ", str(text)).split())
    if len(clean) > limit:
        clean = clean[: limit - 3].rstrip() + "..."
    if not clean or _KEYWORD.match(clean):
        clean = f"- {clean}".rstrip()
    return clean


def _ms(ts: float) -> int:
    return max(0, round(ts * 1000))


_Bar = tuple[str, str, str, int, int]  # step, label, tag, start ms, end ms


def _bars(events: Sequence[dict[str, Any]], end: float) -> list[_Bar]:
    """Each step's bar: from its ``step_start`` to its ``step_end`` (to the run's
    end, ``active``, when it has none: the run stopped during it)."""
    bars: list[_Bar] = []
    open_steps: dict[str, float] = {}
    for entry in events:
        step = str(entry.get("step") or "")
        if entry["what"] == "step_start":
            open_steps[step] = float(entry["ts"])
        elif entry["what"] == "step_end" and step in open_steps:
            began = open_steps.pop(step)
            status = str(entry.get("label", "")).rsplit(" ", 1)[-1]
            tag = "crit" if status in ("failed", "error") else "done"
            bars.append((step, f"{step} {status}", tag, _ms(began), _ms(entry["ts"])))
    for step, began in open_steps.items():
        bars.append((step, f"{step} running", "active", _ms(began), _ms(end)))
    return bars


def chosen_marks(marks: Sequence[dict[str, Any]], limit: int = MAX_MARKS) -> list[dict[str, Any]]:
    """At most ``limit`` marks, in time order: every failure, the first and last
    of each kind, each change of label (a probe's 200 after its 503s), then the
    earliest others."""
    if len(marks) <= limit:
        return list(marks)
    ranked: list[tuple[int, int]] = []
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for index, mark in enumerate(marks):
        first.setdefault(mark["what"], index)
        last[mark["what"]] = index
    for index, mark in enumerate(marks):
        if mark["what"] == "failure":
            rank = 0
        elif index in (first[mark["what"]], last[mark["what"]]):
            rank = 1
        elif index and mark.get("label") != marks[index - 1].get("label"):
            rank = 2
        else:
            rank = 3
        ranked.append((rank, index))
    keep = sorted(index for _, index in sorted(ranked)[:limit])
    return [marks[index] for index in keep]


def _task(text: str, tags: Iterable[str], start: int, length: int) -> str:
    data = ", ".join([*tags, str(start), f"{max(length, 0)}ms"])
    return f"    {label(text)} :{data}"


def _lane_lines(name: str, bars: list[_Bar], marks: list[dict[str, Any]], limit: int) -> list[str]:
    lines = [f"    section {label(name)}"]
    shown = chosen_marks(marks, limit)
    for _step, text, tag, start, end in bars:
        more = len(marks) - len(shown)
        suffix = f" ({more} more)" if more and len(bars) == 1 else ""
        lines.append(_task(text + suffix, [tag], start, max(end - start, 1)))
    for mark in shown:
        lines.append(_milestone(str(mark.get("label", "")), mark))
    return lines


def _milestone(text: str, mark: dict[str, Any]) -> str:
    tags = ["crit", "milestone"] if mark["what"] == "failure" else ["milestone"]
    return _task(text, tags, _ms(mark["ts"]), 0)


def _marks(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("what") not in STEP_KINDS]


def _run_lanes(run: RunResult, limit: int) -> list[str]:
    """A run's sections: one per step, its bar then its marks."""
    end = run.started_at + run.duration
    bars = _bars(run.events, end)
    order = list(dict.fromkeys(str(e.get("step") or "") for e in run.events))
    lines: list[str] = []
    for step in order:
        mine = [bar for bar in bars if bar[0] == step]
        marks = [m for m in _marks(run.events) if str(m.get("step") or "") == step]
        if mine or marks:
            lines += _lane_lines(step or "run", mine, marks, limit)
    return lines


def _fleet_lanes(runs: Sequence[RunResult], limit: int) -> list[str]:
    """A fleet's sections: one per target, a bar per step, the marks of all."""
    lines: list[str] = []
    for run in runs:
        if not run.events:
            continue
        lines.append(f"    section {label(run.target)}")
        for _step, text, tag, start, end in _bars(run.events, run.started_at + run.duration):
            lines.append(_task(text, [tag], start, max(end - start, 1)))
        marks = _marks(run.events)
        shown = chosen_marks(marks, limit)
        for mark in shown:
            lines.append(_milestone(_in_lane(mark), mark))
        if len(marks) > len(shown):
            at = {"what": "note", "ts": marks[-1]["ts"]}
            lines.append(_milestone(f"{len(marks) - len(shown)} more in report.json", at))
    return lines


def _in_lane(mark: dict[str, Any]) -> str:
    """A mark's label in a target's lane, where steps share one section: its step
    first, unless the label already starts with it ("probe 200" of the step
    ``probe``, the runner's "ask failed"), so no label says its step twice."""
    step = str(mark.get("step") or "")
    text = str(mark.get("label", ""))
    if not step or text == step or text.startswith(f"{step} "):
        return text
    return f"{label(step, 20)} {text}"


def mermaid_gantt(body: list[str]) -> list[str]:
    """The diagram's lines, fenced for Markdown."""
    return [
        "```mermaid",
        "gantt",
        "    dateFormat x",
        "    axisFormat %H:%M:%S",
        "    todayMarker off",
        *body,
        "```",
    ]


def _fitted(lanes: Any, subject: Any) -> list[str]:
    for limit in (MAX_MARKS, 4, 2, 0):
        lines = mermaid_gantt(lanes(subject, limit))
        if sum(len(line) + 1 for line in lines) <= MAX_DIAGRAM:
            return lines
    return ["(The timeline is too large to draw here: its events are in report.json.)"]


_CAPTION = (
    "Bars are steps (red: failed), diamonds the moments they marked; the axis shows "
    "your browser's local time. Every event, with its UTC time, is in report.json."
)


def timeline_section(run: RunResult) -> list[str]:
    """``## Timeline`` for ``report.md``; nothing when the run ran no step."""
    if not run.events:
        return []
    return ["", "## Timeline", "", _CAPTION, "", *_fitted(_run_lanes, run)]


def fleet_timeline_section(runs: Sequence[RunResult]) -> list[str]:
    """``## Timeline`` for a fleet's ``report.md``: one lane per target."""
    if not any(run.events for run in runs):
        return []
    return ["", "## Timeline", "", _CAPTION, "", *_fitted(_fleet_lanes, runs)]
