"""Outside text as a terminal or a CI log may show it: data, never a command.

Log lines, app answers, S3 keys, exception messages and release records come
from outside the playbook, and event messages quote them. A CI runner reads
every line a job prints: GitHub Actions runs a line that starts with ``::``
after optional whitespace as a workflow command (``::add-mask::``,
``::stop-commands::``, ``::error::``; the runner's ``ActionCommand.TryParseV2``
trims leading whitespace, then looks for ``::``), Azure Pipelines runs
``##vso[...]`` anywhere in a line and formats ``##[error]``, TeamCity reads
``##teamcity[...]``, GitLab folds sections on ``ESC[0Ksection_start:``, and a
terminal obeys ANSI and OSC escape sequences. So before outside text is
printed:

- each of its lines (every break ``str.splitlines`` knows: ``\\n``, ``\\r``,
  ``\\r\\n``, ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``, ``\\x85``, U+2028, U+2029)
  becomes a line of its own, which the caller prefixes as it prefixes the
  first; or, where one line is wanted, the break is shown escaped (``\\n``);
- control characters (C0 but tab, DEL, C1), lone surrogates (a byte that was
  not UTF-8, decoded with ``surrogateescape``) and bidirectional overrides are
  shown as Python escapes (``\\x1b``, ``\\udcff``, ``\\u202e``): visible, never
  obeyed, and always encodable;
- a line that would start with ``::`` after its whitespace gets a backslash
  before it (``\\::add-mask::x``), and ``##`` before ``[`` (or a word and ``[``)
  becomes ``#\\#`` (``#\\#[error]``, ``#\\#vso[``): a person reads the same
  words, no runner sees a command;
- a line longer than ``MAX_LINE`` characters (a 200 KB log line) is cut there,
  with the count of what was cut (``… 195,904 characters cut``): a terminal or
  a CI log shows one screenful of it, and the rest of the run's output after it.

The text itself is kept as it came in ``report.json`` and outputs; only what is
printed is shown so.
"""

from __future__ import annotations

import re

__all__ = ["MAX_LINE", "cut_line", "defang", "printable", "printable_lines", "visible"]

MAX_LINE = 4096  # characters of one printed line of outside text; the rest is counted

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# C0 but tab, DEL and C1, U+2028/U+2029, lone surrogates and bidi controls; the
# line breaks among them are only met where one line is wanted.
_HIDDEN = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff{_BIDI}]")
_NAMED = {"\n": "\\n", "\r": "\\r"}
_COMMAND_START = re.compile(r"^(\s*)::")
_HASH_COMMAND = re.compile(r"##(?=[A-Za-z]*\[)")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """Control characters, line breaks, lone surrogates and bidi controls shown as
    escapes; nothing else changed."""
    return _HIDDEN.sub(_escape, text)


def cut_line(line: str, limit: int = MAX_LINE, where: str = "") -> str:
    """``line`` whole when it has at most ``limit`` characters; else its first
    ``limit`` and how many were cut, then ``where`` (where the whole line is).
    Cut before escaping, so an escape (``\\x1b``) is never cut in two."""
    if len(line) <= limit:
        return line
    return f"{line[:limit]} … {len(line) - limit:,} characters cut{where}"


def defang(line: str) -> str:
    """One line that no CI runner reads as a command: a leading ``::`` gets a
    backslash, ``##[`` (``##vso[``, ...) becomes ``#\\#[``."""
    line = _HASH_COMMAND.sub("#\\\\#", line)
    return _COMMAND_START.sub(lambda m: f"{m.group(1)}\\::", line, count=1)


def printable(text: object) -> str:
    """Outside text as one printable line (its line breaks shown as ``\\n``), cut
    at ``MAX_LINE`` characters."""
    return defang(visible(cut_line(str(text))))


def printable_lines(text: object) -> list[str]:
    """Outside text as printable lines, one for each of its lines (at least one,
    each cut at ``MAX_LINE`` characters), for the caller to prefix each as it
    prefixes the first."""
    return [defang(visible(cut_line(piece))) for piece in str(text).splitlines()] or [""]
