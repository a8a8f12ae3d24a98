"""Malformed playbooks: each exits 2 with ``file:line: message`` and no traceback."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from opskit.cli import main
from opskit.playbook import load_playbook

GOOD_STEP = """\
steps:
  - id: probe
    uses: http.probe
    with: {url: "http://127.0.0.1:9/"}
"""

BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    + GOOD_STEP
)

A_DIRECTORY = "<bad.yaml is a directory>"
LATIN_1 = ("name: caf\xe9\n" + GOOD_STEP).encode("latin-1")

CHAT = """\
vars: {words: [deploy, {any: thing}]}
steps:
  - id: chat
    uses: streamlit.session
    with:
      url: http://127.0.0.1:9/
      ask:
        - Hello?
"""
SYNC = """\
vars: {share: 150%}
steps:
  - id: upload
    uses: s3.sync
    with:
      source: src
      destination: s3://chatbot-code/src/
"""
REDEPLOY = """\
steps:
  - id: deploy
    uses: ecs.redeploy
    with:
      cluster: chatbot
      service: chatbot
"""


class Exactly(str):
    """The whole message after ``file:line: ``, not a fragment of it."""


# (case id, playbook text (or bytes, or A_DIRECTORY), expected line, fragment of
# the message (or Exactly the message), extra CLI args)
CASES: list[tuple[str, str | bytes, int | None, str, list[str]]] = [
    ("syntax error", "steps: [\n  - id: a\n", 2, "YAML syntax error", []),
    ("tab indentation", "steps:\n\t- id: a\n", 2, "tab character", []),
    (
        "duplicate key",
        "name: a\nname: b\n" + GOOD_STEP,
        2,
        "duplicate key 'name' (first at line 1)",
        [],
    ),
    ("empty file", "", 1, "playbook is empty", []),
    ("only a comment", "# nothing here\n", 1, "playbook is empty", []),
    ("top level is a list", "- a\n- b\n", 1, "expected a mapping, got list", []),
    ("steps is a mapping", "steps:\n  probe: {}\n", 1, "steps: expected a list, got mapping", []),
    ("no steps key", "name: x\n", 1, "missing required key 'steps'", []),
    ("empty steps", "steps: []\n", 1, "steps: a playbook needs at least one step", []),
    (
        "unknown top-level key",
        "stepz: []\n" + GOOD_STEP,
        1,
        "unknown key 'stepz' (did you mean 'steps'?)",
        [],
    ),
    ("unknown step key", GOOD_STEP + "    timeuot: 5s\n", 5, "steps[0].timeuot: unknown key", []),
    (
        "unknown step type",
        "steps:\n  - id: a\n    uses: http.prob\n",
        3,
        "unknown step type 'http.prob' (did you mean 'http.probe'?)",
        [],
    ),
    ("missing uses", "steps:\n  - id: a\n", 2, "steps[0]: missing required key 'uses'", []),
    (
        "missing required input",
        "steps:\n  - id: a\n    uses: http.probe\n    with: {}\n",
        4,
        "steps[0].with: missing required key 'url'",
        [],
    ),
    (
        "unknown input",
        GOOD_STEP.replace('url: "http://127.0.0.1:9/"', "url: x, retries: 3"),
        4,
        "steps[0].with.retries: unknown key 'retries'",
        [],
    ),
    (
        "wrong input type",
        GOOD_STEP + "    timeout: 5s\n" + "  - id: b\n    uses: http.probe\n"
        "    with:\n      url: x\n      consecutive: many\n",
        10,
        "steps[1].with.consecutive: expected an integer, got string 'many'",
        [],
    ),
    (
        "bad duration",
        GOOD_STEP + "    timeout: soon\n",
        5,
        "steps[0].timeout: expected a duration like 90s or 10m, got 'soon'",
        [],
    ),
    (
        "bad duration input",
        GOOD_STEP.replace("}", ", max_latency: fast}"),
        4,
        "steps[0].with.max_latency: expected a duration like 90s or 10m, got 'fast'",
        [],
    ),
    (
        "wrong boolean",
        GOOD_STEP + "    continue_on_error: maybe\n",
        5,
        "steps[0].continue_on_error: expected true or false",
        [],
    ),
    (
        "negative retries",
        GOOD_STEP + "    retries: -1\n",
        5,
        "steps[0].retries: must be 0 or more",
        [],
    ),
    (
        "duplicate step ids",
        GOOD_STEP + GOOD_STEP.replace("steps:\n", ""),
        5,
        "steps[1].id: duplicate step id 'probe'",
        [],
    ),
    (
        "step id with a dash",
        GOOD_STEP.replace("id: probe", "id: my-probe"),
        2,
        "must be letters, digits and _",
        [],
    ),
    (
        "template syntax",
        GOOD_STEP.replace('"http://127.0.0.1:9/"', '"{{ vars.url "'),
        4,
        "template syntax error",
        [],
    ),
    (
        "unknown filter",
        GOOD_STEP.replace('"http://127.0.0.1:9/"', '"{{ vars.url | shout }}"'),
        4,
        "No filter named 'shout'",
        [],
    ),
    (
        "unknown context name",
        GOOD_STEP.replace('"http://127.0.0.1:9/"', '"{{ url }}"'),
        4,
        "unknown name 'url'",
        [],
    ),
    (
        "undefined variable",
        GOOD_STEP.replace('"http://127.0.0.1:9/"', '"{{ vars.url }}"'),
        4,
        "steps[0].with.url: undefined variable vars.url",
        [],
    ),
    (
        "reads a later step",
        "steps:\n  - id: a\n    uses: http.probe\n"
        "    with: {url: '{{ steps.b.outputs.status }}'}\n"
        "  - id: b\n    uses: http.probe\n    with: {url: x}\n",
        4,
        "reads step 'b', which is not an earlier step",
        [],
    ),
    (
        "sandbox escape via str",
        GOOD_STEP.replace('"http://127.0.0.1:9/"', "\"{{ ''.__class__.__mro__ }}\""),
        4,
        "template is not allowed here (access to attribute '__class__'",
        [],
    ),
    (
        "sandbox escape via cycler",
        GOOD_STEP.replace('"http://127.0.0.1:9/"', '"{{ cycler.__init__.__globals__ }}"'),
        4,
        "template is not allowed here",
        [],
    ),
    (
        "bad when expression",
        GOOD_STEP + "    when: vars.x ==\n",
        5,
        "steps[0].when: template syntax error",
        [],
    ),
    (
        "default target unknown",
        "default_target: prod\n" + GOOD_STEP,
        1,
        "default_target: names no target",
        [],
    ),
    (
        "target with unknown key",
        "targets:\n  prod:\n    regoin: x\n" + GOOD_STEP,
        3,
        "targets.prod.regoin: unknown key",
        [],
    ),
    ("YAML bomb", BOMB, None, "more than 100000 values", []),
    ("two documents", GOOD_STEP + "---\n" + GOOD_STEP, 5, "YAML syntax error", []),
    (
        "nested 5000 levels deep",
        GOOD_STEP + "vars:\n" + "".join("  " * i + "a:\n" for i in range(1, 5001)),
        105,
        "nested more than 100 levels deep",
        [],
    ),
    (
        "nested 5000 levels deep in flow style",
        GOOD_STEP.replace("}", ", headers: " + "[" * 5000 + "]" * 5000 + "}"),
        4,
        "nested more than 100 levels deep",
        [],
    ),
    (
        "recursive alias",
        "vars: &v {again: *v}\n" + GOOD_STEP,
        1,
        "recursive alias: this value contains itself",
        [],
    ),
    (
        "date that cannot be",
        "vars: {released: 2023-02-30}\n" + GOOD_STEP,
        1,
        "cannot read '2023-02-30' as timestamp: day is out of range for month "
        "(quote it if it is text)",
        [],
    ),
    (
        "5000-digit integer",
        "vars: {count: " + "9" * 5000 + "}\n" + GOOD_STEP,
        1,
        "as int: Exceeds the limit (4300 digits) for integer string conversion",
        [],
    ),
    ("NUL byte", GOOD_STEP + "name: a\x00b\n", 5, "control character U+0000", []),
    # playbook.py decodes the file itself today; with load_yaml(bytes) it would name the line
    ("not UTF-8", LATIN_1, None, "byte 0xe9", []),
    ("binary file", bytes(range(256)) * 4, None, "byte 0x80", []),
    ("UTF-16 file", GOOD_STEP.encode("utf-16"), None, "byte 0xff", []),
    ("a directory", A_DIRECTORY, None, "is a directory", []),
    (
        "contradicting inputs",
        "steps:\n  - id: up\n    uses: s3.sync\n    with:\n      source: .\n"
        "      destination: s3://b/src/\n      sse_kms_key_id: alias/app\n",
        7,
        Exactly("steps[0].with.sse_kms_key_id: needs sse: aws:kms (or aws:kms:dsse)"),
        [],
    ),
    (
        "a bucket root",
        "steps:\n  - id: up\n    uses: s3.sync\n    with: {source: ., destination: 's3://b/'}\n",
        4,
        "steps[0].with.destination: s3://b/ is a bucket root; use a prefix",
        [],
    ),
    (
        "a bucket root after rendering",
        "vars: {bucket: b}\nsteps:\n  - id: up\n    uses: s3.sync\n"
        "    with: {source: ., destination: 's3://{{ vars.bucket }}/'}\n",
        5,
        Exactly(
            "steps[0].with.destination: s3://b/ is a bucket root; use a prefix "
            "(s3://bucket/prefix/) or set allow_bucket_root: true (after rendering)"
        ),
        [],
    ),
    (
        "wrong type deep inside a question",
        CHAT + "        - question: How do I redeploy?\n          expect: {text: ECS}\n",
        10,
        Exactly(
            "steps[0].with.ask[1].expect: expected a pattern or a list of them, "
            "got mapping {'text': 'ECS'}"
        ),
        [],
    ),
    (
        "unknown key inside a question",
        CHAT + "        - question: How?\n          forbidd: [Traceback]\n",
        10,
        Exactly(
            "steps[0].with.ask[1].forbidd: unknown key 'forbidd' (did you mean 'forbid'?); "
            "known: click, expect, fill, forbid, non_answers, question"
        ),
        [],
    ),
    (
        "a template inside a question, a wrong type beside it",
        CHAT + "        - question: '{{ vars.words[0] }}?'\n          expect: 5\n",
        10,
        Exactly("steps[0].with.ask[1].expect: expected a pattern or a list of them, got integer 5"),
        [],
    ),
    (
        "a question that renders to a wrong type",
        CHAT + "        - question: How?\n          expect: '{{ vars.words }}'\n",
        10,
        Exactly(
            "steps[0].with.ask[1].expect[1]: expected a pattern, got mapping {'any': 'thing'} "
            "(after rendering)"
        ),
        [],
    ),
    (
        "a sandbox of no services",
        "targets:\n  laptop:\n    sandbox:\n      services: 0\n" + GOOD_STEP,
        4,
        Exactly("targets.laptop.sandbox.services: expected 1 or more, got 0"),
        [],
    ),
    (
        "a sandbox of an unknown deployment strategy",
        "targets:\n  laptop:\n    sandbox:\n      strategy: BLUEGREEN\n" + GOOD_STEP,
        4,
        Exactly(
            "targets.laptop.sandbox.strategy: expected one of ROLLING, BLUE_GREEN, LINEAR, "
            "CANARY, got 'BLUEGREEN'"
        ),
        [],
    ),
    (
        "a sandbox that is a template",
        "targets:\n  laptop:\n    sandbox: '{{ vars.n }}'\n" + GOOD_STEP,
        3,
        Exactly(
            "targets.laptop.sandbox: expected true, false or {services: N, strategy: S}, "
            "not a template"
        ),
        [],
    ),
    (
        "max_delete over 100%",
        SYNC + "      max_delete: 150%\n",
        8,
        Exactly("steps[0].with.max_delete: expected a percentage from 0% to 100%, got '150%'"),
        [],
    ),
    (
        "max_delete that renders over 100%",
        SYNC + "      max_delete: '{{ vars.share }}'\n",
        8,
        Exactly(
            "steps[0].with.max_delete: expected a percentage from 0% to 100%, got '150%' "
            "(after rendering)"
        ),
        [],
    ),
    (
        "max_delete neither a count nor a percentage",
        SYNC + "      max_delete: lots\n",
        8,
        Exactly(
            "steps[0].with.max_delete: expected a count like 100 or a percentage like '50%', "
            "got string 'lots'"
        ),
        [],
    ),
    (
        "an image mapping with a value that is no image",
        REDEPLOY + "      image:\n        app: public.ecr.aws/chatbot/app:2\n        sidecar: 5\n",
        9,
        Exactly("steps[0].with.image.sidecar: expected an image, got integer 5"),
        [],
    ),
    (
        "an image that is neither an image nor a mapping",
        REDEPLOY + "      image: [public.ecr.aws/chatbot/app:2]\n",
        7,
        Exactly(
            "steps[0].with.image: expected an image, or a mapping of container name to image, "
            "got list ['public.ecr.aws/chatbot/app:2']"
        ),
        [],
    ),
    (
        "an account id that is not 12 digits",
        "targets:\n  prod:\n    aws: {account_id: '1234'}\n" + GOOD_STEP,
        3,
        Exactly(
            "targets.prod.aws.account_id: expected an AWS account id of 12 digits "
            "(quoted, so YAML keeps leading zeros), got '1234'"
        ),
        [],
    ),
    (
        "an aws setting that reads a step",
        "targets:\n  prod:\n    aws: {region: '{{ steps.probe.outputs.status }}'}\n" + GOOD_STEP,
        3,
        Exactly(
            "targets.prod.aws.region: is rendered when the run starts, before any step: "
            "it cannot read steps"
        ),
        [],
    ),
    (
        "an aws setting that reads an undefined var",
        "targets:\n  prod:\n    aws: {region: '{{ vars.region }}'}\n" + GOOD_STEP,
        3,
        Exactly(
            "targets.prod.aws.region: undefined: 'dict object' has no attribute 'region' "
            "in '{{ vars.region }}'"
        ),
        ["-t", "prod"],
    ),
    (
        "var template error",
        "vars:\n  url: '{{ vars.host }}'\n" + GOOD_STEP,
        2,
        "vars.url: undefined: 'dict object' has no attribute 'host'",
        [],
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "fragment", "args"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_playbook_exits_2_with_file_line_and_no_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str | bytes,
    line: int | None,
    fragment: str,
    args: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    if text == A_DIRECTORY:
        Path("bad.yaml").mkdir()
    elif isinstance(text, bytes):
        Path("bad.yaml").write_bytes(text)
    else:
        Path("bad.yaml").write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "bad.yaml", *args])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert "Traceback" not in out + err
    message = err.strip().splitlines()[-1]
    prefix = f"bad.yaml:{line}: " if line else "bad.yaml:"
    assert prefix in message
    assert fragment in message
    if isinstance(fragment, Exactly):
        assert message == f"opskit: error: {prefix}{fragment}"
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "missing.yaml"], "missing.yaml: no such file"),
        (["run", "ok.yaml", "-e", "novalue"], "-e expects key=value, got 'novalue'"),
        (["run", "ok.yaml", "--vars-file", "nope.yaml"], "nope.yaml: cannot read vars file"),
        (
            ["run", "ok.yaml", "--vars-file", "latin1.yaml"],
            "latin1.yaml:1: not UTF-8 text: byte 0xe9 cannot be decoded (save the file as UTF-8)",
        ),
        (
            ["run", "ok.yaml", "--vars-file", "deep.yaml"],
            "deep.yaml:101: nested more than 100 levels deep",
        ),
        (["run", "ok.yaml", "--from", "nostep"], "no step 'nostep' in ok.yaml; steps: probe"),
        (["run", "ok.yaml", "--only", "nostep"], "no step 'nostep'"),
        (["run", "ok.yaml", "--target", "prod"], "unknown target 'prod'"),
        (["run", "ok.yaml", "--output", "xml"], "Invalid value for '--output'"),
    ],
    ids=[
        "missing file",
        "bad -e",
        "missing vars file",
        "vars file not UTF-8",
        "vars file nested too deep",
        "bad --from",
        "bad --only",
        "bad target",
        "bad option value",
    ],
)
def test_bad_command_line_exits_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    fragment: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("ok.yaml").write_text(GOOD_STEP)
    Path("latin1.yaml").write_bytes(LATIN_1)
    Path("deep.yaml").write_text("".join("  " * i + "a:\n" for i in range(5000)))
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert fragment in err
    assert "Traceback" not in out + err


def test_debug_shows_the_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text("name: a\nname: b\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["--debug", "run", "bad.yaml"])
    assert exit_info.value.code == 2
    assert "Traceback" in capsys.readouterr().err


def test_validate_reports_every_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("ok.yaml").write_text(GOOD_STEP)
    Path("bad.yaml").write_text(textwrap.dedent(GOOD_STEP) + "    timeout: soon\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "ok.yaml", "bad.yaml"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert "ok.yaml: ok (1 steps)" in out
    assert "bad.yaml:5: steps[0].timeout: expected a duration" in err


def test_templates_inside_nested_values_wait_for_rendering(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        CHAT
        + "        - {question: '{{ vars.words[0] }}?', expect: '{{ vars.words[:1] }}'}\n"
        + "  - id: deploy\n    uses: ecs.redeploy\n"
        + "    with: {cluster: c, service: s, image: {app: '{{ vars.image }}'}}\n"
    )
    chat, deploy = load_playbook(path).steps
    assert chat.with_["ask"][1] == {
        "question": "{{ vars.words[0] }}?",
        "expect": "{{ vars.words[:1] }}",
    }
    assert deploy.with_["image"] == {"app": "{{ vars.image }}"}
