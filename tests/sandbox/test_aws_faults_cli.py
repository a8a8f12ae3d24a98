"""`opskit sandbox fault ecs|logs`, `status` and `fault clear` on a background
sandbox (`opskit sandbox up`), as an on-call engineer switches them: through the
CLI's one boundary, in process; the sandbox plays what the file says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from opskit.aws import boto3_session
from opskit.sandbox import SandboxInfo
from opskit.sandbox.state import aws_faults_path
from tests.cli_helpers import Cli
from tests.sandbox.sandbox_helpers import SharedSandbox, background_sandbox

STALE = (
    "stale reads: the next 2 DescribeServices after each UpdateService show the service as "
    "before it, the next 2 DescribeTasks of each new task answer it MISSING"
)
THROTTLE = (
    "FilterLogEvents throttled above 1 requests/s, the other reads above their quotas "
    "(ThrottlingException: Rate exceeded)"
)


@pytest.fixture(scope="module")
def module_sandbox(module_environment: Path) -> Iterator[SharedSandbox]:
    with background_sandbox() as shared:
        yield shared


def _status_rows(cli: Cli) -> list[str]:
    """The AWS faults rows of `opskit sandbox status`, without the label column."""
    lines = cli("sandbox", "status").stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  AWS faults:"))
    return [line[17:] for line in lines[start:]]


def _filter(info: SandboxInfo) -> str:
    logs = boto3_session().client(
        "logs",
        endpoint_url=info.endpoint_url,
        region_name=info.region,
        aws_access_key_id=info.access_key_id,
        aws_secret_access_key=info.secret_access_key,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    try:
        logs.filter_log_events(logGroupName="/ecs/chatbot", limit=1)
    except ClientError as err:
        return str(err.response["Error"]["Code"])
    return "ok"


def test_a_switch_round_trips_through_status_and_clear(sandbox: SandboxInfo, cli: Cli) -> None:
    endpoint = f"(AWS endpoint {sandbox.endpoint_url})"
    assert _status_rows(cli) == ["none"]

    ecs = cli("sandbox", "fault", "ecs", "stale_reads", "--calls", "2")
    logs = cli("sandbox", "fault", "logs", "throttle", "--rate", "1")
    played = [_filter(sandbox), _filter(sandbox)]  # the background sandbox reads the file

    assert (ecs.returncode, ecs.stdout) == (
        0,
        f"ECS fault set: stale_reads: {STALE} {endpoint}\n"
        "  (clear with: opskit sandbox fault clear)\n",
    )
    assert (logs.returncode, logs.stdout) == (
        0,
        f"CloudWatch Logs fault set: throttle: {THROTTLE} {endpoint}\n"
        f"  also in force: ecs stale_reads: {STALE}\n"
        "  (clear with: opskit sandbox fault clear)\n",
    )
    assert played == ["ok", "ThrottlingException"]
    assert _status_rows(cli) == [
        f"ecs stale_reads: {STALE}; 0 stale answers so far",
        f"logs throttle: {THROTTLE}; 1 request throttled so far",
    ]

    cleared_logs = cli("sandbox", "fault", "clear", "logs")

    assert cleared_logs.stdout == (
        f"CloudWatch Logs faults cleared {endpoint}\n"
        f"  also in force: ecs stale_reads: {STALE}\n"
        "  (clear with: opskit sandbox fault clear)\n"
    )
    assert _filter(sandbox) == "ok"
    assert _status_rows(cli) == [f"ecs stale_reads: {STALE}; 0 stale answers so far"]

    cleared = cli("sandbox", "fault", "clear")

    assert cleared.stdout == (
        f"Bedrock faults cleared (endpoint {sandbox.bedrock_endpoint_url})\n"
        f"AWS faults cleared {endpoint}\n"
    )
    assert _status_rows(cli) == ["none"]
    assert json.loads(aws_faults_path().read_text()) == {"faults": []}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["ecs", "sideways"],
            "opskit sandbox fault ecs: unknown fault 'sideways'; known: stale_reads, "
            "placement, spot",
        ),
        (
            ["logs", "throttle", "--seconds", "3"],
            "opskit sandbox fault logs: --seconds applies to late only, not to throttle",
        ),
        (["logs", "late"], "opskit sandbox fault logs: late needs --seconds, a number above 0"),
        (
            ["ecs", "spot", "--calls", "0"],
            "opskit sandbox fault ecs: --calls must be a whole number of at least 1, not 0",
        ),
    ],
)
def test_a_bad_switch_is_one_clear_line_and_exit_2(args: list[str], message: str, cli: Cli) -> None:
    result = cli("sandbox", "fault", *args)

    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"opskit: error: {message}\n",
    )
