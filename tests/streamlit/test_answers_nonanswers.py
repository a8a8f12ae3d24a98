"""The built-in list of non-answers: what reads as an error or an apology, and what
is a good answer that merely says "sorry" or "error" (issue 20, Deliver 2)."""

from __future__ import annotations

import pytest

from opskit.streamlit.nonanswers import SHORT, non_answer

NON_ANSWERS = [
    ("Sorry, I couldn't process your request at the moment.", "an apology"),
    ("I'm sorry, but I was unable to generate a response.", "an apology"),
    ("⚠️ Sorry — I can’t answer that right now.", "an apology"),
    ("I apologize, but I couldn't reach the model.", "an apology"),
    ("Unfortunately, I cannot help with that today.", "an apology"),
    ("I'm unable to answer questions right now.", "a refusal"),
    ("Error: ThrottlingException (rate exceeded)", "an error message"),
    ("An error occurred. Please try again later.", "an error message"),
    ("Oops! Something went wrong on our side.", "an error message"),
    ("The assistant failed to generate a response.", "an error message"),
    ("Please add your OpenAI API key to continue.", "a request for a key"),
    ("Es tut mir leid, ich konnte Ihre Anfrage nicht bearbeiten.", "an apology"),
    ("Ein Fehler ist aufgetreten.", "an error message"),
    ("Désolé, je n'ai pas pu traiter votre demande.", "an apology"),
    ("Une erreur s'est produite, veuillez réessayer plus tard.", "an error message"),
    ("Lo siento, no pude procesar tu solicitud.", "an apology"),
    ("Algo salió mal.", "an error message"),
    ("Desculpe, não consegui processar sua solicitação.", "an apology"),
    ("Ocorreu um erro.", "an error message"),
    ("Mi dispiace, non sono riuscito a elaborare la richiesta.", "an apology"),
    ("Si è verificato un errore.", "an error message"),
    ("申し訳ありませんが、リクエストを処理できませんでした。", "an apology"),
    ("エラーが発生しました。", "an error message"),
    ("抱歉，我无法处理您的请求。", "an apology"),
    ("出错了，请稍后再试。", "an error message"),
    ("죄송합니다. 요청을 처리할 수 없습니다.", "an apology"),
]


@pytest.mark.parametrize(("answer", "kind"), NON_ANSWERS)
def test_an_error_or_an_apology_reads_as_a_non_answer(answer: str, kind: str) -> None:
    found = non_answer(answer)
    assert found is not None and (found.kind, found.line) == (kind, answer)


ANSWERS = [
    "Sorry to hear the deploy failed: run opskit redeploy and watch the service events.",
    "I'm sorry for the confusion: the bucket is eu-west-1, not us-east-1.",
    "The error occurred because the image tag was missing; push it and redeploy.",
    "No error: the service is healthy.",
    "Restart the task and try again.",
    "An error alert means the model call raised; the logs say which one.",
    "The deploy failed to start because the image was missing.",
    "Es tut mir leid für die Verwirrung: der Bucket liegt in eu-west-1.",
    "申し訳ありませんが、設定は eu-west-1 にあります。",
    "",
]


@pytest.mark.parametrize("answer", ANSWERS)
def test_a_good_answer_that_mentions_sorry_or_error_is_an_answer(answer: str) -> None:
    assert non_answer(answer) is None


def test_a_long_answer_is_judged_by_its_opening_only() -> None:
    explaining = "To redeploy, run the playbook. " * 12 + "If something went wrong, try again."
    assert len(explaining) > SHORT and non_answer(explaining) is None
    apology = "Sorry, I couldn't reach the model.\n" + "Here is what I know. " * 20
    found = non_answer(apology)
    assert found is not None and found.line == "Sorry, I couldn't reach the model."
