"""Golden samples for technique.samaccountname_spoofing, built from synthetic 4768/4769 events."""

from __future__ import annotations

from datetime import datetime

from ashiato.detect.runner import detect
from tests.conftest import event, ts

DET = ["technique.samaccountname_spoofing"]
DC = "jp-tky-dc01.corp.example.co.jp"
ATTACKER = "10.3.0.102"


def tgt(at: datetime, user: str, ip: str = ATTACKER) -> dict:
    return event(
        ts=at, kind="kerberos_tgt", event_code=4768, user=user, src_ip=ip, logon_type=None,
        auth_package="Kerberos", service="krbtgt", dst_host="jp-tky-dc01", log_host=DC,
    )  # fmt: skip


def tgs(at: datetime, user: str, service: str, ip: str = ATTACKER) -> dict:
    return event(
        ts=at, kind="kerberos_service", event_code=4769, user=user, src_ip=ip, logon_type=None,
        auth_package="Kerberos", service=service, dst_host="jp-tky-dc01", log_host=DC,
    )  # fmt: skip


def _estate() -> list[dict]:
    """Ordinary Kerberos traffic: users and machines asking for TGTs and service tickets."""
    return [
        tgt(ts(1, 8, 0), "jp-tky-ws001$", "10.1.0.101"),
        tgt(ts(1, 8, 1), "k.tanaka", "10.1.0.101"),
        tgs(ts(1, 8, 2), "k.tanaka", "JP-OSA-FS01$", "10.1.0.101"),
        tgs(ts(1, 8, 3), "jp-tky-dc01$", "JP-TKY-DC01$", "10.2.0.10"),
    ]


def _attack() -> list[dict]:
    """The renamed machine account's TGT, then a service ticket as the DC (S4U2self)."""
    return [
        *_estate(),
        tgt(ts(2, 14, 42), "jp-tky-dc01"),  # the renamed machine account's TGT
        tgs(ts(2, 14, 43), "jp-tky-dc01", "JP-TKY-DC01$"),  # S4U2self: a ticket as the DC
    ]


def test_positive_tgt_and_ticket_for_the_dc_name_without_dollar(write_events) -> None:
    rows = _attack()
    f = detect(write_events(rows), None, detectors=DET).findings.to_pylist()
    assert len(f) == 1, f
    r = f[0]
    assert r["evidence"] == ["e000004", "e000005"]
    assert r["severity"] == "critical" and r["score"] == 95.0  # 75, +15 for itself, +5 both
    assert "'jp-tky-dc01', which has no trailing $" in r["reason"]
    assert "(a ticket for that very computer)" in r["reason"]
    assert r["technique"] == ["T1558", "T1068", "T1078.002"]


def test_positive_tgt_alone_names_the_kdc(write_events) -> None:
    rows = [*_estate(), tgt(ts(2, 14, 42), "JP-TKY-DC01")]
    f = detect(write_events(rows), None, detectors=DET).findings.to_pylist()
    assert len(f) == 1 and f[0]["severity"] == "high" and f[0]["evidence"] == ["e000004"]


def test_negative_machine_accounts_users_and_failures(write_events) -> None:
    rows = [
        *_estate(),
        tgs(ts(2, 9, 0), "jp-osa-fs01$", "JP-OSA-FS01$", "10.2.0.21"),  # a computer, for itself
        tgs(ts(2, 9, 1), "y.yamamoto", "JP-TKY-DC01$", "10.1.0.102"),  # a user, to the DC
        tgt(ts(2, 9, 2), "y.yamamoto", "10.1.0.102"),
        {**tgt(ts(2, 9, 3), "jp-tky-ws001"), "outcome": "failure"},  # refused: no ticket issued
    ]
    assert detect(write_events(rows), None, detectors=DET).findings.to_pylist() == []


def test_daily_runs_and_a_late_day_equal_one_batch_run(tmp_path) -> None:
    """The TGT before midnight and the ticket as the DC after it are one chain (scored 95 as
    on one day); a machine account seen on day 1 names the computer spoofed on day 4."""
    from tests.detect.foldcheck import runs, seen

    rows = [
        *_estate(),
        tgt(ts(2, 23, 59), "jp-tky-dc01"),
        tgs(ts(3, 0, 1), "jp-tky-dc01", "JP-TKY-DC01$"),
        tgt(ts(4, 10, 0), "jp-tky-ws001"),  # jp-tky-ws001$ asked for a TGT on day 1
    ]
    got = runs(tmp_path, rows, None, DET, late=("2026-09-02", "2026-09-04"))
    batch = {r["entities"]["accounts"][0]: r for r in got["batch"].findings.to_pylist()}
    assert sorted(batch) == ["jp-tky-dc01", "jp-tky-ws001"]
    dc = batch["jp-tky-dc01"]
    assert dc["score"] == 95.0 and dc["evidence"] == ["e000004", "e000005"]
    assert "Before that day it had been issued 1 TGT(s) since 2026-09-02 23:59" in dc["reason"]
    assert "on 2 day(s)" in dc["reason"]
    assert batch["jp-tky-ws001"]["evidence"] == ["e000006"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])


def test_a_computer_first_seen_later_in_the_slice_flags_only_its_day_on(tmp_path) -> None:
    """A ticket is held against the computers known by the end of its own day: 'jp-osa-ws009'
    asking on day 2, before any JP-OSA-WS009$ was seen (day 3), is not flagged; on day 4 it is."""
    from tests.detect.foldcheck import runs, seen

    rows = [
        *_estate(),
        tgt(ts(2, 10, 0), "jp-osa-ws009"),
        tgt(ts(3, 9, 0), "jp-osa-ws009$", "10.1.0.109"),
        tgt(ts(4, 10, 0), "jp-osa-ws009"),
    ]
    got = runs(tmp_path, rows, None, DET)
    f = got["batch"].findings.to_pylist()
    assert [r["evidence"] for r in f] == [["e000006"]]
    assert "Before that day" not in f[0]["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
