"""Both models stream in parallel; one failing never stops the other."""

from __future__ import annotations

from botocore.exceptions import EndpointConnectionError
from core.local_responder import LocalResponder
from core.settings import Settings
from core.streaming_handler import (
    Answer,
    BedrockResponder,
    Turn,
    apply_event,
    conversation_for,
    stream_answers,
)
from stack_fakes import FakeBedrockRuntime, throttling_error

SPECS = Settings(region="us-east-1").model_specs()
MICRO, PRO = (spec.model_id for spec in SPECS)


def run(client: FakeBedrockRuntime, question: str = "Hi?", fallback=None) -> dict[str, Answer]:
    answers = {
        spec.key: Answer(spec.key, spec.name, spec.role, spec.model_id, "Bedrock") for spec in SPECS
    }
    conversations = {spec.key: conversation_for(spec.key, [], question) for spec in SPECS}
    for event in stream_answers(SPECS, BedrockResponder(client), conversations, fallback=fallback):
        apply_event(answers[event.key], event)
    return answers


def test_both_models_answer_from_their_streams(capsys) -> None:
    client = FakeBedrockRuntime({MICRO: "Short answer.", PRO: "A much longer, detailed answer."})
    answers = run(client, "What is ECS?")
    assert answers["fast"].text == "Short answer."
    assert answers["detailed"].text == "A much longer, detailed answer."
    assert {a.status for a in answers.values()} == {"done"}
    assert all(a.first_token_s is not None for a in answers.values())
    sent = {call["modelId"]: call for call in client.calls}
    assert sent[MICRO]["messages"] == [{"role": "user", "content": [{"text": "What is ECS?"}]}]
    assert sent[MICRO]["inferenceConfig"] == {"maxTokens": 512}
    assert sent[PRO]["inferenceConfig"] == {"maxTokens": 2048}
    out = capsys.readouterr().out
    assert "Nova Micro first token after" in out and "Nova Pro first token after" in out
    assert "Nova Pro answer complete: 31 chars in" in out


def test_a_throttled_model_fails_alone_with_the_reason(capsys) -> None:
    client = FakeBedrockRuntime({MICRO: "Still here.", PRO: throttling_error()})
    answers = run(client)
    assert answers["fast"].status == "done" and answers["fast"].text == "Still here."
    assert answers["detailed"].status == "failed"
    assert answers["detailed"].error == (
        "throttled by Bedrock (ThrottlingException: Too many requests, please wait.)"
    )
    out = capsys.readouterr().out
    assert "WARNING chatbot.streaming: Nova Pro answer failed after" in out
    assert "Traceback" not in out


def test_an_error_event_inside_the_stream_fails_that_model_only() -> None:
    class MidStreamError(FakeBedrockRuntime):
        def converse_stream(self, **params):
            if params["modelId"] == PRO:
                events = [{"contentBlockDelta": {"delta": {"text": "Part"}}}]
                events.append({"modelStreamErrorException": {"message": "model crashed"}})
                return {"stream": iter(events)}
            return super().converse_stream(**params)

    answers = run(MidStreamError({MICRO: "Fine."}))
    assert answers["fast"].text == "Fine."
    assert answers["detailed"].text == "Part"
    assert answers["detailed"].error == ("Bedrock error (ModelStreamErrorException: model crashed)")


def test_unreachable_bedrock_falls_back_to_the_local_responder() -> None:
    unreachable = EndpointConnectionError(endpoint_url="https://bedrock-runtime.example")
    client = FakeBedrockRuntime({MICRO: unreachable, PRO: "Pro answers."})
    local = LocalResponder.bundled()
    answers = run(client, "What is the sandbox?", fallback=local)
    assert answers["fast"].status == "done"
    assert answers["fast"].source == "local responder"
    assert answers["fast"].text == local.match("What is the sandbox?").short
    assert answers["fast"].notice.startswith("Bedrock unreachable (Could not connect")
    assert answers["fast"].notice.endswith(": answered by the local responder")
    assert answers["detailed"].text == "Pro answers." and answers["detailed"].source == "Bedrock"


def test_a_bug_in_one_model_is_reported_and_the_other_finishes(capsys) -> None:
    client = FakeBedrockRuntime({MICRO: "Fine.", PRO: RuntimeError("boom")})
    answers = run(client)
    assert answers["fast"].text == "Fine."
    assert answers["detailed"].error == "unexpected RuntimeError: boom"
    assert "Traceback" in capsys.readouterr().out  # a real bug is logged in full


def test_history_keeps_each_models_own_answers_and_skips_failed_turns() -> None:
    first = Turn("Q1", {"fast": Answer("fast", "m", "r", "id", "Bedrock", "A1", "done")})
    second = Turn("Q2", {"fast": Answer("fast", "m", "r", "id", "Bedrock", "", "failed")})
    assert conversation_for("fast", [first, second], "Q3") == [
        {"role": "user", "content": [{"text": "Q1"}]},
        {"role": "assistant", "content": [{"text": "A1"}]},
        {"role": "user", "content": [{"text": "Q3"}]},
    ]
