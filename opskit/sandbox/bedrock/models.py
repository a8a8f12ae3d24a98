"""What the sandbox's Bedrock endpoint knows: the model ids it answers and the
answers themselves.

There is no model here. Every answer comes from the bundled app's own FAQ,
through the app's own ``LocalResponder`` (loaded from ``opskit/stack/src``, not
copied), so the text that Nova "streams" in the sandbox is, word for word, what
the local responder says to the same question: tests and drills can expect it.
A fast model (Micro, Lite) gives the FAQ's short answer, Pro the detailed one,
as the app's two columns do.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, Literal

STACK_SRC = Path(__file__).resolve().parents[2] / "stack" / "src"
ALL_MODELS = "all"
# A cross-region inference profile id is a model id behind a geography prefix
# (the same list as the app's core/settings.py).
_PROFILE_PREFIX = re.compile(r"^(us|eu|apac|us-gov|ca|jp|au|global)\.")
_CHUNK = re.compile(r"\S+\s*|\s+")  # the local responder's words, spaces attached


@dataclass(frozen=True)
class Model:
    model_id: str
    name: str
    style: Literal["fast", "detailed"]  # which FAQ answer: the app's column keys
    aliases: tuple[str, ...]


MODELS: dict[str, Model] = {
    model.model_id: model
    for model in (
        Model("amazon.nova-micro-v1:0", "Nova Micro", "fast", ("nova-micro", "micro")),
        Model("amazon.nova-lite-v1:0", "Nova Lite", "fast", ("nova-lite", "lite")),
        Model("amazon.nova-pro-v1:0", "Nova Pro", "detailed", ("nova-pro", "pro")),
    )
}


def resolve_model(model_id: str) -> Model | None:
    """The model a request's ``modelId`` names, as Bedrock reads it: a model id,
    an inference profile id (``us.amazon.nova-pro-v1:0``) or either's ARN."""
    if model_id.startswith("arn:"):
        model_id = model_id.rsplit("/", 1)[-1]
    return MODELS.get(_PROFILE_PREFIX.sub("", model_id, count=1))


def resolve_fault_target(name: str) -> str | None:
    """A model id, a profile id, an alias (``nova-pro``) or ``all``, as the
    canonical id a fault is kept under; ``None`` if it names no model."""
    text = name.strip()
    if text.lower() == ALL_MODELS:
        return ALL_MODELS
    model = resolve_model(text)
    if model is not None:
        return model.model_id
    lowered = text.lower().replace(" ", "-")
    for model in MODELS.values():
        if lowered in model.aliases:
            return model.model_id
    return None


def known_names() -> str:
    ids = ", ".join(MODELS)
    aliases = ", ".join(model.aliases[0] for model in MODELS.values())
    return f"{ids} (or {aliases}, or {ALL_MODELS})"


class FaqAnswers:
    """The bundled FAQ, read through the app's ``LocalResponder``."""

    def __init__(self, src_dir: Path = STACK_SRC):
        module = _load_local_responder(src_dir)
        self._responder = module.LocalResponder.bundled()
        self._last_user_text = module.last_user_text

    def answer(self, model: Model, messages: list[dict[str, Any]]) -> str:
        """The answer to the last user message, in ``model``'s style."""
        question = self._last_user_text(messages)
        return str(self._responder.answer(SimpleNamespace(key=model.style), question))


def words(text: str) -> list[str]:
    """``text`` as the local responder streams it: words with their spaces."""
    return _CHUNK.findall(text)


@cache
def _load_local_responder(src_dir: Path) -> ModuleType:
    path = src_dir / "core" / "local_responder.py"
    name = "_opskit_sandbox_faq_responder"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the bundled app's local responder from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it runs
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
