"""What the sandbox's Bedrock endpoint knows: the model ids it answers and the
answers themselves.

There is no model here. Every answer comes from the bundled app's own FAQ,
through the app's own ``LocalResponder`` (loaded from ``opskit/stack/src``, not
copied), so the text that Nova "streams" in the sandbox is, word for word, what
the local responder says to the same question: tests and drills can expect it.
A fast model (Micro, Lite, Haiku) gives the FAQ's short answer, the others the
detailed one, as the app's two columns do. Which ids exist is ``catalogue``'s.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from functools import cache
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from opskit.sandbox.bedrock.catalogue import FAMILIES, MODELS, Model, resolve_model

STACK_SRC = Path(__file__).resolve().parents[2] / "stack" / "src"
ALL_MODELS = "all"
_CHUNK = re.compile(r"\S+\s*|\s+")  # the local responder's words, spaces attached


def resolve_fault_target(name: str) -> str | None:
    """A model id, a profile id, an alias (``nova-pro``), a family (``claude``)
    or ``all``, as the key a fault is kept under; ``None`` if it names nothing."""
    text = name.strip()
    lowered = text.lower().replace(" ", "-")
    if lowered == ALL_MODELS or lowered in FAMILIES:
        return lowered
    model = resolve_model(text)
    if model is not None:
        return model.model_id
    for model in MODELS.values():
        if lowered in model.aliases:
            return model.model_id
    return None


def known_names() -> str:
    return (
        "a model or inference profile id (amazon.nova-pro-v1:0, "
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0, ...), an alias (nova-pro, "
        f"claude-sonnet-4-5, ...), a family ({', '.join(FAMILIES)}), or {ALL_MODELS}"
    )


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
