"""A check of Mermaid gantt diagrams for the timeline's tests: every emitted
diagram is checked line by line against ``gantt_line_ok``, written from Mermaid's own grammar,
``packages/mermaid/src/diagrams/gantt/parser/gantt.jison`` (mermaid-js/mermaid
df032c9). Its lexer (case-insensitive; jison takes the FIRST rule that matches)
reads, in this order among others::

    \\%\\%(?!\\{)*[^\\n]*              /* skip comments */
    [^\\}]\\%\\%*[^\\n]*               /* skip comments */
    [\\n]+                  return 'NL';
    \\s+                    /* skip whitespace */
    "gantt"                 return 'gantt';
    "dateFormat"\\s[^#\\n;]+ return 'dateFormat';
    "axisFormat"\\s[^#\\n;]+ return 'axisFormat';
    "todayMarker"\\s[^\\n;]+ return 'todayMarker';
    \\d\\d\\d\\d"-"\\d\\d"-"\\d\\d   return 'date';
    "title"\\s[^\\n]+        return 'title';
    "section"\\s[^\\n]+      return 'section';
    [^:\\n]+                return 'taskTxt';
    ":"[^#\\n;]+            return 'taskData';

and its grammar takes ``statement: ... | section | taskTxt taskData``. ganttDb's
``compileData`` splits the data on ``,``, strips leading tags (``active``,
``done``, ``crit``, ``milestone``, ``vert``), then reads ``start, length``;
``getStartDate`` reads a start of digits as Unix ms under ``dateFormat x`` and
``parseDuration`` a length as ``/^(\\d+(?:\\.\\d+)?)([Mdhmswy]|ms)$/``.
"""

from __future__ import annotations

import re

# What the lexer matches before a task's label (see the docstring): a task line
# that begins so is not a task.
_BEFORE_LABEL = re.compile(
    r"\s*(%|gantt|dateformat\s|inclusiveenddates|topaxis|axisformat\s|tickinterval\s|"
    r"includes\s|excludes\s|todaymarker\s|weekday\s|weekend\s|\d{4}-\d\d-\d\d|title\s|"
    r"accdescription\s|acctitle\s*:|accdescr|section\s|click\s|call\s|href\s)",
    re.IGNORECASE,
)
_TAGS = ("active", "done", "crit", "milestone", "vert")


def gantt_line_ok(line: str) -> bool:
    """One line of a gantt's body, as gantt.jison and ganttDb read it. Stricter in
    one way: a section's name has no ``:``, so a line meant as a task and read as
    a section (its label began with ``section ``) is refused."""
    body = line.strip()
    for keyword, rest in (
        ("dateFormat", r"[^#\n;]+"),
        ("axisFormat", r"[^#\n;]+"),
        ("todayMarker", r"[^\n;]+"),
        ("section", r"[^:\n]+"),  # no ':': a task read as a section is not ok either
    ):
        if re.fullmatch(rf"{keyword}\s{rest}", body):
            return True
    task = re.fullmatch(r"([^:\n]+):([^#\n;]+)", body)
    if task is None or _BEFORE_LABEL.match(task.group(1)) or "%" in task.group(1):
        return False
    data = [part.strip() for part in task.group(2).split(",")]
    while data and data[0] in _TAGS:
        data.pop(0)
    return (
        len(data) == 2
        and re.fullmatch(r"\d+", data[0]) is not None
        and re.fullmatch(r"(\d+(?:\.\d+)?)([Mdhmswy]|ms)", data[1]) is not None
    )


def diagrams(markdown: str) -> list[list[str]]:
    """Each ```mermaid block's lines; each must be a valid gantt."""
    found = re.findall(r"^```mermaid\n(.*?)\n```$", markdown, re.DOTALL | re.MULTILINE)
    blocks = [block.split("\n") for block in found]
    for lines in blocks:
        assert lines[0] == "gantt"
        bad = [line for line in lines[1:] if not gantt_line_ok(line)]
        assert bad == [], f"not gantt: {bad}"
    return blocks
