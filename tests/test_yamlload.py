"""yamlload: values with their lines, and every document it cannot hold refused
as an ``InputError`` naming the file and, where there is one, the line."""

from __future__ import annotations

import pytest

from opskit.errors import InputError
from opskit.yamlload import MAX_DEPTH, MAX_VALUES, format_path, load_yaml

DOC = """\
name: release
vars:
  bucket: chatbot-assets
steps:
  - id: sync
    with:
      exclude: ["*.pyc", "__pycache__"]
  - id: probe
"""


def refusal(text: str | bytes) -> str:
    with pytest.raises(InputError) as info:
        load_yaml(text, "p.yaml")
    return str(info.value)


def test_every_value_has_its_line() -> None:
    located = load_yaml(DOC, "p.yaml")
    assert located.data["steps"][0]["with"]["exclude"] == ["*.pyc", "__pycache__"]
    assert located.lines[("vars", "bucket")] == 3
    assert located.lines[("steps", 1)] == 8
    assert located.line(("steps", 0, "with", "exclude", 1)) == 7


def test_a_path_without_a_line_takes_its_nearest_ancestors() -> None:
    located = load_yaml(DOC, "p.yaml")
    assert located.line(("steps", 1, "with", "url")) == 8
    assert located.line(("nowhere",)) == 1


def test_an_empty_document_is_none() -> None:
    assert load_yaml("# only a comment\n", "p.yaml").data is None


def test_merge_keys_are_resolved() -> None:
    text = "base: &base {region: eu-west-1, retries: 2}\nprod: {<<: *base, retries: 5}\n"
    assert load_yaml(text, "p.yaml").data["prod"] == {"region": "eu-west-1", "retries": 5}


def test_keys_written_beside_a_merge_override_it() -> None:
    text = "base: &base {region: eu-west-1, retries: 2}\nprod:\n  <<: *base\n  retries: 5\n"
    located = load_yaml(text, "p.yaml")
    assert located.data["prod"] == {"region": "eu-west-1", "retries": 5}
    assert located.lines[("prod", "retries")] == 4


def test_bytes_are_read_as_utf8_with_or_without_a_bom() -> None:
    text = "name: café\n"
    assert load_yaml(text.encode(), "p.yaml").data == {"name": "café"}
    assert load_yaml(b"\xef\xbb\xbf" + text.encode(), "p.yaml").data == {"name": "café"}


def test_format_path_reads_as_the_playbook_does() -> None:
    assert format_path(("steps", 2, "with", "timeout")) == "steps[2].with.timeout"
    assert format_path(("vars",)) == "vars"
    assert format_path(()) == ""


def test_nesting_up_to_the_limit_loads() -> None:
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    data = load_yaml(text, "p.yaml").data
    for _ in range(MAX_DEPTH - 1):
        data = data[0]
    assert data == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a: 1\nb: 2\na: 3\n",
            "p.yaml:3: duplicate key 'a' (first at line 1)",
        ),
        (
            "? [a, b]\n: 1\n",
            "p.yaml:1: mapping keys must be plain scalars",
        ),
        (
            "x: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n",
            f"p.yaml:1: nested more than {MAX_DEPTH} levels deep",
        ),
        (
            "".join("  " * i + "a:\n" for i in range(5000)) + "  " * 5000 + "1\n",
            f"p.yaml:{MAX_DEPTH + 1}: nested more than {MAX_DEPTH} levels deep",
        ),
        (
            "".join(f"v{i}: &v{i} [{f'*v{i - 1}' if i else 'x'}]\n" for i in range(MAX_DEPTH + 1)),
            f"p.yaml:{MAX_DEPTH}: v{MAX_DEPTH - 1}: nested more than {MAX_DEPTH} levels deep "
            "(through aliases)",
        ),
        (
            "vars: &a {x: *a}\n",
            "p.yaml:1: recursive alias: this value contains itself",
        ),
        (
            "a: &a [*a]\n",
            "p.yaml:1: recursive alias: this value contains itself",
        ),
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n"
                for i in range(5)
            ),
            f"p.yaml:5: e: aliases repeat more than {MAX_VALUES} values",
        ),
        (
            "released: 2023-13-45\n",
            "p.yaml:1: cannot read '2023-13-45' as timestamp: month must be in 1..12 "
            "(quote it if it is text)",
        ),
        (
            "count: " + "1" * 5000 + "\n",
            "p.yaml:1: cannot read '1111111111111111111111111111111111111...' as int: "
            "Exceeds the limit (4300 digits) for integer string conversion: value has 5000 "
            "digits (quote it if it is text)",
        ),
        (
            "name: a\x00b\n",
            "p.yaml:1: control character U+0000 is not allowed in YAML (a binary file?)",
        ),
        (
            "name: a\nsteps:\n  - id: x\n    name: caf\xe9\n".encode("latin-1"),
            "p.yaml:4: not UTF-8 text: byte 0xe9 cannot be decoded (save the file as UTF-8)",
        ),
        (
            "name: a\n".encode("utf-16"),
            "p.yaml:1: not UTF-8 text: byte 0xff cannot be decoded (save the file as UTF-8)",
        ),
        (
            "steps: [\n",
            "p.yaml:2: YAML syntax error: expected the node content, but found '<stream end>'",
        ),
        (
            "steps:\n\t- id: a\n",
            "p.yaml:2: YAML syntax error: tab character: YAML indentation must use spaces",
        ),
    ],
    ids=[
        "duplicate key",
        "collection as key",
        "deep flow",
        "deep block, 5000 levels",
        "deep through aliases",
        "mapping contains itself",
        "list contains itself",
        "alias bomb",
        "impossible date",
        "5000-digit integer",
        "NUL byte",
        "latin-1",
        "UTF-16",
        "syntax error",
        "tab",
    ],
)
def test_documents_the_loader_cannot_hold_are_refused_with_file_and_line(
    text: str | bytes, message: str
) -> None:
    assert refusal(text) == message


def test_a_long_document_written_out_in_full_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what aliases repeat counts against the alias-bomb bound: a generated
    playbook of 20,000 steps (100,002 values) was refused as "nested aliases?".
    Scaled down here (the bound to 1,000, 250 steps), so the test loads in
    milliseconds; the 20,000-step document loads in about 4 s."""
    monkeypatch.setattr("opskit.yamlload.MAX_VALUES", 1000)
    text = "steps:\n" + "".join(
        f"  - {{id: s{i}, uses: http.probe, with: {{url: 'http://127.0.0.1:9/{i}'}}}}\n"
        for i in range(250)
    )
    loaded = load_yaml(text, "p.yaml")
    assert len(loaded.data["steps"]) == 250
    assert loaded.data["steps"][249] == {
        "id": "s249",
        "uses": "http.probe",
        "with": {"url": "http://127.0.0.1:9/249"},
    }
    assert loaded.line(("steps", 249, "with", "url")) == 251


def test_aliases_that_repeat_more_than_the_bound_are_refused_naming_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("opskit.yamlload.MAX_VALUES", 1000)
    text = "base: &base {id: s, uses: http.probe, with: {url: 'http://127.0.0.1:9/'}}\n"
    text += "steps:\n" + "".join("  - *base\n" for _ in range(250))
    assert refusal(text) == "p.yaml:2: steps: aliases repeat more than 1000 values"
