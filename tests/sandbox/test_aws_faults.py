"""The sandbox plays what AWS documents and moto does not show (issue 19): each
fault switched on in process, seen through a real boto3 client exactly as AWS
words it. The module shares one sandbox running the small stand-in entrypoint
(same contract as the stack's, no Streamlit), settled and without faults before
each test; clocks the tests control play seconds of quota and delay without
waiting them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

from opskit.aws import boto3_session
from opskit.clock import FakeClock
from opskit.sandbox import Sandbox
from opskit.sandbox.aws_faults import AwsFaultBoard, FaultOptions, make_aws_fault
from opskit.sandbox.ports import free_port
from tests.sandbox.conftest import STANDIN
from tests.sandbox.sandbox_helpers import client, wait_for

PLACEMENT_EVENT = (
    "(service chatbot) was unable to place a task. Reason: Capacity is unavailable at this "
    "time. Please try again later or in a different availability zone."
)


@pytest.fixture(scope="module")
def standin(module_environment: Path) -> Iterator[Sandbox]:
    source = module_environment / "app"
    source.mkdir()
    (source / "app.py").write_text('print("release 1")\n')
    sandbox = Sandbox(app_port=free_port(), app_source=source, entrypoint=STANDIN)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(standin: Sandbox) -> Sandbox:
    """The module's sandbox without faults, its service settled (one deployment
    COMPLETED, one task RUNNING) so that no test depends on the one before."""
    standin.aws_faults.clear()
    wait_for(lambda: _settled(client(standin.info(), "ecs")), "the service to settle")
    _polls_later(standin)  # the agent has seen the faults go
    return standin


@pytest.fixture
def clock(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock of the sandbox's faults (quota buckets, placement, late lines)."""
    fake = FakeClock()
    monkeypatch.setattr(sandbox.aws_faults, "clock", fake.monotonic)
    return fake


def _service(ecs: Any) -> dict[str, Any]:
    return ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"][0]


def _settled(ecs: Any) -> dict[str, Any] | None:
    """The service record once nothing moves: one deployment COMPLETED, one task
    RUNNING, every task told to stop STOPPED."""
    service = _service(ecs)
    deployments = service["deployments"]
    if len(deployments) != 1 or deployments[0]["rolloutState"] != "COMPLETED":
        return None
    if len(_tasks(ecs, desiredStatus="RUNNING")) != 1:
        return None
    stopping = [t for t in _tasks(ecs, desiredStatus="STOPPED") if t["lastStatus"] != "STOPPED"]
    return None if stopping else service


def _tasks(ecs: Any, **filters: str) -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster="chatbot", **filters)["taskArns"]
    return ecs.describe_tasks(cluster="chatbot", tasks=arns)["tasks"] if arns else []


def _redeploy(ecs: Any) -> str:
    response = ecs.update_service(cluster="chatbot", service="chatbot", forceNewDeployment=True)
    return str(response["service"]["deployments"][0]["id"])


def _new_events(ecs: Any, seen: set[str]) -> list[str]:
    """Messages of the service events that are not in ``seen`` (ids), oldest first."""
    events = [e for e in _service(ecs)["events"] if e["id"] not in seen]
    return [e["message"] for e in reversed(events)]


def _event_ids(ecs: Any) -> set[str]:
    return {e["id"] for e in _service(ecs)["events"]}


def _polls_later(sandbox: Sandbox, count: int = 3) -> None:
    agent = sandbox.agent
    assert agent is not None
    polls = agent.polls
    wait_for(lambda: agent.polls >= polls + count, f"{count} more agent polls")


# -- ECS: eventual consistency -------------------------------------------------------


def test_stale_reads_show_the_service_as_before_the_update_then_the_new_deployment(
    sandbox: Sandbox,
) -> None:
    ecs = client(sandbox.info(), "ecs")
    sandbox.aws_faults.set(make_aws_fault("ecs", "stale_reads", FaultOptions(calls=2)))
    before = _service(ecs)

    response = ecs.update_service(cluster="chatbot", service="chatbot", forceNewDeployment=True)

    new, old = response["service"]["deployments"]  # the write's own answer is current
    assert (new["status"], old["status"]) == ("PRIMARY", "ACTIVE")
    assert old["id"] == before["deployments"][0]["id"]
    assert _service(ecs) == before  # the old deployment PRIMARY, no new one
    assert _service(ecs) == before
    deployments = _service(ecs)["deployments"]
    assert [(d["id"], d["status"]) for d in deployments[:2]] == [
        (new["id"], "PRIMARY"),
        (old["id"], "ACTIVE"),
    ]


