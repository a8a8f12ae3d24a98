"""Fakes of Bedrock Runtime with real response shapes, shared by the stack's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

STACK_DIR = Path(__file__).resolve().parents[2] / "opskit" / "stack"
SRC_DIR = STACK_DIR / "src"
ENTRYPOINT = STACK_DIR / "entrypoint.py"


def converse_events(text: str, chunk: int = 6) -> list[dict[str, Any]]:
    """The events of a real ``converse_stream`` answer that says ``text``."""
    events: list[dict[str, Any]] = [{"messageStart": {"role": "assistant"}}]
    for start in range(0, len(text), chunk):
        delta = {"delta": {"text": text[start : start + chunk]}, "contentBlockIndex": 0}
        events.append({"contentBlockDelta": delta})
    events += [
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"messageStop": {"stopReason": "end_turn"}},
        {"metadata": {"usage": {"inputTokens": 5, "outputTokens": 9}, "metrics": {}}},
    ]
    return events


def throttling_error() -> ClientError:
    error = {"Code": "ThrottlingException", "Message": "Too many requests, please wait."}
    return ClientError(
        {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 429}}, "ConverseStream"
    )


class FakeBedrockRuntime:
    """Answers ``converse_stream`` per model id; everything else is the real client's.

    ``meta`` (and so the service model the health check reads) comes from a
    real botocore ``bedrock-runtime`` client.
    """

    def __init__(self, answers: dict[str, str | Exception], region: str = "us-east-1"):
        self._real = boto3.session.Session().client("bedrock-runtime", region_name=region)
        self.meta = self._real.meta
        self.answers = answers
        self.calls: list[dict[str, Any]] = []

    def converse_stream(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        answer = self.answers[params["modelId"]]
        if isinstance(answer, Exception):
            raise answer
        return {"stream": iter(converse_events(answer)), "ResponseMetadata": {}}

    def invoke_model(self, **params: Any) -> dict[str, Any]:
        raise AssertionError("the app streams with converse_stream")


class FakeSession:
    """A boto3 session whose ``bedrock-runtime`` client is a ``FakeBedrockRuntime``."""

    def __init__(self, bedrock: FakeBedrockRuntime):
        self.bedrock = bedrock
        self.created: list[str] = []

    def get_credentials(self) -> Any:
        return boto3.session.Session().get_credentials()

    def client(self, service: str, config: Any = None) -> Any:
        self.created.append(service)
        assert service == "bedrock-runtime", service
        return self.bedrock
