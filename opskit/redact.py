"""Secret redaction applied to every event and every report."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
# Values shorter than this are not treated as secrets: masking "1" or "a" would
# shred every line without protecting anything.
MIN_SECRET_LENGTH = 4
# AWS key ids are recognisable on their own, so they are masked even when nobody
# declared them (a user pasting one into a var, a URL, an error message).
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[Any]) -> None:
        for secret in secrets:
            if secret is None or isinstance(secret, bool):
                continue
            if isinstance(secret, (list, tuple, set)):
                self.add(secret)
                continue
            if isinstance(secret, dict):
                self.add(secret.values())
                continue
            text = str(secret)
            if len(text) >= MIN_SECRET_LENGTH:
                self._secrets.add(text)
        if self._secrets:
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def text(self, text: str) -> str:
        if not isinstance(text, str):
            return text
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return _ACCESS_KEY_ID.sub(MASK, text)

    def value(self, value: Any) -> Any:
        """Redact every string inside nested dicts and lists."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                self.text(k) if isinstance(k, str) else k: self.value(v) for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value
