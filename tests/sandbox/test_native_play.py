"""The sandbox plays ECS's native strategies: tested through the ECS, CloudWatch
and HTTP APIs a user of AWS has (UpdateService, DescribeServiceDeployments,
ContinueServiceDeployment, StopServiceDeployment, SetAlarmState, the app and
test URLs), against one BLUE_GREEN sandbox running the small stand-in
entrypoint (each task answers ``/`` with its release's digest, so a URL says
which revision served it). A sandbox minute is 0.5 s here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from opskit.sandbox import Sandbox
from opskit.sandbox.aws_faults.kinds import FaultOptions, make_aws_fault
from opskit.sandbox.native_config import MINUTE_ENV, deployment_configuration
from opskit.sandbox.native_play import STAGES, Router
from opskit.sandbox.ports import free_port
from opskit.sandbox.server import seed_bucket
from tests.sandbox.conftest import STANDIN
from tests.sandbox.sandbox_helpers import HTTP, client, wait_for

FINISHED = ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED")


@pytest.fixture(scope="module")
def native_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    source = tmp_path_factory.mktemp("native") / "app"
    source.mkdir()
    (source / "app.py").write_text('print("release 1")\n')
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MINUTE_ENV, "0.5")
        sandbox = Sandbox(
            app_port=free_port(), app_source=source, entrypoint=STANDIN, strategy="BLUE_GREEN"
        )
        sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def bg(native_sandbox: Sandbox, tmp_path: Path) -> Iterator[Release]:
    """The module's sandbox, settled, its configuration and alarm as at start."""
    release = Release(native_sandbox, tmp_path)
    wait_for(release.settled, "the service to settle", 30)
    yield release
    native_sandbox.aws_faults.clear()
    native_sandbox.records.set_deployment_configuration(deployment_configuration("BLUE_GREEN"))
    client(native_sandbox.info(), "cloudwatch").set_alarm_state(
        AlarmName="chatbot-5xx", StateValue="OK", StateReason="test over"
    )


