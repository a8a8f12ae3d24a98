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
  that the autolink extension sees no URL or address; an emoji shortcode
  (``:white_check_mark:``) gets a WORD JOINER (U+2060, invisible) after its
  first colon, because GitHub turns shortcodes into emoji in the rendered
  HTML's text, after Markdown has dropped any backslash escape (a ``\\:`` or
  ``&#58;`` still shows ✅: github/markup#1153; html-pipeline#232 names the
  zero-width character as the one way out);
- ``code``: an inline code span whose backtick fence is longer than any run
  inside (CommonMark's rule), ``|`` escaped for GFM tables;
- ``fenced``: a code block whose fence is longer than any backtick run inside,
  so no line of the text can close it, each line cut at ``MAX_LINE``
  characters with the count of what was cut (one 200 KB log line would
  otherwise fill the job summary, and the summary's cut would drop every
  section after it). Code is never turned into emoji.

Control characters and lone surrogates are shown escaped (``\\x1b``,
``\\udcff``) in all three, as the terminal shows them. Inline text longer than
its limit is cut with ``…`` (a table row stays a row); ``report.json`` keeps
it whole.
"""

from __future__ import annotations

import re

from opskit.outside import MAX_LINE, cut_line, visible

MAX_TEXT = 2000  # characters of one piece of outside text in a cell or paragraph

# ``_`` between two letters or digits never starts or ends emphasis (CommonMark's
# flanking rules): AWS_ACCESS_KEY_ID stays as it reads.
_PUNCTUATION = re.compile(r"([\\`*\[\]<>|!#&~$]|(?<![^\W_])_|_(?![^\W_]))")
_AUTOLINK = re.compile(r"(://|(?<![\w.])www(?=\.)|@)", re.IGNORECASE)
_BLOCK_START = re.compile(r"^([-+=]|\d+(?=[.)]))")
_ONE_LINE = re.compile(r"\s+")
_BACKTICKS = re.compile(r"`+")
# GitHub's shortcode names (gemoji's list): letters, digits, ``_``, ``+`` and ``-``
# (``:+1:``, ``:t-rex:``), the longest some 40 characters; of the all-digit ones only
# ``:100:`` and ``:1234:`` are emoji, so a time (``03:04:05``) is left as it reads.
_SHORTCODE = re.compile(r":(?=([\w+-]{1,64}):)")
_DIGIT_EMOJI = frozenset({"100", "1234"})
_WORD_JOINER = "\u2060"
_WHOLE_LINE = " (report.json has the whole line)"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text(value: object, limit: int = MAX_TEXT) -> str:
    """Outside text as inline Markdown that renders as exactly these characters."""
    shown = _cut(_ONE_LINE.sub(" ", str(value)).strip(), limit)
    shown = _PUNCTUATION.sub(r"\\\1", _SHORTCODE.sub(_break_shortcode, shown))
    shown = _AUTOLINK.sub(_break_autolink, shown)
    return visible(_BLOCK_START.sub(_escape_block_start, shown, count=1))


def _break_shortcode(match: re.Match[str]) -> str:
    name = match.group(1)
    return ":" if name.isdigit() and name not in _DIGIT_EMOJI else ":" + _WORD_JOINER


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


def fenced(value: str, limit: int = MAX_LINE, info: str = "") -> list[str]:
    """Outside text as a fenced code block: its lines, each cut at ``limit``
    characters (``report.json`` has them whole), and a fence that none of them
    closes. ``info`` (the report's own word, ``diff``) names the language."""
    lines = [visible(cut_line(line, limit, _WHOLE_LINE)) for line in value.splitlines()]
    longest = max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *lines, fence]
