"""Redaction: declared secrets in every form they travel in, and AWS credentials
recognised by their shape even when nobody declared them (issue 21 point 7)."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from opskit.redact import Redactor

# A secret with every kind of character an encoder rewrites: / + space & = %, a
# quote of each kind, a backslash, a newline, a tab, non-ASCII and U+2028.
SECRET = "p@ss/wörd+1 &x=50%\"q'\\ end\nline\tU\u2028"
SESSION_TOKEN = (
    "IQoJb3JpZ2luX2VjEHcaCXVzLWVhc3QtMSJHMEUCIQD6kq+0/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    "abcdefghijklmnopqrstuvwxyzABCDEFGH/IJKLMNOP+QRSTUVWXYZ=="
)
SIGNATURE = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
CREDENTIAL = "AKIAIOSFODNN7EXAMPLE/20250101/us-east-1/s3/aws4_request"


def lower_hex(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "%":
            out.append(text[i : i + 3].lower())
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


ENCODED = {
    "as is": SECRET,
    "quote": quote(SECRET),
    "quote, nothing safe": quote(SECRET, safe=""),
    "quote_plus": quote_plus(SECRET),
    "quote, lower-case hex": lower_hex(quote(SECRET, safe="")),
    "quote_plus, lower-case hex": lower_hex(quote_plus(SECRET)),
    "json": json.dumps(SECRET)[1:-1],
    "json, not ascii-only": json.dumps(SECRET, ensure_ascii=False)[1:-1],
    "repr": repr(SECRET)[1:-1],
    "ascii": ascii(SECRET)[1:-1],
}


@pytest.mark.parametrize("form", list(ENCODED))
def test_a_declared_secret_is_masked_in_every_encoded_form(form: str) -> None:
    redactor = Redactor([SECRET])
    line = f"GET /login?password={ENCODED[form]}&next=/ failed"
    assert redactor.text(line) == "GET /login?password=***&next=/ failed"


def test_a_secret_inside_a_repr_of_an_error_is_masked() -> None:
    redactor = Redactor([SECRET])
    error = ValueError({"password": SECRET, "user": "bob"})
    assert redactor.text(f"internal error: {error!r}") == (
        "internal error: ValueError({'password': '***', 'user': 'bob'})"
    )


def test_an_undeclared_session_token_is_masked_plain_and_url_encoded() -> None:
    redactor = Redactor()
    assert redactor.text(f"token={SESSION_TOKEN} then") == "token=*** then"
    assert redactor.text(f"token={quote(SESSION_TOKEN, safe='')}&x=1") == "token=***&x=1"
    assert redactor.text(f'{{"SessionToken": "{SESSION_TOKEN}"}}') == '{"SessionToken": "***"}'


def test_a_presigned_urls_signature_credential_and_token_are_masked() -> None:
    url = (
        "https://b.s3.amazonaws.com/k.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={quote(CREDENTIAL, safe='')}&X-Amz-Date=20250101T000000Z"
        "&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
        f"&X-Amz-Security-Token={quote(SESSION_TOKEN, safe='')}&X-Amz-Signature={SIGNATURE}"
    )
    assert Redactor().text(f"fetch {url} failed") == (
        "fetch https://b.s3.amazonaws.com/k.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=***&X-Amz-Date=20250101T000000Z&X-Amz-Expires=3600"
        "&X-Amz-SignedHeaders=host&X-Amz-Security-Token=***&X-Amz-Signature=*** failed"
    )


def test_a_presigned_url_that_is_itself_url_encoded_is_masked() -> None:
    inner = f"X-Amz-Credential={CREDENTIAL}&X-Amz-Signature={SIGNATURE}"
    line = f"redirect=https%3A%2F%2Fb.s3.amazonaws.com%2Fk%3F{quote(inner, safe='')}"
    assert Redactor().text(line) == (
        "redirect=https%3A%2F%2Fb.s3.amazonaws.com%2Fk%3FX-Amz-Credential%3D***"
        "%26X-Amz-Signature%3D***"
    )


def test_a_sigv4_authorization_header_loses_its_signature() -> None:
    header = (
        f"Authorization: AWS4-HMAC-SHA256 Credential={CREDENTIAL}, "
        f"SignedHeaders=host;x-amz-date, Signature={SIGNATURE}"
    )
    assert Redactor().text(header) == (
        "Authorization: AWS4-HMAC-SHA256 Credential=***, "
        "SignedHeaders=host;x-amz-date, Signature=***"
    )


def test_short_values_and_plain_words_are_left_alone() -> None:
    redactor = Redactor(["abc", "1"])
    text = "abc 1 IQoJ X-Amz-Date=20250101T000000Z Signature=short"
    assert redactor.text(text) == text
