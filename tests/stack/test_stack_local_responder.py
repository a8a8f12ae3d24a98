"""The local responder: deterministic answers from the bundled FAQ."""

from __future__ import annotations

from core.local_responder import LocalResponder
from core.settings import Settings

FAST, DETAILED = Settings().model_specs()


def ask(responder: LocalResponder, spec, question: str) -> str:
    return "".join(responder.stream(spec, [{"role": "user", "content": [{"text": question}]}]))


def test_the_same_question_gets_the_same_answer() -> None:
    responder = LocalResponder.bundled()
    question = "How do deployments work?"
    assert ask(responder, DETAILED, question) == ask(responder, DETAILED, question)
    assert responder.match(question).topic == "deployment"


def test_fast_and_detailed_answers_differ() -> None:
    responder = LocalResponder.bundled()
    entry = responder.match("What does the health check do?")
    assert entry.topic == "health checks"
    assert ask(responder, FAST, "What does the health check do?") == entry.short
    assert ask(responder, DETAILED, "What does the health check do?") == entry.detailed


def test_an_unknown_question_lists_the_topics_it_knows() -> None:
    answer = ask(LocalResponder.bundled(), DETAILED, "What is the capital of France?")
    assert answer.startswith("I am the local responder: Bedrock is not called")
    assert "Topics I know: this app, models, deployment, health checks, log markers, sandbox." in (
        answer
    )


def test_streaming_waits_between_chunks_when_asked() -> None:
    slept: list[float] = []
    responder = LocalResponder.bundled(delay=0.01)
    responder._sleep = slept.append
    chunks = list(responder.stream(FAST, [{"role": "user", "content": [{"text": "hello"}]}]))
    assert "".join(chunks) == "Hello! Ask me anything; two models answer side by side."
    assert len(chunks) == 10 and slept == [0.01] * 10
