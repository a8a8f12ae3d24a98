"""Answers that are not answers: a caught error or a canned apology, shown as a reply.

An app that catches its model's error and replies "Sorry, I couldn't process your
request at the moment." shows no exception and no ``st.error``: without this list a
question with no ``expect`` passes on a broken release. The phrasings below are
what such replies say, in English and, where cheap, in German, French, Spanish,
Portuguese, Italian, Japanese, Chinese and Korean (docs/streamlit.md lists them).

A word such as "sorry" or "error" is normal prose in a good answer ("Sorry to hear
the deploy failed: run …", "the error occurred because …"), so nothing matches a
bare word. The rule:

- an **apology or refusal** matches at the opening of a line: an apology that goes
  on to say the app could not (``Sorry, I couldn't …``, ``Es tut mir leid, ich
  konnte … nicht``), or ``I'm unable to …``; the answer's first line is looked at,
  and every line of a short answer (at most ``SHORT`` characters);
- an **error message** (``An error occurred``, ``Something went wrong``, ``Please
  try again later``, ``Please add your API key``) matches anywhere, but only in a
  short answer: a long answer that mentions one is explaining, not failing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SHORT = 300  # characters: an answer this short is judged as a whole

_NOT = (  # the speaker could not: "Sorry to hear the deploy failed" is not one
    r"(?:i|we) (?:couldn[’']?t|could not|can[’']?t|cannot|can not"
    r"|(?:am|[’']m|was|wasn[’']?t|was not|am not|[’']m not|are|[’']re) (?:unable|able)"
    r"|(?:am|[’']m|are|[’']re) having trouble)"
)
_APOLOGY = r"(?:i[’']?m |i am |we[’']re |we are )?(?:so |very |really )?sorry"
_WHY = r"\b[^.!?\n]{0,40}?\b"  # a few words between the apology and the "could not"

# (what it is, the phrasing): apologies and refusals match at a line's opening.
OPENINGS: tuple[tuple[str, str], ...] = (
    ("an apology", _APOLOGY + _WHY + _NOT),
    ("an apology", r"(?:i |we )?apologi[sz]e" + _WHY + _NOT),
    ("an apology", r"unfortunately,?\s+" + _NOT),
    ("a refusal", r"(?:i[’']?m|i am|we[’']re|we are) (?:unable|not able) to\b"),
    (
        "a refusal",
        r"(?:i|we) (?:couldn[’']?t|could not|can[’']?t|cannot) "
        r"(?:process|answer|complete|generate|help|respond|handle|find an answer)",
    ),
    ("an error message", r"error\s*[:!]"),
    # de, fr, es, pt, it
    ("an apology", r"(?:es )?tut mir (?:sehr )?leid" + _WHY + r"(?:nicht|kein)"),
    ("an apology", r"entschuldigung" + _WHY + r"(?:nicht|kein)"),
    (
        "an apology",
        r"(?:je suis )?désolée?"
        + _WHY
        + r"(?:n[’']ai pas pu|ne peux pas|ne pouvons pas|impossible)",
    ),
    ("an apology", r"lo siento" + _WHY + r"no (?:pude|puedo|pudimos|es posible)"),
    (
        "an apology",
        r"(?:desculpe|sinto muito|lamento)" + _WHY + r"não (?:consegui|posso|foi possível)",
    ),
    (
        "an apology",
        r"(?:mi dispiace|spiacente|scusa(?:te)?)"
        + _WHY
        + r"non (?:sono riuscit[oa]|posso|riesco|è stato possibile)",
    ),
    # ja, zh, ko: an apology that says it could not
    (
        "an apology",
        r"(?:申し訳(?:ありません|ございません)|すみません)[^。\n]{0,40}?"
        r"(?:できません|できませんでした|失敗)",
    ),
    ("an apology", r"(?:抱歉|对不起|很抱歉|對不起)[^。\n]{0,30}?(?:无法|無法|不能|没能|未能)"),
    ("an apology", r"죄송합니다[^\n]{0,40}?(?:수 없|못)"),
)

# Error messages: anywhere in a short answer.
ANYWHERE: tuple[tuple[str, str], ...] = (
    ("an error message", r"\b(?:an|unexpected|internal) (?:\w+ )?error (?:has )?occurred\b"),
    ("an error message", r"\bsomething went wrong\b"),
    ("an error message", r"\b(?:please )?try again later\b|\bplease try again\b"),
    (
        "an error message",
        r"\bcouldn[’']?t (?:process|complete|handle) (?:your|the|this) (?:request|question)\b",
    ),
    (
        "an error message",
        r"\bfailed to (?:process|generate|get|fetch) (?:a |the |your )?"
        r"(?:response|answer|request|reply)\b",
    ),
    ("an error message", r"\binternal server error\b"),
    ("an error message", r"\bservice (?:is )?(?:temporarily |currently )?unavailable\b"),
    ("an error message", r"\btoo many requests\b|\brate limit(?:ed)? exceeded\b"),
    ("an error message", r"\bthrottlingexception\b|\brequest timed out\b"),
    (
        "a request for a key",
        r"\bplease (?:add|enter|provide|set|configure) (?:your|an?) (?:[\w-]+ ){0,3}"
        r"(?:api[ -]?key|key|token|credentials)\b",
    ),
    ("an error message", r"\bein fehler ist aufgetreten\b|\betwas ist schiefgelaufen\b"),
    ("an error message", r"\bversuchen sie es später (?:noch einmal|erneut)\b"),
    ("an error message", r"\bune erreur (?:s[’']est produite|est survenue|inattendue)\b"),
    ("an error message", r"\bréessayer plus tard\b"),
    ("an error message", r"\b(?:ha ocurrido|ocurrió|se produjo) un error\b|\balgo salió mal\b"),
    ("an error message", r"\bint[ée]ntalo (?:de nuevo )?más tarde\b"),
    ("an error message", r"\bocorreu um erro\b|\balgo deu errado\b|\btente novamente mais tarde\b"),
    ("an error message", r"\bsi è verificato un errore\b|\bqualcosa è andato storto\b"),
    ("an error message", r"\briprova più tardi\b"),
    ("an error message", r"エラーが発生しました|問題が発生しました|後でもう一度お試しください"),
    ("an error message", r"发生错误|出错了|出現錯誤|请稍后再试|請稍後再試"),
    ("an error message", r"오류가 발생했습니다|나중에 다시 시도"),
)

_LEAD = r"^[\W_]*?"  # emoji, marks and bullets before the opening: "⚠️ Sorry, …"
_OPENINGS = [(kind, re.compile(_LEAD + pattern, re.IGNORECASE)) for kind, pattern in OPENINGS]
_ANYWHERE = [(kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in ANYWHERE]


@dataclass(frozen=True)
class NonAnswer:
    """Why an answer reads as no answer: what it is, and the line that says so."""

    kind: str  # "an apology", "a refusal", "an error message", "a request for a key"
    line: str


def non_answer(answer: str) -> NonAnswer | None:
    """The built-in phrasing the answer reads as, or ``None`` for an answer."""
    lines = [line.strip() for line in answer.splitlines() if line.strip()]
    if not lines:
        return None
    short = len(answer.strip()) <= SHORT
    for line in lines if short else lines[:1]:
        for kind, regex in _OPENINGS:
            if regex.match(line):
                return NonAnswer(kind, line)
    if short:
        for line in lines:
            for kind, regex in _ANYWHERE:
                if regex.search(line):
                    return NonAnswer(kind, line)
    return None
