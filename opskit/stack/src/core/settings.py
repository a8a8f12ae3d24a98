"""The app's configuration, read once from environment variables.

Every knob is an environment variable so that the same release runs in the
sandbox (``CHATBOT_MODEL_PROVIDER=local``) and on ECS (task definition
``environment``). Bad values raise ``SettingsError`` with the variable's name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

PROVIDERS = ("bedrock", "local")
DEFAULT_FAST_MODEL_ID = "amazon.nova-micro-v1:0"
DEFAULT_DETAILED_MODEL_ID = "amazon.nova-pro-v1:0"
DEFAULT_LOCAL_STREAM_DELAY = 0.02
# A cross-region inference profile id is the model id behind a geography
# prefix, e.g. "apac.amazon.nova-pro-v1:0"; Nova Pro needs one in some regions.
_PROFILE_PREFIX = re.compile(r"^(us|eu|apac|us-gov|ca|jp|au|global)\.")


class SettingsError(ValueError):
    """A configuration variable has a value the app cannot use."""


@dataclass(frozen=True)
class ModelSpec:
    """One of the two models that answer every question."""

    key: str  # "fast" or "detailed": the UI column and the session-state slot
    name: str  # what the UI and the logs call it
    role: str
    model_id: str  # as sent to Bedrock (inference profile prefix applied)
    max_tokens: int
    system_prompt: str


@dataclass(frozen=True)
class Settings:
    provider: str = "bedrock"
    region: str | None = None
    inference_profile_prefix: str = ""
    fast_model_id: str = DEFAULT_FAST_MODEL_ID
    detailed_model_id: str = DEFAULT_DETAILED_MODEL_ID
    check_control_plane: bool = False
    s3_bucket: str | None = None
    local_stream_delay: float = DEFAULT_LOCAL_STREAM_DELAY

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        provider = env.get("CHATBOT_MODEL_PROVIDER", "bedrock").strip().lower() or "bedrock"
        if provider not in PROVIDERS:
            raise SettingsError(
                f"CHATBOT_MODEL_PROVIDER must be one of {', '.join(PROVIDERS)}, not {provider!r}"
            )
        region = (
            env.get("CHATBOT_BEDROCK_REGION")
            or env.get("AWS_REGION")
            or env.get("AWS_DEFAULT_REGION")
            or None
        )
        return cls(
            provider=provider,
            region=region,
            inference_profile_prefix=env.get("CHATBOT_INFERENCE_PROFILE_PREFIX", "").strip("."),
            fast_model_id=env.get("CHATBOT_FAST_MODEL_ID") or DEFAULT_FAST_MODEL_ID,
            detailed_model_id=env.get("CHATBOT_DETAILED_MODEL_ID") or DEFAULT_DETAILED_MODEL_ID,
            check_control_plane=_flag(env, "CHATBOT_CHECK_BEDROCK_CONTROL_PLANE"),
            s3_bucket=env.get("CHATBOT_S3_BUCKET") or None,
            local_stream_delay=_seconds(env, "CHATBOT_LOCAL_STREAM_DELAY"),
        )

    @property
    def uses_bedrock(self) -> bool:
        return self.provider == "bedrock"

    def bedrock_model_id(self, model_id: str) -> str:
        """The id to send: ``PREFIX.model`` when a profile prefix is set."""
        if not self.inference_profile_prefix or _PROFILE_PREFIX.match(model_id):
            return model_id
        return f"{self.inference_profile_prefix}.{model_id}"

    def model_specs(self) -> tuple[ModelSpec, ModelSpec]:
        return (
            ModelSpec(
                key="fast",
                name="Nova Micro",
                role="fast answer",
                model_id=self.bedrock_model_id(self.fast_model_id),
                max_tokens=512,
                system_prompt="Answer in two or three short sentences.",
            ),
            ModelSpec(
                key="detailed",
                name="Nova Pro",
                role="detailed answer",
                model_id=self.bedrock_model_id(self.detailed_model_id),
                max_tokens=2048,
                system_prompt="Answer thoroughly, with steps or examples where they help.",
            ),
        )

    def required_services(self) -> tuple[str, ...]:
        """The AWS clients this configuration uses, hence health-checks.

        ``bedrock-runtime`` is always checked (it needs no network call, so the
        sandbox passes it too); the control plane and S3 only when configured,
        because their checks make a request.
        """
        services = ["bedrock-runtime"]
        if self.check_control_plane:
            services.append("bedrock")
        if self.s3_bucket:
            services.append("s3")
        return tuple(services)


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name} must be 1 or 0, not {value!r}")


def _seconds(env: Mapping[str, str], name: str) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return DEFAULT_LOCAL_STREAM_DELAY
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative, not {raw!r}")
    return value
