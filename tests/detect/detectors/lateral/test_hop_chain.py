"""Golden samples for lateral.hop_chain."""

from __future__ import annotations

from ashiato.detect.runner import detect
from tests.conftest import event, ts

DET = ["lateral.hop_chain"]


def _admin_routine() -> list[dict]:
    # the admin works from the Tokyo workstation, and always via the jump host jp-dc-dc01
    rows = []
    for d in range(1, 10):
        rows.append(
            event(
                ts=ts(d, 1),
                user="adm-sato",
                src_host="jp-tky-ws001",
                dst_host="jp-dc-dc01",
                logon_type=10,
            )
        )
        rows.append(
            event(ts=ts(d, 2), user="adm-sato", src_host="jp-dc-dc01", dst_host="jp-dc-fs01")
        )
    return rows


def test_positive_slow_hops(inventory, write_events) -> None:
    rows = _admin_routine()
    # day 11: the credential lands on a Bangkok workstation; day 14: from there on to the fs
    rows.append(
        event(ts=ts(11, 3), user="adm-sato", src_host="jp-tky-ws001", dst_host="th-bkk-ws001")
    )
    rows.append(
        event(ts=ts(14, 3), user="adm-sato", src_host="th-bkk-ws001", dst_host="jp-dc-fs01")
    )
    rep = detect(write_events(rows), inventory, detectors=DET)
    f = rep.findings.to_pylist()
    assert len(f) == 1
    assert f[0]["reason"] == (
        "2-hop path jp-tky-ws001 → th-bkk-ws001 → jp-dc-fs01, across sites JP-DC, JP-TKY, "
        "TH-BKK: adm-sato jp-tky-ws001→th-bkk-ws001 at 2026-09-11 03:00 UTC (source→host seen "
        "on 0 earlier day(s), account→host on 0); adm-sato th-bkk-ws001→jp-dc-fs01 at "
        "2026-09-14 03:00 UTC (source→host seen on 0 earlier day(s), account→host on 9)."
    )
    assert f[0]["evidence"] == ["e000018", "e000019"]
    # 40 + 30 x rarest hop (never seen: 1.0), +10 privileged, +5 file server, +10 cross-site
    assert f[0]["score"] == 95.0
    assert f[0]["severity"] == "critical"


def test_an_arrival_from_the_admins_own_desk_explains_only_hours(inventory, write_events) -> None:
    """The admin, at their own desk (an interactive logon there), fixes a Bangkok PC; three days
    later someone acts from that PC with the admin's credential: not the admin moving (the
    seed-11 estate's c1 had that visit as its first hop, a week before the intrusion). The same
    move onward within hours of the visit is a path."""
    rows = _admin_routine()
    rows.append(
        event(
            ts=ts(11, 2),
            user="adm-sato",
            src_host="jp-tky-ws001",
            dst_host="jp-tky-ws001",
            logon_type=2,
        )
    )
    rows.append(
        event(ts=ts(11, 3), user="adm-sato", src_host="jp-tky-ws001", dst_host="th-bkk-ws001")
    )
    later = event(ts=ts(14, 3), user="adm-sato", src_host="th-bkk-ws001", dst_host="jp-dc-fs01")
    assert detect(write_events([*rows, later]), inventory, detectors=DET).findings.num_rows == 0
    soon = event(ts=ts(11, 5), user="adm-sato", src_host="th-bkk-ws001", dst_host="jp-dc-fs01")
    f = detect(write_events([*rows, soon]), inventory, detectors=DET).findings.to_pylist()
    assert len(f) == 1 and f[0]["details"]
    assert "jp-tky-ws001 → th-bkk-ws001 → jp-dc-fs01" in f[0]["reason"]


def test_negative_jump_host_routine_and_too_late(inventory, write_events) -> None:
    rows = _admin_routine()
    rep = detect(write_events(rows), inventory, detectors=DET)
    assert rep.findings.num_rows == 0  # the jump host hop was learnt in the warm-up
    # arriving on a host and leaving from it 15 days later is outside the window (14 days)
    rows.append(
        event(ts=ts(10, 3), user="adm-sato", src_host="jp-tky-ws001", dst_host="th-bkk-ws002")
    )
    rows.append(
        event(ts=ts(25, 3), user="adm-sato", src_host="th-bkk-ws002", dst_host="jp-dc-fs01")
    )
    # machine accounts do not hop
    rows.append(
        event(ts=ts(12, 3), user="th-bkk-ws001$", src_host="jp-tky-ws001", dst_host="th-bkk-ws001")
    )
    rows.append(
        event(ts=ts(12, 4), user="th-bkk-ws001$", src_host="th-bkk-ws001", dst_host="jp-dc-dc01")
    )
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0


