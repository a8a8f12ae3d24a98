"""The incident's symptom, replayed end to end (issue 11, test 2): a release whose
answer path is broken passes the sync, the deployment, the log markers and the
script health check; only a question asked as a user asks it shows that every
answer fails. ``opskit run`` (in process, through the CLI's one boundary)
against a running sandbox.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from opskit.sandbox import SandboxInfo
from tests.cli_helpers import Cli

ROOT = Path(__file__).resolve().parents[2]
REDEPLOY = ROOT / "playbooks" / "redeploy.yaml"
STACK_SRC = ROOT / "opskit" / "stack" / "src"
PAGE_ERROR = "Nova Micro failed: unexpected AttributeError"
# The incident's own error: the streaming call made on a client that is None. The
# sandbox's app answers through Bedrock Runtime (the sandbox serves it) or the
# local responder, depending on its settings: both streams are broken alike.
BROKEN_STREAM = """

def _stream_on_a_none_client(self, spec, messages):
    client = None  # a None client, stored and handed out as in the incident
    response = client.invoke_model_with_response_stream(modelId=spec.model_id, body=b"{{}}")
    yield from response["body"]


{responder}.stream = _stream_on_a_none_client
"""
BROKEN_MODULES = {
    "local_responder.py": "LocalResponder",
    "streaming_handler.py": "BedrockResponder",
}


def _steps(report_dir: Path) -> dict[str, dict[str, Any]]:
    report = json.loads((report_dir / "report.json").read_text())
    return {step["id"]: step for step in report["steps"]}


def test_a_release_whose_answers_fail_fails_the_redeploy_at_the_session_step(
    sandbox: SandboxInfo, cli: Cli, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    shutil.copytree(STACK_SRC, source, ignore=shutil.ignore_patterns("__pycache__"))
    for name, responder in BROKEN_MODULES.items():
        with open(source / "core" / name, "a") as module:
            module.write(BROKEN_STREAM.format(responder=responder))

    result = cli.run(REDEPLOY, "-e", f"source={source}", "--report", str(tmp_path / "report"))

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    steps = _steps(tmp_path / "report")
    # Every check before the synthetic user passes: this is the hole it closes.
    assert {step_id: step["status"] for step_id, step in steps.items()} == {
        "upload": "changed",
        "redeploy": "changed",
        "logs": "ok",
        "probe": "ok",
        "chat": "failed",
    }
    chat = steps["chat"]
    errors = chat["outputs"]["errors"]  # as the page shows them, one per model column
    assert len(errors) == 2, errors
    assert errors[0].startswith(PAGE_ERROR)
    assert errors[1].startswith("Nova Pro failed: unexpected AttributeError")
    # The summary quotes the page's own error text.
    assert chat["summary"] == (
        f'"How do I redeploy the service?": the page shows an error: {errors[0]} (and 1 more)'
    )
    # The page that failed is the new release's: it shows the digest just synced.
    digest = steps["upload"]["outputs"]["digest"]
    assert f"release {digest[:12]}" in chat["outputs"]["page_text"]
    assert "FAILED chat " in output and PAGE_ERROR in output
    # The report's transcript: the question, what the user saw, the error elements.
    markdown = (tmp_path / "report" / "report.md").read_text()
    transcript = markdown.split("### `chat` — streamlit.session — failed", 1)[1]
    assert "Q: How do I redeploy the service?" in transcript
    assert f"  {errors[0]}\n" in transcript
    assert f"Errors on the page:\n  {errors[0]}\n  {errors[1]}\n" in transcript
