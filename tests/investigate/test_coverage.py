"""The coverage map: channels and days per host and site, and the holes an intruder leaves:
cleared logs, skipped record numbers, a host that logs every day falling silent."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from tests.investigate.conftest import Estate, derived_store

C1 = "c1-valid-admin-th-id-ph"


def test_channels_and_sites(estate: Estate) -> None:
    cov = estate.of(C1).coverage
    assert cov is not None
    chans = {(c.host, c.channel) for c in cov.channels}
    assert ("jp-osa-fs01", "windows:security") in chans
    assert ("th-bkk-ws00013", "flow:zeek_conn") in chans
    assert {"JP-OSA-DC", "TH-BKK"} <= set(cov.sites)
    assert len(cov.sites["JP-OSA-DC"]["windows:security"]) == 30
    assert cov.data_start is not None and cov.data_start.day == 1


def test_holes(estate: Estate) -> None:
    """Delete 20 records on jp-osa-fs01, two days of jp-osa-dc01's logs, and clear a log."""
    fs_ids: list[str] = []

    def drop(t: pa.Table) -> pa.ChunkedArray:
        day = pc.strftime(t["ts"], format="%Y-%m-%d")
        dc = pc.and_(
            pc.equal(t["log_host"], "jp-osa-dc01"),
            pc.is_in(day, pa.array(["2026-09-12", "2026-09-13"])),
        )
        fs = pc.and_(pc.equal(t["log_host"], "jp-osa-fs01"), pc.equal(day, "2026-09-20"))
        idx = [i for i, v in enumerate(fs.to_pylist()) if v][5:25]
        fs_ids.extend(t["event_id"].take(pa.array(idx, pa.int64())).to_pylist())
        mask = [i in set(idx) for i in range(t.num_rows)]
        return pc.fill_null(pc.or_(dc, pa.array(mask)), False)

    cleared = {
        "event_id": "cleared-1",
        "ts": datetime(2026, 9, 21, 3, 0, tzinfo=UTC),
        "kind": "log_cleared",
        "event_code": 1102,
        "outcome": "success",
        "user": "adm-yamaguchi",
        "log_host": "jp-osa-fs01",
        "source": "test",
        "source_offset": 1,
    }
    store = derived_store(estate, "holes", drop, [cleared])
    cov = estate.investigate("incident", estate.incident[C1], store).coverage
    assert cov is not None
    kinds = {(h.host, h.kind) for h in cov.holes}
    assert ("jp-osa-fs01", "cleared") in kinds
    gaps = [h for h in cov.holes if h.kind == "record_gap" and h.host == "jp-osa-fs01"]
    assert len(gaps) == 1 and "20 record(s) missing" in gaps[0].detail
    silent = [h for h in cov.holes if h.kind == "silent" and h.host == "jp-osa-dc01"]
    assert silent and "2 day(s) (2026-09-12 to 2026-09-13)" in silent[0].detail
    dc = next(
        c for c in cov.channels if c.host == "jp-osa-dc01" and c.channel == "windows:security"
    )
    assert dc.missing_days == ["2026-09-12", "2026-09-13"]
    assert not [h for h in estate.of(C1).coverage.holes if h.kind != "silent"]  # type: ignore[union-attr]
