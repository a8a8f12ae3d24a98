"""release.diagnose against moto's server: its read of the running tasks' code
digests, with CloudWatch Logs behind the quota front (``tests/logs_front.py``),
and its reading of the service's stopped tasks, played by the ECS driver.

With a synced release beside the running task, it says what the two mean
together. Only stops that say something about the code count: a Spot reclaim, a retirement,
a scale-in or an ELB replacement is ECS replacing a task (``opskit.ecs.stops``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pytest import approx

from opskit.aws import AwsAccess, AwsSettings
from opskit.clock import FakeClock
from opskit.logs.budget import LogsBudget, reset_budgets
from opskit.logs.times import iso_ms
from opskit.steps.release_diagnose import STEP
from opskit.steps.s3_sync import STEP as SYNC
from tests.clocks import LimitedClock
from tests.conftest import REGION
from tests.ecs_driver import (
    CLUSTER,
    CRASH_REASON,
    SERVICE,
    EcsDriver,
    build_stack,
    service_logging_to,
)
from tests.ecs_driver import clock as driver_clock
from tests.logs_front import LogsFront
from tests.steps.s3_helpers import DEST, write_tree

GROUP = "/ecs/chatbot"
BUCKET = "chatbot-code"
DIGEST = "3f2a" * 16


class LogsBehind(AwsAccess):
    """moto's server for every service but CloudWatch Logs, which goes through
    the front (the front plays Logs only)."""

    def __init__(self, moto_url: str, front_url: str):
        super().__init__("test", AwsSettings(region=REGION, endpoint_url=moto_url))
        self.front = AwsAccess("test", AwsSettings(region=REGION, endpoint_url=front_url))

    def client(self, service: str, *, retries: Mapping[str, Any] | None = None) -> Any:
        if service == "logs":
            return self.front.client(service, retries=retries)
        return super().client(service, retries=retries)


@pytest.fixture
def clock() -> LimitedClock:
    reset_budgets(lambda: LogsBudget(jitter=lambda: 0.4))  # backoffs at 70 % of their ceiling
    return LimitedClock()


@pytest.fixture
def front(aws_endpoint: str, clock: LimitedClock, make_ctx: Any) -> Iterator[LogsFront]:
    with LogsFront(aws_endpoint, clock).running() as running:
        make_ctx.aws = LogsBehind(aws_endpoint, running.url)
        yield running


@pytest.fixture
def task_id(aws: AwsAccess) -> str:
    """A service with one running task whose awslogs stream holds its code
    digest line, and an empty code bucket."""
    ecs, deployment = service_logging_to(aws, GROUP)
    task = ecs.run_task(
        cluster="chatbot", taskDefinition="chatbot", launchType="FARGATE", startedBy=deployment
    )["tasks"][0]
    found = task["taskArn"].rsplit("/", 1)[-1]
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName=f"ecs/app/{found}")
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=f"ecs/app/{found}",
        logEvents=[
            {"timestamp": int(time.time() * 1000), "message": f"code digest {DIGEST} verified"}
        ],
    )
    aws.client("s3").create_bucket(Bucket=BUCKET)
    return found


def diagnose(make_ctx: Any, clock: FakeClock, timeout: float | None = None) -> Any:
    inputs = {"cluster": "chatbot", "service": "chatbot", "destination": f"s3://{BUCKET}/src/"}
    return STEP.run(make_ctx(clock=clock, timeout=timeout), STEP.coerce_inputs(inputs))


def test_reads_the_code_digest_each_running_task_logged(
    task_id: str, front: LogsFront, clock: LimitedClock, make_ctx: Any
) -> None:
    result = diagnose(make_ctx, clock)

    assert result.outputs.running_digests == {task_id: DIGEST}
    assert clock.sleeps == []


def test_persistent_throttling_ends_the_read_after_a_minute_and_says_the_digest_is_unknown(
    task_id: str, front: LogsFront, clock: LimitedClock, make_ctx: Any
) -> None:
    """diagnose.yaml gives release.diagnose no timeout: under persistent
    throttling its read once polled for ever. It stops at the one-off read's
    limit (a minute on the step's clock) and says why the digest is unknown."""
    front.throttling.add("FilterLogEvents")

    result = diagnose(make_ctx, clock)

    since = iso_ms(int(FakeClock().now * 1000))
    assert result.status == "ok"
    assert result.outputs.running_digests == {task_id: None}
    assert result.outputs.findings[0] == (
        f"the code digest of task(s) {task_id[:12]} is unknown: CloudWatch Logs was throttling "
        f"FilterLogEvents (ThrottlingException: Rate exceeded) since {since}, 6 of 8 requests "
        "throttled, 1 more held back (stopped after 1m00s); run this again in a few minutes"
    )
    assert sum(clock.sleeps) == approx(60.0)
    assert make_ctx.messages("warning") == [
        "CloudWatch Logs is throttling FilterLogEvents (ThrottlingException: Rate exceeded); "
        "backing off 1.4 s"
    ]


def test_the_steps_timeout_ends_the_read_when_it_comes_first(
    task_id: str, front: LogsFront, clock: LimitedClock, make_ctx: Any
) -> None:
    front.throttling.add("FilterLogEvents")

    result = diagnose(make_ctx, clock, timeout=10.0)

    assert result.outputs.findings[0].endswith(
        "4 of 6 requests throttled, 1 more held back (stopped at the step's timeout, after "
        "10.0s); run this again in a few minutes"
    ), result.outputs.findings[0]
    assert sum(clock.sleeps) == approx(10.0)


# -- stopped tasks ---------------------------------------------------------------------


@pytest.fixture
def stack(aws: AwsAccess) -> Iterator[EcsDriver]:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    driver = build_stack(aws)
    aws.client("ecs").update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
    yield driver
    EcsDriver.uninstall()


def test_a_spot_reclaim_is_not_a_stopped_task_to_worry_about(
    stack: EcsDriver, make_ctx: Any
) -> None:
    stack.start_tasks()
    stack.reclaim()
    (running,) = stack.start_tasks()  # ECS's replacement
    stack.drain_old()  # a scale-in: no problem either
    stack.complete()

    result = diagnose(make_ctx, FakeClock())

    assert result.outputs.findings == [
        f"task(s) {running.id[:12]} logged no code digest in the last 168h: which code they "
        "run cannot be told from here"
    ]


def test_a_crash_is_said_and_a_newer_reclaim_beside_it_is_not(
    stack: EcsDriver, make_ctx: Any
) -> None:
    stack.start_tasks()
    stack.crash()
    stack.start_tasks()
    stack.reclaim()  # the newest stop, and no problem

    result = diagnose(make_ctx, FakeClock())

    assert f"1 task(s) stopped recently; the newest: {CRASH_REASON}" in result.outputs.findings


# -- the synced release beside the running task ------------------------------------------

PIPELINE = "https://ci.example/chatbot/-/pipelines/7"


def test_the_running_task_runs_the_synced_release_never_proven_live(
    aws: Any, make_ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI_PIPELINE_URL", PIPELINE)  # who synced, as the record says
    driver = build_stack(aws)
    aws.client("s3").create_bucket(Bucket=BUCKET)
    source = write_tree(tmp_path / "src", {"chatbot_app.py": "import streamlit\n"})
    synced = SYNC.run(
        make_ctx(clock=FakeClock(now=1_700_000_000)),
        SYNC.coerce_inputs({"source": str(source), "destination": DEST}),
    )
    digest = synced.outputs.digest
    (task,) = driver.tasks()
    driver.put_logs(task, ["starting", f"code digest {digest} verified"])

    result = STEP.run(
        make_ctx(clock=driver_clock()),
        STEP.coerce_inputs({"cluster": CLUSTER, "service": SERVICE, "destination": DEST}),
    )

    assert result.outputs.running_digests == {task.id: digest}
    assert result.outputs.live_digest == digest
    assert result.outputs.findings == [
        f"running code is the synced code: release {digest[:12]} (synced "
        f"2023-11-14T22:13:20Z by {PIPELINE}, no verdict)",
        f"the live release {digest[:12]} was never proven live (no recorded verdict); no "
        "other release passed, so there is nothing to roll back to",
    ]
