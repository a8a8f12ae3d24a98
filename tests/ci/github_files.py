"""Reading ``$GITHUB_OUTPUT`` as GitHub's runner reads it (``name=value`` lines,
and ``name<<DELIMITER`` ... ``DELIMITER`` for multi-line values)."""

from __future__ import annotations


def parse_github_output(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            index += 1
            values[name] = "\n".join(body)
        else:
            name, _, value = line.partition("=")
            values[name] = value
    return values
