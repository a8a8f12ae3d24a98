"""Markdown as Streamlit renders it, so that a pattern is written as the page reads.

Streamlit's frontend renders Markdown (react-markdown with GitHub's extensions
and its own directives) in ``st.markdown``, ``st.write``, captions, alerts,
headings, widget and button labels. A person reads the result, not the source:
``**Nova Micro**`` reads ``Nova Micro``, ``:tada:`` reads 🎉, ``:blue[x]`` reads
``x``, a table reads as its cells. Code is shown verbatim, so nothing inside a
code span or block is touched (``__init__`` stays ``__init__``).

Emoji shortcodes: Streamlit's frontend knows GitHub's whole gemoji set; opskit
keeps the common ones below (``EMOJI``). An unknown shortcode stays as written,
which is also what Streamlit shows for a name it does not know.
"""

from __future__ import annotations

import html
import re

# Streamlit's text directives: colours, backgrounds, badges, ``:small[...]``.
_COLOURS = "blue|green|orange|red|violet|gray|grey|rainbow|primary|yellow"
_DIRECTIVE = re.compile(rf":(?:(?:{_COLOURS})(?:-background|-badge)?|small)\[")
_MATERIAL = re.compile(r":material/[a-z0-9_]+:[ \t]?")
_SHORTCODE = re.compile(r":([a-z0-9_+\-]+):")

