"""Answers that are not answers: a caught error or a canned apology, shown as a reply.

An app that catches its model's error and replies "Sorry, I couldn't process your
request at the moment." shows no exception and no ``st.error``: without this list a
question with no ``expect`` passes on a broken release. The phrasings below are
what such replies say, in English and, where cheap, in German, French, Spanish,
Portuguese, Italian, Japanese, Chinese and Korean (docs/streamlit.md lists them).

A word such as "sorry" or "error" is normal prose in a good answer ("Sorry to hear
the deploy failed: run …", "the error occurred because …", "HTTP 500 means Internal
Server Error"): an ops chatbot talks about errors all the time, and a release gate
must not raise a false alarm on that. So nothing matches a bare word. The rule:

- an **apology or refusal** matches at the opening of a line: an apology that goes
  on to say the app could not (``Sorry, I couldn't …``, ``Es tut mir leid, ich
  konnte … nicht``), or ``I'm unable to …``; the answer's first line is looked at,
  and every line of a short answer (at most ``SHORT`` characters);
- an **error message** (``Error:``, ``An error occurred``, ``Something went wrong``,
  ``Please try again later``, ``Please add your API key``) counts only as the app's
  own status: when it opens the answer (after at most a few words such as "Oops!"
  or "The assistant"), or when such status sentences make up nearly all of a short
  answer. A sentence that defines or explains the phrase ("HTTP 429 is Too Many
  Requests: …", "Error: connection refused means …", "Something went wrong in the
  deploy because …") is an answer, wherever it stands.
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

# Error messages: the app's own status, when one opens the answer or nearly all of
# it is such status (``_status``). ``Error:`` only at the very opening; a statement
# ("An error occurred") after a short subject ("The assistant", "Oops,"); a message
# ("Internal server error", "Please try again later") alone or after a label
# ("Request failed: …").
ERROR_OPENING = ("an error message", r"error\s*[:!]")
STATEMENTS: tuple[tuple[str, str], ...] = (
    ("an error message", r"\b(?:an|unexpected|internal) (?:\w+ )?error (?:has )?occurred\b"),
    ("an error message", r"\bsomething went wrong\b"),
    (
        "an error message",
        r"\bcouldn[’']?t (?:process|complete|handle) (?:your|the|this) (?:request|question)\b",
    ),
    (
        "an error message",
        r"\bfailed to (?:process|generate|get|fetch) (?:a |the |your )?"
        r"(?:response|answer|request|reply)\b",
    ),
    ("an error message", r"\bein fehler ist aufgetreten\b|\betwas ist schiefgelaufen\b"),
    ("an error message", r"\bune erreur (?:s[’']est produite|est survenue|inattendue)\b"),
    ("an error message", r"\b(?:ha ocurrido|ocurrió|se produjo) un error\b|\balgo salió mal\b"),
    ("an error message", r"\bocorreu um erro\b|\balgo deu errado\b"),
    ("an error message", r"\bsi è verificato un errore\b|\bqualcosa è andato storto\b"),
    ("an error message", r"エラーが発生しました|問題が発生しました"),
    ("an error message", r"发生错误|出错了|出現錯誤"),
    ("an error message", r"오류가 발생했습니다"),
)
MESSAGES: tuple[tuple[str, str], ...] = (
    ("an error message", r"\b(?:please )?try again later\b|\bplease try again\b"),
    ("an error message", r"\binternal server error\b"),
    ("an error message", r"\bservice (?:is )?(?:temporarily |currently )?unavailable\b"),
    ("an error message", r"\btoo many requests\b|\brate limit(?:ed)? exceeded\b"),
    ("an error message", r"\bthrottlingexception\b|\brequest timed out\b"),
    (
        "a request for a key",
        r"\bplease (?:add|enter|provide|set|configure) (?:your|an?) (?:[\w-]+ ){0,3}"
        r"(?:api[ -]?key|key|token|credentials)\b",
    ),
    ("an error message", r"\bversuchen sie es später (?:noch einmal|erneut)\b"),
    ("an error message", r"\bréessayer plus tard\b"),
    ("an error message", r"\bint[ée]ntalo (?:de nuevo )?más tarde\b"),
    ("an error message", r"\btente novamente mais tarde\b"),
    ("an error message", r"\briprova più tardi\b"),
    ("an error message", r"後でもう一度お試しください"),
    ("an error message", r"请稍后再试|請稍後再試"),
    ("an error message", r"나중에 다시 시도"),
)

_LEAD = r"^[\W_]*?"  # emoji, marks and bullets before the opening: "⚠️ Sorry, …"
_OPENINGS = [(kind, re.compile(_LEAD + pattern, re.IGNORECASE)) for kind, pattern in OPENINGS]
_STATEMENTS = [(kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in STATEMENTS]
_MESSAGES = [(kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in MESSAGES]
_ERROR_OPENING = (ERROR_OPENING[0], re.compile(_LEAD + ERROR_OPENING[1], re.IGNORECASE))

# A sentence ends at . ! ? ; (and their CJK forms) before a space or the end.
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])")
# A sentence that is only an interjection, before the status: "Oops!", "Uh-oh."
_INTERJECTION = re.compile(
    r"^[\W_]*(?:oops|whoops|uh[- ]?oh|oh(?: no)?|hmm+|ah|ouch|yikes|sorry|apologies"
    r"|hoppla|oups|ups|vaya|ops)[\W_]*$",
    re.IGNORECASE,
)
_LEAD_WORDS = 3  # at most this many words before the phrase: "The assistant failed to …"
# Words before the phrase that make it a definition, a report or advice, not the app's
# status: "HTTP 500 means Internal Server Error", "A 503 is …", "Look for …", "If …".
_DEFINES = re.compile(
    r"\b(?:is|are|was|were|be|means?|meant|indicates?|signals?|stands|returns?|returned"
    r"|gets?|got|throws?|threw|raises?|raised|shows?|showed|says?|said|like|called|named"
    r"|see|seeing|saw|get|getting|hit|hitting|ist|bedeutet|est|signifie|es|significa"
    r"|if|when|whether|why|how|what|for|to|of|about|after|before|once|unless|until|on|in)\b",
    re.IGNORECASE,
)
# Words after it, in the same sentence, that explain: "… went wrong in the deploy because …".
_EXPLAINS = re.compile(
    r"\b(?:means?|meant|indicates?|stands for|refers to|because|since|due to|caused by"
    r"|happens|occurs when|usually|typically|if you|when you|is returned|is raised"
    r"|is thrown|weil|bedeutet|parce que|signifie|porque|significa|perché)\b",
    re.IGNORECASE,
)
# Or, after a statement, that place it in the user's system, not the app: "… went wrong
# with the deploy" (an app's own status says "on our side", "with your request").
_ELSEWHERE = re.compile(
    r"^\s+(?:in|with|during|on|at|for|from) (?:(?:the|your|this|that|a|an) )?"
    r"(?!(?:request|question|answer|response|reply|server|model|app|assistant|call|side|end"
    r"|our|my|api|llm|backend|bedrock|openai)\b)",
    re.IGNORECASE,
)
# Or that make the phrase a subject being defined: "Service Unavailable (503) from S3 is …".
_SUBJECT = re.compile(
    r"^\s*(?:\([^)]*\)\s*)?(?:(?:from|in|on|at|by) [\w.-]+\s*)?(?:is|are|means?)\b",
    re.IGNORECASE,
)
# What may stand before a message: nothing, an interjection, please, a label, a code.
_LABEL = re.compile(
    r"^[\W_]*(?:(?:oops|whoops|uh[- ]?oh|oh(?: no)?|hmm+|sorry|apologies)[\W_]*"
    r"|(?:please|bitte|veuillez|por favor|per favore)\s*|[^:\n]*[:\-–—]\s*|\d{3}\s*)?$",
    re.IGNORECASE,
)
_WHOLE = 2 / 3  # status sentences making up this share of a short answer are no answer


@dataclass(frozen=True)
class NonAnswer:
    """Why an answer reads as no answer: what it is, and the line that says so."""

    kind: str  # "an apology", "a refusal", "an error message", "a request for a key"
    line: str


def _status(sentence: str) -> str | None:
    """The kind of error message a sentence is as the app's own status, or ``None``.

    The phrase must open the sentence (after a few words that do not define it)
    and the rest must not explain it: an answer about errors quotes these phrases.
    """
    if sentence.endswith(("?", "？")):  # a question back: "Too many requests? Lower …"
        return None
    kind, regex = _ERROR_OPENING
    if regex.match(sentence) and not _EXPLAINS.search(sentence):
        return kind
    for statement, (kind, regex) in [(True, each) for each in _STATEMENTS] + [
        (False, each) for each in _MESSAGES
    ]:
        found = regex.search(sentence)
        if found is None:
            continue
        lead = sentence[: found.start()]
        if len(lead.split()) > _LEAD_WORDS or _DEFINES.search(lead):
            continue
        if not statement and not _LABEL.match(lead):
            continue
        rest = sentence[found.end() :]
        if _EXPLAINS.search(rest) or _SUBJECT.match(rest):
            continue
        if statement and _ELSEWHERE.match(rest):
            continue
        return kind
    return None


def _error_message(lines: list[str]) -> NonAnswer | None:
    """An error message that opens a short answer, or makes up nearly all of it."""
    sentences = [
        (line, sentence.strip())
        for line in lines
        for sentence in _SENTENCE.split(line)
        if sentence.strip()
    ]
    while sentences and _INTERJECTION.match(sentences[0][1]):
        sentences = sentences[1:]
    if not sentences:
        return None
    line, first = sentences[0]
    kind = _status(first)
    if kind is not None:
        return NonAnswer(kind, line)
    status = [(line, sentence, _status(sentence)) for line, sentence in sentences]
    found = [(line, kind) for line, _, kind in status if kind is not None]
    share = sum(len(sentence) for _, sentence, kind in status if kind is not None)
    if found and share >= _WHOLE * sum(len(sentence) for _, sentence in sentences):
        return NonAnswer(found[0][1], found[0][0])
    return None


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
    return _error_message(lines) if short else None
