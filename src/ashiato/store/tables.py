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
    import ibis


_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))


def _from_us(us: int | None) -> datetime | None:
    """Microseconds since the epoch as the UTC time pyarrow would give for the same value."""
    return None if us is None else _EPOCH + timedelta(microseconds=us)


def _as(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` cast to ``schema``; as it is when it already has it (a cast loads
    ``pyarrow.compute``: a tenth of a second on a run that writes three empty tables)."""
    return table if table.schema.equals(schema, check_metadata=True) else table.cast(schema)


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

    def connect(self, memory_limit: str = "2GB") -> Any:
        """An Ibis DuckDB connection with bounded memory (no service to start)."""
        import ibis  # Ibis costs a second to load: only commands that query events pay it

        con = ibis.duckdb.connect(threads=2, memory_limit=memory_limit)
        con.raw_sql(f"SET temp_directory = '{spill_dir().as_posix()}'")
        con.raw_sql("SET preserve_insertion_order = false")
        con.raw_sql("SET enable_progress_bar = false")  # ours is Rich's, on stderr
        return con

    def events(self, con: Any) -> ibis.Table:
        """The access events as an Ibis table (empty table of the right schema if none)."""
        import ibis

        if not self.has_events():
            return con.create_table("events_empty", schema=ibis.schema(ACCESS_EVENT), temp=True)
        # union_by_name: stores written before a column was added (record_key) mix file schemas
        t = con.read_parquet(
            self.layout.events_glob(),
            hive_partitioning=True,
            union_by_name=True,
            table_name="events",
        )
        return t.drop("day") if "day" in t.columns else t

    def kind_counts(self) -> list[tuple[str, int, datetime | None, datetime | None]]:
        """(kind, events, first time, last time) per event kind in the store.

        One scan of two columns in plain DuckDB, times converted here (pyarrow converts
        zone-aware times through pandas): a run over a store with nothing to look at never
        loads the query engine's expression layer nor pandas.
        """
        if not self.has_events():
            return []
        import duckdb

        glob = self.layout.events_glob().replace("'", "''")
        con = duckdb.connect(config={"threads": "2", "memory_limit": "2GB"})
        try:
            rows = con.execute(
                "SELECT kind, count(*), epoch_us(min(ts)), epoch_us(max(ts)) "
                f"FROM read_parquet('{glob}', union_by_name = true) GROUP BY kind ORDER BY kind"
            ).fetchall()
        finally:
            con.close()
        return [(kind, int(n), _from_us(lo), _from_us(hi)) for kind, n, lo, hi in rows]

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
