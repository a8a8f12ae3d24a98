"""Template contexts and the variable precedence: playbook < target < file < -e."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opskit.context import (
    base_context,
    check_var_references,
    load_vars_file,
    may_run,
    parse_extra_vars,
    resolve_vars,
    secret_values,
)
from opskit.errors import InputError
from opskit.playbook import Playbook, parse_playbook

PLAYBOOK = """\
secrets: [token]
vars:
  region: eu-west-1
  bucket: "assets-{{ vars.region }}"
  url: "{{ vars.base }}/health"
  base: "https://{{ vars.host }}"
  host: example.org
targets:
  dev: {}
  prod:
    vars:
      host: prod.example.org
      token: s3cret
steps:
  - id: probe
    uses: http.probe
    with: {url: "{{ vars.url }}"}
"""


def load(text: str = PLAYBOOK, tmp_path: Path | None = None) -> Playbook:
    path = (tmp_path or Path("/nowhere")) / "p.yaml"
    return parse_playbook(text, "p.yaml", base=path)


def context_of(playbook: Playbook, target: str = "dev") -> dict[str, Any]:
    return base_context(
        playbook, playbook.target(target), run={"id": "r1"}, sandbox=None, region="eu-west-1"
    )


def variables(playbook: Playbook, target: str = "dev", **layers: Any) -> dict[str, Any]:
    return resolve_vars(
        playbook,
        playbook.target(target),
        layers.get("file", {}),
        layers.get("cli", {}),
        context_of(playbook, target),
    )


def test_vars_may_refer_to_each_other_in_any_order() -> None:
    found = variables(load())
    assert found["bucket"] == "assets-eu-west-1"
    assert found["url"] == "https://example.org/health"


def test_each_layer_overrides_the_one_before() -> None:
    playbook = load()
    assert variables(playbook, "prod")["url"] == "https://prod.example.org/health"
    assert variables(playbook, "prod", file={"host": "file.example.org"})["url"] == (
        "https://file.example.org/health"
    )
    found = variables(playbook, "prod", file={"host": "file"}, cli={"host": "cli.example.org"})
    assert found["url"] == "https://cli.example.org/health"


def test_values_from_files_and_the_command_line_are_taken_literally() -> None:
    found = variables(load(), cli={"bucket": "{{ vars.region }}"})
    assert found["bucket"] == "{{ vars.region }}"


def test_a_var_that_cannot_be_resolved_names_its_line() -> None:
    text = PLAYBOOK.replace("host: example.org", "host: example.org\n  zone: '{{ vars.domain }}'")
    with pytest.raises(InputError) as info:
        variables(load(text))
    assert str(info.value) == (
        "p.yaml:8: vars.zone: undefined: 'dict object' has no attribute 'domain' "
        "in '{{ vars.domain }}'"
    )


def test_a_step_reading_an_undefined_var_fails_before_anything_runs() -> None:
    playbook = load(PLAYBOOK.replace("{{ vars.url }}", "{{ vars.endpoint }}"))
    found = variables(playbook)
    with pytest.raises(InputError) as info:
        check_var_references(playbook, found, context_of(playbook))
    assert str(info.value) == (
        "p.yaml:17: steps[0].with.url: undefined variable vars.endpoint "
        "(defined: base, bucket, host, region, url; set it with -e)"
    )


def test_a_step_whose_when_is_false_may_read_an_undefined_var() -> None:
    text = (
        PLAYBOOK.replace("{{ vars.url }}", "{{ vars.endpoint }}")
        + "    when: vars.endpoint is defined\n"
    )
    playbook = load(text)
    check_var_references(playbook, variables(playbook), context_of(playbook))


@pytest.mark.parametrize(
    ("when", "runs"),
    [
        (None, True),
        ("vars.region == 'eu-west-1'", True),
        ("{{ target.region != 'eu-west-1' }}", False),
        ("steps.probe.outputs.ok", True),  # decided only as the run goes
    ],
)
def test_a_step_may_run_unless_its_when_is_already_false(when: str | None, runs: bool) -> None:
    playbook = load(PLAYBOOK if when is None else PLAYBOOK + f"    when: {when!r}\n")
    context = {**context_of(playbook), "vars": variables(playbook)}
    assert may_run(playbook.steps[0], context) is runs


def test_the_contexts_a_template_can_read(tmp_path: Path) -> None:
    playbook = load(tmp_path=tmp_path)
    context = context_of(playbook, "prod")
    assert sorted(context) == ["env", "opskit", "run", "steps", "target", "vars"]
    assert context["target"] == {
        "name": "prod",
        "sandbox": False,
        "region": "eu-west-1",
        "profile": None,
    }
    assert context["opskit"]["playbook_dir"] == str(tmp_path.resolve())
    assert context["run"] == {"id": "r1"}


def test_secret_values_are_the_values_of_the_named_vars() -> None:
    assert secret_values(("token", "absent"), variables(load(), "prod")) == ["s3cret"]


def test_extra_vars_are_key_value_pairs() -> None:
    assert parse_extra_vars(["a=1", " b =x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    for bad in ("novalue", "=1"):
        with pytest.raises(InputError) as info:
            parse_extra_vars([bad])
        assert str(info.value) == f"-e expects key=value, got {bad!r}"


def test_a_vars_file_is_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "vars.yaml"
    path.write_text("bucket: other\ncount: 3\n")
    assert load_vars_file(path) == {"bucket": "other", "count": 3}
    path.write_text("# nothing yet\n")
    assert load_vars_file(path) == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- a\n- b\n", "{path}: a vars file must be a mapping of names to values"),
        (
            b"bucket: caf\xe9\n",
            "{path}:1: not UTF-8 text: byte 0xe9 cannot be decoded (save the file as UTF-8)",
        ),
        (None, "{path}: cannot read vars file: No such file or directory"),
    ],
    ids=["a list", "not UTF-8", "missing"],
)
def test_a_bad_vars_file_is_named(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "vars.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as info:
        load_vars_file(path)
    assert str(info.value) == message.format(path=path)


# Values are data (issue 21): a value from -e, a vars file or the environment is
# inserted as text; a template is rendered once and what it renders is never
# rendered again, however many other vars need resolving after it.
TOKEN_PLAYBOOK = """\
vars:
  origin: "{{ vars.scheme }}://{{ vars.host }}"
  host: app.example.org
  scheme: https
  url: "{{ vars.origin }}/health?v={{ vars.x }}"
