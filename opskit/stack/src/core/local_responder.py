"""Deterministic answers from a small bundled FAQ, for when Bedrock is not used.

The sandbox sets ``CHATBOT_MODEL_PROVIDER=local``; the app also falls back here
when Bedrock cannot be reached. Same question, same answer: tests and demos
can rely on it, and the UI labels it as local so nobody mistakes it for a model.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only a type: the module imports nothing of the app's, so that
    # opskit's sandbox can load it alone to answer as Bedrock from the same FAQ.
    from core.settings import ModelSpec

FAQ_PATH = Path(__file__).with_name("faq.json")
_WORD = re.compile(r"[a-z0-9]+")
_CHUNK = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class FaqEntry:
    topic: str
    keywords: tuple[str, ...]
    short: str
    detailed: str

    def score(self, question: str, words: set[str]) -> int:
        """How many keywords the question contains (phrases as substrings)."""
        return sum(1 for kw in self.keywords if (kw in question if " " in kw else kw in words))


class LocalResponder:
    """Answers like a model would, word by word, from the FAQ."""

    source = "local responder"

    def __init__(
        self,
        entries: list[FaqEntry],
        fallback: FaqEntry,
        *,
        delay: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.entries = entries
        self.fallback = fallback
        self.delay = delay
        self._sleep = sleep

    @classmethod
    def bundled(cls, *, delay: float = 0.0) -> LocalResponder:
        document = json.loads(FAQ_PATH.read_text(encoding="utf-8"))
        entries = [_entry(item) for item in document["entries"]]
        topics = ", ".join(entry.topic for entry in entries if entry.topic != "greeting")
        fallback = _entry(document["fallback"])
        fallback = FaqEntry(
            fallback.topic, (), fallback.short, fallback.detailed.replace("{topics}", topics)
        )
        return cls(entries, fallback, delay=delay)

    def match(self, question: str) -> FaqEntry:
        text = question.lower()
        words = set(_WORD.findall(text))
        words |= {word[:-1] for word in words if len(word) > 3 and word.endswith("s")}
        best, best_score = self.fallback, 0
        for entry in self.entries:  # first entry wins a tie: stable answers
            score = entry.score(text, words)
            if score > best_score:
                best, best_score = entry, score
        return best

    def answer(self, spec: ModelSpec, question: str) -> str:
        entry = self.match(question)
        return entry.short if spec.key == "fast" else entry.detailed

    def stream(self, spec: ModelSpec, messages: list[dict[str, Any]]) -> Iterator[str]:
        """Stream the answer to the last user message, one word at a time."""
        for chunk in _CHUNK.findall(self.answer(spec, last_user_text(messages))):
            if self.delay:
                self._sleep(self.delay)
            yield chunk


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return " ".join(part.get("text", "") for part in message.get("content", []))
    return ""


def _entry(item: dict[str, Any]) -> FaqEntry:
    return FaqEntry(
        topic=str(item["topic"]),
        keywords=tuple(str(k).lower() for k in item.get("keywords", ())),
        short=str(item["short"]),
        detailed=str(item["detailed"]),
    )
