"""Which model ids the sandbox's Bedrock endpoint serves, and from where: one
table, read as AWS's model and inference-profile tables read.

An app that ships ``anthropic.claude-sonnet-4-5-20250929-v1:0`` (on-demand)
fails on AWS in every Region, because that model is served through inference
profiles only; the same app with ``us.anthropic.claude-sonnet-4-5-...`` works
from a US Region and nowhere else. The sandbox answers both calls as AWS does,
so an app that passes here does not fail there on its model id.

Rules, as AWS documents them (Bedrock user guide: "Supported foundation models",
"Supported Regions and models for inference profiles"):

- a bare model id is served on demand in the Regions of its ``on_demand``
  column only; elsewhere, where one of its profiles could be called instead,
  Bedrock refuses it with the "on-demand throughput isn't supported" message;
- a profile id (``us.``, ``eu.``, ``apac.``, ``jp.``, ``au.``, ``global.``, ...)
  exists for the geographies in the ``profiles`` column, and is callable from
  that geography's source Regions only (``global.``: any commercial Region);
- anything else is "The provided model identifier is invalid."

The Regions are a reading of AWS's tables (they grow); see docs/sandbox.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Family = Literal["nova", "claude"]
Style = Literal["fast", "detailed"]

# Source Regions of each cross-Region profile geography.
GEOGRAPHIES: dict[str, frozenset[str]] = {
    "us": frozenset({"us-east-1", "us-east-2", "us-west-1", "us-west-2"}),
    "us-gov": frozenset({"us-gov-east-1", "us-gov-west-1"}),
    "ca": frozenset({"ca-central-1", "ca-west-1"}),
    "eu": frozenset(
        {
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
        }
    ),  # fmt: skip
    "apac": frozenset(
        {
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
        }
    ),  # fmt: skip
    "jp": frozenset({"ap-northeast-1", "ap-northeast-3"}),
    "au": frozenset({"ap-southeast-2", "ap-southeast-4"}),
}
GLOBAL = "global"  # callable from any commercial Region
PROFILE_PREFIX = re.compile(r"^(us-gov|us|ca|eu|apac|jp|au|global)\.")

# id, name, family, style (which FAQ answer), aliases, on-demand Regions, profiles
_ROWS = (
    ("amazon.nova-micro-v1:0", "Nova Micro", "nova", "fast", "nova-micro micro",
        "us-east-1 us-gov-west-1 ap-southeast-2 eu-west-2",
        "us eu apac"),
    ("amazon.nova-lite-v1:0", "Nova Lite", "nova", "fast", "nova-lite lite",
        "us-east-1 us-gov-west-1 ap-northeast-1 ap-southeast-2 eu-north-1 eu-west-2",
        "us eu apac"),
    ("amazon.nova-pro-v1:0", "Nova Pro", "nova", "detailed", "nova-pro pro",
        "us-east-1 us-gov-west-1 ap-southeast-2 eu-west-2",
        "us eu apac"),
    ("amazon.nova-premier-v1:0", "Nova Premier", "nova", "detailed", "nova-premier premier",
        "-",
        "us"),
    ("amazon.nova-2-lite-v1:0", "Nova 2 Lite", "nova", "fast", "nova-2-lite",
        "-",
        "us eu jp global"),
    ("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku", "claude", "fast", "claude-3-haiku",
        "us-east-1 us-west-2 eu-central-1 eu-west-1 eu-west-3 "
        "ap-northeast-1 ap-south-1 ap-southeast-1 ap-southeast-2 ca-central-1",
        "us eu apac"),
    ("anthropic.claude-3-sonnet-20240229-v1:0",
        "Claude 3 Sonnet", "claude", "detailed", "claude-3-sonnet",
        "us-east-1 us-west-2 eu-central-1 eu-west-1 "
        "eu-west-3 ap-south-1 ap-southeast-2 ca-central-1",
        "us eu apac"),
    ("anthropic.claude-3-opus-20240229-v1:0",
        "Claude 3 Opus", "claude", "detailed", "claude-3-opus",
        "us-west-2",
        "us"),
    ("anthropic.claude-3-5-haiku-20241022-v1:0",
        "Claude 3.5 Haiku", "claude", "fast", "claude-3-5-haiku",
        "us-west-2",
        "us"),
    ("anthropic.claude-3-5-sonnet-20240620-v1:0",
        "Claude 3.5 Sonnet", "claude", "detailed", "claude-3-5-sonnet",
        "us-east-1 us-west-2 eu-central-1 ap-northeast-1",
        "us eu apac"),
    ("anthropic.claude-3-5-sonnet-20241022-v2:0",
        "Claude 3.5 Sonnet v2", "claude", "detailed", "claude-3-5-sonnet-v2",
        "us-west-2",
        "us apac"),
    ("anthropic.claude-3-7-sonnet-20250219-v1:0",
        "Claude 3.7 Sonnet", "claude", "detailed", "claude-3-7-sonnet",
        "-",
        "us eu apac"),
    ("anthropic.claude-sonnet-4-20250514-v1:0",
        "Claude Sonnet 4", "claude", "detailed", "claude-sonnet-4",
        "-",
        "us eu apac global"),
    ("anthropic.claude-opus-4-20250514-v1:0",
        "Claude Opus 4", "claude", "detailed", "claude-opus-4",
        "-",
        "us"),
    ("anthropic.claude-opus-4-1-20250805-v1:0",
        "Claude Opus 4.1", "claude", "detailed", "claude-opus-4-1",
        "-",
        "us"),
    ("anthropic.claude-sonnet-4-5-20250929-v1:0",
        "Claude Sonnet 4.5", "claude", "detailed", "claude-sonnet-4-5",
        "-",
        "us eu jp au global"),
    ("anthropic.claude-haiku-4-5-20251001-v1:0",
        "Claude Haiku 4.5", "claude", "fast", "claude-haiku-4-5",
        "-",
        "us eu jp au global"),
    ("anthropic.claude-opus-4-5-20251101-v1:0",
        "Claude Opus 4.5", "claude", "detailed", "claude-opus-4-5",
        "-",
        "us eu global"),
)  # fmt: skip

INVALID_MODEL = "The provided model identifier is invalid."
ON_DEMAND_REFUSED = (
    "Invocation of model ID {model_id} with on-demand throughput isn\u2019t supported. "
    "Retry your request with the ID or ARN of an inference profile that contains this model."
)


@dataclass(frozen=True)
class Model:
    model_id: str
    name: str
    family: Family
    style: Style  # which FAQ answer: the app's column keys
    aliases: tuple[str, ...]
    on_demand: frozenset[str]  # Regions that serve the bare id
    profiles: tuple[str, ...]  # geographies with a cross-Region profile

    @property
    def anthropic_name(self) -> str:
        """The ``model`` field of Claude's answers: the id without vendor and version."""
        return re.sub(r"^anthropic\.|-v\d+:\d+$", "", self.model_id)


