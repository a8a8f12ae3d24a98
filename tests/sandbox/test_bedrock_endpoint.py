"""The sandbox's Bedrock Runtime endpoint, read by botocore's own client (issue 15, test 2).

Every call goes through botocore's real serializer, HTTP, error parser,
retries and event-stream decoder, as the app's calls do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from botocore.exceptions import EndpointConnectionError, EventStreamError

from opskit.sandbox.bedrock import BedrockEndpoint, FaultFile, FaultInvalid, eventstream, make_fault
from opskit.sandbox.bedrock.models import STACK_SRC, _load_local_responder

MICRO = "amazon.nova-micro-v1:0"
PRO = "amazon.nova-pro-v1:0"
QUESTION = "How do deployments work?"


@pytest.fixture
def endpoint() -> Iterator[BedrockEndpoint]:
    server = BedrockEndpoint(delay=0)
    server.start()
    yield server
    server.stop()


def runtime(endpoint: BedrockEndpoint, **config: Any) -> Any:
    settings = {"retries": {"mode": "standard", "max_attempts": 3}, **config}
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=endpoint.endpoint_url,
        region_name="us-east-1",
        config=Config(**settings),
    )


def local_answer(style: str, question: str = QUESTION) -> str:
    """What the app's own local responder answers (``fast``: Micro's column)."""
    module = _load_local_responder(STACK_SRC)
    return module.LocalResponder.bundled().answer(SimpleNamespace(key=style), question)


def user(text: str = QUESTION) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


def nova_body(text: str = QUESTION, **config: Any) -> str:
    document: dict[str, Any] = {"schemaVersion": "messages-v1", "messages": user(text)}
    if config:
        document["inferenceConfig"] = config
    return json.dumps(document)


def converse_texts(stream: Any) -> tuple[list[str], list[dict[str, Any]]]:
    texts, events = [], []
    for event in stream:
        events.append(event)
        if "contentBlockDelta" in event:
            texts.append(event["contentBlockDelta"]["delta"]["text"])
    return texts, events


def test_converse_stream_streams_the_local_responders_answer_a_few_words_an_event(
    endpoint: BedrockEndpoint,
) -> None:
    response = runtime(endpoint).converse_stream(
        modelId=MICRO,
        messages=user(),
        system=[{"text": "Answer in two or three short sentences."}],
        inferenceConfig={"maxTokens": 512},
    )

    texts, events = converse_texts(response["stream"])
    assert "".join(texts) == local_answer("fast")
    assert len(texts) > 3 and all(1 <= len(text.split()) <= 3 for text in texts)
    names = [next(iter(event)) for event in events]
    assert names == ["messageStart"] + ["contentBlockDelta"] * len(texts) + [
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert events[0]["messageStart"] == {"role": "assistant"}
    assert events[-2]["messageStop"] == {"stopReason": "end_turn"}
    usage = events[-1]["metadata"]["usage"]
    assert usage["outputTokens"] == len(local_answer("fast").split())
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert "latencyMs" in events[-1]["metadata"]["metrics"]


def test_invoke_model_with_response_stream_streams_novas_chunks_with_the_same_text(
    endpoint: BedrockEndpoint,
) -> None:
    response = runtime(endpoint).invoke_model_with_response_stream(
        modelId=f"us.{PRO}", body=nova_body(max_new_tokens=2048)
    )

    assert response["contentType"] == "application/json"
    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    texts = [c["contentBlockDelta"]["delta"]["text"] for c in chunks if "contentBlockDelta" in c]
    assert "".join(texts) == local_answer("detailed")
    assert chunks[0] == {"messageStart": {"role": "assistant"}}
    assert chunks[-2] == {"messageStop": {"stopReason": "end_turn"}}
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == len(local_answer("detailed").split())


def test_converse_and_invoke_model_answer_whole(endpoint: BedrockEndpoint) -> None:
    client = runtime(endpoint)

    converse = client.converse(modelId=PRO, messages=user())
    invoke = client.invoke_model(modelId=MICRO, body=nova_body())

    assert converse["output"]["message"]["content"] == [{"text": local_answer("detailed")}]
    assert converse["stopReason"] == "end_turn"
    assert converse["usage"]["outputTokens"] == len(local_answer("detailed").split())
    document = json.loads(invoke["body"].read())
    assert document["output"]["message"]["content"] == [{"text": local_answer("fast")}]
    assert invoke["contentType"] == "application/json"


def test_the_answer_is_to_the_last_user_message_and_stops_at_max_tokens(
    endpoint: BedrockEndpoint,
) -> None:
    messages = [
        *user("hello"),
        {"role": "assistant", "content": [{"text": "Hello!"}]},
        *user("What about the sandbox?"),
    ]

    response = runtime(endpoint).converse(
        modelId=MICRO, messages=messages, inferenceConfig={"maxTokens": 4}
    )

    text = response["output"]["message"]["content"][0]["text"]
    assert local_answer("fast", "What about the sandbox?").startswith(text)
    assert len(text.split()) == 4
    assert response["stopReason"] == "max_tokens"


BAD_REQUESTS = [
    pytest.param(
        "invoke_model",
        {"modelId": "amazon.nova-mega-v9:0", "body": nova_body()},
        "The provided model identifier is invalid.",
        id="unknown-model",
    ),
    pytest.param(
        "invoke_model",
        {"modelId": MICRO, "body": b"{not json"},
        "Malformed input request: the body is not valid JSON",
        id="body-not-json",
    ),
    pytest.param(
        "invoke_model",
        {"modelId": MICRO, "body": json.dumps({"schemaVersion": "messages-v1"})},
        "Malformed input request: #: required key [messages] not found",
        id="nova-body-without-messages",
    ),
    pytest.param(
        "converse",
        {"modelId": MICRO, "messages": [{"role": "assistant", "content": [{"text": "hi"}]}]},
        "A conversation must start with a user message.",
        id="starts-with-assistant",
    ),
    pytest.param(
        "converse_stream",
        {"modelId": MICRO, "messages": user() + user()},
        "A conversation must alternate between user and assistant roles.",
        id="user-twice",
    ),
    pytest.param(
        "converse",
        {"modelId": MICRO, "messages": user("   ")},
        "The text field in the ContentBlock object at messages.0.content.0 is blank.",
        id="blank-text",
    ),
    pytest.param(
        "converse",
        {"modelId": MICRO, "messages": user(), "inferenceConfig": {"maxTokens": 0}},
        "Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint",
        id="max-tokens-0",
    ),
]


@pytest.mark.parametrize(("method", "params", "message"), BAD_REQUESTS)
def test_a_bad_request_gets_a_validation_exception_that_botocore_raises_as_such(
    endpoint: BedrockEndpoint, method: str, params: dict[str, Any], message: str
) -> None:
    client = runtime(endpoint, parameter_validation=False)

    with pytest.raises(client.exceptions.ValidationException) as raised:
        getattr(client, method)(**params)

    response = raised.value.response
    assert response["Error"]["Code"] == "ValidationException"
    assert message in response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_converse_request_without_messages_is_a_validation_exception(
    endpoint: BedrockEndpoint,
) -> None:
    client = runtime(endpoint, parameter_validation=False)  # botocore would refuse to send it

    with pytest.raises(client.exceptions.ValidationException, match="Value null at 'messages'"):
        client.converse(modelId=MICRO)


def test_unknown_paths_and_methods_are_unknown_operations(endpoint: BedrockEndpoint) -> None:
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for method, path in [
        ("GET", f"/model/{MICRO}/converse"),
        ("POST", f"/model/{MICRO}/chat"),
        ("POST", "/converse"),
    ]:
        request = urllib.request.Request(endpoint.endpoint_url + path, data=None, method=method)
        with pytest.raises(urllib.error.HTTPError) as raised:
            opener.open(request, timeout=10)
        assert raised.value.code == 404
        assert raised.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert endpoint.calls() == []


# -- faults ------------------------------------------------------------------------


def test_access_denied_on_one_model_leaves_the_other_answering(endpoint: BedrockEndpoint) -> None:
    endpoint.faults.set(make_fault("nova-pro", "access_denied"))
    client = runtime(endpoint)

    with pytest.raises(client.exceptions.AccessDeniedException, match="don't have access"):
        client.converse_stream(modelId=PRO, messages=user())
    with pytest.raises(client.exceptions.AccessDeniedException):
        client.converse_stream(modelId=f"us.{PRO}", messages=user())  # its profile too
    texts, _ = converse_texts(client.converse_stream(modelId=MICRO, messages=user())["stream"])
    assert "".join(texts) == local_answer("fast")


def test_throttled_for_two_calls_is_answered_by_botocores_retries(
    endpoint: BedrockEndpoint,
) -> None:
    endpoint.faults.set(make_fault(MICRO, "throttled", calls=2))

    response = runtime(endpoint).converse_stream(modelId=MICRO, messages=user())

    assert "".join(converse_texts(response["stream"])[0]) == local_answer("fast")
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert [(c.status, c.error) for c in endpoint.calls()] == [
        (429, "ThrottlingException"),
        (429, "ThrottlingException"),
        (200, ""),
    ]
    assert endpoint.faults.snapshot()[0]["remaining"] == 0


def test_throttled_always_outlasts_the_retries(endpoint: BedrockEndpoint) -> None:
    endpoint.faults.set(make_fault("all", "throttled"))
    client = runtime(endpoint, retries={"mode": "standard", "total_max_attempts": 2})

    with pytest.raises(client.exceptions.ThrottlingException) as raised:
        client.converse(modelId=MICRO, messages=user())

    metadata = raised.value.response["ResponseMetadata"]
    assert metadata["HTTPStatusCode"] == 429
    assert metadata["RetryAttempts"] == 1
    assert len(endpoint.calls()) == 2


def test_stream_error_sends_k_chunks_then_a_model_stream_error_event(
    endpoint: BedrockEndpoint,
) -> None:
    endpoint.faults.set(make_fault(PRO, "stream_error", after_chunks=2))
    response = runtime(endpoint).converse_stream(modelId=PRO, messages=user())
    events: list[dict[str, Any]] = []

    with pytest.raises(EventStreamError) as raised:
        for event in response["stream"]:
            events.append(event)

    assert [next(iter(e)) for e in events] == ["messageStart"] + ["contentBlockDelta"] * 2
    assert raised.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert "failed after 2 chunks" in raised.value.response["Error"]["Message"]
    assert endpoint.calls()[-1].error == "modelStreamErrorException"


def test_stream_error_in_invoke_model_with_response_stream(endpoint: BedrockEndpoint) -> None:
    endpoint.faults.set(make_fault(MICRO, "stream_error", after_chunks=0))
    response = runtime(endpoint).invoke_model_with_response_stream(modelId=MICRO, body=nova_body())

    with pytest.raises(EventStreamError, match="modelStreamErrorException"):
        list(response["body"])


def test_slow_first_token_delays_the_first_text(endpoint: BedrockEndpoint) -> None:
    endpoint.faults.set(make_fault(MICRO, "slow_first_token", seconds=0.3))

    response = runtime(endpoint).invoke_model_with_response_stream(modelId=MICRO, body=nova_body())

    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["firstByteLatency"] >= 300  # a lower bound: the endpoint waited that long


def test_unavailable_refuses_connections_until_cleared(endpoint: BedrockEndpoint) -> None:
    client = runtime(endpoint, retries={"mode": "standard", "max_attempts": 1})
    endpoint.faults.set(make_fault("all", "unavailable"))

    with pytest.raises(EndpointConnectionError):
        client.converse(modelId=MICRO, messages=user())

    endpoint.faults.clear()
    assert client.converse(modelId=MICRO, messages=user())["stopReason"] == "end_turn"


def test_faults_set_in_the_faults_file_apply_to_the_next_call(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    server = BedrockEndpoint(delay=0, faults_file=path)
    server.start()
    try:
        client = runtime(server)
        FaultFile(path).set(make_fault("nova-micro", "access_denied"))
        with pytest.raises(client.exceptions.AccessDeniedException):
            client.converse(modelId=MICRO, messages=user())

        path.write_text('{"faults": [{"model": "nova-micro", "kind": "sideways"}]}')
        with pytest.raises(client.exceptions.AccessDeniedException):  # a bad edit is ignored
            client.converse(modelId=MICRO, messages=user())

        FaultFile(path).clear()
        assert client.converse(modelId=MICRO, messages=user())["stopReason"] == "end_turn"
    finally:
        server.stop()
    assert not path.exists()


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (
            ("nova-mega", "throttled"),
            {},
            "unknown model 'nova-mega'; known: a model or inference profile id",
        ),
        (("pro", "sideways"), {}, "unknown fault 'sideways'; known: access_denied, throttled"),
        (("pro", "throttled"), {"seconds": 2}, "--seconds applies to slow_first_token only"),
        (("pro", "access_denied"), {"calls": 2}, "--calls applies to throttled only"),
        (("pro", "unavailable"), {}, "use the model 'all'"),
        (("pro", "throttled"), {"calls": 0}, "--calls must be at least 1, not 0"),
        (("pro", "slow_first_token"), {}, "slow_first_token needs --seconds"),
        (("pro", "stream_error"), {"after_chunks": -1}, "--after must be 0 or more"),
    ],
)
def test_a_fault_that_cannot_be_set_says_why(
    args: tuple[str, str], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(FaultInvalid) as raised:
        make_fault(*args, **options)
    assert message in str(raised.value)


# -- the event stream encoder ----------------------------------------------------


def test_encoded_messages_decode_with_botocores_own_decoder() -> None:
    stream = eventstream.event("contentBlockDelta", {"delta": {"text": "héllo"}})
    stream += eventstream.exception("throttlingException", {"message": "slow down"})
    buffer = EventStreamBuffer()
    buffer.add_data(stream)

    first, second = list(buffer)

    assert first.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(first.payload) == {"delta": {"text": "héllo"}}
    assert second.headers[":message-type"] == "exception"
    assert second.headers[":exception-type"] == "throttlingException"


def test_a_corrupted_message_fails_botocores_checksum() -> None:
    message = bytearray(eventstream.event("messageStop", {"stopReason": "end_turn"}))
    message[-6] ^= 0xFF  # one payload byte
    buffer = EventStreamBuffer()
    buffer.add_data(bytes(message))

    with pytest.raises(ChecksumMismatch):
        list(buffer)
