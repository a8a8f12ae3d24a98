"""``opskit schema``: what it prints is a valid JSON Schema that the bundled
playbooks satisfy, and that refuses what the loader refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from opskit.cli import main

PLAYBOOKS = sorted((Path(__file__).resolve().parents[1] / "playbooks").glob("*.yaml"))


def printed_schema(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    with pytest.raises(SystemExit) as exit_info:
        main(["schema"])
    assert exit_info.value.code == 0
    return json.loads(capsys.readouterr().out)


def errors(capsys: pytest.CaptureFixture[str], document: Any) -> list[str]:
    schema = printed_schema(capsys)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    return sorted(e.message for e in validator.iter_errors(document))


def test_there_are_bundled_playbooks() -> None:
    assert [p.name for p in PLAYBOOKS] == [
        "bluegreen.yaml",
        "diagnose.yaml",
        "fleet.yaml",
        "migrate.yaml",
        "redeploy.yaml",
        "rollback.yaml",
        "verify.yaml",
    ]


@pytest.mark.parametrize("path", PLAYBOOKS, ids=[p.name for p in PLAYBOOKS])
def test_bundled_playbooks_satisfy_the_printed_schema(
    capsys: pytest.CaptureFixture[str], path: Path
) -> None:
    assert errors(capsys, yaml.safe_load(path.read_text())) == []


PROBE = {"id": "probe", "uses": "http.probe", "with": {"url": "http://127.0.0.1/"}}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"steps": [PROBE], "stepz": []},
            "Additional properties are not allowed ('stepz' was unexpected)",
        ),
        ({"steps": []}, "[] should be non-empty"),
        (
            {"steps": [{**PROBE, "uses": "http.prob"}]},
            "'http.prob' is not one of",
        ),
        (
            {"steps": [{**PROBE, "with": {"url": "x", "retries": 3}}]},
            "Additional properties are not allowed ('retries' was unexpected)",
        ),
        ({"steps": [{**PROBE, "with": {}}]}, "'url' is a required property"),
        (
            {"steps": [{**PROBE, "with": {"url": "x", "consecutive": "many"}}]},
            "'many' is not valid under any of the given schemas",
        ),
    ],
    ids=[
        "unknown top-level key",
        "no steps",
        "unknown step type",
        "unknown input",
        "missing required input",
        "wrong input type",
    ],
)
def test_the_printed_schema_refuses_what_the_loader_refuses(
    capsys: pytest.CaptureFixture[str], document: dict[str, Any], message: str
) -> None:
    found = errors(capsys, document)
    assert any(m.startswith(message) for m in found), found


def test_a_template_may_stand_for_any_input(capsys: pytest.CaptureFixture[str]) -> None:
    step = {**PROBE, "with": {"url": "x", "consecutive": "{{ vars.n }}"}}
    assert errors(capsys, {"steps": [step]}) == []


def nested(uses: str, with_: dict[str, Any]) -> dict[str, Any]:
    return {"steps": [{"id": "step", "uses": uses, "with": with_}]}


CHAT = {"url": "http://127.0.0.1/"}
SYNC = {"source": "src", "destination": "s3://chatbot-code/src/"}
REDEPLOY = {"cluster": "chatbot", "service": "chatbot"}


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        (
            nested("streamlit.session", {**CHAT, "ask": [{"question": "How?", "expectt": ["x"]}]}),
            ["steps", 0, "with", "ask", 0],
            "{'question': 'How?', 'expectt': ['x']} is not valid under any of the given schemas",
        ),
        (
            nested(
                "streamlit.session", {**CHAT, "ask": ["Hi", {"question": "How?", "expect": {}}]}
            ),
            ["steps", 0, "with", "ask", 1],
            "{'question': 'How?', 'expect': {}} is not valid under any of the given schemas",
        ),
        (
            nested("s3.sync", {**SYNC, "max_delete": "150%"}),
            ["steps", 0, "with", "max_delete"],
            "'150%' is not valid under any of the given schemas",
        ),
        (
            nested("ecs.redeploy", {**REDEPLOY, "image": {"app": 5}}),
            ["steps", 0, "with", "image"],
            "{'app': 5} is not valid under any of the given schemas",
        ),
        (
            {"targets": {"laptop": {"sandbox": {"services": 0}}}, "steps": [PROBE]},
            ["targets", "laptop", "sandbox", "services"],
            "0 is less than the minimum of 1",
        ),
    ],
    ids=[
        "unknown key in a question",
        "a question's expect is a mapping",
        "max_delete over 100%",
        "an image mapping with a non-string value",
        "a sandbox of no services",
    ],
)
def test_the_printed_schema_refuses_bad_nested_values_where_they_are(
    capsys: pytest.CaptureFixture[str], document: dict[str, Any], path: list[Any], message: str
) -> None:
    validator = Draft202012Validator(printed_schema(capsys))
    found = best_match(validator.iter_errors(document))
    assert found is not None
    assert (list(found.absolute_path), found.message) == (path, message)


def test_a_template_may_stand_for_a_nested_value(capsys: pytest.CaptureFixture[str]) -> None:
    ask = [{"question": "{{ vars.question }}", "expect": "{{ vars.words }}"}, "{{ vars.more }}"]
    deploy = {"id": "deploy", "uses": "ecs.redeploy"}
    document = nested("streamlit.session", {**CHAT, "ask": ask})
    document["steps"].append({**deploy, "with": {**REDEPLOY, "image": {"app": "{{ vars.image }}"}}})
    assert errors(capsys, document) == []
