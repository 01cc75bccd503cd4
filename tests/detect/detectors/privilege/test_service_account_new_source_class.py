"""Golden samples for privilege.service_account_new_source_class."""

from __future__ import annotations

from ashiato.detect.runner import detect
from tests.conftest import event, ts

DET = ["privilege.service_account_new_source_class"]
FS, DC, WS_TKY, WS_BKK = "10.2.0.20", "10.2.0.10", "10.1.0.101", "10.3.0.101"


def _backups() -> list[dict]:
    """svc-backup every night from the file server to the domain controller (network logons)."""
    return [
        event(ts=ts(d, 15), user="svc-backup", src_ip=FS, dst_host="jp-dc-dc01", logon_type=3)
        for d in range(1, 13)
    ]


def test_positive_network_logon_from_a_workstation(inventory, write_events, monkeypatch) -> None:
    from ashiato.detect import follow

    # the detector's own evidence: the engine's credential following would add the return from
    # the same desk a week later (a foothold, followed for 7 days) to the first finding too
    monkeypatch.setattr(follow, "MIN_SCORE", 101.0)
    rows = _backups()
    rows += [
        event(ts=ts(14, 3), user="svc-backup", src_ip=WS_BKK, dst_host="jp-dc-fs01", logon_type=3),
        event(ts=ts(14, 4), user="svc-backup", src_ip=WS_TKY, dst_host="jp-dc-fs01", logon_type=3),
        # the next week again from the same desk: the same misuse, its own finding (v2)
        event(ts=ts(21, 3), user="svc-backup", src_ip=WS_BKK, dst_host="jp-dc-dc01", logon_type=3),
        # from another workstation later: no longer a first, and not a desk of the first day
        event(ts=ts(22, 3), user="svc-backup", src_ip="10.3.0.102", dst_host="jp-dc-fs01"),
    ]
    found = detect(write_events(rows), inventory, detectors=DET).findings.to_pylist()
    assert sorted(x["first_seen"].day for x in found) == [14, 21]
    f = sorted(found, key=lambda x: x["first_seen"])
    assert (
        "again from a source of 2026-09-14, the first day it came from a workstation"
        in (f[1]["reason"])
    )
    assert "jp-dc-dc01" in f[1]["entities"]["hosts"] and f[1]["evidence"] == ["e000014"]
    assert f[0]["severity"] == "critical" and f[0]["score"] == 91.0  # 70 +10 +5 +5 +1
    assert "from a workstation (jp-tky-ws001, th-bkk-ws001)" in f[0]["reason"]
    assert "before that day only from file-server" in f[0]["reason"]
    assert f[0]["evidence"] == ["e000012", "e000013"]
    assert f[0]["technique"] == ["T1078.002", "T1021"]


def test_by_role_sees_a_new_server_role(inventory, write_events) -> None:
    rows = _backups()
    rows.append(
        event(ts=ts(14, 3), user="svc-backup", src_ip=DC, dst_host="jp-dc-fs01", logon_type=3)
    )
    root = write_events(rows)
    assert detect(root, inventory, detectors=DET).findings.num_rows == 0  # still a server
    rep = detect(root, inventory, detectors=DET, params={DET[0]: {"by_role": True}})
    f = rep.findings.to_pylist()
    assert len(f) == 1 and "from a domain-controller" in f[0]["reason"]


def test_negative_habits_humans_failures_warmup(inventory, write_events) -> None:
    rows = _backups()
    rows += [
        # from a workstation during the warm-up already: its habit
        event(ts=ts(2, 3), user="svc-backup", src_ip=WS_TKY, dst_host="jp-dc-fs01", logon_type=3),
        event(ts=ts(14, 3), user="svc-backup", src_ip=WS_BKK, dst_host="jp-dc-fs01", logon_type=3),
        # a person at a new kind of source: not a service account
        event(ts=ts(14, 3), user="t.suzuki", src_ip=FS, dst_host="jp-dc-dc01", logon_type=3),
        event(ts=ts(14, 3), user="t.suzuki", src_ip=WS_TKY, dst_host="jp-dc-dc01", logon_type=3),
        # a source the inventory cannot place
        event(ts=ts(14, 5), user="svc-backup", src_ip="192.0.2.7", dst_host="jp-dc-fs01"),
    ]
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0
    rows = [
        *_backups(),
        event(
            ts=ts(14, 3),
            user="svc-backup",
            src_ip=WS_BKK,
            dst_host="jp-dc-fs01",
            kind="logon_failure",
            outcome="failure",
            event_code=4625,
        ),
    ]
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0


def test_day_by_day_equals_batch(inventory, tmp_path) -> None:
    """The first workstation day (14) delivered only after day 21 was judged: day 21 first looks
    like the first day, then like a return to a desk of day 14, as in one batch run."""
    from tests.detect.foldcheck import runs, seen

    rows = _backups()
    rows += [
        event(ts=ts(14, 3), user="svc-backup", src_ip=WS_BKK, dst_host="jp-dc-fs01", logon_type=3),
        event(ts=ts(21, 3), user="svc-backup", src_ip=WS_BKK, dst_host="jp-dc-dc01", logon_type=3),
        event(ts=ts(22, 3), user="svc-backup", src_ip="10.3.0.102", dst_host="jp-dc-fs01"),
    ]
    got = runs(tmp_path, rows, inventory, DET, late=("2026-09-14", "2026-09-21"))
    batch = sorted(got["batch"].findings.to_pylist(), key=lambda x: x["first_seen"])
    assert [x["first_seen"].day for x in batch] == [14, 21]
    assert "again from a source of 2026-09-14" in batch[1]["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])
