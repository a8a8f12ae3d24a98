"""Secret redaction applied to every event and every report.

A secret rarely travels as typed: a URL carries it percent-encoded, an error
message quotes it through ``repr``, a JSON document escapes its quotes and
newlines. The redactor masks each declared secret in the forms Python's own
encoders give it (``encoded_forms``), and AWS credentials by their shape even
when nobody declared them: access key ids, session tokens, and the signature,
credential and token of a presigned URL or a SigV4 ``Authorization`` header.
Everything is one compiled regular expression, so a line is scanned once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
# Values shorter than this are not treated as secrets: masking "1" or "a" would
# shred every line without protecting anything.
MIN_SECRET_LENGTH = 4

# The value of a presigned URL's X-Amz-Signature, X-Amz-Credential and
# X-Amz-Security-Token (SigV4 query authentication, "Authenticating Requests:
# Using Query Parameters" in the S3 API reference), also inside a URL that is
# itself percent-encoded (``%3D`` for ``=``; the value ends at ``&`` or ``%26``);
# and of a SigV4 header's ``Credential=`` and ``Signature=`` (64 hex digits).
# The parameter's name is kept: the line still says what was there.
_VALUE = r"(?:[\w.~+/=-]|%(?!26)[0-9A-Fa-f]{2})+"
_SIGNED = (
    r"(?P<keep>(?i:X-Amz-(?:Signature|Credential|Security-Token))(?:=|%3[Dd])"
    r"|\bCredential=(?=AKIA|ASIA)"
    r"|\bSignature=(?=[0-9a-f]{64}\b))" + _VALUE
)
# AWS key ids are recognisable on their own, so they are masked even when nobody
# declared them (a user pasting one into a var, a URL, an error message).
_ACCESS_KEY_ID = r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"
# STS session tokens are base64 whose first bytes are fixed by the token's
# version: "IQoJb3JpZ2lu" (today's, "origin" inside), "FwoGZXIvYXdz" and
# "FQoGZXIvYXdz" ("er/aws"; moto's too), "FQoDYXdz" and "AQoDYXdz" (older).
# Also percent-encoded, as an X-Amz-Security-Token or a form field carries them.
_SESSION_TOKEN = (
    r"(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz|FQoDYXdz|AQoDYXdz)"
    r"(?:[A-Za-z0-9+/=]|%(?:2[BbFf]|3[Dd])){20,}"
)
_ALWAYS = "|".join((_SIGNED, _ACCESS_KEY_ID, _SESSION_TOKEN))
# Every alternative above starts with one of these. A leading lookahead on them
# lets the regex engine skip, in C, every position no alternative can start at:
# 4x faster on log lines than trying each alternative at each position.
_ALWAYS_FIRST = "XxCSAIF"
_PERCENT_ESCAPE = re.compile(r"%([0-9A-F])([0-9A-F])")


def encoded_forms(secret: str) -> set[str]:
    """The forms ``secret`` takes in URLs, JSON and Python's ``repr``: percent-
    encoded (``quote`` with ``/`` safe or not, ``quote_plus``), JSON-escaped
    (ASCII-only or not), ``repr``'s and ``ascii``'s inside of the quotes (with
    ``'`` escaped too, as ``repr`` writes a string holding both quotes). Not
    base64: a secret base64-encoded with other text (``user:password`` in a Basic
    header) shares no fixed substring with the secret's own encoding."""
    forms = {
        secret,
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        repr(secret + "'\"")[1:-4],  # the inside of '...\'"', less the \'" added
        ascii(secret + "'\"")[1:-4],
    }
    return forms


def _pattern(form: str) -> str:
    """``form`` as a regular expression; a percent escape matches either case of
    its hex digits (``%2F`` and ``%2f`` are the same byte; encoders differ)."""
    parts = _PERCENT_ESCAPE.split(form)
    pattern = re.escape(parts[0])
    for i in range(1, len(parts), 3):
        high, low, rest = parts[i], parts[i + 1], parts[i + 2]
        pattern += "%" + "".join(f"[{d}{d.lower()}]" if d.isalpha() else d for d in high + low)
        pattern += re.escape(rest)
    return pattern


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: set[str] = set()
        self._pattern = _compile(_ALWAYS_FIRST, [_ALWAYS])
        self.add(secrets)

    def add(self, secrets: Iterable[Any]) -> None:
        before = len(self._secrets)
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
        if len(self._secrets) != before:
            forms = {form for secret in self._secrets for form in encoded_forms(secret)}
            ordered = sorted(forms, key=lambda f: (-len(f), f))  # the longest match wins
            first = _ALWAYS_FIRST + "".join({f[0] for f in ordered})
            self._pattern = _compile(first, [_ALWAYS, *map(_pattern, ordered)])

    def text(self, text: str) -> str:
        if not isinstance(text, str):
            return text
        return self._pattern.sub(_masked, text)

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


def _compile(first: str, alternatives: list[str]) -> re.Pattern[str]:
    starts = "".join(sorted(set(first)))
    return re.compile(f"(?=[{re.escape(starts)}])(?:{'|'.join(alternatives)})")


def _masked(match: re.Match[str]) -> str:
    return (match.group("keep") or "") + MASK