def test_a_new_task_is_missing_from_describe_tasks_while_list_tasks_lists_it(
    sandbox: Sandbox,
) -> None:
    ecs = client(sandbox.info(), "ecs")
    sandbox.aws_faults.set(make_aws_fault("ecs", "stale_reads"))

    deployment = _redeploy(ecs)

    (arn,) = wait_for(
        lambda: ecs.list_tasks(cluster="chatbot", startedBy=deployment)["taskArns"],
        "ListTasks to list the new task",
    )
    answer = ecs.describe_tasks(cluster="chatbot", tasks=[arn])
    assert (answer["tasks"], answer["failures"]) == ([], [{"arn": arn, "reason": "MISSING"}])
    (task,) = ecs.describe_tasks(cluster="chatbot", tasks=[arn])["tasks"]
    assert (task["taskArn"], task["startedBy"]) == (arn, deployment)
    # The old task was started before the fault: described as always.
    (old,) = [t for t in _tasks(ecs, desiredStatus="RUNNING") if t["startedBy"] != deployment]
    assert old["lastStatus"] == "RUNNING"


# -- ECS: placement failures -----------------------------------------------------------


def test_placement_failure_starts_no_task_and_ecs_repeats_its_capacity_event(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    ecs = client(sandbox.info(), "ecs")
    sandbox.aws_faults.set(make_aws_fault("ecs", "placement"))
    (old,) = _tasks(ecs, desiredStatus="RUNNING")
    seen = _event_ids(ecs)

    deployment = _redeploy(ecs)

    def events() -> list[str]:
        return [m for m in _new_events(ecs, seen) if m == PLACEMENT_EVENT]

    wait_for(events, "the placement event")
    clock.sleep(1.0)  # tries again every second; says it again after two ("six hours")
    _polls_later(sandbox)
    assert len(events()) == 1
    assert ecs.list_tasks(cluster="chatbot", startedBy=deployment)["taskArns"] == []
    primary = _service(ecs)["deployments"][0]
    assert (primary["id"], primary["rolloutState"], primary["runningCount"]) == (
        deployment,
        "IN_PROGRESS",
        0,
    )
    assert [t["taskArn"] for t in _tasks(ecs, desiredStatus="RUNNING")] == [old["taskArn"]]
    clock.sleep(1.0)
    wait_for(lambda: len(events()) == 2, "the placement event again after two seconds")

    sandbox.aws_faults.clear()

    service = wait_for(lambda: _settled(ecs), "the deployment to complete once tasks place")
    assert service["deployments"][0]["id"] == deployment


def test_placement_fails_for_the_given_attempts_then_the_deployment_completes(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    ecs = client(sandbox.info(), "ecs")
    sandbox.aws_faults.set(make_aws_fault("ecs", "placement", FaultOptions(calls=2)))
    seen = _event_ids(ecs)

    deployment = _redeploy(ecs)

    wait_for(lambda: sandbox.aws_faults.snapshot()[0]["played"] == 1, "the first failed attempt")
    clock.sleep(1.0)
    wait_for(lambda: sandbox.aws_faults.snapshot()[0]["played"] == 2, "the second failed attempt")
    _polls_later(sandbox)
    assert ecs.list_tasks(cluster="chatbot", startedBy=deployment)["taskArns"] == []
    clock.sleep(1.0)  # the third attempt places the task: capacity is back
    service = wait_for(lambda: _settled(ecs), "the deployment to complete")
    assert service["deployments"][0]["id"] == deployment
    assert _new_events(ecs, seen).count(PLACEMENT_EVENT) == 1  # no duplicate while it lasts


# -- ECS: Fargate Spot -------------------------------------------------------------------


def test_spot_reclaims_the_next_tasks_once_running_and_the_service_replaces_them(
    sandbox: Sandbox,
) -> None:
    ecs = client(sandbox.info(), "ecs")
    sandbox.aws_faults.set(make_aws_fault("ecs", "spot", FaultOptions(calls=2)))

    deployment = _redeploy(ecs)

    service = wait_for(lambda: _settled(ecs), "the deployment to complete")
    (record,) = service["deployments"]
    assert (record["id"], record["failedTasks"]) == (deployment, 0)
    reclaimed = _tasks(ecs, startedBy=deployment, desiredStatus="STOPPED")
    assert [(t["stopCode"], t["stoppedReason"], t["lastStatus"]) for t in reclaimed] == [
        ("SpotInterruption", "Your Spot Task was interrupted.", "STOPPED"),
    ] * 2
    assert all(t["startedAt"] for t in reclaimed)  # they had been RUNNING
    (replacement,) = _tasks(ecs, startedBy=deployment, desiredStatus="RUNNING")
    assert replacement["lastStatus"] == "RUNNING"
    messages = [e["message"] for e in service["events"]]
    for task in reclaimed:
        task_id = task["taskArn"].rsplit("/", 1)[-1]
        assert f"(service chatbot) has stopped 1 running tasks: (task {task_id})." in messages


# -- CloudWatch Logs: quotas ------------------------------------------------------------


def _logs(sandbox: Sandbox) -> Any:
    """A Logs client that does not retry: each call is one request."""
    info = sandbox.info()
    return boto3_session().client(
        "logs",
        endpoint_url=info.endpoint_url,
        region_name=info.region,
        aws_access_key_id=info.access_key_id,
        aws_secret_access_key=info.secret_access_key,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def _filter(logs: Any) -> str:
    """One FilterLogEvents: "ok", or the error code and message botocore parsed."""
    try:
        logs.filter_log_events(logGroupName="/ecs/chatbot", limit=1)
    except ClientError as err:
        return f"{err.response['Error']['Code']}: {err.response['Error']['Message']}"
    return "ok"


def test_filter_log_events_is_throttled_above_five_requests_a_second_and_not_below(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    logs = _logs(sandbox)
    sandbox.aws_faults.set(make_aws_fault("logs", "throttle"))

    paced = []
    for _ in range(20):  # four seconds at 5 requests a second
        paced.append(_filter(logs))
        clock.sleep(0.2)
    clock.sleep(1.0)
    burst = [_filter(logs) for _ in range(6)]  # six within one instant

    assert paced == ["ok"] * 20
    assert burst == ["ok"] * 5 + ["ThrottlingException: Rate exceeded"]
    assert sandbox.aws_faults.throttled() == {"FilterLogEvents": 1}


def test_a_throttled_request_is_answered_as_cloudwatch_logs_answers_it(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    logs = _logs(sandbox)
    sandbox.aws_faults.set(make_aws_fault("logs", "throttle", FaultOptions(rate=1)))
    logs.filter_log_events(logGroupName="/ecs/chatbot", limit=1)

    with pytest.raises(ClientError) as raised:
        logs.filter_log_events(logGroupName="/ecs/chatbot", limit=1)

    error = raised.value.response
    assert error["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ThrottlingException"
    assert str(raised.value) == (
        "An error occurred (ThrottlingException) when calling the FilterLogEvents "
        "operation (reached max retries: 0): Rate exceeded"
    )
    # botocore's standard retry mode retries it as throttling.
    assert ThrottledRetryableChecker().is_retryable(
        RetryContext(attempt_number=1, parsed_response=error)
    )


def test_the_other_read_apis_are_throttled_at_their_own_quotas(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    logs = _logs(sandbox)
    sandbox.aws_faults.set(make_aws_fault("logs", "throttle"))

    def described() -> str:
        try:
            logs.describe_log_streams(logGroupName="/ecs/chatbot", limit=1)
        except ClientError as err:
            return str(err.response["Error"]["Code"])
        return "ok"

    answers = [described() for _ in range(26)]

    assert answers == ["ok"] * 25 + ["ThrottlingException"]
    assert _filter(logs) == "ok"  # each API has its own quota


def test_persistent_throttling_throttles_every_read_and_no_write(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    logs = _logs(sandbox)
    ecs = client(sandbox.info(), "ecs")
    sandbox.aws_faults.set(make_aws_fault("logs", "throttle", FaultOptions(always=True)))
    (task,) = _tasks(ecs, desiredStatus="RUNNING")
    stream = f"ecs/chatbot/{task['taskArn'].rsplit('/', 1)[-1]}"

    assert _filter(logs) == "ThrottlingException: Rate exceeded"
    with pytest.raises(ClientError, match=r"\(ThrottlingException\).*GetLogEvents"):
        logs.get_log_events(logGroupName="/ecs/chatbot", logStreamName=stream)
    logs.put_log_events(
        logGroupName="/ecs/chatbot", logStreamName=stream, logEvents=[_event("still written")]
    )
    sandbox.aws_faults.clear()
    messages = [
        e["message"]
        for e in logs.get_log_events(logGroupName="/ecs/chatbot", logStreamName=stream)["events"]
    ]
    assert messages[-1] == "still written"


def _event(message: str) -> dict[str, Any]:
    return {"timestamp": int(time.time() * 1000), "message": message}


# -- CloudWatch Logs: late, out-of-order delivery ------------------------------------------


def test_late_lines_arrive_after_later_lines_with_their_earlier_timestamps(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    ecs = client(sandbox.info(), "ecs")
    logs = _logs(sandbox)
    sandbox.aws_faults.set(
        make_aws_fault("logs", "late", FaultOptions(seconds=15, match=("verified",)))
    )
    deployment = _redeploy(ecs)
    (arn,) = wait_for(
        lambda: ecs.list_tasks(cluster="chatbot", startedBy=deployment)["taskArns"],
        "the new task",
    )
    stream = f"ecs/chatbot/{arn.rsplit('/', 1)[-1]}"

    def read() -> list[dict[str, Any]]:
        return logs.filter_log_events(logGroupName="/ecs/chatbot", logStreamNames=[stream])[
            "events"
        ]

    first = wait_for(
        lambda: [e for e in read() if e["message"].startswith("serving on")], "a later line"
    )
    assert not [e for e in read() if e["message"].endswith(" verified")]  # written first
    clock.sleep(15.0)
    (late,) = wait_for(
        lambda: [e for e in read() if e["message"].endswith(" verified")],
        "the late line, 15 seconds (on the faults' clock) after it was written",
    )

    assert late["message"].startswith("code digest ")
    # Written before the line read first (the same millisecond, at times: the
    # stand-in prints both at once), delivered after it.
    assert late["timestamp"] <= first[0]["timestamp"]
    assert late["ingestionTime"] > first[0]["ingestionTime"]


# -- the faults themselves -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (("ecs", "sideways"), {}, "unknown fault 'sideways'; known: stale_reads, placement, spot"),
        (("s3", "late"), {}, "unknown service 's3'; known: ecs, logs"),
        (
            ("logs", "throttle"),
            {"calls": 2},
            "--calls applies to stale_reads, placement and spot only, not to throttle",
        ),
        (("ecs", "spot"), {"seconds": 3}, "--seconds applies to late only, not to spot"),
        (("ecs", "spot"), {"calls": 0}, "--calls must be a whole number of at least 1, not 0"),
        (("logs", "throttle"), {"rate": 0}, "--rate must be requests a second above 0, not 0"),
        (
            ("logs", "throttle"),
            {"rate": 2, "always": True},
            "--rate and --always exclude each other (--always throttles every read)",
        ),
        (("logs", "late"), {}, "late needs --seconds, a number above 0"),
        (
            ("logs", "late"),
            {"seconds": 2, "match": [""]},
            "--match needs a text that a log line holds, not an empty one",
        ),
    ],
)
def test_a_fault_that_cannot_be_set_says_why(
    args: tuple[str, str], options: dict[str, Any], message: str
) -> None:
    from opskit.sandbox.aws_faults import FaultInvalid

    with pytest.raises(FaultInvalid) as raised:
        make_aws_fault(*args, FaultOptions(**options))
    assert str(raised.value) == message


def test_faults_written_to_the_file_are_in_force_for_the_next_look(tmp_path: Path) -> None:
    path = tmp_path / "aws-faults.json"
    board = AwsFaultBoard(path)
    board.start()
    assert not board.active()

    path.write_text('{"faults": [{"service": "ecs", "kind": "spot", "calls": 2}]}')

    assert [f.key for f in board.faults()] == ["ecs spot"]
    assert board.spot_reclaims() and board.spot_reclaims() and not board.spot_reclaims()
    path.write_text('{"faults": [{"service": "ecs", "kind": "sideways"}]}')
    assert [f.key for f in board.faults()] == ["ecs spot"]  # a bad file: the faults stay
    board.stop()
    assert not path.exists()
