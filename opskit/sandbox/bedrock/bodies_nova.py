"""Nova's own request fields, checked as strictly as Nova checks them.

Nova validates its body against a closed JSON schema: a key it does not know is
refused ("Malformed input request: #: extraneous key [top_k] is not
permitted, ..."), never ignored. An app that sends Claude's ``top_k`` to Nova
through Converse's ``additionalModelRequestFields`` fails on AWS, so it fails
here. Nova's own top-k is ``{"inferenceConfig": {"topK": N}}`` there, and
``inferenceConfig.top_k`` in the InvokeModel body (Amazon Nova user guide,
"Using the Converse API" and "Complete request schema"). Nova 2 adds
``reasoningConfig``.
"""

from __future__ import annotations

from typing import Any

from opskit.sandbox.bedrock.bodies import (
    Prompt,
    RequestInvalid,
    extraneous,
    json_field,
    json_object,
    malformed_input,
    prompt_of,
    token_limit,
)
from opskit.sandbox.bedrock.catalogue import Model

_INVOKE_KEYS = frozenset({"schemaVersion", "system", "messages", "inferenceConfig", "toolConfig"})
_INVOKE_CONFIG = frozenset({"max_new_tokens", "temperature", "top_p", "top_k", "stopSequences"})
_EXTRA_KEYS = frozenset({"inferenceConfig"})
_EXTRA_CONFIG = frozenset({"topK"})
_NOVA_2_KEYS = frozenset({"reasoningConfig"})


def nova_prompt(model: Model, body: bytes) -> Prompt:
    """The prompt of an InvokeModel body in Nova's ``messages-v1`` format."""
    document = json_object(body, malformed=malformed_input)
    extraneous(document, _INVOKE_KEYS | _nova_2(model))
    if "messages" not in document:
        raise RequestInvalid(malformed_input("#: required key [messages] not found"))
    version = document.get("schemaVersion", "messages-v1")
    if version != "messages-v1":
        raise RequestInvalid(
            malformed_input(f"#/schemaVersion: {version} is not a valid enum value")
        )
    config = json_field(document.get("inferenceConfig"), "inferenceConfig", malformed_input)
    extraneous(config, _INVOKE_CONFIG, "#/inferenceConfig")
    max_tokens = token_limit(config.get("max_new_tokens"), "inferenceConfig.max_new_tokens")
    return prompt_of(document["messages"], document.get("system"), max_tokens, malformed_input)


def check_nova_fields(model: Model, fields: dict[str, Any], config: dict[str, Any]) -> None:
    """Converse's ``additionalModelRequestFields`` as Nova reads them."""
    del config  # botocore's model shapes Converse's own inferenceConfig
    extraneous(fields, _EXTRA_KEYS | _nova_2(model))
    config = json_field(fields.get("inferenceConfig"), "inferenceConfig", malformed_input)
    extraneous(config, _EXTRA_CONFIG, "#/inferenceConfig")


def _nova_2(model: Model) -> frozenset[str]:
    return _NOVA_2_KEYS if model.model_id.startswith("amazon.nova-2-") else frozenset()
