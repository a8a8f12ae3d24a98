"""Ask both models at once and merge their streams for the UI.

Each model streams in its own thread into one queue; the Streamlit script
thread drains the queue and updates the page, so UI calls stay on the script
thread. A throttled or failing model ends with a ``failed`` event carrying a
reason a person can act on; the other stream carries on. Time to first token
and total time are logged per model (``core.markers``).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
)

from core.applog import get_logger
from core.aws_clients import describe_error
from core.markers import ANSWER_COMPLETE, ANSWER_FAILED, FIRST_TOKEN
from core.settings import ModelSpec

LOG = get_logger("streaming")
HISTORY_TURNS = 6  # earlier question/answer pairs sent with a new question

# Error events that ConverseStream can send inside the stream instead of text.
_STREAM_ERRORS = (
    "internalServerException",
    "modelStreamErrorException",
    "validationException",
    "throttlingException",
    "serviceUnavailableException",
)


class Responder(Protocol):
    source: str  # "Bedrock" or "local responder": shown in the UI and logs

    def stream(self, spec: ModelSpec, messages: list[dict[str, Any]]) -> Iterator[str]: ...


class ModelCallFailed(Exception):
    """A model could not answer; ``str()`` is the reason shown in the UI."""


class BedrockUnreachable(ModelCallFailed):
    """No connection or no credentials: the local responder may stand in."""


def describe_model_error(err: ClientError) -> str:
    code = err.response.get("Error", {}).get("Code", "")
    detail = describe_error(err)
    if code in ("ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException"):
        return f"throttled by Bedrock ({detail})"
    if code == "AccessDeniedException":
        return f"access denied; is model access enabled in this region? ({detail})"
    return f"Bedrock error ({detail})"


class BedrockResponder:
    """Streams a model's answer with Bedrock Runtime ``converse_stream``."""

    source = "Bedrock"

    def __init__(self, client: Any):
        self.client = client

    def stream(self, spec: ModelSpec, messages: list[dict[str, Any]]) -> Iterator[str]:
        try:
            response = self.client.converse_stream(
                modelId=spec.model_id,
                messages=messages,
                system=[{"text": spec.system_prompt}],
                inferenceConfig={"maxTokens": spec.max_tokens},
            )
            for event in response["stream"]:
                if "contentBlockDelta" in event:
                    text = event["contentBlockDelta"].get("delta", {}).get("text")
                    if text:
                        yield text
                    continue
                for name in _STREAM_ERRORS:
                    if name in event:
                        code = name[0].upper() + name[1:]
                        message = event[name].get("message", "")
                        error = {"Error": {"Code": code, "Message": message}}
                        raise ModelCallFailed(
                            describe_model_error(ClientError(error, "ConverseStream"))
                        )
        except ClientError as err:  # includes EventStreamError raised mid-stream
            raise ModelCallFailed(describe_model_error(err)) from None
        except (EndpointConnectionError, ConnectTimeoutError, NoCredentialsError) as err:
            raise BedrockUnreachable(f"Bedrock unreachable ({err})") from None
        except BotoCoreError as err:
            raise ModelCallFailed(f"Bedrock call failed ({err})") from None


@dataclass
class Answer:
    """One model's answer to one question, as the UI shows it."""

    key: str
    model: str
    role: str
    model_id: str
    source: str
    text: str = ""
    status: str = "streaming"  # streaming | done | failed
    error: str = ""
    notice: str = ""  # e.g. why the local responder stood in for Bedrock
    first_token_s: float | None = None
    total_s: float | None = None


@dataclass
class Turn:
    question: str
    answers: dict[str, Answer] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamEvent:
    key: str
    kind: str  # delta | fallback | done | failed
    text: str = ""
    elapsed: float = 0.0


