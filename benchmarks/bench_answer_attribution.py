"""Benchmark: the cost of telling a question's answer from earlier text, per delta.

One command from a clean checkout (no server, no network)::

    python benchmarks/bench_answer_attribution.py                  # N = 5, 20, 50; 3 rounds
    python benchmarks/bench_answer_attribution.py --turns 50 --deltas 3000 --rounds 1

``StreamlitSession._run`` follows a run's answer with ``AnswerWatch``
(``opskit.streamlit.answer``): until the answer has words, every delta that may
carry answer text has the answer read in full (``first_text`` is exact); after
that, at most every ``ANSWER_EVERY`` seconds of the stream, and once at its end.
A real chat streams its answer word by word into an ``st.empty()`` (thousands of
deltas) over a page that redraws a long
history. This script builds such pages through ``Page.apply`` from real
``ForwardMsg`` deltas (``opskit.streamlit.proto``): a chat of N earlier turns
(each answer eight paragraphs), redrawn on the question's run either as one chat
message per turn (``many``, as aws-samples' Converse stream app does) or as ONE
markdown element behind speaker labels (``one``), then the new answer streamed
into a placeholder in ``--deltas`` deltas (the text so far plus a cursor ``▌``),
then its final text.

Side by side, on the same deltas, it times per question:

- apply: ``Page.apply`` alone (reading each element's text included), the floor;
- peer: the attribution of commit 329a6c9 (before issue 20), copied below as
  ``OldBeforeQuestion``: per delta, whether the node is answer text and, if so,
  the answer blocks' text (it attributes the ``one`` shape wrongly: that is
  issue 20, the reason for the new rule, not a speed to match);
- opskit: this checkout's ``AnswerWatch`` as ``_run`` drives it, on a stream
  clock (``--stream-seconds`` spread evenly over the deltas, as a model streams),
  and ``new_text`` once at the run's end.

It prints the attribution time per question (apply excluded), the ratio of
opskit to the peer, and checks that opskit's final answer is the streamed text.
A second table times what every delta pays for reading (``element_text`` of the
growing answer) and what a page read costs (``Page.text()``) on a page shaped
like tests/streamlit/apps/big_page.py (one 18 KB markdown element) plus the
history.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

sys.path.insert(0, str(FsPath(__file__).resolve().parents[1]))

from opskit.streamlit import proto  # noqa: E402
from opskit.streamlit.answer import AnswerWatch, BeforeQuestion  # noqa: E402
from opskit.streamlit.page import Node, Page, Path  # noqa: E402
from opskit.streamlit.reading import element_text  # noqa: E402
from opskit.streamlit.session import ANSWER_EVERY  # noqa: E402

_VOCABULARY = """deploy service task cluster image revision health check load balancer target
group rollback container port region subnet role policy bucket log stream metric alarm queue
topic endpoint model token latency retry timeout"""
WORDS = _VOCABULARY.split()
PARAGRAPHS = 8  # per earlier answer
PARAGRAPH_WORDS = 30
LIVE_PARAGRAPH_WORDS = 60
MAIN, BOTTOM = 0, 3

Delta = tuple[Path, Any]


# --- the peer: commit 329a6c9's attribution, copied as it was ----------------------
def _old_answer_blocks(page: Page) -> list[Node]:
    return [
        n
        for path, n in sorted(page.nodes.items())
        if n.kind == "block:chat_message" and n.label != "user"
    ]


def _old_text(page: Page, under: Path = ()) -> str:
    return "\n".join(n.text for n in page.elements(under) if n.text)


@dataclass(frozen=True)
class OldBeforeQuestion:
    """329a6c9's ``BeforeQuestion`` (opskit/streamlit/page.py), the peer."""

    question: str
    lines: frozenset[str]
    answer_texts: Mapping[Path, frozenset[str]]

    @classmethod
    def of(cls, page: Page, question: str) -> OldBeforeQuestion:
        return cls(
            question=question.strip(),
            lines=frozenset(_old_text(page).splitlines()),
            answer_texts={
                block.path: frozenset(n.text for n in page.elements(block.path))
                for block in _old_answer_blocks(page)
            },
        )

    def is_answer(self, page: Page, node: Node) -> bool:
        if not node.text:
            return False
        holder = page.enclosing_chat_message(node.path)
        if holder is not None:
            return holder.label != "user" and node.text not in self.answer_texts.get(
                holder.path, frozenset()
            )
        if _old_answer_blocks(page):
            return False
        return node.text.strip() != self.question and node.text not in self.lines

    def answer(self, page: Page) -> str:
        blocks = _old_answer_blocks(page)
        if blocks:
            new = [
                block
                for block in blocks
                if frozenset(n.text for n in page.elements(block.path))
                != self.answer_texts.get(block.path)
            ]
            return "\n".join(_old_text(page, block.path) for block in new)
        return "\n".join(
            line
            for line in _old_text(page).splitlines()
            if line not in self.lines and line.strip() != self.question
        )


