"""The session steps' answers are kept per cited event: a new day's run asks about that day's
events only, late data is asked about again, and the findings equal a batch run's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ashiato.detect import sessions
from ashiato.detect.links import LinkStep
from ashiato.detect.runner import detect
from ashiato.events import ACCESS_EVENT
from ashiato.store.layout import StoreLayout
from tests.conftest import event, ts

DETECTORS = ["segmentation.policy_violation"]


def _day(day: int, grant: bool = True) -> list[dict[str, Any]]:
    """adm-sato from Thailand to a Japanese file server (a standing policy break), and the
    session's privilege grant."""
    t = ts(day, 9)
    rows = [
        event(
            ts=t,
            event_id=f"l{day:02d}",
            user="adm-sato",
            src_ip="10.3.0.101",
            dst_host="jp-dc-fs01",
            log_host="jp-dc-fs01",
        )
    ]
    if grant:
        rows.append(_grant(day))
    return rows


def _grant(day: int) -> dict[str, Any]:
    return event(
        ts=ts(day, 9) + timedelta(milliseconds=4),
        event_id=f"g{day:02d}",
        kind="privilege_grant",
        event_code=4672,
        user="adm-sato",
        dst_host="jp-dc-fs01",
        log_host="jp-dc-fs01",
        logon_type=None,
    )


def _add(root: Path, rows: list[dict[str, Any]], name: str) -> None:
    """Ingest's way: a new file beside the day's others, none rewritten."""
    layout = StoreLayout(root)
    for i, r in enumerate(rows):
        r.setdefault("source_offset", i + 1)
        d = layout.day_dir(r["ts"].strftime("%Y-%m-%d"))
        d.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist([r], schema=ACCESS_EVENT), d / f"{name}-{i}.parquet")


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The cited logons the grants step is asked about, per run."""
    calls: list[set[str]] = []
    step = sessions.GRANTS

    def query(ids: Any, events: Any, execute: Any) -> pa.Table:
        calls.append(set(execute(ids)["cid"].to_pylist()))
        return step.query(ids, events, execute)

    monkeypatch.setattr(
        sessions,
        "GRANTS",
        LinkStep(step.name, step.kinds, step.columns, step.before, step.after, query),
    )
    return calls


def _finding(root: Path, inventory: Any) -> dict[str, Any]:
    found = detect(root, inventory, detectors=DETECTORS).findings.to_pylist()
    assert len(found) == 1, found
    return found[0]


def test_a_new_day_asks_about_its_own_events(
    tmp_path: Path, inventory: Any, asked: list[set[str]]
) -> None:
    daily = tmp_path / "daily"
    for day in range(1, 11):
        _add(daily, _day(day), f"d{day}")
        f = _finding(daily, inventory)
    batch = tmp_path / "batch"
    _add(batch, [r for day in range(1, 11) for r in _day(day)], "all")
    b = _finding(batch, inventory)
    assert f["evidence"] == b["evidence"] and f["evidence_count"] == b["evidence_count"]
    assert {f"g{d:02d}" for d in range(1, 11)} <= set(f["evidence"])
    # daily: the new day's logon, and the day before's again (a grant may follow it past
    # midnight); never the finding's older ones
    assert asked[0] == {"l01"}
    for day in range(2, 11):
        assert asked[day - 1] == {f"l{day - 1:02d}", f"l{day:02d}"}, asked
    assert asked[10] == {f"l{d:02d}" for d in range(1, 11)}  # the batch store: all


def test_a_late_grant_is_asked_for_again(
    tmp_path: Path, inventory: Any, asked: list[set[str]]
) -> None:
    root = tmp_path / "store"
    _add(root, [r for day in range(1, 8) for r in _day(day, grant=day != 3)], "week")
    first = _finding(root, inventory)
    assert "g03" not in first["evidence"]
    _add(root, [_grant(3)], "late")  # day 3's Security log arrives late
    again = _finding(root, inventory)
    assert "g03" in again["evidence"]
    assert again["evidence_count"] == first["evidence_count"] + 1
    # from the day before the late one on, every answer is asked again (a logon session's
    # steps look hours back and seconds ahead); the days before keep theirs
    assert asked[1] == {f"l{d:02d}" for d in range(2, 8)}
