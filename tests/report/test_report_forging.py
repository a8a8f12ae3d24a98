"""Outside text in report.md and the job summary: it cannot close a fence, add a
heading, HTML, a link or an image, or get the summary rejected for its size;
``--report`` never writes through a symlink out of its folder; a log line that
is not valid Unicode still gets its report (issue 21, points 5 and 10)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opskit import RunOptions, RunResult, run_playbook
from opskit.report.files import write_report_files
from opskit.report.mdtext import fenced
from tests.cli_helpers import Cli
from tests.report.test_outside_text import GROUP, TASK, put_task_log


def failing_logs_run(
    aws: Any,
    endpoint: str,
    tmp_path: Path,
    *lines: str,
    summary: Path | None = None,
    on_failure: str = "",
) -> tuple[RunResult, Path]:
    """logs.wait against moto, failing on the first line that says ERROR (then the
    ``on_failure`` steps given, as YAML list items)."""
    put_task_log(aws, lines)
    path = tmp_path / "wait.yaml"
    path.write_text(
        "name: wait\n"
        f"targets:\n  local: {{aws: {{region: us-east-1, endpoint_url: '{endpoint}'}}}}\n"
        "steps:\n"
        "  - id: logs\n"
        "    uses: logs.wait\n"
        f"    with: {{log_group: {GROUP}, streams: ['ecs/app/{TASK}'], since: 10m,\n"
        "            failure: [ERROR], context_lines: 0, poll_interval: 100ms}\n"
        + (f"on_failure:\n{on_failure}" if on_failure else ""),
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


def test_an_emoji_shortcode_in_a_log_line_shows_as_typed_not_as_an_emoji(
    aws: Any, aws_endpoint: str, tmp_path: Path
) -> None:
    """GitHub turns ``:white_check_mark:`` into ✅ in the rendered text, after
    Markdown took away any backslash: today the summary shows a log line's
    ``:white_check_mark: all checks passed`` as a green tick. A WORD JOINER
    (U+2060, invisible) after the first colon keeps it the text it was; a time
    (``12:30:45``) is no shortcode and stays as it is; a code span is never
    turned into emoji."""
    hostile = "ERROR :white_check_mark: all checks passed :+1: :100: at 12:30:45"

    result, report = failing_logs_run(aws, aws_endpoint, tmp_path, hostile)

    markdown = (report / "report.md").read_text(encoding="utf-8")
    when = result.steps[0].outputs["first_failure"]["timestamp"]
    shown = (
        f"failure pattern 'ERROR' in task 1a2b3c4d at {when}: ERROR "
        ":\u2060white_check_mark: all checks passed :\u2060+1: :\u2060100: at 12:30:45"
    )
    assert section(markdown, "### `logs` — logs.wait — failed")[2] == shown
    row = next(line for line in markdown.splitlines() if line.startswith("| 1 | `logs` |"))
    assert row.endswith(f"ms | {shown} |")
    assert f"`line` → `{hostile}`" in markdown


def test_a_200_kb_log_line_is_cut_in_the_report_and_the_summary_keeps_every_section(
    aws: Any, aws_endpoint: str, tmp_path: Path
) -> None:
    """Today the line is whole in report.md's detail block (212 KB), and the job
    summary is cut at it: the rest of the detail and the on_failure diagnostics
    are lost. Each line of a detail block is now cut at 4,096 characters, so the
    summary (and report.md) keep every section; report.json keeps the line whole."""
    summary = tmp_path / "summary.md"
    summary.write_text("# An earlier step's summary\n", encoding="utf-8")
    stream = f"ecs/app/{TASK}"
    diagnostics = (
        "  - id: tail\n"
        "    uses: logs.tail\n"
        f"    with: {{log_group: {GROUP}, streams: ['{stream}'], follow: false}}\n"
    )

    result, report = failing_logs_run(
        aws,
        aws_endpoint,
        tmp_path,
        "ERROR " + "x" * 200_000,
        summary=summary,
        on_failure=diagnostics,
    )

    assert result.exit_code == 1
    markdown = (report / "report.md").read_text(encoding="utf-8")
    when = result.steps[0].outputs["first_failure"]["timestamp"]
    line = f"> {when}  ERROR " + "x" * 200_000
    detail = markdown.split("<details open><summary>Detail</summary>\n\n", 1)[1]
    assert detail.split("\n</details>", 1)[0].splitlines() == [
        "```",
        f"task {TASK} (NEW), stream {stream}:",
        f"{line[:4096]} … {len(line) - 4096:,} characters cut (report.json has the whole line)",
        "```",
    ]
    diagnostics_section = markdown.split("\n## Diagnostics (on_failure)\n", 1)[1].splitlines()
    assert diagnostics_section[3].startswith("| 1 | `tail` | logs.tail | ✅ ok | ")
    assert diagnostics_section[:3] + diagnostics_section[4:] == [
        "",
        "| | Step | Type | Status | Duration | Summary |",
        "| --- | --- | --- | --- | --- | --- |",
        "",
        "### `tail` — logs.tail — ok",
        "",
        "1 lines from 1 stream(s) of /ecs/chatbot, read once",
        "",
        "| Output | Value |",
        "| --- | --- |",
        "| `lines_read` | `1` |",
        f"| `streams` | `{stream}` |",
    ]
    assert len(markdown.encode("utf-8")) < 32 * 1024
    # the whole report.md in the summary, after what was there: nothing cut
    assert summary.read_text(encoding="utf-8") == (
        "# An earlier step's summary\n" + markdown + "\n"
    )
    row = next(line for line in markdown.splitlines() if line.startswith("| 1 | `logs` |"))
    cell = f"failure pattern 'ERROR' in task 1a2b3c4d at {when}: ERROR " + "x" * 200_000
    assert row.endswith(f" | {cell[:1999]}… |")  # a cell is cut at 2,000 characters
    # the report files themselves are whole
    document = json.loads((report / "report.json").read_text(encoding="utf-8"))
    assert document["steps"][0]["outputs"]["first_failure"]["line"] == "ERROR " + "x" * 200_000
    assert document["steps"][0]["detail"].splitlines()[1] == line


def test_a_summary_past_128_kib_is_cut_at_a_line_with_its_blocks_closed_and_a_note(
    tmp_path: Path,
) -> None:
    """Earlier steps left 100 KiB in the file; a report with many detail lines
    (each under the line cap) is cut at the line that would pass 128 KiB."""
    summary = tmp_path / "summary.md"
    summary.write_text("x" * (100 * 1024 - 1) + "\n", encoding="utf-8")
    detail = "\n".join(f"line {n:05} " + "y" * 1000 for n in range(40))
    markdown = "\n".join(
        [
            "# run",
            "",
            "<details open><summary>Detail</summary>",
            "",
            *fenced(detail),
            "",
            "</details>",
        ]
    )

    write_report_files(tmp_path / "r", {}, markdown + "\n", lambda: "", step_summary=summary)

    written = summary.read_bytes()
    assert len(written) <= 128 * 1024
    added = written.decode("utf-8")[100 * 1024 :].splitlines()
    kept = [line for line in added if line.startswith("line ")]
    assert 20 < len(kept) < 40
    assert kept == [f"line {n:05} " + "y" * 1000 for n in range(len(kept))]
    assert added[: len(kept) + 5][:5] == [
        "# run",
        "",
        "<details open><summary>Detail</summary>",
        "",
        "```",
    ]
    assert added[5 + len(kept) :] == [
        "```",
        "",
        "</details>",
        "",
        "**This summary is cut here** to stay under GitHub's job summary limit (128 KiB). "
        f"The whole report: `{tmp_path / 'r' / 'report.json'}`.",
    ]


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
