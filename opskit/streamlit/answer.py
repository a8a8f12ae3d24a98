"""Which text on the page is the answer to a question, and which text came before it.

A browser shows each answer once, where it appeared. The deltas do not say which
text is new: an app redraws its earlier turns on every run, and not in the shape
they first had. The live answer is streamed into an ``st.empty()`` placeholder
(or by ``st.write_stream``) and then redrawn from ``st.session_state`` as one
markdown element per turn, or as ONE element that holds every earlier turn
behind speaker labels (``**Bot:** …``). Delta paths shift when the history grows.
So the answer is told from what came before by content, never by delta path.

The rule, written once (docs/streamlit.md, "The answer"):

1. Only what the question's run sent counts: a stale element of the previous run
   that is still on the page while the run goes on is not part of it.
2. The page's text is cut into lines. Every line the page showed before the
   question is "earlier text", counted: a line shown once before is consumed by
   the first line of the new run that repeats it, in page order. A line that
   equals an earlier line, or that is earlier lines (or the questions typed so
   far) plus at most a speaker label (``You:``, ``Assistant:``), is earlier text.
   Because earlier text is consumed once, an answer that repeats an earlier
   answer word for word is still attributed: the history's copy consumes the
   earlier line, the new copy is new.
3. Where it is looked for: in a chat app (the run drew chat messages that are not
   the user's), inside those chat messages; elsewhere, on the whole page, except
   alerts (``st.info``/``st.warning``/``st.error``) and toasts, which are what the
   app says about itself, not an answer. New text outside the answer's place is
   kept apart (``elsewhere``), to say why a question got no answer.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from opskit.streamlit import proto
from opskit.streamlit.page import Node, Page, Path

# Earlier text plus this, and nothing else, is still earlier text: "You:", "🤖 Assistant:".
_LABEL = re.compile(r"^[\W_]*(?:\w+[\W_]*){0,3}?[:：][\W_]*$|^[\W_]*$")
_STATUS_ALERTS = (proto.ALERT_ERROR, proto.ALERT_WARNING, proto.ALERT_INFO)
_TYPED_WIDGETS = ("text_input", "text_area", "number_input", "selectbox")


def _is_status(node: Node) -> bool:
    """An alert or a toast: the app talking about itself, not answering."""
    if node.kind == "toast":
        return True
    return node.kind == "alert" and node.element.alert.format in _STATUS_ALERTS


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class NewText:
    """What a question's run added: the answer, and new text anywhere else."""

    answer: str
    elsewhere: tuple[str, ...]  # new lines outside the answer's place (alerts, toasts, ...)


@dataclass(frozen=True)
class BeforeQuestion:
    """The page as it was before a question (see the module's rule)."""

    question: str
    asked: tuple[str, ...]  # every question typed so far, this one last
    earlier: Counter[str]  # lines on the page before the question, counted

    @classmethod
    def of(cls, page: Page, question: str, asked: tuple[str, ...] = ()) -> BeforeQuestion:
        question = question.strip()
        texts = [n.text for n in page.elements()]
        return cls(
            question=question,
            asked=(*(q.strip() for q in asked if q.strip() and q.strip() != question), question),
            earlier=Counter(line for text in texts for line in _lines(text)),
        )

    def new_text(self, page: Page) -> NewText:
        """The answer's text as the page shows it now, and new text elsewhere."""
        current = [
            n
            for n in page.elements()
            if n.run == page.run
            and n.text
            and not page.is_hidden(n.path)
            and n.kind not in _TYPED_WIDGETS  # what was typed there is the question's
        ]
        holders = {n.path: _holder(page, n.path) for n in current}
        chat = any(h is not None and h.label != "user" for h in holders.values())
        left = Counter(self.earlier)
        answer: list[str] = []
        elsewhere: list[str] = []
        for node in current:
            holder = holders[node.path]
            if holder is not None and holder.label == "user":
                in_answer = False
            elif chat:
                in_answer = holder is not None
            else:
                in_answer = not _is_status(node)
            for line in _lines(node.text):
                if self._is_earlier(line, left):
                    continue
                (answer if in_answer else elsewhere).append(line)
        return NewText("\n".join(answer), tuple(elsewhere))

    def answer(self, page: Page) -> str:
        return self.new_text(page).answer

    def _is_earlier(self, line: str, left: Counter[str]) -> bool:
        if line in self.asked:
            return True
        if left[line] > 0:
            left[line] -= 1
            return True
        rest, taken = line, []
        shown = sorted((e for e in left if left[e] > 0 and e in rest), key=len, reverse=True)
        for earlier in shown:
            cut = _cut(rest, earlier)
            if cut != rest:
                rest = cut
                taken.append(earlier)
        for question in self.asked[:-1]:  # earlier questions, redrawn in the history
            rest = _cut(rest, question)
        if rest != line and _LABEL.match(rest):
            for earlier in taken:
                left[earlier] -= 1
            return True
        return False


def _cut(text: str, part: str) -> str:
    """``text`` without ``part`` where it stands as whole words (not ``hi`` from ``this``)."""
    left = r"(?<!\w)" if part[:1].isalnum() or part[:1] == "_" else ""
    right = r"(?!\w)" if part[-1:].isalnum() or part[-1:] == "_" else ""
    return re.sub(left + re.escape(part) + right, " ", text, count=1)


def _holder(page: Page, path: Path) -> Node | None:
    return page.enclosing_chat_message(path)


def status_texts(page: Page) -> list[str]:
    """What the page says about itself: its info, warning and error alerts, and toasts."""
    return [n.text for n in page.elements() if _is_status(n) and n.text]
