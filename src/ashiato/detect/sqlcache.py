"""Each detector's compiled SQL, kept between runs: building and compiling a detector's Ibis
expression costs more than running it on a triage store (about 3 s of the 4 s the 17 detectors
take over the 23,840 real EVTX records), and the SQL is the same run after run.

A detector's ``query(ctx)`` is a pure function of its context (conventions: no I/O, no clock,
no hidden state), so its SQL is keyed on everything the context holds that can change it: the
detector and its version, the source of the whole ``ashiato`` package, the versions of Ibis,
sqlglot and DuckDB, the parameters, the data's start, ``report_since``, the inventory and the
enriched events' schema. A query that reads data while it is built (``ctx.execute``: the paths,
hours or links it then judges) or holds an in-memory table is never cached; it is built and
compiled afresh each run, except (``keep_tables``) an in-memory table built from the inventory or
the parameters alone (both in the key): its rows are kept beside the SQL and registered again on
a hit. ``ASHIATO_CACHE_DIR`` (as for the Sigma rules; ``off`` disables) or
``$XDG_CACHE_HOME/ashiato`` holds the entries, under ``detectors/``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.operations as ops
import pyarrow.parquet as pq

import ashiato
from ashiato.inventory.model import Inventory

FORMAT = 2
"""Bumped when what an entry holds changes."""


def cache_root() -> Path | None:
    """Where entries live, or None when caching is off."""
    explicit = os.environ.get("ASHIATO_CACHE_DIR", "")
    if explicit.lower() in ("off", "none", "0"):
        return None
    if explicit:
        return Path(explicit) / "detectors"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ashiato" / "detectors"


def _source_digest() -> str:
    """The package's Python source: a changed detector, helper or schema is another key."""
    root = Path(ashiato.__file__).parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


class SqlCache:
    """The compiled SQL of one run's detectors: ``get`` before building, ``put`` after."""

    def __init__(self, root: Path | None, inventory: Inventory | None) -> None:
        self.root = root
        if root is None:
            return
        versions = [importlib.metadata.version(p) for p in ("ibis-framework", "sqlglot", "duckdb")]
        inv = inventory.model_dump_json() if inventory is not None else ""
        self._base = json.dumps(
            [FORMAT, _source_digest(), versions, hashlib.sha256(inv.encode()).hexdigest()]
        )

    def key(self, spec_id: str, version: str, ctx: Any) -> str | None:
        """The entry's name for a detector in this context (``DetectionContext``)."""
        events = ctx.events.op()
        if self.root is None or not isinstance(events, ops.DatabaseTable):
            return None
        material = [
            events.name,
            repr(events.namespace),  # a temp table's SQL names its catalog, a view's does not
            self._base,
            spec_id,
            version,
            sorted((k, repr(v)) for k, v in dict(ctx.params).items()),
            repr(ctx.data_start),
            repr(ctx.report_since),
            [(n, str(t)) for n, t in ctx.events.schema().items()],
        ]
        return hashlib.sha256(json.dumps(material).encode()).hexdigest()

    def named_key(self, material: list[Any]) -> str | None:
        """The entry's name for a query described by ``material`` (the day-by-day fold's: its
        tables have fixed names, so the detector, its parameters and schema say the rest)."""
        if self.root is None:
            return None
        return hashlib.sha256(json.dumps([self._base, material]).encode()).hexdigest()

    def get(
        self, key: str | None, register: Callable[[str, Any], Any] | None = None
    ) -> tuple[str, ibis.Schema] | None:
        """The SQL and result schema stored under ``key``; None when absent or unreadable.
        An entry with in-memory tables hits only with ``register`` (the DuckDB connection's),
        which is given each table under the name its SQL reads."""
        if key is None or self.root is None:
            return None
        try:
            entry = json.loads((self.root / f"{key}.json").read_text(encoding="utf-8"))
            tables = list(entry.get("tables") or [])
            if tables and register is None:
                return None
            got = {n: pq.read_table(self.root / f"{key}.{n}.parquet") for n in tables}
            for n, t in got.items():
                assert register is not None
                register(n, t)
            return entry["sql"], ibis.schema({n: ibis.dtype(t) for n, t in entry["schema"]})
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(
        self,
        key: str | None,
        expr: ibis.Table,
        sql: str,
        *,
        keep_tables: bool = False,
        keep_udfs: bool = False,
    ) -> None:
        """Keep ``sql`` (compiled from ``expr``) unless the expression holds data of this run
        (an in-memory table: kept too with ``keep_tables``, the caller's word that they come
        from the key's material alone), calls a Python function (kept with ``keep_udfs``: the
        caller registers it before using the SQL) or its schema would not read back as it is."""
        if key is None or self.root is None:
            return
        mem = list(expr.op().find(ops.InMemoryTable))
        if mem and not keep_tables:
            return
        if not keep_udfs and any(
            getattr(u, "__input_type__", None) is not None and u.__input_type__.name != "BUILTIN"
            for u in expr.op().find(ops.ScalarUDF)
        ):  # a Python function the connection learns when the expression runs, not from SQL
            return
        schema = expr.schema()
        names = [(n, str(t)) for n, t in schema.items()]
        if any(ibis.dtype(t) != schema[n] for n, t in names):
            return
        self.root.mkdir(parents=True, exist_ok=True)
        tables = sorted({m.name for m in mem})
        for m in {m.name: m for m in mem}.values():  # written before the entry that names them
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            os.close(fd)
            pq.write_table(m.data.to_pyarrow(m.schema), tmp)
            Path(tmp).replace(self.root / f"{key}.{m.name}.parquet")
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"sql": sql, "schema": names, "tables": tables}, f)
        Path(tmp).replace(self.root / f"{key}.json")
