"""CSV cells that a spreadsheet opens as text, never as a formula (OWASP's CSV injection rule).

A cell that starts with ``= + - @``, TAB or CR (or their full-width forms, which Japanese input
produces) is prefixed with ``'``, so ``=HYPERLINK(...)`` or ``-2+3+cmd|' /C calc'!A0`` shows as
typed. Control characters are shown escaped as in every text output. ``raw=True`` keeps values as
they were, for tools rather than people.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ashiato.quote.text import escape_text

FORMULA_PREFIXES = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


def is_formula(s: str) -> bool:
    """True if a spreadsheet could read ``s`` as a formula (leading spaces skipped, as some do)."""
    head = s.lstrip(" ")[:1] or s[:1]
    return bool(s) and (s[0] in FORMULA_PREFIXES or head in FORMULA_PREFIXES)


def cell(value: Any, raw: bool = False) -> Any:
    """One CSV cell: text neutralised (see module doc); numbers and None pass unchanged."""
    if not isinstance(value, str) or raw:
        return value
    s = escape_text(value)
    return "'" + s if is_formula(value) or is_formula(s) else s


def neutralise_table(table: pa.Table, raw: bool = False) -> pa.Table:
    """Every text column of ``table`` through ``cell`` (other columns unchanged)."""
    if raw:
        return table
    cols = []
    for f, col in zip(table.schema, table.columns, strict=True):
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            cols.append(pa.array([cell(v) for v in col.to_pylist()], f.type))
        elif pa.types.is_list(f.type) and pa.types.is_string(f.type.value_type):
            joined = pc.binary_join(col, "; ")
            cols.append(pa.array([cell(v) for v in joined.to_pylist()], pa.string()))
        else:
            cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)


def write_rows(
    path: str | Path,
    fieldnames: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    raw: bool = False,
) -> Path:
    """Write dict rows as CSV with a header, every cell through ``cell``."""
    out = Path(path)
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(fieldnames))
        w.writeheader()
        for r in rows:
            w.writerow({k: cell(v, raw) for k, v in r.items()})
    return out
