"""Read the request bodies the endpoint serves, as Bedrock checks them.

Only the fields an answer needs are read (messages, system, the token limit);
unknown fields pass, as in any AWS JSON API read by a tolerant client. What is
wrong gets the message Bedrock gives for it, raised as ``RequestInvalid`` and
answered as a ``ValidationException`` (HTTP 400).

Two body formats:

- Converse / ConverseStream: ``{"messages": [...], "system": [...],
  "inferenceConfig": {"maxTokens": N}}`` (botocore builds it from the call's
  parameters);
- InvokeModel / InvokeModelWithResponseStream with Nova's own format:
  ``{"schemaVersion": "messages-v1", "messages": [...], "system": [...],
  "inferenceConfig": {"max_new_tokens": N}}`` (the caller's raw bytes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_ROLES = ("user", "assistant")
_START_WITH_USER = (
    "A conversation must start with a user message. "
    "Try again with a conversation that starts with a user message."
)
_ALTERNATE = (
    "A conversation must alternate between user and assistant roles. "
    "Make sure the conversation alternates between user and assistant roles and try again."
)


class RequestInvalid(Exception):
    """The request breaks one of Bedrock's rules; ``str()`` is Bedrock's message."""


@dataclass(frozen=True)
class Prompt:
    messages: list[dict[str, Any]]
    input_tokens: int  # words of the system prompt and the messages: a stand-in count
    max_tokens: int | None


def converse_prompt(body: bytes) -> Prompt:
    """The prompt of a Converse or ConverseStream request body."""
    document = _json_object(body, malformed=_serialization_message)
    messages = document.get("messages")
    if messages is None:
        raise RequestInvalid(_null("messages"))
    config = _object(document.get("inferenceConfig"), "inferenceConfig", _serialization_message)
    max_tokens = _limit(config.get("maxTokens"), "inferenceConfig.maxTokens")
    return _prompt(messages, document.get("system"), max_tokens, _serialization_message)


def nova_prompt(body: bytes) -> Prompt:
    """The prompt of an InvokeModel body in Nova's ``messages-v1`` format."""
    document = _json_object(body, malformed=_malformed_input)
    if "messages" not in document:
        raise RequestInvalid(_malformed_input("#: required key [messages] not found"))
    version = document.get("schemaVersion", "messages-v1")
    if version != "messages-v1":
        raise RequestInvalid(
            _malformed_input(f"#/schemaVersion: {version} is not a valid enum value")
        )
    config = _object(document.get("inferenceConfig"), "inferenceConfig", _malformed_input)
    raw_limit = config.get("max_new_tokens", config.get("maxTokens"))
    max_tokens = _limit(raw_limit, "inferenceConfig.max_new_tokens")
    return _prompt(document["messages"], document.get("system"), max_tokens, _malformed_input)


def _prompt(messages: Any, system: Any, max_tokens: int | None, malformed: Any) -> Prompt:
    if not isinstance(messages, list):
        raise RequestInvalid(malformed("#/messages: expected type: JSONArray"))
    if not messages:
        raise RequestInvalid(_START_WITH_USER)
    words = 0
    previous = ""
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RequestInvalid(malformed(f"#/messages/{index}: expected type: JSONObject"))
        role = message.get("role")
        if role not in _ROLES:
            raise RequestInvalid(
                f"1 validation error detected: Value {json.dumps(role)} at "
                f"'messages.{index + 1}.member.role' failed to satisfy constraint: "
                "Member must satisfy enum value set: [user, assistant]"
            )
        if index == 0 and role != "user":
            raise RequestInvalid(_START_WITH_USER)
        if role == previous:
            raise RequestInvalid(_ALTERNATE)
        previous = role
        words += _count_text(message.get("content"), f"messages.{index}", malformed)
    if system is not None:
        if not isinstance(system, list):
            raise RequestInvalid(malformed("#/system: expected type: JSONArray"))
        words += _count_text(system, "system", malformed, allow_empty=True)
    return Prompt(messages=messages, input_tokens=words, max_tokens=max_tokens)


def _count_text(blocks: Any, where: str, malformed: Any, *, allow_empty: bool = False) -> int:
    if blocks is None or (not blocks and not allow_empty):
        raise RequestInvalid(_null(f"{where}.content"))
    if not isinstance(blocks, list):
        raise RequestInvalid(malformed(f"#/{where.replace('.', '/')}: expected type: JSONArray"))
    words = 0
    for index, block in enumerate(blocks):
        at = f"{where}.content.{index}" if not where.startswith("system") else f"system.{index}"
        if not isinstance(block, dict) or not block:
            raise RequestInvalid(malformed(f"#/{at.replace('.', '/')}: expected a content block"))
        if "text" not in block:
            kind = next(iter(block))
            raise RequestInvalid(
                f"The sandbox's Bedrock endpoint reads text content blocks only; "
                f"{at} is a {kind!r} block"
            )
        text = block["text"]
        if not isinstance(text, str):
            raise RequestInvalid(malformed(f"#/{at.replace('.', '/')}/text: expected type: String"))
        if not text.strip():
            raise RequestInvalid(
                f"The text field in the ContentBlock object at {at} is blank. "
                "Add text to the text field, and try again."
            )
        words += len(text.split())
    return words


def _json_object(body: bytes, *, malformed: Any) -> dict[str, Any]:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RequestInvalid(malformed("the body is not valid JSON")) from None
    if not isinstance(document, dict):
        raise RequestInvalid(malformed("#: expected type: JSONObject"))
    return document


def _object(value: Any, name: str, malformed: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestInvalid(malformed(f"#/{name}: expected type: JSONObject"))
    return value


def _limit(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestInvalid(
            f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1"
        )
    return value


def _null(name: str) -> str:
    return (
        f"1 validation error detected: Value null at '{name}' failed to satisfy constraint: "
        "Member must not be null"
    )


def _malformed_input(detail: str) -> str:
    return f"Malformed input request: {detail}, please reformat your input and try again."


def _serialization_message(detail: str) -> str:
    return f"Malformed request body: {detail}"