# --- the pages -------------------------------------------------------------------
def _message(path: Path) -> Any:
    message = proto.ForwardMsg()
    message.metadata.delta_path.extend(path)
    return message


def markdown(path: Path, body: str) -> Delta:
    message = _message(path)
    message.delta.new_element.markdown.body = body
    return tuple(message.metadata.delta_path), message.delta


def chat_block(path: Path, name: str) -> Delta:
    message = _message(path)
    message.delta.add_block.chat_message.name = name
    return tuple(message.metadata.delta_path), message.delta


def vertical(path: Path) -> Delta:
    message = _message(path)
    message.delta.add_block.vertical.SetInParent()
    return tuple(message.metadata.delta_path), message.delta


def empty(path: Path) -> Delta:
    message = _message(path)
    message.delta.new_element.empty.SetInParent()
    return tuple(message.metadata.delta_path), message.delta


def chat_input() -> Delta:
    message = _message((BOTTOM, 0))
    message.delta.new_element.chat_input.placeholder = "Ask"
    return tuple(message.metadata.delta_path), message.delta


def paragraphs(rng: random.Random, count: int, words: int) -> list[str]:
    return [" ".join(rng.choices(WORDS, k=words)).capitalize() + "." for _ in range(count)]


@dataclass
class Chat:
    """A chat's turns and the deltas of each script run, in one redraw shape."""

    shape: str  # "many" or "one"
    turns: list[tuple[str, str]]  # (question, answer markdown)

    def history(self, turns: int) -> list[Delta]:
        """A run's redraw of the first ``turns`` turns, from the top of the page."""
        deltas = [markdown((MAIN, 0), "# Operations assistant")]
        if self.shape == "many":
            for i, (question, answer) in enumerate(self.turns[:turns]):
                deltas += [chat_block((MAIN, 1 + 2 * i), "user")]
                deltas += [markdown((MAIN, 1 + 2 * i, 0), question)]
                deltas += [chat_block((MAIN, 2 + 2 * i), "assistant")]
                deltas += [markdown((MAIN, 2 + 2 * i, 0), answer)]
        elif turns:
            joined = "\n\n".join(f"**You:** {q}\n\n**Bot:** {a}" for q, a in self.turns[:turns])
            deltas += [chat_block((MAIN, 1), "assistant"), markdown((MAIN, 1, 0), joined)]
        return deltas

    def next_index(self, turns: int) -> int:
        return 1 + 2 * turns if self.shape == "many" else 2

    def live(self, turns: int, question: str, answer_words: list[str]) -> list[Delta]:
        """The question's run: history redrawn, the question, the answer streamed."""
        at = self.next_index(turns)
        deltas = self.history(turns)
        deltas += [chat_block((MAIN, at), "user"), markdown((MAIN, at, 0), question)]
        deltas += [chat_block((MAIN, at + 1), "assistant"), empty((MAIN, at + 1, 0))]
        for count in range(1, len(answer_words) + 1):
            deltas.append(markdown((MAIN, at + 1, 0), streamed(answer_words[:count]) + " ▌"))
        deltas.append(markdown((MAIN, at + 1, 0), streamed(answer_words)))
        return [*deltas, chat_input()]


def streamed(words: list[str]) -> str:
    """The answer so far, a blank line between paragraphs as a model writes them."""
    chunks = [
        " ".join(words[i : i + LIVE_PARAGRAPH_WORDS])
        for i in range(0, len(words), LIVE_PARAGRAPH_WORDS)
    ]
    return "\n\n".join(chunks)


def make_chat(shape: str, turns: int, seed: int = 20) -> Chat:
    rng = random.Random(seed)
    return Chat(
        shape,
        [
            (
                f"Question {i}: how is {rng.choice(WORDS)} done?",
                "\n\n".join(paragraphs(rng, PARAGRAPHS, PARAGRAPH_WORDS)),
            )
            for i in range(turns)
        ],
    )


def page_of(chat: Chat, turns: int) -> Page:
    page = Page()
    page.start_run()
    for path, delta in [*chat.history(turns), chat_input()]:
        page.apply(path, delta)
    page.finish_run()
    return page


