"""Table cells from the Arrow IPC stream that ``st.table`` and ``st.dataframe`` send.

Streamlit serializes a table with pyarrow's ``RecordBatchStreamWriter``. opskit
does not depend on pyarrow (the step runs where no Streamlit is installed), so
this reads the stream format itself, for the column types a person's table
mostly holds: integers, floats, booleans, strings and nulls, uncompressed. Any
other type (dates, decimals, lists, categoricals) or a compressed body reads
``None``, and the page says "(table not read)" rather than guess.

The format: each message is ``0xFFFFFFFF``, a little-endian ``int32`` length, a
FlatBuffers ``Message`` (a ``Schema`` or a ``RecordBatch``) and its body; see
Arrow's ``format/Message.fbs`` and ``format/Schema.fbs`` for the field orders
used below.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAX_ROWS = 500  # a person scrolls a long table; more rows say how many are left
_CONTINUATION = 0xFFFFFFFF
_SCHEMA, _RECORD_BATCH = 1, 3  # MessageHeader union
_NULL, _INT, _FLOAT, _UTF8, _BOOL, _LARGE_UTF8 = 1, 2, 3, 5, 6, 20  # Type union
_BUFFERS = {_NULL: 0, _INT: 2, _FLOAT: 2, _UTF8: 3, _BOOL: 2, _LARGE_UTF8: 3}
_FLOAT_FORMATS = {0: ("e", 2), 1: ("f", 4), 2: ("d", 8)}  # Precision: HALF, SINGLE, DOUBLE


class _Unreadable(Exception):
    """A stream this reader does not read (a type, compression, a malformed buffer)."""


class _Table:
    """One FlatBuffers table: its fields by index through its vtable."""

    def __init__(self, buf: bytes, pos: int):
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vtable_size = struct.unpack_from("<H", buf, self.vtable)[0]

    def _field(self, index: int) -> int:
        entry = 4 + 2 * index
        if entry >= self.vtable_size:
            return 0
        offset: int = struct.unpack_from("<H", self.buf, self.vtable + entry)[0]
        return self.pos + offset if offset else 0

    def scalar(self, index: int, fmt: str, default: int = 0) -> int:
        at = self._field(index)
        return struct.unpack_from("<" + fmt, self.buf, at)[0] if at else default

    def _target(self, index: int) -> int:
        at = self._field(index)
        return at + struct.unpack_from("<I", self.buf, at)[0] if at else 0

    def table(self, index: int) -> _Table | None:
        at = self._target(index)
        return _Table(self.buf, at) if at else None

    def string(self, index: int) -> str:
        at = self._target(index)
        if not at:
            return ""
        length = struct.unpack_from("<I", self.buf, at)[0]
        return self.buf[at + 4 : at + 4 + length].decode("utf-8", "replace")

    def vector(self, index: int) -> tuple[int, int]:
        """(count, position of the first element)."""
        at = self._target(index)
        return (struct.unpack_from("<I", self.buf, at)[0], at + 4) if at else (0, 0)

    def tables(self, index: int) -> list[_Table]:
        count, start = self.vector(index)
        return [
            _Table(self.buf, start + 4 * i + struct.unpack_from("<I", self.buf, start + 4 * i)[0])
            for i in range(count)
        ]

    def structs(self, index: int, fmt: str) -> list[tuple[int, ...]]:
        count, start = self.vector(index)
        size = struct.calcsize("<" + fmt)
        return [struct.unpack_from("<" + fmt, self.buf, start + size * i) for i in range(count)]


@dataclass(frozen=True)
class _Column:
    name: str
    type: int
    type_table: _Table | None


def read_table(ipc: bytes) -> list[list[str]] | None:
    """The header row and the rows, as text, or ``None`` when this reader cannot tell."""
    try:
        return _read(ipc)
    except (_Unreadable, struct.error, IndexError, ValueError, UnicodeDecodeError):
        return None


def _messages(ipc: bytes) -> list[tuple[_Table, bytes]]:
    found, at = [], 0
    while at + 4 <= len(ipc):
        length = struct.unpack_from("<I", ipc, at)[0]
        at += 4
        if length == _CONTINUATION:
            length = struct.unpack_from("<i", ipc, at)[0]
            at += 4
        if length == 0:
            break
        meta = ipc[at : at + length]
        message = _Table(meta, struct.unpack_from("<I", meta, 0)[0])
        at += length
        body_length = message.scalar(3, "q")
        found.append((message, ipc[at : at + body_length]))
        at += body_length
    return found


def _read(ipc: bytes) -> list[list[str]]:
    messages = _messages(ipc)
    if not messages or messages[0][0].scalar(1, "B") != _SCHEMA:
        raise _Unreadable("no schema")
    schema = messages[0][0].table(2)
    if schema is None:
        raise _Unreadable("no schema")
    columns = []
    for field in schema.tables(1):
        kind = field.scalar(2, "B")
        if kind not in _BUFFERS or field.table(4) is not None or field.vector(5)[0]:
            raise _Unreadable(f"type {kind}")  # dictionary-encoded or nested
        name = field.string(0)
        columns.append(
            _Column("" if name.startswith("__index_level_") else name, kind, field.table(3))
        )
    rows: list[list[str]] = []
    total = 0
    for message, body in messages[1:]:
        if message.scalar(1, "B") != _RECORD_BATCH:
            raise _Unreadable("a dictionary or tensor message")
        batch = message.table(2)
        if batch is None or batch.table(3) is not None:  # compressed body
            raise _Unreadable("compressed")
        length = batch.scalar(0, "q")
        nodes, buffers = batch.structs(1, "qq"), batch.structs(2, "qq")
        cells: list[list[str]] = []
        next_buffer = 0
        for column, (count, _nulls) in zip(columns, nodes, strict=True):
            used = buffers[next_buffer : next_buffer + _BUFFERS[column.type]]
            next_buffer += _BUFFERS[column.type]
            parts = [body[offset : offset + size] for offset, size in used]
            cells.append(_cells(column, count, parts))
        total += length
        rows += [list(row) for row in zip(*cells, strict=True)][: MAX_ROWS - len(rows)]
    # pyarrow puts pandas' index last; Streamlit shows it first.
    order = sorted(range(len(columns)), key=lambda i: columns[i].name != "")
    table = [[row[i] for i in order] for row in [[c.name for c in columns], *rows]]
    if total > len(rows):
        table.append([f"({total - len(rows)} more rows not read)"])
    return table


def _valid(validity: bytes, index: int) -> bool:
    return not validity or bool(validity[index // 8] >> (index % 8) & 1)


def _cells(column: _Column, count: int, parts: list[bytes]) -> list[str]:
    if column.type == _NULL:
        return ["None"] * count
    validity, values = parts[0], parts[1:]
    if column.type == _BOOL:
        shown = ["true" if _valid(values[0], i) else "false" for i in range(count)]
    elif column.type in (_UTF8, _LARGE_UTF8):
        fmt = "i" if column.type == _UTF8 else "q"
        offsets = struct.unpack_from(f"<{count + 1}{fmt}", values[0])
        shown = [values[1][offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]
    elif column.type == _INT:
        if column.type_table is None:
            raise _Unreadable("an integer without its width")
        width, signed = column.type_table.scalar(0, "i"), column.type_table.scalar(1, "B")
        letter = {8: "b", 16: "h", 32: "i", 64: "q"}[width]
        fmt = letter if signed else letter.upper()
        shown = [str(v) for v in struct.unpack_from(f"<{count}{fmt}", values[0])]
    else:
        precision = column.type_table.scalar(0, "h") if column.type_table else 2
        letter, _size = _FLOAT_FORMATS[precision]
        shown = [_float(v) for v in struct.unpack_from(f"<{count}{letter}", values[0])]
    return [text if _valid(validity, i) else "None" for i, text in enumerate(shown)]


def _float(value: float) -> str:
    if value != value:  # NaN
        return "NaN"
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text or "0"
