"""Open a store and read or replace its tables through an engine connection.

Events are read in place with DuckDB's Parquet reader (hive partitions by day); findings and
incidents are small and rewritten whole, atomically, by each detect run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq

from ashiato.errors import StoreError
from ashiato.events import ACCESS_EVENT, ENTITY_RISK, FINDING, INCIDENT
from ashiato.store.atomic import atomic_write_parquet
from ashiato.store.layout import StoreLayout


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
        con = ibis.duckdb.connect(threads=2, memory_limit=memory_limit)
        con.raw_sql(f"SET temp_directory = '{spill_dir().as_posix()}'")
        con.raw_sql("SET preserve_insertion_order = false")
        con.raw_sql("SET enable_progress_bar = false")  # ours is Rich's, on stderr
        return con

    def events(self, con: Any) -> ibis.Table:
        """The access events as an Ibis table (empty table of the right schema if none)."""
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

    def write_findings(self, table: pa.Table) -> None:
        atomic_write_parquet(self.layout.findings_file, table.cast(FINDING), self.layout.tmp_dir)

    def write_incidents(self, table: pa.Table) -> None:
        atomic_write_parquet(self.layout.incidents_file, table.cast(INCIDENT), self.layout.tmp_dir)

    def write_entity_risk(self, table: pa.Table) -> None:
        atomic_write_parquet(
            self.layout.entity_risk_file, table.cast(ENTITY_RISK), self.layout.tmp_dir
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
