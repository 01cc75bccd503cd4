"""One small simulated estate with every scenario, ingested and detected once per test session.

Shared by the investigation, response and report tests (the ``estate`` fixture is registered in
``tests/conftest.py``).

Everything is checked against the simulator's ground truth: campaigns (accounts, hosts, start)
and their records, mapped to store event ids the way ``ashiato evaluate`` maps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from ashiato.detect.runner import detect
from ashiato.evaluate import evaluate
from ashiato.ingest import ingest
from ashiato.inventory import Inventory, load_inventory
from ashiato.investigate import Investigation, investigate
from ashiato.store import Store


@dataclass
class Estate:
    root: Path
    store: Path
    inventory: Inventory
    campaigns: dict[str, dict[str, Any]]
    incident: dict[str, str]  # campaign id -> incident id holding its findings
    truth_events: dict[str, set[str]]  # campaign id -> store event ids of its records
    truth_windows: dict[str, set[str]]  # the same, Windows records only (flows carry no account)
    cache: dict[tuple[str, str, str], Investigation] = field(default_factory=dict)

    def investigate(self, kind: str, id: str, store: Path | None = None) -> Investigation:
        """Investigate once per (store, kind, id) for the whole session."""
        where = store or self.store
        key = (str(where), kind, id)
        if key not in self.cache:
            self.cache[key] = investigate(where, self.inventory, kind, id)  # type: ignore[arg-type]
        return self.cache[key]

    def of(self, campaign: str) -> Investigation:
        return self.investigate("incident", self.incident[campaign])


def truth_event_ids(store: Path, truth: Path, source: str | None = None) -> dict[str, set[str]]:
    """Campaign id -> event ids of its ground-truth records (Windows by host and record id,
    Zeek by uid), of one ``source`` ("windows", "zeek") or all."""
    rows = [orjson.loads(line) for line in truth.read_bytes().splitlines() if line.strip()]
    ev = [r for r in rows if r["type"] == "event" and source in (None, r["source"])]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (campaign VARCHAR, source VARCHAR, log_host VARCHAR, rid VARCHAR)")
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)",
        [(r["campaign"], r["source"], (r["log_host"] or ""), str(r["record_id"])) for r in ev],
    )
    glob = Store(store).layout.events_glob()
    got = con.execute(
        f"""SELECT t.campaign, e.event_id FROM t JOIN read_parquet('{glob}') e
            ON e.record_id = t.rid AND (CASE WHEN t.source = 'zeek' THEN e.log_host IS NULL
                                        ELSE coalesce(e.log_host, '') = t.log_host END)"""
    ).fetchall()
    out: dict[str, set[str]] = {}
    for campaign, event_id in got:
        out.setdefault(campaign, set()).add(event_id)
    return out


@pytest.fixture(scope="session")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Estate:
    from ashiato.simulate import simulate

    root = tmp_path_factory.mktemp("investigate")
    simulate(root / "sim", terminals=120, days=30, seed=11, scenarios=["all"])
    inv = load_inventory(root / "sim" / "inventory")
    store = root / "store"
    ingest([str(root / "sim" / "logs")], store, workers=1)
    detect(store, inv)
    truth = root / "sim" / "ground_truth.jsonl"
    ev = evaluate(store, truth)
    campaigns = {
        c["id"]: c
        for c in (orjson.loads(x) for x in truth.read_bytes().splitlines() if x.strip())
        if c["type"] == "campaign"
    }
    incident = {c.id: c.incident_id for c in ev.campaigns if c.incident_id}
    return Estate(
        root,
        store,
        inv,
        campaigns,
        incident,
        truth_event_ids(store, truth),
        truth_event_ids(store, truth, "windows"),
    )


def derived_store(
    estate: Estate,
    name: str,
    drop: Any,
    extra: list[dict[str, Any]] | None = None,
) -> Path:
    """A copy of the estate's store without the events ``drop(table)`` marks (a boolean mask),
    plus ``extra`` rows: logs an intruder deleted or a sensor that never ran."""
    import shutil

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from ashiato.events import ACCESS_EVENT

    out = estate.root / name
    if out.exists():
        return out
    shutil.copytree(estate.store, out)
    for f in sorted((out / "events").glob("day=*/*.parquet")):
        t = pq.read_table(f, schema=ACCESS_EVENT)
        pq.write_table(t.filter(pc.invert(drop(t))), f)
    if extra:
        by_day: dict[str, list[dict[str, Any]]] = {}
        for r in extra:
            by_day.setdefault(r["ts"].strftime("%Y-%m-%d"), []).append(r)
        for day, rows in by_day.items():
            full = [{f.name: r.get(f.name) for f in ACCESS_EVENT} for r in rows]
            pq.write_table(
                pa.Table.from_pylist(full, schema=ACCESS_EVENT),
                out / "events" / f"day={day}" / "extra-0.parquet",
            )
    return out
