"""Anthropic Claude's Messages body on Bedrock, checked as Bedrock checks it.

InvokeModel and InvokeModelWithResponseStream take Anthropic's Messages API
body with Bedrock's version tag instead of a model field::

    {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 512,
     "system": "...", "messages": [{"role": "user", "content": "Hi"}],
     "temperature": 0.5, "top_p": 0.9, "top_k": 250, "stop_sequences": [...]}

``content`` is a string or a list of ``{"type": "text", "text": ...}`` blocks;
``system`` a string or such a list. The schema is closed: an unknown key
(``model``, ``stream``, ...) is refused with the message apps meet on AWS.
Through Converse, the model's own fields come in ``additionalModelRequestFields``
and an unknown one is Anthropic's "Extra inputs are not permitted".
"""

from __future__ import annotations

import json
from typing import Any

from opskit.sandbox.bedrock.bodies import (
    Prompt,
    RequestInvalid,
    extraneous,
    json_object,
    malformed_input,
)
from opskit.sandbox.bedrock.catalogue import Model

VERSION = "bedrock-2023-05-31"
_KEYS = frozenset(
    {
        "anthropic_version", "anthropic_beta", "max_tokens", "messages", "system",
        "temperature", "top_p", "top_k", "stop_sequences", "tools", "tool_choice",
        "thinking", "metadata",
    }
)  # fmt: skip
_EXTRA_KEYS = frozenset({"top_k", "anthropic_beta", "thinking", "tool_choice"})
# AWS's own words, quoted from the errors apps report:
_MAX_TOKENS_MISSING = malformed_input(
    '#: subject must not be valid against schema {"required":["messages"]}'
    "#: required key [max_tokens] not found"
)
# Anthropic's validation messages, as the Messages API words them:
_FIRST_USER = 'messages: first message must use the "user" role'
_ALTERNATE = (
    'messages: roles must alternate between "user" and "assistant", '
    'but found multiple "{role}" roles in a row'
)
_EMPTY = (
    "messages: all messages must have non-empty content except for the optional "
    "final assistant message"
)
_EMPTY_BLOCK = "messages: text content blocks must be non-empty"
# The newest Claude models take one of temperature and top_p, AWS's words:
_ONE_SAMPLER = (
    "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
)
_ONE_SAMPLER_MODELS = frozenset(
    {
        "anthropic.claude-opus-4-1-20250805-v1:0",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "anthropic.claude-opus-4-5-20251101-v1:0",
    }
)
_MODEL_ERRORS = "The model returned the following errors: "


def claude_prompt(model: Model, body: bytes) -> Prompt:
    """The prompt of an InvokeModel body in Anthropic's Messages format."""
    document = json_object(body, malformed=malformed_input)
    extraneous(document, _KEYS)
    if model.model_id in _ONE_SAMPLER_MODELS and {"temperature", "top_p"} <= document.keys():
        raise RequestInvalid(_ONE_SAMPLER)
    if "messages" not in document:
        raise RequestInvalid(malformed_input("#: required key [messages] not found"))
    if "max_tokens" not in document:
        raise RequestInvalid(_MAX_TOKENS_MISSING)
    if "anthropic_version" not in document:
        raise RequestInvalid(malformed_input("#: required key [anthropic_version] not found"))
    if document["anthropic_version"] != VERSION:
        raise RequestInvalid(
            malformed_input(
                f"#/anthropic_version: {json.dumps(document['anthropic_version'])} "
                "is not a valid enum value"
            )
        )
    max_tokens = document["max_tokens"]
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise RequestInvalid("max_tokens: Input should be greater than or equal to 1")
    messages = _messages(document["messages"])
    words = sum(len(block["text"].split()) for m in messages for block in m["content"])
    words += sum(len(text.split()) for text in _texts(document.get("system"), "system"))
    return Prompt(messages=messages, input_tokens=words, max_tokens=max_tokens)


def check_claude_fields(model: Model, fields: dict[str, Any], config: dict[str, Any]) -> None:
    """Converse's ``additionalModelRequestFields`` and sampling as Claude reads them."""
    for key in fields:
        if key not in _EXTRA_KEYS:
            raise RequestInvalid(f"{_MODEL_ERRORS}{key}: Extra inputs are not permitted")
    if model.model_id in _ONE_SAMPLER_MODELS and {"temperature", "topP"} <= config.keys():
        raise RequestInvalid(_MODEL_ERRORS + _ONE_SAMPLER)


def _messages(raw: Any) -> list[dict[str, Any]]:
    """Claude's messages in Converse's shape (text blocks), which the FAQ reads."""
    if not isinstance(raw, list):
        raise RequestInvalid(malformed_input("#/messages: expected type: JSONArray"))
    if not raw:
        raise RequestInvalid("messages: at least one message is required")
    messages: list[dict[str, Any]] = []
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            raise RequestInvalid(malformed_input(f"#/messages/{index}: expected type: JSONObject"))
        extraneous(message, frozenset({"role", "content"}), f"#/messages/{index}")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise RequestInvalid(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        if index == 0 and role != "user":
            raise RequestInvalid(_FIRST_USER)
        if messages and messages[-1]["role"] == role:
            raise RequestInvalid(_ALTERNATE.format(role=role))
        texts = _texts(message.get("content"), f"messages.{index}.content")
        last_assistant = index == len(raw) - 1 and role == "assistant"
        if not texts and not last_assistant:
            raise RequestInvalid(_EMPTY)
        messages.append({"role": role, "content": [{"text": text} for text in texts]})
    return messages


def _texts(content: Any, where: str) -> list[str]:
    if content is None:
        return []
    if isinstance(content, str):
        return [content] if content else []
    if not isinstance(content, list):
        raise RequestInvalid(f"{where}: Input should be a valid list")
    texts = []
    for index, block in enumerate(content):
        if not isinstance(block, dict) or block.get("type") != "text":
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            raise RequestInvalid(
                f"The sandbox's Bedrock endpoint reads text content blocks only; "
                f"{where}.{index} is a {kind!r} block"
            )
        text = block.get("text")
        if not isinstance(text, str):
            raise RequestInvalid(f"{where}.{index}.text: Field required")
        if not text:
            raise RequestInvalid(_EMPTY_BLOCK)
        texts.append(text)
    return texts
