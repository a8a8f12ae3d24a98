"""Markdown read as Streamlit renders it: each rule, as a person reads the page."""

from __future__ import annotations

import pytest

from opskit.streamlit.markdown import html_text, inline, rendered

CASES = [
    # (source, what a person reads): each one read differently before
    ("Party :tada: time :+1:", "Party 🎉 time 👍"),
    (":blue[blue words] and :red-background[alarm]", "blue words and alarm"),
    (":green-badge[Live] :orange-badge[:material/warning: Beta]", "Live Beta"),
    ("[:blue-badge[docs]](https://docs.example/x)", "docs"),
    ("Call `__init__` and `**kwargs`", "Call __init__ and **kwargs"),
    ("```python\ndef __init__(self):\n    return **x\n```", "def __init__(self):\n    return **x"),
    ("| Model | Price |\n| --- | ---: |\n| Nova | 0.1 |", "Model\tPrice\nNova\t0.1"),
    ("above\n\n---\n\nbelow", "above\nbelow"),
    ("![a diagram of the stack](stack.png) Figure 1", "Figure 1"),
    ("<b>bold</b> &amp; <span style='color:red'>red</span>", "bold & red"),
    ("*italic* and _also_ but snake_case_name", "italic and also but snake_case_name"),
    ("- first\n- second", "first\nsecond"),
    ("> quoted *words*", "quoted words"),
    (r"a \*literal\* star", "a *literal* star"),
    ("see <https://x.example/a>", "see https://x.example/a"),
    ("a*b*c, un*frigging*believable, glob*.py", "abc, unfriggingbelievable, glob*.py"),
    ("keep snake_case_name and __dunder__x", "keep snake_case_name and __dunder__x"),
]


@pytest.mark.parametrize(("source", "reads"), CASES)
def test_markdown_reads_as_it_renders(source: str, reads: str) -> None:
    assert rendered(source) == reads


def test_what_rendering_leaves_as_written() -> None:
    assert rendered("**Nova Micro** · [docs](https://x.example) ~~old~~") == (
        "Nova Micro · docs old"
    )
    assert rendered(":material/forum: chat") == "chat"
    assert rendered("## Heading\nsnake_case * stays :not_an_emoji: 10:30:45") == (
        "Heading\nsnake_case * stays :not_an_emoji: 10:30:45"
    )


def test_labels_read_on_one_line_and_html_reads_as_text() -> None:
    assert inline(":material/send: **Send** :rocket:") == "Send 🚀"
    assert (
        html_text(
            "<style>p {color: red}</style><h3>Status</h3><p>All&nbsp;systems &lt;go&gt;</p>"
            "<script>alert('x')</script>"
        )
        == "Status\nAll systems <go>"
    )
