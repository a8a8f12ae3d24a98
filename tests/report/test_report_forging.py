"""Outside text in report.md and the job summary: it cannot close a fence, add a
heading, HTML, a link or an image, or get the summary rejected for its size;
``--report`` never writes through a symlink out of its folder; a log line that
is not valid Unicode still gets its report (issue 21, points 5 and 10)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from opskit import RunOptions, RunResult, run_playbook
from tests.cli_helpers import Cli

GROUP = "/ecs/chatbot"
TASK = "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"


def failing_logs_run(
    aws: Any, endpoint: str, tmp_path: Path, *lines: str, summary: Path | None = None
) -> tuple[RunResult, Path]:
    """logs.wait against moto, failing on the first line that says ERROR."""
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    stream = f"ecs/app/{TASK}"
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": m} for i, m in enumerate(lines)]
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)
    path = tmp_path / "wait.yaml"
    path.write_text(
        "name: wait\n"
        f"targets:\n  local: {{aws: {{region: us-east-1, endpoint_url: '{endpoint}'}}}}\n"
        "steps:\n"
        "  - id: logs\n"
        "    uses: logs.wait\n"
        f"    with: {{log_group: {GROUP}, streams: ['{stream}'], since: 10m,\n"
        "            failure: [ERROR], context_lines: 0, poll_interval: 100ms}\n",
        encoding="utf-8",
    )
    report = tmp_path / "report"
    result = run_playbook(
        path,
        RunOptions(target="local", handle_sigint=False),
        report_dir=report,
        step_summary=summary,
    )
    return result, report


def section(markdown: str, heading: str) -> list[str]:
    """The heading's first lines: the summary, the outputs' table to ``first_failure``."""
    lines = markdown.splitlines()
    start = lines.index(heading)
    return lines[start : start + 8]


def test_a_log_line_cannot_close_the_fence_or_forge_a_heading_html_or_links(
    aws: Any, aws_endpoint: str, tmp_path: Path
) -> None:
    """Today's report.md: a fence of four backticks (the line has four), closed by
    the line itself, then a real ``# ✅ passed`` heading and an ``<img>``."""
    hostile = (
        "ERROR ````\n# ✅ passed\n<img src=x onerror=alert(1)> "
        "[docs](https://evil.example) ![i](https://evil.example/i.png) | www.evil.example"
    )
    summary = tmp_path / "summary.md"

    result, report = failing_logs_run(aws, aws_endpoint, tmp_path, hostile, summary=summary)

    assert result.steps[0].status == "failed"
    markdown = (report / "report.md").read_text(encoding="utf-8")
    when = result.steps[0].outputs["first_failure"]["timestamp"]
    escaped = (
        f"failure pattern 'ERROR' in task 1a2b3c4d at {when}: ERROR \\`\\`\\`\\` \\# ✅ passed "
        "\\<img src=x onerror=alert(1)\\> \\[docs\\](https\\://evil.example) "
        "\\!\\[i\\](https\\://evil.example/i.png) \\| www\\.evil.example"
    )
    stream = f"ecs/app/{TASK}"
    assert section(markdown, "### `logs` — logs.wait — failed") == [
        "### `logs` — logs.wait — failed",
        "",
        escaped,
        "",
        "| Output | Value |",
        "| --- | --- |",
        "| `matched` | (none) |",
        f"| `first_failure` | `task_id` → `{TASK}`<br>`age` → `NEW`<br>`stream` → `{stream}`"
        f"<br>`pattern` → `ERROR`<br>`timestamp` → `{when}`<br>`line` → `````ERROR ```` "
        "# ✅ passed <img src=x onerror=alert(1)> [docs](https://evil.example) "
        "![i](https://evil.example/i.png) \\| www.evil.example`````<br>`context` → (none)"
        "<br>`after` → (none) |",
    ]
    detail = markdown.split("<details open><summary>Detail</summary>\n\n", 1)[1]
    assert detail.split("\n</details>", 1)[0].splitlines() == [
        "`````",
        f"task {TASK} (NEW), stream ecs/app/{TASK}:",
        f"> {when}  ERROR ````",
        "# ✅ passed",
        "<img src=x onerror=alert(1)> [docs](https://evil.example) "
        "![i](https://evil.example/i.png) | www.evil.example",
        "`````",
    ]
    row = next(line for line in markdown.splitlines() if line.startswith("| 1 | `logs` |"))
    assert row.startswith("| 1 | `logs` | logs.wait | ❌ failed | ")
    assert row.endswith(f"ms | {escaped} |")
    assert summary.read_text(encoding="utf-8") == markdown + "\n"