steps:
  - id: probe
    uses: http.probe
    with: {url: "{{ vars.url }}"}
"""


def token_context(playbook: Playbook) -> dict[str, Any]:
    context = context_of(playbook, "default")
    context["env"] = {"GITHUB_TOKEN": "ghp_the_real_token", "EVIL": "{{ env.GITHUB_TOKEN }}"}
    return context


@pytest.mark.parametrize("layer", ["cli", "file"])
def test_a_literal_value_with_template_syntax_is_never_rendered(layer: str) -> None:
    playbook = load(TOKEN_PLAYBOOK)
    literal = {"x": "{{ env.GITHUB_TOKEN }}"}
    found = resolve_vars(
        playbook,
        playbook.target(None),
        literal if layer == "file" else {},
        literal if layer == "cli" else {},
        token_context(playbook),
    )
    assert found["url"] == "https://app.example.org/health?v={{ env.GITHUB_TOKEN }}"
    assert found["x"] == "{{ env.GITHUB_TOKEN }}"


def test_what_a_template_renders_is_never_rendered_again() -> None:
    text = TOKEN_PLAYBOOK.replace('"{{ vars.origin }}/health?v={{ vars.x }}"', '"{{ env.EVIL }}"')
    text = text.replace("  host: app.example.org\n", "  host: app.example.org\n  x: 1\n")
    playbook = load(text)
    found = resolve_vars(playbook, playbook.target(None), {}, {}, token_context(playbook))
    assert found["url"] == "{{ env.GITHUB_TOKEN }}"
    assert found["origin"] == "https://app.example.org"


def test_vars_that_refer_to_each_other_in_a_circle_name_the_circle() -> None:
    text = PLAYBOOK.replace('"https://{{ vars.host }}"', '"https://{{ vars.url }}"')
    with pytest.raises(InputError) as info:
        variables(load(text))
    assert str(info.value) == (
        "p.yaml:6: vars.base: refers to itself: vars.base -> vars.url -> vars.base"
    )