def _parse(rows: tuple[tuple[str, ...], ...]) -> dict[str, Model]:
    models = {}
    for model_id, name, family, style, aliases, regions, profiles in rows:
        models[model_id] = Model(
            model_id=model_id,
            name=name,
            family=family,  # type: ignore[arg-type]  # the table's own words
            style=style,  # type: ignore[arg-type]
            aliases=tuple(aliases.split()),
            on_demand=frozenset(regions.split()) - {"-"},
            profiles=tuple(profiles.split()),
        )
    return models


MODELS: dict[str, Model] = _parse(_ROWS)
FAMILIES: tuple[Family, ...] = ("nova", "claude")


class ModelRefused(Exception):
    """Bedrock's ValidationException for a model id this Region cannot call."""


def split_profile(model_id: str) -> tuple[str | None, str]:
    """``(geography or None, model id)`` of a model or profile id, or either's ARN."""
    if model_id.startswith("arn:"):
        model_id = model_id.rsplit("/", 1)[-1]
    match = PROFILE_PREFIX.match(model_id)
    if match is None:
        return None, model_id
    return match.group(1), model_id[match.end() :]


def resolve_model(model_id: str) -> Model | None:
    """The model a ``modelId`` names, wherever it is called from."""
    return MODELS.get(split_profile(model_id)[1])


def model_for_call(model_id: str, region: str) -> Model:
    """The model a call from ``region`` reaches, or ``ModelRefused`` with AWS's text."""
    geography, base_id = split_profile(model_id)
    model = MODELS.get(base_id)
    if model is None:
        raise ModelRefused(INVALID_MODEL)
    if geography is None:
        if region in model.on_demand:
            return model
        if any(_callable_from(geo, region) for geo in model.profiles):
            raise ModelRefused(ON_DEMAND_REFUSED.format(model_id=base_id))
        raise ModelRefused(INVALID_MODEL)
    if geography in model.profiles and _callable_from(geography, region):
        return model
    raise ModelRefused(INVALID_MODEL)


def _callable_from(geography: str, region: str) -> bool:
    if geography == GLOBAL:
        return not region.startswith(("us-gov-", "cn-", "us-iso"))
    return region in GEOGRAPHIES.get(geography, frozenset())