_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})[^\n]*\n(.*?)(?:^[ \t]*\2[`~]*[ \t]*$|\Z)", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_TOKEN = re.compile(r"\x00(\d+)\x00")

_RULE = re.compile(r"^[ ]{0,3}(?:([-*_])[ \t]*){3,}$|^[ ]{0,3}=+[ \t]*$")
_HEADING = re.compile(r"^[ ]{0,3}#{1,6}(?:[ \t]+|$)(.*?)(?:[ \t]+#+)?[ \t]*$")
_QUOTE = re.compile(r"^[ ]{0,3}(?:>[ \t]?)+")
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+(?:\[[ xX]\][ \t]+)?")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")

_BRACKETED = r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]"
_IMAGE = re.compile(r"!" + _BRACKETED + r"\([^)]*\)")
_LINK = re.compile(_BRACKETED + r"\((?:[^()]|\([^()]*\))*\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_DROPPED_HTML = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.S | re.I)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_BREAK_TAG = re.compile(r"<br\s*/?>|</(?:p|div|li|tr|h[1-6])\s*>", re.I)
_EMPHASIS = (
    re.compile(r"\*\*\*(?=\S)(.+?)(?<=\S)\*\*\*"),
    re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*"),
    re.compile(r"(?<![\w\\])__(?=\S)(.+?)(?<=\S)__(?!\w)"),
    re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"),
    # ``*`` emphasises inside a word too (``a*b*c`` shows "abc"); ``_`` never does
    # (``snake_case_name`` stays as written), as CommonMark says.
    re.compile(r"(?<![*\\])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?!\*)"),
    re.compile(r"(?<![\w\\])_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)"),
)

EMOJI = {
    "+1": "👍", "-1": "👎", "thumbsup": "👍", "thumbsdown": "👎", "smile": "😄",
    "smiley": "😃", "grinning": "😀", "grin": "😁", "laughing": "😆", "joy": "😂",
    "wink": "😉", "blush": "😊", "slightly_smiling_face": "🙂", "heart_eyes": "😍",
    "sunglasses": "😎", "thinking": "🤔", "neutral_face": "😐", "confused": "😕",
    "worried": "😟", "cry": "😢", "sob": "😭", "scream": "😱", "rage": "😡",
    "sweat_smile": "😅", "upside_down_face": "🙃", "star_struck": "🤩", "nerd_face": "🤓",
    "wave": "👋", "clap": "👏", "pray": "🙏", "muscle": "💪", "ok_hand": "👌",
    "point_right": "👉", "point_left": "👈", "raised_hands": "🙌", "eyes": "👀",
    "heart": "❤️", "broken_heart": "💔", "sparkles": "✨", "star": "⭐", "star2": "🌟",
    "fire": "🔥", "tada": "🎉", "confetti_ball": "🎊", "balloon": "🎈", "gift": "🎁",
    "trophy": "🏆", "medal_sports": "🏅", "rocket": "🚀", "zap": "⚡", "boom": "💥",
    "100": "💯", "bulb": "💡", "memo": "📝", "pencil": "📝", "pencil2": "✏️",
    "book": "📖", "books": "📚", "page_facing_up": "📄", "clipboard": "📋",
    "bookmark": "🔖", "link": "🔗", "paperclip": "📎", "pushpin": "📌", "mag": "🔍",
    "mag_right": "🔎", "calendar": "📆", "date": "📅", "hourglass": "⌛",
    "hourglass_flowing_sand": "⏳", "alarm_clock": "⏰", "stopwatch": "⏱️",
    "chart_with_upwards_trend": "📈", "chart_with_downwards_trend": "📉", "bar_chart": "📊",
    "moneybag": "💰", "dollar": "💵", "credit_card": "💳", "email": "📧", "envelope": "✉️",
    "inbox_tray": "📥", "outbox_tray": "📤", "package": "📦", "file_folder": "📁",
    "open_file_folder": "📂", "wastebasket": "🗑️", "lock": "🔒", "unlock": "🔓",
    "key": "🔑", "gear": "⚙️", "wrench": "🔧", "hammer": "🔨", "hammer_and_wrench": "🛠️",
    "shield": "🛡️", "computer": "💻", "desktop_computer": "🖥️", "iphone": "📱",
    "robot": "🤖", "robot_face": "🤖", "brain": "🧠", "speech_balloon": "💬",
    "thought_balloon": "💭", "bell": "🔔", "loudspeaker": "📢", "mega": "📣",
    "warning": "⚠️", "no_entry": "⛔", "no_entry_sign": "🚫", "stop_sign": "🛑",
    "x": "❌", "heavy_check_mark": "✔️", "white_check_mark": "✅", "ballot_box_with_check": "☑️",
    "heavy_multiplication_x": "✖️", "question": "❓", "grey_question": "❔",
    "exclamation": "❗", "grey_exclamation": "❕", "bangbang": "‼️",
    "information_source": "ℹ️", "red_circle": "🔴", "large_blue_circle": "🔵",
    "green_circle": "🟢", "yellow_circle": "🟡", "white_circle": "⚪", "black_circle": "⚫",
    "arrow_right": "➡️", "arrow_left": "⬅️", "arrow_up": "⬆️", "arrow_down": "⬇️",
    "arrows_counterclockwise": "🔄", "repeat": "🔁", "new": "🆕", "sos": "🆘",
    "globe_with_meridians": "🌐", "earth_americas": "🌎", "sunny": "☀️", "cloud": "☁️",
    "umbrella": "☔", "snowflake": "❄️", "rainbow": "🌈", "coffee": "☕", "pizza": "🍕",
    "cake": "🍰", "beer": "🍺", "house": "🏠", "office": "🏢", "car": "🚗",
    "airplane": "✈️", "ship": "🚢", "construction": "🚧", "dart": "🎯", "game_die": "🎲",
    "art": "🎨", "musical_note": "🎵", "camera": "📷", "movie_camera": "🎥", "tv": "📺",
    "cat": "🐱", "dog": "🐶", "snake": "🐍", "bug": "🐛", "bee": "🐝", "penguin": "🐧",
    "owl": "🦉", "unicorn": "🦄", "crab": "🦀", "whale": "🐳", "seedling": "🌱",
    "evergreen_tree": "🌲", "cactus": "🌵", "sunflower": "🌻", "rose": "🌹",
    "balloon_red": "🎈", "checkered_flag": "🏁", "triangular_flag_on_post": "🚩",
    "crystal_ball": "🔮", "microscope": "🔬", "telescope": "🔭", "test_tube": "🧪",
    "dna": "🧬", "sparkle": "❇️", "star_of_david": "✡️", "ghost": "👻", "skull": "💀",
    "alien": "👽", "see_no_evil": "🙈", "hugs": "🤗", "shrug": "🤷", "man_shrugging": "🤷‍♂️",
    "woman_shrugging": "🤷‍♀️", "raising_hand": "🙋", "busts_in_silhouette": "👥",
    "bust_in_silhouette": "👤", "handshake": "🤝", "writing_hand": "✍️", "flag-us": "🇺🇸",
}  # fmt: skip


class _Protected:
    """Text that rendering must not touch (code), set aside behind tokens."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def keep(self, text: str) -> str:
        self.parts.append(text)
        return f"\x00{len(self.parts) - 1}\x00"

    def restore(self, text: str) -> str:
        while _TOKEN.search(text):
            text = _TOKEN.sub(lambda m: self.parts[int(m.group(1))], text)
        return text


def rendered(markdown: str) -> str:
    """The text a person reads where Streamlit renders ``markdown``."""
    kept = _Protected()
    text = _FENCE.sub(lambda m: kept.keep(m.group(3).rstrip("\n")), markdown)
    text = _CODE_SPAN.sub(lambda m: kept.keep(_code_span(m.group(2))), text)
    text = _ESCAPE.sub(lambda m: kept.keep(m.group(1)), text)
    lines = _table_cells(text.split("\n"))
    text = "\n".join(_block_line(line) for line in lines if not _RULE.match(line))
    text = _inline(text, kept)
    shown = (line.strip() for line in text.split("\n"))
    return kept.restore("\n".join(line for line in shown if line))


def inline(markdown: str) -> str:
    """A one-line label (a button's, a widget's, an expander's) as rendered."""
    return " ".join(rendered(markdown).split())


def html_text(body: str) -> str:
    """An ``st.html`` body, or HTML inside Markdown, as text: tags gone, entities decoded."""
    text = _DROPPED_HTML.sub("", body)
    text = _BREAK_TAG.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _code_span(code: str) -> str:
    # CommonMark: one leading and trailing space of a code span is dropped.
    if len(code) > 2 and code[0] == " " and code[-1] == " " and code.strip():
        return code[1:-1]
    return code


def _table_cells(lines: list[str]) -> list[str]:
    """A pipe table's rows as their cells (tab-separated), its alignment row gone."""
    out: list[str] = []
    in_table = False
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if not in_table and "|" in line and _TABLE_RULE.match(following) and "-" in following:
            in_table = True
        elif in_table and (_TABLE_RULE.match(line) and "-" in line):
            continue
        elif in_table and "|" not in line:
            in_table = False
        if in_table:
            row = line.strip()
            row = row[1:] if row.startswith("|") else row
            row = row[:-1] if row.endswith("|") else row
            out.append("\t".join(cell.strip() for cell in row.split("|")))
        else:
            out.append(line)
    return out


def _block_line(line: str) -> str:
    line = _QUOTE.sub("", line)
    heading = _HEADING.match(line)
    if heading:
        return heading.group(1)
    return _BULLET.sub(r"\1", line).rstrip()


def _inline(text: str, kept: _Protected) -> str:
    text = _IMAGE.sub("", text)
    text = _directives(text)
    text = _MATERIAL.sub("", text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _AUTOLINK.sub(lambda m: kept.keep(m.group(1)), text)
    text = _DROPPED_HTML.sub("", text)
    text = _BREAK_TAG.sub("\n", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    for _ in range(3):  # nested emphasis: ***a** b*
        for pattern in _EMPHASIS:
            text = pattern.sub(r"\1", text)
    return _SHORTCODE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)


def _directives(text: str) -> str:
    """``:blue[x]``, ``:red-background[x]``, ``:green-badge[x]``: just ``x``."""
    while True:
        found = _DIRECTIVE.search(text)
        if found is None:
            return text
        depth, end = 1, found.end()
        while end < len(text) and depth:
            depth += {"[": 1, "]": -1}.get(text[end], 0)
            end += 1
        if depth:  # unclosed: Streamlit shows it as written
            return text
        text = text[: found.start()] + text[found.end() : end - 1] + text[end:]
