"""Read the request bodies the endpoint serves, as Bedrock checks them.

What is wrong gets the message Bedrock gives for it, raised as
``RequestInvalid`` and answered as a ``ValidationException`` (HTTP 400).

Here: the Converse / ConverseStream body (``{"messages": [...], "system":
[...], "inferenceConfig": {"maxTokens": N}, "additionalModelRequestFields":
{...}}``, which botocore builds from the call's parameters, so only the
model's own fields can be wrong in shape), and what every family shares.
The model's own bodies, strict as the models are (an unknown key is
refused), are ``bodies_nova`` and ``bodies_claude``.
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


def converse_prompt(body: bytes) -> tuple[Prompt, dict[str, Any], dict[str, Any]]:
    """The prompt of a Converse or ConverseStream request body, its
    ``additionalModelRequestFields`` (the model's own fields, for its family to
    check) and its ``inferenceConfig``."""
    document = json_object(body, malformed=_serialization_message)
    messages = document.get("messages")
    if messages is None:
        raise RequestInvalid(null_value("messages"))
    config = json_field(document.get("inferenceConfig"), "inferenceConfig", _serialization_message)
    max_tokens = token_limit(config.get("maxTokens"), "inferenceConfig.maxTokens")
    extra = json_field(
        document.get("additionalModelRequestFields"),
        "additionalModelRequestFields",
        _serialization_message,
    )
    prompt = prompt_of(messages, document.get("system"), max_tokens, _serialization_message)
    return prompt, extra, config


def prompt_of(messages: Any, system: Any, max_tokens: int | None, malformed: Any) -> Prompt:
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
        raise RequestInvalid(null_value(f"{where}.content"))
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


def json_object(body: bytes, *, malformed: Any) -> dict[str, Any]:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RequestInvalid(malformed("the body is not valid JSON")) from None
    if not isinstance(document, dict):
        raise RequestInvalid(malformed("#: expected type: JSONObject"))
    return document


def json_field(value: Any, name: str, malformed: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestInvalid(malformed(f"#/{name}: expected type: JSONObject"))
    return value


def token_limit(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestInvalid(
            f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1"
        )
    return value


def null_value(name: str) -> str:
    return (
        f"1 validation error detected: Value null at '{name}' failed to satisfy constraint: "
        "Member must not be null"
    )


def malformed_input(detail: str) -> str:
    return f"Malformed input request: {detail}, please reformat your input and try again."


def extraneous(keys: Any, allowed: frozenset[str], at: str = "#") -> None:
    """Refuse the first key not in ``allowed``, in the words of the models' schema check."""
    for key in keys:
        if key not in allowed:
            raise RequestInvalid(malformed_input(f"{at}: extraneous key [{key}] is not permitted"))


def _serialization_message(detail: str) -> str:
    return f"Malformed request body: {detail}"
