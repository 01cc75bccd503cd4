"""Golden samples for exfil.new_external_destination.

Positive: a 2 GB upload to an external address no host ever used. Hard negatives: a 5 GB upload
to the cloud backup the host uses daily, a small first contact, a 60 MB first contact from a host
whose median day is 200 MB, and a large upload during the warm-up days.
"""

from __future__ import annotations

from datetime import timedelta

from ashiato.detect import runner
from ashiato.detect.detectors.exfil import new_external_destination
from tests.conftest import ts
from tests.detect.detectors.exfil.test_beaconing import MB, _flow


def _history() -> list[dict]:  # type: ignore[type-arg]
    rows = [
        _flow(ts(d, h), "10.1.0.101", "203.0.113.10", 2 * MB)
        for d in range(1, 13)
        for h in (1, 3, 5)
    ]
    rows += [_flow(ts(d, 20), "10.3.0.101", "198.51.100.50", 200 * MB) for d in range(1, 13)]
    return rows


def test_new_destination_positive_and_negatives(inventory, write_events) -> None:  # type: ignore[no-untyped-def]
    rows = _history()
    rows += [
        _flow(ts(12, 14) + timedelta(minutes=m), "10.1.0.101", "198.51.100.77", 400 * MB)
        for m in range(0, 50, 10)
    ]
    rows += [_flow(ts(12, 21), "10.3.0.101", "198.51.100.50", 5000 * MB)]  # known backup
    rows += [_flow(ts(12, 9), "10.1.0.101", "198.51.100.99", 10 * MB)]  # new but small
    rows += [_flow(ts(12, 9), "10.3.0.101", "198.51.100.88", 60 * MB)]  # < 10 x its median day
    rows += [_flow(ts(3, 9), "10.3.0.102", "198.51.100.66", 900 * MB)]  # in the warm-up
    rep = runner.detect(write_events(rows), inventory, detectors=[new_external_destination.SPEC.id])
    f = rep.findings.to_pylist()
    assert [x["title"] for x in f] == [
        "jp-tky-ws001 uploaded 2.0 GB to new destination 198.51.100.77"
    ]
    assert f[0]["reason"] == (
        "jp-tky-ws001 sent 2.0 GB to 198.51.100.77 (port 443) on 2026-09-12 in 5 flow(s), "
        "14:00 UTC to 14:40 UTC; no internal host had contacted 198.51.100.77 in the 30 days "
        "before; its median day sends 6.0 MB out (11 earlier day(s))."
    )
    assert round(f[0]["score"], 2) == 76.02  # 60 + 10 x log10(2000 MB / 50 MB)
    assert f[0]["severity"] == "high"
    assert f[0]["evidence_count"] == 5


def test_daily_runs_and_a_late_day_equal_one_batch_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A destination another host contacted on day 9 is known on day 11, and one a host
    uploaded to on day 10 is known on day 11 (in a slice of 7 days: an earlier day of the
    same slice); the host's median day on day 12 counts the slice's days 8 to 11 too. With
    day 9 held back, the late run's day 11 first raises 198.51.100.78, then not."""
    from tests.detect.foldcheck import runs, seen

    rows = _history()
    rows += [_flow(ts(9, 9), "10.3.0.102", "198.51.100.78", MB)]
    rows += [_flow(ts(11, 9), "10.1.0.101", "198.51.100.78", 900 * MB)]
    rows += [_flow(ts(d, 10), "10.1.0.101", "198.51.100.79", 1000 * MB) for d in (10, 11)]
    rows += [_flow(ts(12, 14), "10.1.0.101", "198.51.100.77", 2000 * MB)]
    det = [new_external_destination.SPEC.id]
    got = runs(tmp_path, rows, None, det, late=("2026-09-09", "2026-09-12"))
    found = sorted((r["title"], r["reason"]) for r in got["batch"].findings.to_pylist())
    assert [t for t, _ in found] == [
        "10.1.0.101 uploaded 1.0 GB to new destination 198.51.100.79",
        "10.1.0.101 uploaded 2.0 GB to new destination 198.51.100.77",
    ]
    assert "its median day sends 6.0 MB out (11 earlier day(s))." in found[1][1]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])