class Release:
    def __init__(self, sandbox: Sandbox, tmp_path: Path):
        self.sandbox = sandbox
        self.info = sandbox.info()
        self.ecs = client(self.info, "ecs")
        self.source = tmp_path / "app"
        self.source.mkdir()
        self.seen: list[dict[str, Any]] = []  # every record read, in order

    def settled(self) -> bool:
        service = self.ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"][0]
        deployments = service["deployments"]
        primary = next(d for d in deployments if d["status"] == "PRIMARY")
        return primary["rolloutState"] == "COMPLETED" and primary["runningCount"] == 1

    def start(self, text: str) -> tuple[str, str]:
        """A new release of the app (``text`` its app.py): its digest, and the
        service deployment UpdateService opened."""
        (self.source / "app.py").write_text(text)
        digest = seed_bucket(client(self.info, "s3"), "chatbot-code", "src/", self.source).digest
        service = self.ecs.update_service(
            cluster="chatbot", service="chatbot", forceNewDeployment=True
        )["service"]
        return digest, service["currentServiceDeployment"]

    def read(self, arn: str) -> dict[str, Any] | None:
        answer = self.ecs.describe_service_deployments(serviceDeploymentArns=[arn])
        records = answer["serviceDeployments"]
        if records:
            self.seen.append(records[0])
        return records[0] if records else None

    def until(self, arn: str, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            record = self.read(arn)
            return record if record is not None and check(record) else None

        return wait_for(reached, what, 30)  # type: ignore[no-any-return]

    def paused(self, arn: str) -> dict[str, Any]:
        return self.until(arn, lambda r: bool(_awaiting(r)), "the PAUSE hook")

    def finished(self, arn: str) -> dict[str, Any]:
        return self.until(arn, lambda r: r["status"] in FINISHED, "the deployment to finish")

    def stages(self) -> list[str]:
        stages: list[str] = []
        for record in self.seen:
            if record.get("lifecycleStage") and record["lifecycleStage"] not in stages[-1:]:
                stages.append(record["lifecycleStage"])
        return stages

    def max_production(self) -> float:
        seen = self.seen
        weights = [r["targetServiceRevision"]["requestedProductionTrafficWeight"] for r in seen]
        return max(weights)

    def served(self, url: str, times: int = 1) -> list[str]:
        """What ``times`` new connections to ``url`` answered (the digest of their task)."""
        answers = []
        for _ in range(times):
            with HTTP.open(url + "/", timeout=5) as response:
                answers.append(response.read().decode().removeprefix("digest "))
        return answers

    def task(self, task_arn: str) -> dict[str, Any]:
        return self.ecs.describe_tasks(cluster="chatbot", tasks=[task_arn])["tasks"][0]  # type: ignore[no-any-return]

    def running_tasks(self) -> list[str]:
        return list(self.ecs.list_tasks(cluster="chatbot", desiredStatus="RUNNING")["taskArns"])


def _awaiting(record: dict[str, Any]) -> dict[str, Any] | None:
    hooks = record.get("lifecycleHookDetails") or []
    return next((h for h in hooks if h["status"] == "AWAITING_ACTION"), None)


def _in_order(stages: list[str]) -> bool:
    return [STAGES.index(s) for s in stages] == sorted(STAGES.index(s) for s in stages)


def _continues(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [c for op, c in sandbox.records.native.calls if op == "ContinueServiceDeployment"]


def test_a_healthy_blue_green_release_pauses_with_green_on_the_test_url_then_continues(
    bg: Release,
) -> None:
    (blue,) = set(bg.served(bg.info.app_url))
    (blue_task,) = bg.running_tasks()
    green, arn = bg.start('print("release 2")\n')

    record = bg.paused(arn)
    assert record["status"] == "IN_PROGRESS"
    assert record["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    target = record["targetServiceRevision"]
    assert (target["requestedTestTrafficWeight"], target["requestedProductionTrafficWeight"]) == (
        100.0,
        0.0,
    )
    # two revisions side by side: production still on blue, the test listener on green
    assert len(bg.running_tasks()) == 2
    assert set(bg.served(bg.info.app_url, 4)) == {blue}
    assert set(bg.served(bg.info.test_url, 2)) == {green}
    hook = _awaiting(record)
    assert hook is not None and hook["targetType"] == "PAUSE"
    assert hook["timeoutAction"] == "ROLLBACK"

    bg.ecs.continue_service_deployment(
        serviceDeploymentArn=arn, hookId=hook["hookId"], action="CONTINUE"
    )
    record = bg.finished(arn)

    assert record["status"] == "SUCCESSFUL", record
    assert len(_continues(bg.sandbox)) == 1
    # what a poller saw is in AWS's order; what the play entered is every stage
    assert _in_order(bg.stages()), bg.stages()
    assert bg.stages()[-1] == "CLEAN_UP"
    assert bg.sandbox.services[0].native is not None
    assert bg.sandbox.services[0].native.history[arn] == list(STAGES)
    assert set(bg.served(bg.info.app_url, 3)) == {green}
    assert set(bg.served(bg.info.test_url)) == {green}
    wait_for(lambda: bg.task(blue_task)["lastStatus"] == "STOPPED", "blue stopped", 10)
    assert "Scaling activity initiated by" in bg.task(blue_task)["stoppedReason"]
    deployments = bg.ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"][0][
        "deployments"
    ]
    assert [(d["status"], d["rolloutState"]) for d in deployments] == [("PRIMARY", "COMPLETED")]


def test_rollback_at_the_hook_puts_both_urls_back_on_blue_before_production_moved(
    bg: Release,
) -> None:
    (blue,) = set(bg.served(bg.info.app_url))
    green, arn = bg.start('print("release 3")\n')
    hook = _awaiting(bg.paused(arn))
    assert hook is not None
    assert set(bg.served(bg.info.test_url)) == {green}

    bg.ecs.continue_service_deployment(
        serviceDeploymentArn=arn, hookId=hook["hookId"], action="ROLLBACK"
    )
    record = bg.finished(arn)

    assert record["status"] == "ROLLBACK_SUCCESSFUL", record
    assert hook["hookId"] in record["rollback"]["reason"]
    assert "ContinueServiceDeployment" in record["rollback"]["reason"]
    assert record["rollback"]["serviceRevisionArn"] == record["sourceServiceRevisions"][0]["arn"]
    assert bg.max_production() == 0.0  # production never reached green
    assert "PRODUCTION_TRAFFIC_SHIFT" not in bg.stages()
    assert set(bg.served(bg.info.app_url, 3)) == {blue}
    assert set(bg.served(bg.info.test_url, 2)) == {blue}
    assert len(bg.running_tasks()) == 1
    service = bg.ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"][0]
    primary = service["deployments"][0]
    assert (primary["status"], primary["rolloutState"]) == ("PRIMARY", "COMPLETED")


def test_a_linear_release_whose_alarm_fires_at_30_percent_is_rolled_back_naming_it(
    bg: Release,
) -> None:
    configuration = deployment_configuration("LINEAR")
    configuration["linearConfiguration"]["stepBakeTimeInMinutes"] = 20  # 10 s: time to look
    bg.sandbox.records.set_deployment_configuration(configuration)
    (blue,) = set(bg.served(bg.info.app_url))
    green, arn = bg.start('print("release 4")\n')
    hook = _awaiting(bg.paused(arn))
    assert hook is not None
    bg.ecs.continue_service_deployment(
        serviceDeploymentArn=arn, hookId=hook["hookId"], action="CONTINUE"
    )
    bg.until(
        arn,
        lambda r: r["targetServiceRevision"]["requestedProductionTrafficWeight"] == 30.0,
        "30% of production on green",
    )
    assert sorted(bg.served(bg.info.app_url, 10)) == sorted([green] * 3 + [blue] * 7)

    client(bg.info, "cloudwatch").set_alarm_state(
        AlarmName="chatbot-5xx", StateValue="ALARM", StateReason="Threshold Crossed: 9 5xx"
    )
    record = bg.finished(arn)

    assert record["status"] == "ROLLBACK_SUCCESSFUL", record
    assert record["alarms"]["triggeredAlarmNames"] == ["chatbot-5xx"]
    assert record["alarms"]["status"] == "TRIGGERED"
    assert "chatbot-5xx" in record["rollback"]["reason"]
    assert "Threshold Crossed: 9 5xx" in record["rollback"]["reason"]
    assert bg.max_production() == 30.0
    assert set(bg.served(bg.info.app_url, 3)) == {blue}
    assert set(bg.served(bg.info.test_url)) == {blue}


def test_a_crash_looping_green_stays_in_progress_then_the_breakers_rollback_takes_it_back(
    bg: Release,
) -> None:
    configuration = deployment_configuration("BLUE_GREEN")
    configuration["deploymentCircuitBreaker"]["rollback"] = False
    bg.sandbox.records.set_deployment_configuration(configuration)
    (blue,) = set(bg.served(bg.info.app_url))
    _, arn = bg.start("def broken(:\n")
    bg.until(arn, lambda r: r["deploymentCircuitBreaker"]["failureCount"] >= 3, "3 failed tasks")
    agent = bg.sandbox.agent
    assert agent is not None
    polls = agent.polls
    wait_for(lambda: agent.polls >= polls + 3, "three more polls", 10)
    record = bg.read(arn)
    assert record is not None
    # without the breaker's rollback ECS keeps trying: still in progress
    assert (record["status"], record["lifecycleStage"]) == ("IN_PROGRESS", "SCALE_UP")
    assert record["deploymentCircuitBreaker"]["status"] == "MONITORING"

    configuration["deploymentCircuitBreaker"]["rollback"] = True
    bg.sandbox.records.set_deployment_configuration(configuration)
    record = bg.finished(arn)

    assert record["status"] == "ROLLBACK_SUCCESSFUL", record
    assert record["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert record["deploymentCircuitBreaker"]["failureCount"] >= 3
    assert "circuit breaker" in record["rollback"]["reason"]
    assert bg.stages()[-1] == "SCALE_UP"  # never reached the test listener
    assert bg.max_production() == 0.0
    assert set(bg.served(bg.info.app_url, 2)) == {blue}
    assert set(bg.served(bg.info.test_url)) == {blue}


def test_a_stale_first_read_of_a_new_service_deployment_is_missing_then_seen(
    bg: Release,
) -> None:
    bg.sandbox.aws_faults.set(make_aws_fault("ecs", "stale_reads", FaultOptions(calls=2)))
    _, arn = bg.start('print("release 5")\n')

    first = bg.ecs.describe_service_deployments(serviceDeploymentArns=[arn])
    listed = bg.ecs.list_service_deployments(cluster="chatbot", service="chatbot")
    assert first["serviceDeployments"] == []
    assert first["failures"] == [{"arn": arn, "reason": "MISSING"}]
    assert arn not in [d["serviceDeploymentArn"] for d in listed["serviceDeployments"]]
    record = bg.read(arn)
    assert record is not None and record["serviceDeploymentArn"] == arn

    bg.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    record = bg.finished(arn)
    assert record["status"] == "ROLLBACK_SUCCESSFUL"
    assert "StopServiceDeployment" in record["rollback"]["reason"]


def test_a_pause_hook_that_times_out_takes_its_timeout_action(bg: Release) -> None:
    configuration = deployment_configuration("BLUE_GREEN")
    configuration["lifecycleHooks"][0]["timeoutConfiguration"]["timeoutInMinutes"] = 1
    bg.sandbox.records.set_deployment_configuration(configuration)
    (blue,) = set(bg.served(bg.info.app_url))
    _, arn = bg.start('print("release 6")\n')

    record = bg.finished(arn)

    assert record["status"] == "ROLLBACK_SUCCESSFUL", record
    (detail,) = record["lifecycleHookDetails"]
    assert detail["status"] == "TIMED_OUT"
    assert "timed out" in record["rollback"]["reason"]
    assert set(bg.served(bg.info.app_url)) == {blue}


def test_the_router_sends_the_weight_of_new_connections_to_green() -> None:
    router = Router()
    router.set(production=30, test=100)
    assert [router.green_next("production") for _ in range(10)].count(True) == 3
    assert all(router.green_next("test") for _ in range(3))
    router.set(production=0, test=0)
    assert not any(router.green_next(listener) for listener in ("production", "test"))


def test_the_native_configuration_is_what_describe_services_shows(bg: Release) -> None:
    service = bg.ecs.describe_services(cluster="chatbot", services=["chatbot"])["services"][0]
    configuration = service["deploymentConfiguration"]
    assert configuration["strategy"] == "BLUE_GREEN"
    assert configuration["bakeTimeInMinutes"] == 1
    assert configuration["alarms"] == {
        "alarmNames": ["chatbot-5xx"],
        "enable": True,
        "rollback": True,
    }
    assert configuration["lifecycleHooks"] == [
        {
            "targetType": "PAUSE",
            "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
            "timeoutConfiguration": {"timeoutInMinutes": 10, "action": "ROLLBACK"},
        }
    ]
    alarms = client(bg.info, "cloudwatch").describe_alarms(AlarmNames=["chatbot-5xx"])
    assert [a["StateValue"] for a in alarms["MetricAlarms"]] == ["OK"]
    context = bg.info.template_context()
    assert context["test_url"] == bg.info.test_url != context["app_url"]
    assert context["strategy"] == "BLUE_GREEN"
    assert deployment_configuration("LINEAR")["linearConfiguration"] == {
        "stepPercent": 30.0,
        "stepBakeTimeInMinutes": 1,
    }
    assert deployment_configuration("CANARY")["canaryConfiguration"] == {
        "canaryPercent": 10.0,
        "canaryBakeTimeInMinutes": 1,
    }
