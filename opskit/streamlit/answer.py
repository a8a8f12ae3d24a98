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
2. The user's side is never the answer: a chat message named ``user`` or
   ``human`` (LangChain's name), or any chat message that holds only the question
   just typed. Nor are controls (buttons, inputs, their
   labels and values) and spinners: a person uses or waits on them, they do not
   read them as an answer.
3. The page's text is cut into lines. Every line the page showed before the
   question is "earlier text", counted: a line shown once before is used up by
   the first line of the new run that repeats it. A line that equals an earlier
   line, or that is ONE earlier line or the questions typed so far plus at most
   a speaker label (``You:``, ``Assistant:``), is earlier text. Text outside the
   answer's place (the sidebar of a chat app, alerts, controls, the user's
   messages, hidden containers) uses up earlier lines first, so that a redrawn
   sidebar cannot make an answer that restates it earlier text.
4. In a chat app, the assistant messages after the user message that holds this
   question (up to the next user message) are new as they stand: an app with no
   history, or with its history in collapsed expanders, gives the same answer
   twice and the second is still an answer.
5. Where it is looked for: in a chat app (the run drew chat messages that are not
   the user's), inside those chat messages; elsewhere, on the whole page, except
   alerts (``st.info``/``st.warning``/``st.error``) and toasts, which are what the
   app says about itself. An app with no chat messages that shows nothing else
   new answers with its new ``st.info`` (a form app's answer box). Text in a
   container a person must open first is never the answer. New text outside the
   answer's place is kept apart (``elsewhere``), to say why a question got no
   answer.

An answer with no words, or only a placeholder word (``Thinking...``, ``▌``), is
no answer (``is_placeholder``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from opskit.streamlit import proto
from opskit.streamlit.markdown import rendered
from opskit.streamlit.page import Node, Page, Path

# Earlier text plus this, and nothing else, is still earlier text: "You:", "🤖 Assistant:".
_LABEL = re.compile(r"^[\W_]*(?:\w+[\W_]*){0,3}?[:：][\W_]*$|^[\W_]*$")
_STATUS_ALERTS = (proto.ALERT_ERROR, proto.ALERT_WARNING, proto.ALERT_INFO)
USER_NAMES = ("user", "human")  # Streamlit's names for the person ("human": LangChain's)
# What a person uses or waits on, never an answer's text (labels and values alike).
CONTROLS = frozenset(
    {
        "button",
        "download_button",
        "link_button",
        "page_link",
        "file_uploader",
        "camera_input",
        "audio_input",
        "button_group",
        "feedback",
        "menu_button",
        "text_input",
        "text_area",
        "time_input",
        "date_input",
        "date_time_input",
        "color_picker",
        "number_input",
        "checkbox",
        "radio",
        "selectbox",
        "multiselect",
        "slider",
        "chat_input",
        "spinner",
    }
)
# What an answer's place shows while the answer is still coming: no words, or one of these.
_PLACEHOLDER = re.compile(
    r"^[\W_]*(?:(?:thinking|loading|generating|typing|working|please wait|one moment)\b[\W_]*)?$",
    re.IGNORECASE,
)


def _is_status(node: Node) -> bool:
    """An alert or a toast: the app talking about itself, not answering."""
    if node.kind == "toast":
        return True
    return node.kind == "alert" and node.element.alert.format in _STATUS_ALERTS


def _is_info(node: Node) -> bool:
    return node.kind == "alert" and node.element.alert.format == proto.ALERT_INFO


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _flat(text: str) -> str:
    return " ".join(text.split())


def is_placeholder(answer: str) -> bool:
    """An answer with no words, or only what a page shows while it waits
    (``Thinking...``, ``Loading...``, a cursor ``▌``, ``...``): no answer."""
    return all(_PLACEHOLDER.match(line) for line in _lines(answer))


@dataclass(frozen=True)
class NewText:
    """What a question's run added: the answer, and new text anywhere else."""

    answer: str
    elsewhere: tuple[str, ...]  # new lines outside the answer's place (alerts, toasts, ...)


@dataclass(frozen=True)
class BeforeQuestion:
    """The page as it was before a question (see the module's rule)."""

    question: str  # the chat question just typed ("" when asked through widgets only)
    earlier: Counter[str]  # lines on the page before the question, counted
    typed_lines: frozenset[str] = frozenset()  # chat questions typed so far, as lines shown
    typed: tuple[str, ...] = ()  # earlier chat questions, as shown: a label may go with one
    values: tuple[str, ...] = ()  # values typed into widgets so far: need a label to be earlier
    question_forms: frozenset[str] = frozenset()  # the chat question, as typed and rendered

    @classmethod
    def of(
        cls,
        page: Page,
        question: str = "",
        asked: Sequence[str] = (),
        *,
        values: Sequence[str] = (),
        filled: Sequence[str] = (),
    ) -> BeforeQuestion:
        """``question``: the chat question typed now, ``asked`` the earlier ones;
        ``values``: what is typed or picked into widgets now, ``filled`` before."""
        questions = [q.strip() for q in (*asked, question) if q.strip()]
        forms = {form for text in questions for form in (text, rendered(text).strip())}
        lines = {line for form in forms for line in (_flat(form), *_lines(form))}
        # Behind a label, only an earlier question: "support answers: hi" answers "hi".
        before = {f for text in asked if text.strip() for f in (text.strip(), rendered(text))}
        before.discard(question.strip())
        typed = [v.strip() for v in (*filled, *values) if v.strip()]
        return cls(
            question=question.strip(),
            earlier=Counter(line for n in page.elements() for line in _lines(n.text)),
            typed_lines=frozenset(lines),
            typed=tuple(sorted((f.strip() for f in before if f.strip()), key=len, reverse=True)),
            values=tuple(sorted(set(typed), key=len, reverse=True)),
            question_forms=frozenset(
                _flat(form) for form in (question, rendered(question)) if question.strip()
            ),
        )

    def may_answer(self, page: Page, node: Node) -> bool:
        """Whether ``node`` (just written) can hold answer text: a cheap test, true
        for every node that can (the answer is then read in full)."""
        if not node.text or node.kind in CONTROLS or page.is_hidden(node.path):
            return False
        holder = page.enclosing_chat_message(node.path)
        return holder is None or holder.label.lower() not in USER_NAMES

    def new_text(self, page: Page) -> NewText:
        """The answer's text as the page shows it now, and new text elsewhere."""
        current = [n for n in page.elements() if n.run == page.run and n.text]
        holders = {n.path: page.enclosing_chat_message(n.path) for n in current}
        said: dict[Path, list[str]] = {}
        for node in current:
            holder = holders[node.path]
            if holder is not None:
                said.setdefault(holder.path, []).append(node.text)
        holding = {p for p in said if self._holds_question(_flat(" ".join(said[p])))}
        users = holding | {p for p in said if page.nodes[p].label.lower() in USER_NAMES}
        chat = any(path not in users for path in said)
        asking = max(holding, default=None)  # the last message that holds the question
        left = Counter(self.earlier)
        places: list[tuple[Node, str]] = []  # (node, "answer" | "fresh" | "other")
        after_question = False
        for node in current:
            holder = holders[node.path]
            if holder is not None and holder.path in users:
                after_question = holder.path == asking
                places.append((node, "other"))
            elif node.kind in CONTROLS or page.is_hidden(node.path):
                places.append((node, "other"))
            elif chat:
                place = "other" if holder is None else "fresh" if after_question else "answer"
                places.append((node, place))
            else:
                places.append((node, "other" if _is_status(node) else "answer"))
        elsewhere: list[str] = []
        infos: list[str] = []
        for node, place in places:  # outside the answer's place: uses up earlier lines first
            if place != "other":
                continue
            new = [ln for ln in _lines(node.text) if not self._is_earlier(ln, left)]
            if holders[node.path] is not None or node.kind in CONTROLS:
                continue  # the user's words and the page's controls are not news
            if page.is_hidden(node.path):
                continue
            elsewhere += new
            infos += new if _is_info(node) else []
        answer: list[str] = []
        for node, place in places:
            for line in _lines(node.text) if place != "other" else ():
                if place == "fresh" and line not in self.typed_lines:
                    left[line] -= 1 if left[line] > 0 else 0
                    answer.append(line)
                elif place == "answer" and not self._is_earlier(line, left):
                    answer.append(line)
        if not answer and not said and infos:  # a form app's answer box
            answer = infos
            elsewhere = [line for line in elsewhere if line not in infos]
        return NewText("\n".join(answer), tuple(elsewhere))

    def answer(self, page: Page) -> str:
        return self.new_text(page).answer

    def _holds_question(self, text: str) -> bool:
        """A chat message's text is the question just typed, as typed or rendered
        (its speaker's name is the message's, not its text)."""
        return text in self.question_forms

    def _is_earlier(self, line: str, left: Counter[str]) -> bool:
        if line in self.typed_lines:
            return True
        if left[line] > 0:
            left[line] -= 1
            return True
        rest = line
        for typed in self.typed:  # questions typed, redrawn behind a label
            if typed in rest:
                rest = _cut(rest, typed)
        if rest != line and _LABEL.match(rest):
            return True
        for value in self.values:  # "Question: <what was typed>"; a bare "large" may answer
            if value in rest:
                rest = _cut(rest, value)
        if rest != line and _LABEL.match(rest) and re.search(r"\w", rest):
            return True
        # At most ONE earlier line plus a label: several short lines and a label
        # would make up too many answers ("Model: Nova Lite" from "Model", "Nova Lite").
        for earlier in sorted(
            (e for e in left if left[e] > 0 and e in rest), key=len, reverse=True
        ):
            cut = _cut(rest, earlier)
            if cut != rest and _LABEL.match(cut):
                left[earlier] -= 1
                return True
        return False


def _cut(text: str, part: str) -> str:
    """``text`` without ``part`` where it stands as whole words (not ``hi`` from ``this``)."""
    left = r"(?<!\w)" if part[:1].isalnum() or part[:1] == "_" else ""
    right = r"(?!\w)" if part[-1:].isalnum() or part[-1:] == "_" else ""
    return re.sub(left + re.escape(part) + right, " ", text, count=1)


@dataclass
class AnswerWatch:
    """Follows a run's answer delta by delta without reading the whole page each time.

    A chat streams ~1,500 deltas into one placeholder over a long history; reading
    the answer in full (a walk of the page, a scan of earlier lines per new line)
    on each is the cost. Until the answer has words, every delta that may carry
    answer text (``may_answer``) has the answer read in full, so ``first_text`` is
    the exact delta; after that it is read at most every ``every`` seconds (the
    live view's pace), and in full at the run's end by the caller."""

    before: BeforeQuestion
    every: float
    has_words: bool = False
    read_at: float = -math.inf

    def delta(self, page: Page, node: Node, now: float) -> str | None:
        """The answer as shown now, when it was read again (``None`` when not)."""
        if not self.has_words:
            if not self.before.may_answer(page, node):
                return None
        elif now - self.read_at < self.every:
            return None
        self.read_at = now
        answer = self.before.answer(page)
        self.has_words = not is_placeholder(answer)
        return answer


def status_texts(page: Page) -> list[str]:
    """What the page says about itself: its info, warning and error alerts, and toasts."""
    return [n.text for n in page.elements() if _is_status(n) and n.text]
