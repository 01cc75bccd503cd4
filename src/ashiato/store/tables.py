"""Open a store and read or replace its tables through an engine connection.

Events are read in place with DuckDB's Parquet reader (hive partitions by day); findings and
incidents are small and rewritten whole, atomically, by each detect run.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from ashiato.errors import StoreError
from ashiato.events import ACCESS_EVENT, ENTITY_RISK, FINDING, INCIDENT
from ashiato.store.atomic import atomic_write_parquet
from ashiato.store.layout import StoreLayout

if TYPE_CHECKING:
    import duckdb
    import ibis


EVENTS_IN_MEMORY_MAX_BYTES = 64 * 2**20
"""Event files up to this total size are read into memory once per detect run (``load_events``)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))


def from_epoch_us(us: int | None) -> datetime | None:
    """Microseconds since the epoch as the UTC time pyarrow would give for the same value."""
    return None if us is None else _EPOCH + timedelta(microseconds=us)


def _as(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` cast to ``schema``; as it is when it already has it (a cast loads
    ``pyarrow.compute``: a tenth of a second on a run that writes three empty tables)."""
    return table if table.schema.equals(schema, check_metadata=True) else table.cast(schema)


def _empty(schema: pa.Schema) -> pa.Table:
    """A table of ``schema`` with no rows, without pyarrow's pandas probe (see
    ``ashiato.detect.spec.empty_table``)."""
    return pa.Table.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)


def spill_dir() -> Path:
    """Where DuckDB spills large joins and windows: the system temp dir, never ``.tmp`` in
    whatever directory the user happens to run from."""
    return Path(tempfile.gettempdir()) / "ashiato-spill"


class Store:
    """One store directory."""

    def __init__(self, root: str | Path, *, create: bool = False) -> None:
        self.layout = StoreLayout(Path(root))
        if create:
            self.layout.ensure()
        elif not self.layout.root.is_dir():
            raise StoreError(f"{root}: no such store (run `ashiato ingest ... --store {root}`)")

    @property
    def root(self) -> Path:
        return self.layout.root

    def has_events(self) -> bool:
        return any(self.layout.events_dir.glob("day=*/*.parquet"))

    def raw_connect(self, memory_limit: str = "2GB") -> duckdb.DuckDBPyConnection:
        """A plain DuckDB connection with bounded memory and the engine's settings, the one a
        detect run reads the store through (``connect`` wraps it for Ibis)."""
        import duckdb

        con = duckdb.connect(config={"threads": "2", "memory_limit": memory_limit})
        con.execute(f"SET temp_directory = '{spill_dir().as_posix()}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")  # ours is Rich's, on stderr
        con.execute("SET TimeZone = 'UTC'")
        return con

    def connect(
        self, memory_limit: str = "2GB", *, raw: duckdb.DuckDBPyConnection | None = None
    ) -> Any:
        """An Ibis DuckDB connection with bounded memory (no service to start); over ``raw``
        (from ``raw_connect``) when given, so that plain SQL and Ibis see the same tables."""
        import ibis  # Ibis costs a second to load: only commands that query events pay it

        return ibis.duckdb.from_connection(
            raw if raw is not None else self.raw_connect(memory_limit)
        )

    def load_events(self, con: duckdb.DuckDBPyConnection, name: str = "store_events") -> str:
        """Make ``name`` in ``con`` the access events (without the ``day`` partition column) and
        return it: a temp table when the event files total at most
        ``EVENTS_IN_MEMORY_MAX_BYTES`` (later queries read memory, not again the hundreds of
        small Parquet files of a triage store), else a view reading the files in place."""
        files = list(self.layout.events_dir.glob("day=*/*.parquet"))
        if not files:
            con.register("_no_events", _empty(ACCESS_EVENT))
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _no_events")
            con.unregister("_no_events")
            return name
        glob = self.layout.events_glob().replace("'", "''")
        # union_by_name: stores written before a column was added (record_key) mix file schemas
        scan = (
            f"SELECT * EXCLUDE (day) FROM read_parquet('{glob}', hive_partitioning = true, "
            "union_by_name = true)"
        )
        small = sum(f.stat().st_size for f in files) <= EVENTS_IN_MEMORY_MAX_BYTES
        con.execute(f"CREATE OR REPLACE TEMP {'TABLE' if small else 'VIEW'} {name} AS {scan}")
        return name

    def events(self, con: Any) -> ibis.Table:
        """The access events as an Ibis table (empty table of the right schema if none)."""
        return con.table(self.load_events(con.con))

    def kind_counts(
        self, con: duckdb.DuckDBPyConnection | None = None, table: str | None = None
    ) -> list[tuple[str, int, datetime | None, datetime | None]]:
        """(kind, events, first time, last time) per event kind in the store.

        One scan of two columns in plain DuckDB (of ``table`` in ``con`` as ``load_events``
        made it, when given), times converted here (pyarrow converts zone-aware times through
        pandas): a run over a store with nothing to look at never loads the query engine's
        expression layer nor pandas.
        """
        query = (
            "SELECT kind, count(*), epoch_us(min(ts)), epoch_us(max(ts)) FROM {} "
            "GROUP BY kind ORDER BY kind"
        )
        if con is not None and table is not None:
            rows = con.execute(query.format(table)).fetchall()
        elif not self.has_events():
            return []
        else:
            glob = self.layout.events_glob().replace("'", "''")
            own = self.raw_connect()
            try:
                scan = f"read_parquet('{glob}', union_by_name = true)"
                rows = own.execute(query.format(scan)).fetchall()
            finally:
                own.close()
        return [(kind, int(n), from_epoch_us(lo), from_epoch_us(hi)) for kind, n, lo, hi in rows]

    def write_findings(self, table: pa.Table) -> None:
        atomic_write_parquet(self.layout.findings_file, _as(table, FINDING), self.layout.tmp_dir)

    def write_incidents(self, table: pa.Table) -> None:
        atomic_write_parquet(self.layout.incidents_file, _as(table, INCIDENT), self.layout.tmp_dir)

    def write_entity_risk(self, table: pa.Table) -> None:
        atomic_write_parquet(
            self.layout.entity_risk_file, _as(table, ENTITY_RISK), self.layout.tmp_dir
        )

    def read_entity_risk(self) -> pa.Table:
        f = self.layout.entity_risk_file
        return pq.read_table(f) if f.exists() else ENTITY_RISK.empty_table()

    def read_findings(self) -> pa.Table:
        f = self.layout.findings_file
        return pq.read_table(f) if f.exists() else FINDING.empty_table()

    def read_incidents(self) -> pa.Table:
        f = self.layout.incidents_file
        return pq.read_table(f) if f.exists() else INCIDENT.empty_table()
