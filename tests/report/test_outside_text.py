"""Outside text in the terminal and CI logs: a container's log lines, a step's
error, a release record's ``who`` can never begin a workflow command, hide a
line break or send an escape sequence (issue 21, point 4)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from opskit.ci.github import annotation
from opskit.releases.table import release_lines
from tests.cli_helpers import Cli

GROUP = "/ecs/chatbot"
TASK = "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"
HOSTILE_LOG = [
    "starting\n::add-mask::secret-word",
    "::stop-commands::x",
    "  ##[error]all tests failed ##vso[task.setvariable variable=x]1",
    "\x1b[31mred\x1b[0m \x1b]0;owned title\x07done",
    "one\u2028::warning::two\rthree",
]


def put_task_log(aws: Any, lines: list[str]) -> None:
    """``lines`` as the task's container logged them, one event each, just now."""
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    stream = f"ecs/app/{TASK}"
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": m} for i, m in enumerate(lines)]
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)


def tail_playbook(tmp_path: Path, endpoint: str) -> Path:
    path = tmp_path / "tail.yaml"
    path.write_text(
        "name: tail\n"
        f"targets:\n  local: {{aws: {{region: us-east-1, endpoint_url: '{endpoint}'}}}}\n"
        "steps:\n"
        "  - id: tail\n"
        "    uses: logs.tail\n"
        f"    with: {{log_group: {GROUP}, streams: ['ecs/app/{TASK}'], follow: false}}\n",
        encoding="utf-8",
    )
    return path


def test_a_container_log_line_cannot_steer_the_ci_log(
    aws: Any, aws_endpoint: str, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_task_log(aws, HOSTILE_LOG)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")

    result = cli.run(tail_playbook(tmp_path, aws_endpoint), "-t", "local")

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("  tailing 1 stream")))
    assert lines[start + 1 : start + 9] == [
        "  │ 1a2b3c4d NEW starting",
        "  │ 1a2b3c4d NEW \\::add-mask::secret-word",
        "  │ 1a2b3c4d NEW \\::stop-commands::x",
        "  │ 1a2b3c4d NEW   #\\#[error]all tests failed #\\#vso[task.setvariable variable=x]1",
        "  │ 1a2b3c4d NEW \\x1b[31mred\\x1b[0m \\x1b]0;owned title\\x07done",
        "  │ 1a2b3c4d NEW one",
        "  │ 1a2b3c4d NEW \\::warning::two",
        "  │ 1a2b3c4d NEW three",
    ]
    assert lines[start + 9].startswith("✓ ok tail ")
    assert lines[start + 10].startswith("PASSED in ")
    assert len(lines) == start + 11


def test_a_200_kb_log_line_is_printed_cut_at_4096_characters_with_the_count(
    aws: Any, aws_endpoint: str, tmp_path: Path, cli: Cli
) -> None:
    """Today the terminal and the CI log print the whole 200 KB line; each printed
    line of outside text now stops at 4,096 characters and says how many it cut
    (``--output json`` and report.json keep the text whole)."""
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    stream = f"ecs/app/{TASK}"
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    now = int(time.time() * 1000)
    long_line = "::add-mask::" + "x" * 200_000
    events = [{"timestamp": now + i, "message": m} for i, m in enumerate([long_line, "after"])]
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)

    result = cli.run(tail_playbook(tmp_path, aws_endpoint), "-t", "local")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("  tailing 1 stream")))
    assert lines[start + 1 : start + 3] == [
        "  │ 1a2b3c4d NEW \\::add-mask::" + "x" * (4096 - 12) + " … 195,916 characters cut",
        "  │ 1a2b3c4d NEW after",
    ]
    assert lines[start + 3].startswith("✓ ok tail ")


@pytest.mark.usefixtures("engine_steps")
def test_a_step_error_quoting_outside_text_cannot_steer_the_ci_log(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """test.leak quotes its text in an info line, a log line, its failure summary
    and its detail, as a step quotes an AWS error or an app's answer."""
    playbook = tmp_path / "leak.yaml"
    playbook.write_text(
        "steps:\n"
        '  - {id: leak, uses: test.leak, with: {text: "boom\\n::error::forged\\e[2J\\u202e"}}\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("GITHUB_ACTIONS", "true")

    result = cli.run(playbook)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[1:7] == [
        "▶ leak test.leak",
        "  info says boom",
        "  \\::error::forged\\x1b[2J\\u202e",
        "  │ abcdef12 NEW log says boom",
        "  │ abcdef12 NEW \\::error::forged\\x1b[2J\\u202e",
        lines[6],
    ]
    assert lines[6].startswith("✗ FAILED leak ") and lines[6].endswith("  summary says boom")
    assert lines[7:10] == [
        "    \\::error::forged\\x1b[2J\\u202e",
        "    detail says boom",
        "    \\::error::forged\\x1b[2J\\u202e",
    ]
    assert lines[10].startswith("FAILED in ")


def test_json_lines_keep_every_event_on_one_line_that_decodes_to_the_text(
    aws: Any, aws_endpoint: str, tmp_path: Path, cli: Cli
) -> None:
    """json.dumps leaves U+2028, C1 controls and lone surrogates raw: today a log
    line with one broke the line (a log viewer splits there) or the write."""
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    stream = f"ecs/app/{TASK}"
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    hostile = "one\u2028::warning::two \x85 \x9b31m \udcff"
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": int(time.time() * 1000), "message": hostile}],
    )

    result = cli.run(tail_playbook(tmp_path, aws_endpoint), "-t", "local", "--output", "json")

    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.split("\n") if '"kind": "log"' in line]
    assert '"message": "one\\u2028::warning::two \\u0085 \\u009b31m \\udcff"' in line
    assert json.loads(line)["message"] == hostile


def test_an_annotation_shows_outside_text_escaped_inside_githubs_escaping() -> None:
    line = annotation("opskit: a, b [x\x1b]", "boom 100% \x1b[2J\u2028::error::forged\n")

    assert line == (
        "::error title=opskit%3A a%2C b [x\\x1b]::boom 100%25 \\x1b[2J\\u2028::error::forged\\n"
    )


def test_a_release_records_who_is_one_line_in_the_release_table() -> None:
    record = {
        "name": "r1",
        "synced_at": "2026-01-02T03:04:05Z",
        "digest": "a" * 64,
        "files": 2,
        "bytes": 17,
        "verdict": "passed",
        "deployment_id": None,
        "who": "ci@runner\n::add-mask::passed\x1b]0;x\x07",
        "live": True,
    }

    lines = release_lines([record], "s3://b/src/")

    assert lines[2] == (
        "2026-01-02 03:04:05  aaaaaaaaaaaa  2      17 B  passed   -           "
        "ci@runner\\n::add-mask::passed\\x1b]0;x\\x07  <- live"
    )


@pytest.mark.usefixtures("engine_steps")
def test_an_error_message_is_printed_one_prefixed_line_per_line(tmp_path: Path, cli: Cli) -> None:
    """The CLI's one boundary prints an error's message (here it quotes a file
    name; elsewhere an AWS error or an S3 key) as it prints any outside text."""
    playbook = tmp_path / "p.yaml"
    playbook.write_text("steps:\n  - {id: hello, uses: test.echo, with: {value: hi}}\n")
    missing = tmp_path / "vars\n::add-mask::y"

    result = cli.run(playbook, "--vars-file", str(missing))

    assert result.returncode == 2
    assert result.stderr.splitlines()[-2:] == [
        f"opskit: error: {tmp_path}/vars",
        "opskit: error: \\::add-mask::y: cannot read vars file: No such file or directory",
    ]
