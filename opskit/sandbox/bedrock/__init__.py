"""A Bedrock Runtime endpoint for the sandbox, so the bundled app runs its
production path (botocore client, health check, ConverseStream) on loopback.

    endpoint = BedrockEndpoint(delay=0.0)
    endpoint.start()                       # endpoint.endpoint_url: http://127.0.0.1:PORT
    endpoint.faults.set(make_fault("nova-pro", "access_denied"))
    endpoint.stop()

Answers come from the bundled app's FAQ (``models``), faults from ``faults``;
``control`` is what ``opskit sandbox fault`` calls.
"""

from __future__ import annotations

from opskit.sandbox.bedrock.faults import (
    FAULT_KINDS,
    Fault,
    FaultBoard,
    FaultFile,
    FaultInvalid,
    make_fault,
)
from opskit.sandbox.bedrock.models import ALL_MODELS, MODELS, resolve_model
from opskit.sandbox.bedrock.server import (
    DEFAULT_DELAY,
    DELAY_ENV,
    BedrockEndpoint,
    Call,
    delay_from_env,
)

__all__ = [
    "ALL_MODELS",
    "DEFAULT_DELAY",
    "DELAY_ENV",
    "FAULT_KINDS",
    "MODELS",
    "BedrockEndpoint",
    "Call",
    "delay_from_env",
    "Fault",
    "FaultBoard",
    "FaultFile",
    "FaultInvalid",
    "make_fault",
    "resolve_model",
]