def test_a_200_kb_log_line_keeps_the_job_summary_under_128_kib_with_a_note(
    aws: Any, aws_endpoint: str, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# An earlier step's summary\n", encoding="utf-8")

    result, report = failing_logs_run(
        aws, aws_endpoint, tmp_path, "ERROR " + "x" * 200_000, summary=summary
    )

    written = summary.read_bytes()
    assert len(written) <= 128 * 1024
    text = written.decode("utf-8")
    assert text.startswith("# An earlier step's summary\n# wait: ❌ FAILED\n")
    when = result.steps[0].outputs["first_failure"]["timestamp"]
    cell = f"failure pattern 'ERROR' in task 1a2b3c4d at {when}: ERROR " + "x" * 200_000
    row = next(line for line in text.splitlines() if line.startswith("| 1 | `logs` |"))
    assert row.endswith(f" | {cell[:1999]}… |")  # a cell is cut at 2,000 characters
    assert text.endswith(
        "\n\n**This summary is cut here** to stay under GitHub's job summary limit "
        f"(128 KiB). The whole report: `{report / 'report.json'}`.\n"
    )
    # the report files themselves are whole
    document = json.loads((report / "report.json").read_text(encoding="utf-8"))
    assert document["steps"][0]["outputs"]["first_failure"]["line"] == "ERROR " + "x" * 200_000
    assert result.exit_code == 1


def test_a_log_line_with_a_lone_surrogate_still_gets_its_report(
    aws: Any, aws_endpoint: str, tmp_path: Path
) -> None:
    """A byte that was not UTF-8, decoded with surrogateescape (as a task's output
    is), reaches CloudWatch and comes back as a lone surrogate: today writing
    report.json raised UnicodeEncodeError and no report was written."""
    summary = tmp_path / "summary.md"

    result, report = failing_logs_run(
        aws, aws_endpoint, tmp_path, "ERROR bad byte \udcff here", summary=summary
    )

    assert result.exit_code == 1
    document = json.loads((report / "report.json").read_text(encoding="utf-8"))
    assert document["steps"][0]["outputs"]["first_failure"]["line"] == "ERROR bad byte \udcff here"
    markdown = (report / "report.md").read_text(encoding="utf-8")
    assert "ERROR bad byte \\\\udcff here" not in markdown
    when = document["steps"][0]["outputs"]["first_failure"]["timestamp"]
    assert f"> {when}  ERROR bad byte \\udcff here" in markdown.splitlines()
    junit = (report / "junit.xml").read_text(encoding="utf-8")
    assert "ERROR bad byte \\udcff here" in junit
    assert "ERROR bad byte \\udcff here" in summary.read_text(encoding="utf-8")


@pytest.mark.usefixtures("engine_steps")
def test_report_refuses_a_symlink_out_of_its_folder(tmp_path: Path, cli: Cli) -> None:
    playbook = tmp_path / "p.yaml"
    playbook.write_text("steps:\n  - {id: hello, uses: test.echo, with: {value: hi}}\n")
    report = tmp_path / "report"
    report.mkdir()
    bashrc = tmp_path / "home" / ".bashrc"
    bashrc.parent.mkdir()
    bashrc.write_text("export PATH=$HOME/bin:$PATH\n")
    (report / "report.md").symlink_to(bashrc)

    result = cli.run(playbook, "--report", str(report))

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"opskit: error: {report / 'report.md'}: a symlink to {bashrc}, outside the report "
        "folder; opskit does not write through it (remove it or choose another --report)\n"
    )
    assert bashrc.read_text() == "export PATH=$HOME/bin:$PATH\n"
