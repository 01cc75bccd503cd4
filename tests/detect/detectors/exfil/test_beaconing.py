"""Golden samples for exfil.beaconing (flow builders shared with exfil.new_external_destination).

Positives: a 300 s beacon with ±4 s jitter and ~1.2 KB check-ins to an external address; a 2 GB
upload to an external address no host ever used. Hard negatives: a person browsing one site all
day (irregular gaps and sizes), NTP and DNS to external servers (periodic by design, excluded by
service), a vendor endpoint that eight hosts poll every 5 minutes (fleet software), a beacon-like
agent talking to an internal server, a 5 GB upload to the cloud backup the host uses daily, a small
first contact and a 60 MB first contact from a host whose median day is 200 MB.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from ashiato.detect import runner
from ashiato.detect.detectors.exfil import beaconing
from tests.conftest import event, ts

MB = 1_000_000


def _flow(t: Any, src: str, dst: str, out: int, port: int = 443, proto: str = "tcp") -> dict:  # type: ignore[type-arg]
    return event(
        ts=t,
        kind="network_flow",
        event_code=None,
        logon_type=None,
        outcome="unknown",
        src_ip=src,
        dst_ip=dst,
        dst_port=port,
        protocol=proto,
        bytes_out=out,
    )


def _beacon_day() -> list[dict]:  # type: ignore[type-arg]
    rnd = random.Random(7)
    return [
        _flow(
            ts(10, 0) + timedelta(seconds=30 + 300 * i + rnd.uniform(-4, 4)),
            "10.3.0.101",
            "203.0.113.9",
            1200 + rnd.randint(-30, 30),
        )
        for i in range(288)
    ]


def _noise_day() -> list[dict]:  # type: ignore[type-arg]
    rnd = random.Random(11)
    rows = []
    t = ts(10, 0)
    while t < ts(10, 9):  # browsing 09:00-18:00 JST, one site, bursty
        t += timedelta(seconds=rnd.expovariate(1 / 240))
        rows.append(_flow(t, "10.1.0.101", "198.51.100.20", int(rnd.lognormvariate(9, 1.5))))
    for i in range(84):  # NTP every 1024 s, DNS every 60 s to public servers
        rows.append(
            _flow(
                ts(10, 0) + timedelta(seconds=1024 * i),
                "10.1.0.101",
                "203.0.113.123",
                48,
                123,
                "udp",
            )
        )
    for i in range(1440):
        rows.append(
            _flow(ts(10, 0) + timedelta(seconds=60 * i + 1), "10.1.0.101", "8.8.8.8", 40, 53, "udp")
        )
    for h in range(1, 9):  # eight hosts poll a vendor every 5 minutes
        for i in range(0, 1440, 5):
            rows.append(
                _flow(ts(10, 0) + timedelta(seconds=60 * i + h), f"10.1.0.{h}", "192.0.2.50", 700)
            )
    for i in range(288):  # an agent beacons to an internal server
        rows.append(_flow(ts(10, 0) + timedelta(seconds=300 * i), "10.3.0.102", "10.2.0.10", 900))
    return rows


def test_beacon_positive(inventory, write_events) -> None:  # type: ignore[no-untyped-def]
    rep = runner.detect(
        write_events(_beacon_day() + _noise_day()), inventory, detectors=[beaconing.SPEC.id]
    )
    f = rep.findings.to_pylist()
    assert [x["title"] for x in f] == ["th-bkk-ws001 beacons to 203.0.113.9:443"]
    assert f[0]["reason"].startswith(
        "th-bkk-ws001 → 203.0.113.9:443 every 300 s ± 2 s, 288 connections, 1.2 KB each, "
        "in 24 of 24 hours on 2026-09-10"
    )
    assert f[0]["evidence_count"] == 288
    assert (
        "(beacon score 0.98: interval skew 0.95, dispersion 0.99, count 1.00, size 0.99)"
        in (f[0]["reason"])
    )
    assert round(f[0]["score"], 2) == 94.21  # 50 + 45 x 0.982
    assert f[0]["severity"] == "critical"
    # one threshold step stricter than its score, it is not raised: the score is the gate
    strict = {beaconing.SPEC.id: {"threshold": 0.99}}
    assert (
        runner.detect(
            write_events(_beacon_day()), inventory, detectors=[beaconing.SPEC.id], params=strict
        ).findings.num_rows
        == 0
    )


def test_beacon_hard_negatives(inventory, write_events) -> None:  # type: ignore[no-untyped-def]
    rep = runner.detect(write_events(_noise_day()), inventory, detectors=[beaconing.SPEC.id])
    assert rep.findings.num_rows == 0
    # lifting the service exclusion and the fleet limit raises DNS, NTP and the pollers
    lifted = {beaconing.SPEC.id: {"exclude_services": "", "max_sources": 100}}
    got = runner.detect(
        write_events(_noise_day()), inventory, detectors=[beaconing.SPEC.id], params=lifted
    )
    assert sorted(x["title"] for x in got.findings.to_pylist()) == [
        *(f"10.1.0.{h} beacons to 192.0.2.50:443" for h in range(1, 9)),
        "jp-tky-ws001 beacons to 203.0.113.123:123",
        "jp-tky-ws001 beacons to 8.8.8.8:53",
    ]
    # browsing scores well below the threshold even with no threshold at all
    every = {beaconing.SPEC.id: {"threshold": 0.0}}
    got = runner.detect(
        write_events(_noise_day()), inventory, detectors=[beaconing.SPEC.id], params=every
    )
    browsing = [x for x in got.findings.to_pylist() if "198.51.100.20" in x["title"]]
    assert "every 177 s ± 136 s, 135 connections" in browsing[0]["reason"]
    assert browsing[0]["details"].count('"beacon_score": 0.509') == 1


def test_daily_runs_and_a_late_day_equal_one_batch_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A beacon on days 10 to 12 is one finding that goes on (as regular on 3 days). A vendor
    endpoint one host polls from day 10 and seven more from day 12 is fleet software from day
    12: its first two days were judged before the fleet arrived and stay a finding."""
    from tests.detect.foldcheck import runs, seen

    rows = [{**r, "ts": r["ts"] + timedelta(days=k)} for k in range(3) for r in _beacon_day()]
    for h in range(1, 9):
        for d in (10, 11, 12) if h == 1 else (12,):
            rows += [
                _flow(ts(d, 0) + timedelta(seconds=60 * i + h), f"10.1.0.{h}", "192.0.2.50", 700)
                for i in range(0, 1440, 5)
            ]
    got = runs(tmp_path, rows, None, [beaconing.SPEC.id], late=("2026-09-11", "2026-09-12"))
    found = {r["title"]: r for r in got["batch"].findings.to_pylist()}
    assert sorted(found) == [
        "10.1.0.1 beacons to 192.0.2.50:443",
        "10.3.0.101 beacons to 203.0.113.9:443",
    ]
    beacon = found["10.3.0.101 beacons to 203.0.113.9:443"]
    assert beacon["evidence_count"] == 3 * 288
    assert "; as regular on 3 days. From 2026-09-10 00:00 UTC" in beacon["reason"]
    fleet = found["10.1.0.1 beacons to 192.0.2.50:443"]
    assert fleet["evidence_count"] == 2 * 288 and fleet["last_seen"] < ts(12)
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])
