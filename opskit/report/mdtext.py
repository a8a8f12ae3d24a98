"""Outside text in Markdown (``report.md``, GitHub's job summary): shown, never obeyed.

GitHub renders the job summary as GitHub Flavored Markdown (cmark-gfm): a log
line quoted as it is could close a code fence, start a heading, add HTML (an
``<img>``), a link, an image, an autolink (``https://...``, ``www.``), math
(``$...$``) or a table cell. So outside text is put in one of three ways:

- ``text``: plain inline text, its whitespace (line breaks too) one space,
  backslash-escaped where Markdown would read it (CommonMark lets any ASCII
  punctuation be escaped): ``\\ ` * [ ] < > | ! # & ~ $`` anywhere, ``_``
  unless between two letters or digits, a list or setext marker at its start
  (``-``, ``+``, ``=``, ``1.``), and ``://``, ``www.`` and ``@`` broken up so
  that the autolink extension sees no URL or address;
- ``code``: an inline code span whose backtick fence is longer than any run
  inside (CommonMark's rule), ``|`` escaped for GFM tables;
- ``fenced``: a code block whose fence is longer than any backtick run inside,
  so no line of the text can close it.

Control characters and lone surrogates are shown escaped (``\\x1b``,
``\\udcff``) in all three, as the terminal shows them. Inline text longer than
its limit is cut with ``…`` (a table row stays a row); ``report.json`` keeps
it whole.
"""

from __future__ import annotations

import re

from opskit.outside import visible

MAX_TEXT = 2000  # characters of one piece of outside text in a cell or paragraph

# ``_`` between two letters or digits never starts or ends emphasis (CommonMark's
# flanking rules): AWS_ACCESS_KEY_ID stays as it reads.
_PUNCTUATION = re.compile(r"([\\`*\[\]<>|!#&~$]|(?<![^\W_])_|_(?![^\W_]))")
_AUTOLINK = re.compile(r"(://|(?<![\w.])www(?=\.)|@)", re.IGNORECASE)
_BLOCK_START = re.compile(r"^([-+=]|\d+(?=[.)]))")
_ONE_LINE = re.compile(r"\s+")
_BACKTICKS = re.compile(r"`+")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text(value: object, limit: int = MAX_TEXT) -> str:
    """Outside text as inline Markdown that renders as exactly these characters."""
    shown = _PUNCTUATION.sub(r"\\\1", _cut(_ONE_LINE.sub(" ", str(value)).strip(), limit))
    shown = _AUTOLINK.sub(_break_autolink, shown)
    return visible(_BLOCK_START.sub(_escape_block_start, shown, count=1))


def _break_autolink(match: re.Match[str]) -> str:
    found = match.group()
    return f"{found}\\" if found.lower() == "www" else f"\\{found}"


def _escape_block_start(match: re.Match[str]) -> str:
    found = match.group()
    return f"{found}\\" if found[0].isdigit() else f"\\{found}"


def code(value: object, limit: int = MAX_TEXT) -> str:
    """Outside text as an inline code span (table cells: ``|`` escaped)."""
    content = visible(_cut(_ONE_LINE.sub(" ", str(value)).strip(), limit)).replace("|", "\\|")
    if not content:
        return ""
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(content)), default=0) + 1)
    padded = f" {content} " if content.startswith("`") or content.endswith("`") else content
    return f"{fence}{padded}{fence}"


def fenced(value: str) -> list[str]:
    """Outside text as a fenced code block: its lines (whole: the job summary is
    cut to its limit as a whole), and a fence that none of them closes."""
    lines = [visible(line) for line in value.splitlines()]
    longest = max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *lines, fence]
