"""Choose who answers: Bedrock, or the local responder, from the settings.

Built once per server process (the app caches it), so each client is created
and checked once and each decision is logged once.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.applog import get_logger
from core.aws_clients import ClientManager, ClientUnavailable
from core.local_responder import LocalResponder
from core.markers import MODEL_PROVIDER_BEDROCK, MODEL_PROVIDER_LOCAL
from core.settings import Settings
from core.streaming_handler import BedrockResponder, Responder

LOG = get_logger("backend")


@dataclass(frozen=True)
class ChatBackend:
    settings: Settings
    responder: Responder
    fallback: Responder | None  # stands in when Bedrock cannot be reached
    notice: str = ""  # why Bedrock is not used although it was asked for

    @property
    def is_local(self) -> bool:
        return isinstance(self.responder, LocalResponder)


def provider_line(settings: Settings) -> str:
    if not settings.uses_bedrock:
        return MODEL_PROVIDER_LOCAL
    fast, detailed = settings.model_specs()
    return MODEL_PROVIDER_BEDROCK.format(
        region=settings.region or "no region",
        fast=fast.model_id,
        detailed=detailed.model_id,
    )


def build_backend(settings: Settings, manager: ClientManager) -> ChatBackend:
    local = LocalResponder.bundled(delay=settings.local_stream_delay)
    LOG.info(provider_line(settings))
    if not settings.uses_bedrock:
        return ChatBackend(settings, local, None)
    try:
        client = manager.client("bedrock-runtime")
    except ClientUnavailable as err:
        LOG.warning("%s; the local responder answers instead", err)
        return ChatBackend(settings, local, None, notice=str(err))
    return ChatBackend(settings, BedrockResponder(client), local)
