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
    # an error message as the app's own status: opening the answer, after at most an
    # interjection, a short subject, "please", a label or a status code
    ("Oops, something went wrong. Please try again.", "an error message"),
    ("Request failed: internal server error", "an error message"),
    (
        "⚠️ Error: ThrottlingException (Too many requests). Please try again later.",
        "an error message",
    ),
    ("Hmm… something went wrong while generating the answer.", "an error message"),
    ("Sorry! An error occurred while calling the model.", "an error message"),
    ("Service temporarily unavailable. Please try again later.", "an error message"),
    ("Bedrock error: ThrottlingException", "an error message"),
    ("429 Too Many Requests", "an error message"),
    ("Internal server error (500). Request id: 7f3c9a.", "an error message"),
    ("Please try again.", "an error message"),
    ("Veuillez réessayer plus tard.", "an error message"),
    ("Please enter your API key in the sidebar.", "a request for a key"),
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
    # error phrasings an ops answer defines, explains or advises about (review finding 5)
    "HTTP 500 means Internal Server Error: the app raised; read its logs.",
    "A 503 is Service Unavailable: the load balancer has no healthy target.",
    "HTTP 429 is Too Many Requests: back off and retry with jitter.",
    "Error: connection refused means nothing listens on that port.",
    "Something went wrong in the deploy because the image tag was missing; push it and redeploy.",
    "Bedrock returned a ThrottlingException because you hit the quota; "
    "please try again in a minute.",
    "Your call hit a ThrottlingException; please try again in a minute.",
    "A 502 Bad Gateway means the load balancer got no valid response from the target; "
    "check the container's health check.",
    "504 Gateway Timeout: the upstream took longer than the ALB's idle timeout (60 s); "
    "raise it or make the handler faster.",
    "ThrottlingException means you exceeded the model's tokens-per-minute quota. "
    "Retry with exponential backoff or request a quota increase.",
    "When Bedrock answers with a ThrottlingException, the SDK retries three times; "
    "after that, please try again later or raise the quota.",
    '"Internal server error" from API Gateway usually means the Lambda\'s response was '
    "malformed: return statusCode and body.",
    "Service Unavailable (503) from S3 is SlowDown: spread your keys over more prefixes.",
    "Too many requests? Lower the client's concurrency to 4 and add jitter to retries.",
    "Sorry to hear that. The rollback is safe: the previous task definition is still registered.",
    "Unfortunately the deploy stopped at the migration step: run opskit migrate --resume.",
    "Unfortunately, the deploy failed because the image tag was missing; push it and try again.",
    "The job failed to fetch the artifact because the bucket policy denies s3:GetObject.",
    "Something went wrong with the deploy: the health check path returns 404. Use /healthz.",
    "An error occurred during the deployment: the task role lacks ecr:GetAuthorizationToken.",
    'Yes: an "Error: timeout" line in the logs means the database did not answer within 5 s.',
    "Check the logs first.\nError: connection refused\nThat line means nothing listens on 5432.",
    "The request timed out after 30 s because the NAT gateway was missing; add a route.",
    "Retries are safe here: the handler is idempotent, so please try again after the fix.",
    "Check the logs for internal server error lines; each one has the request id.",
    "Look for ThrottlingException in CloudTrail: it names the model and the caller.",
    "Retry on ThrottlingException with exponential backoff.",
    "The health check failed to get a response from /healthz; fix the path in the target group.",
    "If something went wrong during the rollout, run opskit rollback.",
    "Expect rate limit exceeded errors at peak: the quota is 10 requests per second.",
]


@pytest.mark.parametrize("answer", ANSWERS)
def test_a_good_answer_that_mentions_sorry_or_error_is_an_answer(answer: str) -> None:
    assert non_answer(answer) is None


def test_an_error_message_that_is_nearly_the_whole_answer_is_a_non_answer() -> None:
    found = non_answer("Request id 7f3c.\nInternal server error. Please try again later.")
    assert found is not None and (found.kind, found.line) == (
        "an error message",
        "Internal server error. Please try again later.",
    )
    # the same message under an answer's worth of text is that answer's advice
    assert (
        non_answer("Raise the Bedrock quota for the model in eu-west-1.\nPlease try again.") is None
    )


def test_a_long_answer_is_judged_by_its_opening_only() -> None:
    explaining = "To redeploy, run the playbook. " * 12 + "If something went wrong, try again."
    assert len(explaining) > SHORT and non_answer(explaining) is None
    apology = "Sorry, I couldn't reach the model.\n" + "Here is what I know. " * 20
    found = non_answer(apology)
    assert found is not None and found.line == "Sorry, I couldn't reach the model."
