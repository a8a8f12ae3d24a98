"""The client manager: the right health check per service, never a None client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from core.aws_clients import (
    HEALTH_CHECKS,
    ClientManager,
    ClientUnavailable,
    HealthCheck,
    HealthCheckFailed,
    run_health_check,
)
from core.settings import Settings

REGION = "us-east-1"


class StubbedSession:
    """Real clients from a real session, each wrapped in an active ``Stubber``.

    A stubber with nothing queued raises on any call, so a check that passes
    here made exactly the calls queued by ``prepare``.
    """

    def __init__(self, prepare: dict[str, Callable[[Stubber], None]] | None = None):
        self.session = boto3.session.Session()
        self.prepare = prepare or {}
        self.stubbers: dict[str, Stubber] = {}

    def get_credentials(self) -> Any:
        return self.session.get_credentials()

    def client(self, service: str, config: Any = None) -> Any:
        client = self.session.client(service, config=config)
        stubber = Stubber(client)
        self.prepare.get(service, lambda s: None)(stubber)
        stubber.activate()
        self.stubbers[service] = stubber
        return client


def manager(session: Any, **settings: Any) -> tuple[ClientManager, list[float]]:
    slept: list[float] = []
    settings.setdefault("region", REGION)
    return ClientManager(Settings(**settings), session=session, sleep=slept.append), slept


def output_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("service", sorted(HEALTH_CHECKS))
def test_each_health_check_uses_only_operations_of_its_own_service(service: str) -> None:
    model = botocore.session.get_session().get_service_model(service)
    assert set(HEALTH_CHECKS[service].needed_operations()) <= set(model.operation_names)


def test_list_foundation_models_belongs_to_bedrock_not_bedrock_runtime() -> None:
    # The incident's premise, checked against botocore's own models.
    session = botocore.session.get_session()
    assert (
        "ListFoundationModels" not in session.get_service_model("bedrock-runtime").operation_names
    )
    assert "ListFoundationModels" in session.get_service_model("bedrock").operation_names
    assert HEALTH_CHECKS["bedrock-runtime"].probe is None
    assert HEALTH_CHECKS["bedrock"].probe == "ListFoundationModels"


def test_bedrock_runtime_check_passes_without_any_request(capsys) -> None:
    session = StubbedSession()  # nothing queued: any request would raise
    clients, _ = manager(session)
    client = clients.client("bedrock-runtime")
    assert type(client).__name__ == "BedrockRuntime"
    assert clients.client("bedrock-runtime") is client  # created once, cached
    session.stubbers["bedrock-runtime"].assert_no_pending_responses()
    assert output_lines(capsys) == [
        "INFO chatbot.aws_clients: Bedrock Runtime health check passed (client has "
        "converse_stream, invoke_model; no request needed; region us-east-1)"
    ]


def test_bedrock_control_plane_check_calls_list_foundation_models(capsys) -> None:
    def prepare(stubber: Stubber) -> None:
        stubber.add_response(
            "list_foundation_models", {"modelSummaries": []}, {"byOutputModality": "TEXT"}
        )

    session = StubbedSession({"bedrock": prepare})
    clients, _ = manager(session, check_control_plane=True)
    result = clients.check("bedrock")
    assert result.passed
    session.stubbers["bedrock"].assert_no_pending_responses()
    assert output_lines(capsys) == [
        "INFO chatbot.aws_clients: Bedrock health check passed "
        "(list_foundation_models answered; region us-east-1)"
    ]


def test_the_incident_check_fails_by_name_before_any_call() -> None:
    # What the incident's code did: list_foundation_models on bedrock-runtime.
    client = StubbedSession().client("bedrock-runtime")
    wrong = HealthCheck("Bedrock Runtime", ("ListFoundationModels",), probe="ListFoundationModels")
    with pytest.raises(HealthCheckFailed) as failure:
        run_health_check(client, wrong, Settings(region=REGION))
    assert str(failure.value) == "'BedrockRuntime' object has no attribute 'list_foundation_models'"


def test_s3_check_heads_the_configured_bucket(aws_endpoint, monkeypatch, capsys) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="chatbot-code")
    clients, _ = manager(None, s3_bucket="chatbot-code")
    assert clients.check("s3").passed
    assert output_lines(capsys) == [
        "INFO chatbot.aws_clients: S3 health check passed "
        "(head_bucket answered for chatbot-code; region us-east-1)"
    ]


def test_s3_check_fails_for_a_missing_bucket_and_never_hands_out_the_client(
    aws_endpoint, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    clients, slept = manager(None, s3_bucket="no-such-bucket")
    result = clients.check("s3")
    assert not result.passed
    assert result.reason == "head_bucket on bucket no-such-bucket: 404: Not Found"
    assert slept == []  # a 404 is not retried
    with pytest.raises(ClientUnavailable) as unavailable:
        clients.client("s3")
    assert str(unavailable.value) == (
        "s3 client in us-east-1 is unavailable: "
        "head_bucket on bucket no-such-bucket: 404: Not Found"
    )
    assert output_lines(capsys) == [
        "ERROR chatbot.aws_clients: S3 health check failed: "
        "head_bucket on bucket no-such-bucket: 404: Not Found"
    ]


def test_s3_check_without_a_bucket_says_so() -> None:
    clients, _ = manager(StubbedSession())
    assert clients.check("s3").reason == "no bucket configured (set CHATBOT_S3_BUCKET)"


def test_transient_errors_are_retried_with_exponential_backoff(capsys) -> None:
    def prepare(stubber: Stubber) -> None:
        stubber.add_client_error("list_foundation_models", "ThrottlingException", "Slow down")
        stubber.add_client_error("list_foundation_models", "ServiceUnavailableException", "Busy")
        stubber.add_response("list_foundation_models", {"modelSummaries": []})

    clients, slept = manager(StubbedSession({"bedrock": prepare}))
    result = clients.check("bedrock")
    assert result.passed and result.attempts == 3
    assert slept == [0.5, 1.0]
    assert output_lines(capsys)[-1].endswith("region us-east-1, after 3 attempts)")


def test_a_transient_error_that_persists_fails_after_the_last_attempt() -> None:
    def prepare(stubber: Stubber) -> None:
        for _ in range(3):
            stubber.add_client_error("list_foundation_models", "ThrottlingException", "Slow down")

    clients, slept = manager(StubbedSession({"bedrock": prepare}))
    result = clients.check("bedrock")
    assert result.reason == (
        "list_foundation_models: ThrottlingException: Slow down (after 3 attempts)"
    )
    assert slept == [0.5, 1.0]


def test_access_denied_is_not_retried() -> None:
    def prepare(stubber: Stubber) -> None:
        stubber.add_client_error("list_foundation_models", "AccessDeniedException", "Not allowed")

    clients, slept = manager(StubbedSession({"bedrock": prepare}))
    assert clients.check("bedrock").reason == (
        "list_foundation_models: AccessDeniedException: Not allowed"
    )
    assert slept == []


def test_no_region_raises_naming_service_region_and_reason_every_time(capsys) -> None:
    clients, _ = manager(StubbedSession(), region=None)
    for _ in range(2):
        with pytest.raises(ClientUnavailable) as unavailable:
            clients.client("bedrock-runtime")
        assert str(unavailable.value) == (
            "bedrock-runtime client in no region is unavailable: "
            "no region configured (set AWS_REGION or CHATBOT_BEDROCK_REGION)"
        )
    assert output_lines(capsys) == [  # one line per client, however often it is asked for
        "ERROR chatbot.aws_clients: Bedrock Runtime health check failed: "
        "no region configured (set AWS_REGION or CHATBOT_BEDROCK_REGION)"
    ]


def test_no_credentials_fail_the_check(monkeypatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    clients, _ = manager(boto3.session.Session())
    assert clients.check("bedrock-runtime").reason == (
        "no AWS credentials found (environment, role or profile)"
    )


def test_a_service_without_a_health_check_is_refused() -> None:
    clients, _ = manager(StubbedSession())
    with pytest.raises(ValueError, match="no health check for service 'ecs' "):
        clients.client("ecs")


@pytest.mark.parametrize(
    ("env", "services"),
    [
        ({}, ("bedrock-runtime",)),
        ({"CHATBOT_MODEL_PROVIDER": "local"}, ("bedrock-runtime",)),
        ({"CHATBOT_CHECK_BEDROCK_CONTROL_PLANE": "1"}, ("bedrock-runtime", "bedrock")),
        ({"CHATBOT_S3_BUCKET": "chatbot-code"}, ("bedrock-runtime", "s3")),
    ],
)
def test_only_the_clients_the_settings_need_are_checked(env, services) -> None:
    assert Settings.from_env(env).required_services() == services
