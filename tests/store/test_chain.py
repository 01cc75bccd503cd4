"""The manifest's hash chain: removing an input's manifest row with its events, editing a row or a
link, or cutting the chain back all fail `store verify`, and say what."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from tests.ingest.ingest_samples import bulk_ecs, bulk_zeek

from ashiato.ingest import ingest
from ashiato.store.chain import chain_path, head, link_hash, read_chain
from ashiato.store.layout import StoreLayout
from ashiato.store.manifest import manifest_path, read_manifest
from ashiato.store.verify import verify

ASHIATO = str(Path(sys.executable).with_name("ashiato"))


@pytest.fixture
def store(tmp_path: Path) -> StoreLayout:
    """Three inputs ingested in three runs (three links)."""
    layout = StoreLayout((tmp_path / "store").resolve())
    for i, data in enumerate((bulk_ecs(40, seed=1), bulk_zeek(30, seed=2), bulk_ecs(20, seed=3))):
        f = tmp_path / f"in-{i}.log"
        f.write_bytes(data)
        ingest([f], layout.root, workers=1)
    return layout


def _problems(layout: StoreLayout, expect: str | None = None) -> tuple[str, ...]:
    rep = verify(layout, expect_head=expect)
    assert rep.ok == (not rep.chain.problems) or rep.unaccounted
    return rep.chain.problems


def _remove_input(layout: StoreLayout, path_name: str) -> str:
    """Delete one input's manifest row and every file it stored, as a careful tamperer would."""
    row = next(r for r in read_manifest(layout).to_pylist() if r["path"].endswith(path_name))
    for rel in row["partitions"]:
        (layout.root / rel).unlink()
    manifest_path(layout, row["sha256"]).unlink()
    return str(row["sha256"])


def test_an_intact_store_verifies_with_its_head(store: StoreLayout) -> None:
    chain = read_chain(store)
    assert chain is not None and len(chain.links) == 3
    assert [link["totals"]["inputs"] for link in chain.links] == [1, 2, 3]
    assert chain.links[-1]["totals"]["stored"] == 90
    top = head(store)
    assert top is not None and top[0] == 3
    rep = verify(store, expect_head=top[1])
    assert rep.ok and rep.chain.head == top[1] and not rep.chain.notes


def test_removing_an_input_with_its_events_fails(store: StoreLayout) -> None:
    sha = _remove_input(store, "in-1.log")
    assert not verify(store).unaccounted  # every file left is accounted for: only the chain sees
    (problem,) = _problems(store)
    assert "in-1.log" in problem and sha[:16] in problem and "link #2" in problem
    assert "manifest row was removed" in problem


def test_editing_a_manifest_row_fails(store: StoreLayout) -> None:
    row = next(r for r in read_manifest(store).to_pylist() if r["path"].endswith("in-0.log"))
    p = manifest_path(store, row["sha256"])
    table = pq.read_table(p)
    i = table.schema.get_field_index("records_stored")
    pq.write_table(table.set_column(i, "records_stored", [[39]]), p)  # hide a record
    (problem,) = _problems(store)
    assert "in-0.log" in problem and "manifest row changed since chain link #1" in problem


def test_editing_a_link_fails(store: StoreLayout) -> None:
    lines = chain_path(store).read_bytes().splitlines()
    link = orjson.loads(lines[1])
    link["records"]["stored"] -= 1
    lines[1] = orjson.dumps(link)
    chain_path(store).write_bytes(b"\n".join(lines) + b"\n")
    problems = _problems(store)
    assert any("link #2" in p and "edited" in p for p in problems)
    assert any("link #2" in p and "running totals" in p for p in problems)


def test_a_chain_cut_back_with_the_newest_input_needs_the_recorded_head(
    store: StoreLayout,
) -> None:
    top = head(store)
    assert top is not None
    _remove_input(store, "in-2.log")
    lines = chain_path(store).read_bytes().splitlines(keepends=True)
    chain_path(store).write_bytes(b"".join(lines[:2]))
    assert _problems(store) == ()  # consistent in itself: only an outside record shows it
    (problem,) = _problems(store, expect=top[1])
    assert f"expected chain head {top[1]} is not in the chain" in problem
    assert verify(store, expect_head=top[1][:16]).ok is False
    assert _problems(store, expect=str(read_chain(store).head)) == ()  # type: ignore[union-attr]


def test_the_cli_prints_the_head_and_checks_it(store: StoreLayout, tmp_path: Path) -> None:
    f = tmp_path / "in-3.log"
    f.write_bytes(bulk_zeek(10, seed=9))
    run = subprocess.run(
        [ASHIATO, "ingest", str(f), "--store", str(store.root)],
        capture_output=True,
        text=True,
        check=False,
    )
    top = head(store)
    assert run.returncode == 0 and top is not None
    assert f"chain head: {top[1]} (link 4)" in run.stdout.replace("\n", "")
    man = subprocess.run(
        [ASHIATO, "store", "manifest", "--store", str(store.root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert f"chain head: {top[1]}" in man.stdout.replace("\n", "")
    ok = subprocess.run(
        [ASHIATO, "store", "verify", "--store", str(store.root), "--expect-head", top[1]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout
    bad = subprocess.run(
        [ASHIATO, "store", "verify", "--store", str(store.root), "--expect-head", "ab" * 32],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1 and "is not in the chain" in " ".join(bad.stdout.split())


def test_a_store_from_before_the_chain(store: StoreLayout, tmp_path: Path) -> None:
    """No chain.jsonl and manifest rows without records_duplicate: said, not failed; the next
    ingest starts the chain with one recovered link per input."""
    chain_path(store).unlink()
    for p in store.manifest_dir.glob("*.parquet"):
        pq.write_table(pq.read_table(p).drop_columns(["records_duplicate"]), p)
    rep = verify(store)
    assert rep.ok
    assert rep.chain.notes == ("no chain (store predates it): the next ingest starts one",)
    assert not verify(store, expect_head="ab" * 32).ok
    f = tmp_path / "new.log"
    f.write_bytes(bulk_zeek(5, seed=7))
    report = ingest([f], store.root, workers=1)
    assert len(report.recovered) == 3
    chain = read_chain(store)
    assert chain is not None and [bool(link.get("recovered")) for link in chain.links] == [
        True,
        True,
        True,
        False,
    ]
    rep = verify(store)
    assert rep.ok and len(rep.chain.notes) == 3  # the recovered links stay visible


def test_a_deleted_chain_fails_when_the_rows_were_chained(store: StoreLayout) -> None:
    chain_path(store).unlink()
    assert _problems(store) == ("the manifest's hash chain (manifest/chain.jsonl) is missing",)


def test_a_torn_last_line_is_reported_then_repaired(store: StoreLayout, tmp_path: Path) -> None:
    data = chain_path(store).read_bytes()
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[1]
    chain_path(store).write_bytes(data[: -len(last) - 1] + last[:40])  # a crash mid-append
    problems = _problems(store)
    assert any("partial line" in p for p in problems)
    assert any("in no chain link" in p for p in problems)  # the third row lost its link
    f = tmp_path / "next.log"
    f.write_bytes(bulk_zeek(5, seed=8))
    report = ingest([f], store.root, workers=1)
    assert len(report.recovered) == 1
    assert verify(store).ok
    chain = read_chain(store)
    assert chain is not None
    assert all(link["hash"] == link_hash(link) for link in chain.links)
