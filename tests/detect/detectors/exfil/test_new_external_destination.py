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
