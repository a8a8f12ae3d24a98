"""The declared-calls check (``tests/declared_calls.py``) counts what a step type's
code sends, and nothing else: not a test's set-up, not a scripted move played in
the step's sleep; a library's worker thread works for the step that runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from opskit.s3.transfer import PART_SIZE
from opskit.steps.logs_wait import STEP as WAIT
from opskit.steps.s3_sync import STEP as SYNC
from tests.clocks import ScriptedClock
from tests.declared_calls import Undeclared, recording, report
from tests.steps.s3_helpers import BUCKET, DEST, write_tree

GROUP = "/ecs/chatbot"
STREAM = "ecs/app/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"


def declaring(**actions: tuple[str, ...]) -> Any:
    """What each step type declares for this test (``s3_sync=...``)."""
    return lambda step_type: actions.get(step_type.replace(".", "_"))


def test_what_a_step_sends_is_counted_and_the_tests_own_calls_are_not(
    aws: Any, make_ctx: Any
) -> None:
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)

    def line_arrives() -> None:  # played inside the step's sleep, by the test
        stamp = int(time.time() * 1000)
        logs.put_log_events(
            logGroupName=GROUP,
            logStreamName=STREAM,
            logEvents=[{"timestamp": stamp, "message": "ok"}],
        )

    with recording() as calls:
        WAIT.run(
            make_ctx(clock=ScriptedClock(now=time.time(), script=[line_arrives])),
            WAIT.coerce_inputs(
                {"log_group": GROUP, "streams": [STREAM], "success": ["ok"], "poll_interval": 1.0}
            ),
        )
        logs.filter_log_events(logGroupName=GROUP)  # the test's own read, after the step

    undeclared = calls.undeclared(declaring(logs_wait=("logs:FilterLogEvents",)))

    assert undeclared == [
        Undeclared("logs.wait", "logs:DescribeLogGroups", "logs:DescribeLogGroups"),
        Undeclared("logs.wait", "logs:GetLogEvents", "logs:GetLogEvents"),
    ]
    assert report(undeclared) == (
        "logs.wait calls logs:DescribeLogGroups (logs:DescribeLogGroups) but its PERMISSIONS "
        "do not declare it\n"
        "logs.wait calls logs:GetLogEvents (logs:GetLogEvents) but its PERMISSIONS do not "
        "declare it"
    )


def test_uploads_sent_by_a_transfer_thread_count_for_the_step_that_runs(
    aws: Any, make_ctx: Any, tmp_path: Path
) -> None:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    # a file of a part or more goes up as a multipart upload, from s3transfer's threads
    big = b"x" * PART_SIZE
    source = write_tree(tmp_path / "src", {"big.bin": big})

    with recording() as calls:
        SYNC.run(make_ctx(), SYNC.coerce_inputs({"source": str(source), "destination": DEST}))

    sent = {(step_type, request.operation) for step_type, request in calls.sent}
    assert {("s3.sync", "UploadPart"), ("s3.sync", "CompleteMultipartUpload")} <= sent
    everything_but_writes = tuple(a for a in SYNC.permissions.actions if a != "s3:PutObject")
    undeclared = calls.undeclared(declaring(s3_sync=everything_but_writes))
    assert [(u.step_type, u.action) for u in undeclared] == [("s3.sync", "s3:PutObject")]
    assert calls.undeclared(declaring()) == []  # a type that declares nothing is not judged