def conversation_for(key: str, turns: Sequence[Turn], question: str) -> list[dict[str, Any]]:
    """Converse ``messages`` for one model: its own earlier answers, then the question.

    Converse needs user and assistant turns to alternate, so a turn this model
    failed is left out whole.
    """
    messages: list[dict[str, Any]] = []
    for turn in turns[-HISTORY_TURNS:]:
        answer = turn.answers.get(key)
        if answer and answer.status == "done" and answer.text.strip():
            messages.append({"role": "user", "content": [{"text": turn.question}]})
            messages.append({"role": "assistant", "content": [{"text": answer.text}]})
    messages.append({"role": "user", "content": [{"text": question}]})
    return messages


def stream_answers(
    specs: Sequence[ModelSpec],
    responder: Responder,
    conversations: dict[str, list[dict[str, Any]]],
    *,
    fallback: Responder | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[StreamEvent]:
    """Yield every model's events as they arrive, until each has ended."""
    events: queue.Queue[StreamEvent] = queue.Queue()
    for spec in specs:
        worker = threading.Thread(
            target=_run_model,
            args=(spec, responder, fallback, conversations[spec.key], events, clock),
            name=f"model-{spec.key}",
            daemon=True,
        )
        worker.start()
    running = len(specs)
    while running:
        event = events.get()
        if event.kind in ("done", "failed"):
            running -= 1
        yield event


def _run_model(
    spec: ModelSpec,
    responder: Responder,
    fallback: Responder | None,
    messages: list[dict[str, Any]],
    events: queue.Queue[StreamEvent],
    clock: Callable[[], float],
) -> None:
    started = clock()
    try:
        try:
            chars = _pump(spec, responder, messages, events, started, clock)
            source = responder.source
        except BedrockUnreachable as err:
            if fallback is None:
                raise
            LOG.warning("%s: %s; the local responder answers instead", spec.name, err)
            events.put(StreamEvent(spec.key, "fallback", f"{err}", clock() - started))
            chars = _pump(spec, fallback, messages, events, started, clock)
            source = fallback.source
    except ModelCallFailed as err:
        elapsed = clock() - started
        LOG.warning(ANSWER_FAILED.format(model=spec.name, seconds=elapsed, reason=err))
        events.put(StreamEvent(spec.key, "failed", str(err), elapsed))
        return
    except Exception as err:  # a bug: log it in full, but let the other model finish
        elapsed = clock() - started
        LOG.exception("%s answer crashed", spec.name)
        # The page names the error itself (the incident's "'NoneType' object has no
        # attribute ..."), so whoever sees the column sees the cause, not just a type.
        reason = f"unexpected {type(err).__name__}" + (f": {err}" if str(err) else "")
        events.put(StreamEvent(spec.key, "failed", reason, elapsed))
        return
    elapsed = clock() - started
    LOG.info(ANSWER_COMPLETE.format(model=spec.name, chars=chars, seconds=elapsed, source=source))
    events.put(StreamEvent(spec.key, "done", "", elapsed))


def _pump(
    spec: ModelSpec,
    responder: Responder,
    messages: list[dict[str, Any]],
    events: queue.Queue[StreamEvent],
    started: float,
    clock: Callable[[], float],
) -> int:
    chars = 0
    for text in responder.stream(spec, messages):
        elapsed = clock() - started
        if chars == 0:
            LOG.info(FIRST_TOKEN.format(model=spec.name, seconds=elapsed, source=responder.source))
        chars += len(text)
        events.put(StreamEvent(spec.key, "delta", text, elapsed))
    return chars


def apply_event(answer: Answer, event: StreamEvent, fallback_source: str = "") -> None:
    """Fold one event into the answer the UI shows."""
    if event.kind == "delta":
        if answer.first_token_s is None:
            answer.first_token_s = event.elapsed
        answer.text += event.text
    elif event.kind == "fallback":
        answer.notice = f"{event.text}: answered by the local responder"
        answer.source = fallback_source or "local responder"
    elif event.kind == "done":
        answer.status = "done"
        answer.total_s = event.elapsed
    elif event.kind == "failed":
        answer.status = "failed"
        answer.error = event.text
        answer.total_s = event.elapsed
