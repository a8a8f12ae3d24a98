"""A multi-line output (ecs.redeploy's ``diff``) in report.md: a table cell would
flatten it into one unreadable line, so the cell says where it is and a fenced
block below the table shows it, a ``diff`` fence so that GitHub colours it."""

from __future__ import annotations

from opskit.model import RunResult, StepRecord
from opskit.report.markdown import render_markdown

DIFF = "\n".join(
    [
        "--- chatbot:1",
        "+++ taskdef.json",
        "@@ -21,5 +21,5 @@",
        '-  "cpu": "256",',
        '+  "cpu": "512",',
        '   "command": ["sh", "-c", "echo ``` | tee x"],',
    ]
)


def report(outputs: dict) -> list[str]:
    record = StepRecord(
        id="deploy", uses="ecs.redeploy", title="deploy", phase="main", status="changed",
        summary="deployment COMPLETED", outputs=outputs,
    )  # fmt: skip
    result = RunResult("p.yaml", "deploy", "here", False, "run-1", 0.0, steps=[record])
    return render_markdown(result).splitlines()


def test_the_diff_output_is_a_fenced_diff_block_below_its_table() -> None:
    lines = report({"task_definition": "arn:...:chatbot:2", "diff": DIFF})

    assert "| `diff` | (6 lines, below) |" in lines
    assert "| `task_definition` | `arn:...:chatbot:2` |" in lines
    start = lines.index("**`diff`**")
    assert lines[start + 2] == "````diff"  # longer than the ``` inside the text
    assert lines[start + 3 : start + 9] == DIFF.splitlines()
    assert lines[start + 9] == "````"


def test_a_one_line_output_stays_in_its_cell_and_an_empty_diff_shows_no_block() -> None:
    lines = report({"diff": "", "container": "app"})

    assert "| `container` | `app` |" in lines
    assert not any(line.startswith("```") for line in lines)
    assert "**`diff`**" not in lines
