"""The sandbox's Bedrock endpoint serves the model ids real apps ship, from the
Regions AWS serves them in, as strictly as the models check their bodies
(issue 20, Deliver 7). botocore's own client, on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import EventStreamError

from opskit.sandbox.bedrock import BedrockEndpoint, FaultFile, FaultInvalid, make_fault
from opskit.sandbox.bedrock.models import STACK_SRC, _load_local_responder

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"  # on demand in us-east-1
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"  # inference profiles only
NOVA_2 = "amazon.nova-2-lite-v1:0"  # inference profiles only
MICRO = "amazon.nova-micro-v1:0"
QUESTION = "How do deployments work?"
_SERVICE = botocore.session.get_session().get_service_model("bedrock-runtime")


def error_events(stream_shape: str) -> dict[str, str]:
    """A stream's documented error events (botocore's service model): event -> shape."""
    members = _SERVICE.shape_for(stream_shape).members
    return {name: shape.name for name, shape in members.items() if shape.metadata.get("exception")}


INVOKE_ERRORS = error_events("ResponseStream")
CONVERSE_ERRORS = error_events("ConverseStreamOutput")
ON_DEMAND = (
    "Invocation of model ID {} with on-demand throughput isn\u2019t supported. Retry your "
    "request with the ID or ARN of an inference profile that contains this model."
)


@pytest.fixture(scope="module")
def module_endpoint() -> Iterator[BedrockEndpoint]:
    server = BedrockEndpoint(delay=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def endpoint(module_endpoint: BedrockEndpoint) -> Iterator[BedrockEndpoint]:
    """One endpoint for the module (starting one costs), without faults for each test."""
    module_endpoint.faults.clear()
    yield module_endpoint
    module_endpoint.faults.clear()


def runtime(endpoint: BedrockEndpoint, region: str = "us-east-1", attempts: int = 3) -> Any:
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=endpoint.endpoint_url,
        region_name=region,
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
        config=Config(retries={"mode": "standard", "max_attempts": attempts}),
    )


def local_answer(style: str) -> str:
    module = _load_local_responder(STACK_SRC)
    return str(module.LocalResponder.bundled().answer(SimpleNamespace(key=style), QUESTION))


def claude_body(**fields: Any) -> str:
    document = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 512,
        "system": "Answer briefly.",
        "messages": [{"role": "user", "content": QUESTION}],
        **fields,
    }
    return json.dumps({k: v for k, v in document.items() if v is not None})


def user() -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": QUESTION}]}]


def claude_chunks(response: Any) -> list[dict[str, Any]]:
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


def converse_text(response: Any) -> str:
    events = response["stream"]
    return "".join(
        d["contentBlockDelta"]["delta"]["text"] for d in events if "contentBlockDelta" in d
    )


# -- Claude: the Messages body, whole and streamed, and Converse --------------------


def test_claude_invoke_model_answers_with_anthropics_messages_body(
    endpoint: BedrockEndpoint,
) -> None:
    response = runtime(endpoint).invoke_model(modelId=HAIKU, body=claude_body(top_k=250))

    document = json.loads(response["body"].read())
    assert document["type"] == "message" and document["role"] == "assistant"
    assert document["model"] == "claude-3-haiku-20240307"
    assert document["content"] == [{"type": "text", "text": local_answer("fast")}]
    assert document["stop_reason"] == "end_turn"
    assert document["usage"]["output_tokens"] == len(local_answer("fast").split())
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-output-token-count"]


def test_claude_invoke_model_with_response_stream_sends_anthropics_events(
    endpoint: BedrockEndpoint,
) -> None:
    response = runtime(endpoint).invoke_model_with_response_stream(
        modelId=f"us.{SONNET_45}", body=claude_body(temperature=0.2)
    )
    chunks = claude_chunks(response)

    types = [chunk["type"] for chunk in chunks]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(types[2:-3]) == {"content_block_delta"} and len(types) > 6
    text = "".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta")
    assert text == local_answer("detailed")  # Sonnet answers as the app's detailed column
    assert chunks[0]["message"]["model"] == "claude-sonnet-4-5-20250929"
    assert chunks[-2]["delta"]["stop_reason"] == "end_turn"
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == len(text.split())


def test_claude_through_converse_and_converse_stream_from_a_global_profile(
    endpoint: BedrockEndpoint,
) -> None:
    client = runtime(endpoint, region="eu-west-1")
    model_id = f"global.{SONNET_45}"
    whole = client.converse(modelId=model_id, messages=user(), inferenceConfig={"maxTokens": 99})
    assert whole["output"]["message"]["content"] == [{"text": local_answer("detailed")}]
    streamed = client.converse_stream(
        modelId=model_id, messages=user(), additionalModelRequestFields={"top_k": 40}
    )
    assert converse_text(streamed) == local_answer("detailed")


def test_claude_bodies_are_refused_as_bedrock_refuses_them(endpoint: BedrockEndpoint) -> None:
    client = runtime(endpoint)
    refused = {
        # AWS's words, as apps meet them:
        claude_body(model="claude-3-haiku"): "Malformed input request: #: extraneous key "
        "[model] is not permitted, please reformat your input and try again.",
        claude_body(max_tokens=None): "Malformed input request: #: subject must not be valid "
        'against schema {"required":["messages"]}#: required key [max_tokens] not found, '
        "please reformat your input and try again.",
        claude_body(messages=[{"role": "assistant", "content": "Hi"}]): (
            'messages: first message must use the "user" role'
        ),
    }
    for body, message in refused.items():
        with pytest.raises(client.exceptions.ValidationException) as raised:
            client.invoke_model(modelId=HAIKU, body=body)
        assert raised.value.response["Error"]["Message"] == message

    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.converse(
            modelId=HAIKU, messages=user(), additionalModelRequestFields={"reasoning": True}
        )
    assert raised.value.response["Error"]["Message"] == (
        "The model returned the following errors: reasoning: Extra inputs are not permitted"
    )


# -- Nova: Nova 2 through its profiles; Nova's closed schema --------------------------


def test_nova_2_answers_through_its_us_and_global_profiles(endpoint: BedrockEndpoint) -> None:
    us = runtime(endpoint).converse_stream(modelId=f"us.{NOVA_2}", messages=user())
    assert converse_text(us) == local_answer("fast")
    tokyo = runtime(endpoint, region="ap-northeast-1")
    whole = tokyo.converse(modelId=f"global.{NOVA_2}", messages=user())
    assert whole["output"]["message"]["content"] == [{"text": local_answer("fast")}]


def test_an_extraneous_key_is_refused_with_novas_own_message(endpoint: BedrockEndpoint) -> None:
    client = runtime(endpoint)
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.converse(
            modelId=f"us.{NOVA_2}", messages=user(), additionalModelRequestFields={"top_k": 50}
        )
    assert raised.value.response["Error"]["Message"] == (
        "Malformed input request: #: extraneous key [top_k] is not permitted, "
        "please reformat your input and try again."
    )
    # Nova's own place for it is accepted.
    nova_top_k = {"inferenceConfig": {"topK": 5}}
    fine = client.converse(modelId=MICRO, messages=user(), additionalModelRequestFields=nova_top_k)
    assert fine["output"]["message"]["content"] == [{"text": local_answer("fast")}]
    # InvokeModel's body is as closed: Converse's maxTokens is not Nova's max_new_tokens.
    body = {"messages": user(), "inferenceConfig": {"maxTokens": 10}}
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.invoke_model(modelId=MICRO, body=json.dumps(body))
    assert raised.value.response["Error"]["Message"] == (
        "Malformed input request: #/inferenceConfig: extraneous key [maxTokens] is not "
        "permitted, please reformat your input and try again."
    )


# -- Regions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "region", "message"),
    [
        (SONNET_45, "us-east-1", ON_DEMAND.format(SONNET_45)),
        (NOVA_2, "us-west-2", ON_DEMAND.format(NOVA_2)),
        # Claude 3.5 Sonnet v2 is on demand in us-west-2 only.
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "us-east-1",
         ON_DEMAND.format("anthropic.claude-3-5-sonnet-20241022-v2:0")),
        # A profile is callable from its own geography only.
        (f"us.{MICRO}", "eu-west-1", "The provided model identifier is invalid."),
        (f"apac.{MICRO}", "us-east-1", "The provided model identifier is invalid."),
    ],
)  # fmt: skip
def test_an_id_a_region_cannot_call_gets_awss_own_error(
    endpoint: BedrockEndpoint, model_id: str, region: str, message: str
) -> None:
    client = runtime(endpoint, region=region)
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.converse_stream(modelId=model_id, messages=user())
    assert raised.value.response["Error"]["Message"] == message
    with pytest.raises(client.exceptions.ValidationException):
        client.invoke_model(modelId=model_id, body=claude_body())


def test_the_same_bare_id_answers_where_it_is_on_demand(endpoint: BedrockEndpoint) -> None:
    model_id = "anthropic.claude-3-5-sonnet-20241022-v2:0"
    response = runtime(endpoint, region="us-west-2").invoke_model(
        modelId=model_id, body=claude_body()
    )
    assert json.loads(response["body"].read())["content"][0]["text"] == local_answer("detailed")


# -- Mid-stream error events and faults, for every model ---------------------------


@pytest.mark.parametrize("event", sorted(INVOKE_ERRORS))
def test_each_documented_stream_error_event_reaches_botocore_as_itself(
    endpoint: BedrockEndpoint, event: str
) -> None:
    endpoint.faults.set(make_fault("claude", "stream_error", after_chunks=2, event=event))
    client = runtime(endpoint, attempts=1)

    response = client.invoke_model_with_response_stream(modelId=HAIKU, body=claude_body())
    chunks: list[dict[str, Any]] = []
    with pytest.raises(EventStreamError) as raised:
        for item in response["body"]:
            chunks.append(json.loads(item["chunk"]["bytes"]))
    assert raised.value.response["Error"]["Code"] == event
    assert [c["type"] for c in chunks].count("content_block_delta") == 2

    converse = client.converse_stream(modelId=f"us.{SONNET_45}", messages=user())
    with pytest.raises(EventStreamError) as raised:
        converse_text(converse)
    # ConverseStream models every event but modelTimeoutException: that one
    # comes as the model's stream error.
    expected = event if event in CONVERSE_ERRORS else "modelStreamErrorException"
    assert raised.value.response["Error"]["Code"] == expected

    # A call that does not stream gets the matching HTTP error, modeled too
    # (a model's stream error is ModelErrorException there).
    shape = INVOKE_ERRORS[event]
    code = {"ModelStreamErrorException": "ModelErrorException"}.get(shape, shape)
    with pytest.raises(getattr(client.exceptions, code)):
        client.converse(modelId=HAIKU, messages=user())
    # Nova, outside the family, is untouched.
    assert converse_text(client.converse_stream(modelId=MICRO, messages=user()))


def test_a_fault_on_a_claude_profile_id_holds_for_its_model_only(
    endpoint: BedrockEndpoint,
) -> None:
    endpoint.faults.set(make_fault(f"us.{SONNET_45}", "access_denied"))
    client = runtime(endpoint)
    for model_id in (f"us.{SONNET_45}", f"global.{SONNET_45}"):
        with pytest.raises(client.exceptions.AccessDeniedException):
            client.invoke_model(modelId=model_id, body=claude_body())
    haiku = json.loads(client.invoke_model(modelId=HAIKU, body=claude_body())["body"].read())
    assert haiku["content"][0]["text"] == local_answer("fast")
    assert endpoint.faults.snapshot()[0]["model"] == SONNET_45


def test_the_error_event_is_an_option_of_stream_error_only_and_is_kept_in_the_file(
    tmp_path: Path,
) -> None:
    with pytest.raises(FaultInvalid, match="--event applies to stream_error only"):
        make_fault("claude", "throttled", event="throttlingException")
    with pytest.raises(FaultInvalid, match="unknown error event 'sideways'; known: "):
        make_fault("claude", "stream_error", event="sideways")
    fault = make_fault("claude-haiku-4-5", "stream_error", event="modelTimeoutException")
    assert fault.describe() == "modelTimeoutException after 1 chunk"
    faults = FaultFile(tmp_path / "faults.json")
    assert faults.set(fault) == [fault]
    assert faults.read() == [fault]
    assert fault.model == "anthropic.claude-haiku-4-5-20251001-v1:0"


def test_the_newest_claude_models_take_temperature_or_top_p_not_both(
    endpoint: BedrockEndpoint,
) -> None:
    client = runtime(endpoint)
    message = (
        "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
    )
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.invoke_model(modelId=f"us.{SONNET_45}", body=claude_body(temperature=0.5, top_p=0.9))
    assert raised.value.response["Error"]["Message"] == message
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.converse_stream(
            modelId=f"us.{SONNET_45}",
            messages=user(),
            inferenceConfig={"temperature": 0.5, "topP": 0.9},
        )
    assert raised.value.response["Error"]["Message"] == (
        f"The model returned the following errors: {message}"
    )
    # Claude 3 Haiku takes both, as it does on AWS.
    both = claude_body(temperature=0.5, top_p=0.9)
    assert json.loads(client.invoke_model(modelId=HAIKU, body=both)["body"].read())["content"]
