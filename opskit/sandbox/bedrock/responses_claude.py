"""Claude's answers as Bedrock's InvokeModel sends them: Anthropic's Messages
response body, and its stream events, each the JSON bytes of a ``chunk``.

A stream is ``message_start``, ``content_block_start``, ``content_block_delta``
(``text_delta``) per piece of text, ``content_block_stop``, ``message_delta``
(stop reason, output tokens) and ``message_stop``, which carries Bedrock's
``amazon-bedrock-invocationMetrics`` (Anthropic's "Streaming messages" and
Bedrock's InvokeModelWithResponseStream docs).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from opskit.sandbox.bedrock.catalogue import Model
from opskit.sandbox.bedrock.responses import INVOCATION_METRICS, Answer


def claude_document(answer: Answer, model: Model) -> dict[str, Any]:
    return {
        **_message(model, answer.input_tokens, answer.output_tokens),
        "content": [{"type": "text", "text": answer.text}],
        "stop_reason": answer.stop_reason,
    }


def claude_chunks(answer: Answer, model: Model) -> Callable[[str, dict[str, Any]], list[Any]]:
    """Converse's stream events, as the Claude chunks that say the same."""

    def chunks(event_type: str, document: dict[str, Any]) -> list[Any]:
        if event_type == "messageStart":
            return [
                {"type": "message_start", "message": _message(model, answer.input_tokens, 1)},
                {"type": "content_block_start", "index": 0, "content_block": _block("")},
            ]
        if event_type == "contentBlockDelta":
            text = document["delta"]["text"]
            delta = {"type": "text_delta", "text": text}
            return [{"type": "content_block_delta", "index": 0, "delta": delta}]
        if event_type == "contentBlockStop":
            return [{"type": "content_block_stop", "index": 0}]
        if event_type == "messageStop":
            delta = {"stop_reason": document["stopReason"], "stop_sequence": None}
            usage = {"output_tokens": answer.output_tokens}
            return [{"type": "message_delta", "delta": delta, "usage": usage}]
        if event_type == "metadata":
            metrics = document.get(INVOCATION_METRICS, {})
            return [{"type": "message_stop", INVOCATION_METRICS: metrics}]
        return []

    return chunks


def _message(model: Model, input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "id": f"msg_bdrk_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model.anthropic_name,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def _block(text: str) -> dict[str, str]:
    return {"type": "text", "text": text}