# --- the runs ----------------------------------------------------------------------
def run_question(
    chat: Chat, turns: int, deltas: list[Delta], attribution: str, stream_seconds: float = 10.0
) -> tuple[float, float, str]:
    """(apply seconds, attribution seconds, final answer) for one question's run."""
    page = page_of(chat, turns)
    question = f"Question {turns}: and now?"
    asked = tuple(q for q, _ in chat.turns[:turns])
    spent = applying = 0.0
    check: Callable[[Node], None]
    t0 = time.perf_counter()
    if attribution == "opskit":
        before = BeforeQuestion.of(page, question, asked)
        watch = AnswerWatch(before, ANSWER_EVERY)
        clock = iter(i * stream_seconds / len(deltas) for i in range(len(deltas)))

        def check(node: Node) -> None:
            watch.delta(page, node, next(clock))

    elif attribution == "peer":
        old = OldBeforeQuestion.of(page, question)

        def check(node: Node) -> None:
            if old.is_answer(page, node):
                old.answer(page)

    else:

        def check(node: Node) -> None:
            pass

    spent += time.perf_counter() - t0
    page.start_run()
    for path, delta in deltas:
        t0 = time.perf_counter()
        node = page.apply(path, delta)
        t1 = time.perf_counter()
        if node is not None:
            check(node)
        elif attribution == "opskit":
            next(clock)
        spent += time.perf_counter() - t1
        applying += t1 - t0
    page.finish_run()
    t0 = time.perf_counter()
    final = ""
    if attribution == "opskit":
        final = before.new_text(page).answer
    elif attribution == "peer":
        final = old.answer(page)
    spent += time.perf_counter() - t0
    return applying, spent, final


def attribution_table(args: argparse.Namespace) -> bool:
    rng = random.Random(7)
    answer_words = rng.choices(WORDS, k=args.deltas)
    expected = element_text(markdown((MAIN,), streamed(answer_words))[1].new_element)[1]
    print(
        f"Attribution per question: answer streamed in {args.deltas} deltas "
        f"({len(streamed(answer_words))} chars), median of {args.rounds} round(s)"
    )
    print(
        f"{'shape':5} {'turns':>5} {'lines':>5} {'apply':>9} {'peer':>9} {'opskit':>9} "
        f"{'opskit/peer':>11} {'per delta':>10}  answer"
    )
    good = True
    for shape in args.shapes:
        for turns in args.turns:
            chat = make_chat(shape, turns + 1)
            deltas = chat.live(turns, f"Question {turns}: and now?", answer_words)
            lines = len(_old_text(page_of(chat, turns)).splitlines())
            times: dict[str, list[float]] = {"apply": [], "peer": [], "opskit": []}
            final = ""
            for _ in range(args.rounds):
                for name in ("apply", "peer", "opskit"):
                    applying, spent, answer = run_question(
                        chat, turns, deltas, name, args.stream_seconds
                    )
                    if name == "apply":
                        times["apply"].append(applying)
                    else:
                        times[name].append(spent)
                    if name == "opskit":
                        final = answer
            apply_s, peer_s, ours_s = (statistics.median(times[k]) for k in times)
            right = final == expected
            good = good and right
            print(
                f"{shape:5} {turns:5d} {lines:5d} {_s(apply_s)} {_s(peer_s)} {_s(ours_s)} "
                f"{ours_s / peer_s:10.1f}x {ours_s / len(deltas) * 1e6:8.0f}µs  "
                f"{'exact' if right else 'WRONG'}"
            )
    return good


def reading_table(args: argparse.Namespace) -> None:
    """What reading costs: per delta (element_text) and per page read (Page.text())."""
    rng = random.Random(7)
    answer_words = rng.choices(WORDS, k=args.deltas)
    print("\nReading cost")
    big = "big block start " + "lorem ipsum " * 1500 + "big block end"  # big_page.py
    page = page_of(make_chat("many", max(args.turns)), max(args.turns))
    page.start_run()
    page.apply(*markdown((MAIN, 999), big))
    t0 = time.perf_counter()
    for count in range(1, len(answer_words) + 1):
        element_text(markdown((MAIN,), streamed(answer_words[:count]) + " ▌")[1].new_element)
    streaming = time.perf_counter() - t0
    print(
        f"  element_text of the growing answer, all {args.deltas} deltas: "
        f"{streaming * 1000:.0f} ms ({streaming / args.deltas * 1e6:.0f} µs a delta)"
    )
    element = markdown((MAIN,), big)[1].new_element
    reading = _per_call(lambda: element_text(element))
    print(f"  element_text of big_page.py's 18 KB markdown: {reading}")
    print(
        f"  Page.text() of that page with {max(args.turns)} turns "
        f"({len(page.nodes)} nodes): {_per_call(page.text)}"
    )


def _per_call(call: Callable[[], object], count: int = 200) -> str:
    t0 = time.perf_counter()
    for _ in range(count):
        call()
    return f"{(time.perf_counter() - t0) / count * 1e6:.0f} µs a call"


def _s(seconds: float) -> str:
    return f"{seconds * 1000:7.0f}ms" if seconds < 10 else f"{seconds:8.1f}s"


def main(argv: Iterator[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, nargs="+", default=[5, 20, 50])
    parser.add_argument("--deltas", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--stream-seconds", type=float, default=10.0, help="how long the answer streams"
    )
    parser.add_argument("--shapes", nargs="+", default=["many", "one"], choices=["many", "one"])
    args = parser.parse_args(None if argv is None else list(argv))
    good = attribution_table(args)
    reading_table(args)
    if not good:
        print("opskit's final answer is not the streamed text", file=sys.stderr)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
