"""Table cells from Streamlit's Arrow IPC payload, read without pyarrow. The payloads
are written as Streamlit writes them (``RecordBatchStreamWriter``, in
``streamlit.dataframe_util.convert_arrow_table_to_arrow_bytes``), with the pyarrow
that Streamlit installs."""

from __future__ import annotations

import datetime

import pyarrow as pa

from opskit.streamlit.arrow import MAX_ROWS, read_table


def ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.RecordBatchStreamWriter(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def test_simple_columns_read_as_cells_with_the_index_first() -> None:
    table = pa.table(
        {
            "name": pa.array(["Nova", None], pa.large_string()),
            "price": [0.1, None],
            "n": [1, -2],
            "small": pa.array([7, 8], pa.uint8()),
            "ok": [True, False],
            "note": pa.array(["x", "y"], pa.string()),
            "__index_level_0__": ["a", "b"],  # pandas' index, as pyarrow stores it
        }
    )
    assert read_table(ipc(table)) == [
        ["", "name", "price", "n", "small", "ok", "note"],
        ["a", "Nova", "0.1", "1", "7", "true", "x"],
        ["b", "None", "None", "-2", "8", "false", "y"],
    ]


def test_what_the_reader_does_not_read_is_none_never_a_guess() -> None:
    dates = pa.table({"when": [datetime.date(2026, 1, 2)]})
    categories = pa.table({"c": pa.array(["x", "y"]).dictionary_encode()})
    assert read_table(ipc(dates)) is None
    assert read_table(ipc(categories)) is None
    assert read_table(b"not arrow at all") is None
    assert read_table(b"") is None


def test_a_long_table_says_how_many_rows_were_left() -> None:
    cells = read_table(ipc(pa.table({"x": list(range(MAX_ROWS + 7))})))
    assert cells is not None and len(cells) == 1 + MAX_ROWS + 1
    assert cells[-2] == [str(MAX_ROWS - 1)] and cells[-1] == ["(7 more rows not read)"]