def test_positive_multi_hop_is_one_path(inventory, write_events) -> None:
    """Three hops (ws001 → th-bkk-ws001 → th-bkk-ws002 → fs01) are one finding, the full path."""
    rows = _admin_routine()
    for day, (a, b) in enumerate(
        [
            ("jp-tky-ws001", "th-bkk-ws001"),
            ("th-bkk-ws001", "th-bkk-ws002"),
            ("th-bkk-ws002", "jp-dc-fs01"),
        ],
        start=11,
    ):
        rows.append(event(ts=ts(day, 3), user="adm-sato", src_host=a, dst_host=b))
    f = detect(write_events(rows), inventory, detectors=DET).findings.to_pylist()
    assert len(f) == 1
    assert f[0]["reason"].startswith(
        "3-hop path jp-tky-ws001 → th-bkk-ws001 → th-bkk-ws002 → jp-dc-fs01, across sites"
    )
    assert f[0]["evidence"] == ["e000018", "e000019", "e000020"]
    assert f[0]["score"] == 100.0  # 95 as above, +5 for the third hop, capped


def _switch(rows: list[dict]) -> list[dict]:
    # s.chai logs on to th-bkk-ws002 (never before); an hour later adm-sato, which never logged
    # on there, acts from it: the admin's credential was taken from (or typed on) that host
    rows.append(
        event(ts=ts(12, 3), user="s.chai", src_host="th-bkk-ws001", dst_host="th-bkk-ws002")
    )
    rows.append(
        event(ts=ts(12, 4), user="adm-sato", src_host="th-bkk-ws002", dst_host="jp-dc-dc01")
    )
    return rows


def _bkk_history(rows: list[dict]) -> list[dict]:
    # the Bangkok PCs have a baseline: s.chai works at ws001 and reads a share on ws002 daily
    for d in range(1, 10):
        rows.append(event(ts=ts(d, 0), user="s.chai", dst_host="th-bkk-ws001", logon_type=2))
        rows.append(
            event(ts=ts(d, 5), user="t.suzuki", src_host="jp-tky-ws001", dst_host="th-bkk-ws002")
        )
    return rows


def test_positive_credential_switch(inventory, write_events) -> None:
    rows = _switch(_bkk_history(_admin_routine()))
    f = detect(write_events(rows), inventory, detectors=DET).findings.to_pylist()
    assert len(f) == 1
    assert f[0]["reason"] == (
        "2-hop path th-bkk-ws001 → th-bkk-ws002 → jp-dc-dc01 with a credential switch "
        "(s.chai → adm-sato), across sites JP-DC, TH-BKK: s.chai th-bkk-ws001→th-bkk-ws002 at "
        "2026-09-12 03:00 UTC (source→host seen on 0 earlier day(s), account→host on 0); "
        "adm-sato th-bkk-ws002→jp-dc-dc01 at 2026-09-12 04:00 UTC (source→host seen on 0 "
        "earlier day(s), account→host on 9)."
    )
    assert f[0]["entities"]["accounts"] == ["adm-sato", "s.chai"]
    # 40 + 30, +10 switch, +10 privileged, +5 domain controller, +10 cross-site
    assert f[0]["score"] == 100.0
    # who arrived before the switch, and from where, is a guess: named, not an actor
    import json

    assert json.loads(f[0]["details"])["actors"] == ["adm-sato", "th-bkk-ws002"]


def test_negative_switch_without_baseline_or_ambiguous(inventory, write_events) -> None:
    """Hard negatives: a host that just appeared (a new office being set up: no baseline), and
    a host where several accounts arrived for the first time (an IT migration: no single cause).
    """
    # no history for th-bkk-ws002: a new PC, set up by s.chai, then used by the admin
    rows = _switch(_admin_routine())
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0
    # with a baseline, but two accounts arrived first-time within the day: ambiguous
    rows = _bkk_history(_admin_routine())
    rows.append(
        event(ts=ts(12, 2), user="t.suzuki", src_host="jp-tky-ws001", dst_host="th-bkk-ws002")
    )
    rows.append(
        event(ts=ts(12, 2, 30), user="svc-backup", src_host="jp-dc-fs01", dst_host="th-bkk-ws002")
    )
    rows = _switch(rows)
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0


def test_negative_help_desk_star(inventory, write_events) -> None:
    """Hard negative: help desk from its own console to many PCs is a star, not a chain."""
    rows = _admin_routine()
    for d in range(8, 20):
        rows.append(event(ts=ts(d, 0), user="t.suzuki", dst_host="jp-tky-ws001", logon_type=2))
        for pc in ("th-bkk-ws001", "th-bkk-ws002", "jp-dc-fs01"):
            rows.append(event(ts=ts(d, 1), user="t.suzuki", src_host="jp-tky-ws001", dst_host=pc))
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0


def test_positive_a_patient_hop_ten_days_later(inventory, write_events) -> None:
    """A slow intruder waits out a holiday week: leaving a host 10 days after arriving is still
    one path (the window is 14 days)."""
    rows = _admin_routine()
    rows.append(
        event(ts=ts(10, 3), user="adm-sato", src_host="jp-tky-ws001", dst_host="th-bkk-ws002")
    )
    rows.append(
        event(ts=ts(20, 3), user="adm-sato", src_host="th-bkk-ws002", dst_host="jp-dc-fs01")
    )
    (f,) = detect(write_events(rows), inventory, detectors=DET).findings.to_pylist()
    assert "jp-tky-ws001 → th-bkk-ws002 → jp-dc-fs01" in f["reason"]
