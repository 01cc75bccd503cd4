"""The session that staged an upload is cited by the exfil findings (``exfil._staging``).

An RDP logon (4624 type 10) onto the uploading host an hour before the upload, from another
host, with the Kerberos ticket and the flows to port 3389 between the two: all cited, the source
host named, the account too. Not cited: an RDP logon before the window, a network logon (type 3),
records between the source and another host, and the source's flows to the host before the window.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ashiato.detect.runner import detect
from tests.conftest import event, ts
from tests.detect.detectors.exfil.test_beaconing import MB, _flow

HOST, HOST_IP = "jp-tky-ws001", "10.1.0.101"
STAGER, STAGER_IP = "th-bkk-ws002", "10.3.0.102"


def _logon(t: Any, eid: str, logon_type: int, src_ip: str, src_host: str | None) -> dict:  # type: ignore[type-arg]
    return event(
        event_id=eid,
        ts=t,
        event_code=4624,
        logon_type=logon_type,
        user="adm-sato",
        src_ip=src_ip,
        src_host=src_host,
        dst_host=HOST,
        log_host=HOST,
    )


def _estate() -> list[dict]:  # type: ignore[type-arg]
    rows = [
        _flow(ts(d, h), HOST_IP, "203.0.113.10", 2 * MB) for d in range(1, 12) for h in (1, 3, 5)
    ]
    rows += [
        {
            **_flow(ts(12, 14) + timedelta(minutes=m), HOST_IP, "198.51.100.77", 400 * MB),
            "event_id": f"up{m}",
        }
        for m in range(0, 50, 10)
    ]
    rows += [
        _logon(ts(12, 13), "rdp", 10, STAGER_IP, STAGER),  # the staging session
        event(
            event_id="tgs",
            ts=ts(12, 12, 59),
            kind="kerberos_service",
            event_code=4769,
            user="adm-sato",
            src_ip=STAGER_IP,
            dst_host=HOST,
            log_host="jp-dc-dc01",
        ),
        {**_flow(ts(12, 13), STAGER_IP, HOST_IP, 5 * MB, port=3389), "event_id": "rdpflow"},
        # not cited
        _logon(ts(12, 8), "early-rdp", 10, "10.3.0.101", "th-bkk-ws001"),  # 6 h before
        _logon(ts(12, 13, 30), "net", 3, "10.2.0.20", "jp-dc-fs01"),  # a network logon
        {**_flow(ts(12, 13), STAGER_IP, "10.2.0.20", MB, port=445), "event_id": "elsewhere"},
        {**_flow(ts(12, 8), STAGER_IP, HOST_IP, MB, port=3389), "event_id": "before"},
    ]
    return rows


@pytest.mark.parametrize("det", ["exfil.outbound_volume", "exfil.new_external_destination"])
def test_upload_cites_the_rdp_session_that_staged_it(det, inventory, write_events) -> None:  # type: ignore[no-untyped-def]
    rep = detect(write_events(_estate()), inventory, detectors=[det])
    (f,) = rep.findings.to_pylist()
    # the domain controller that issued the ticket is named too (``name_ticket_servers``)
    assert f["entities"]["hosts"] == ["jp-dc-dc01", HOST, STAGER]
    assert f["entities"]["accounts"] == ["adm-sato"]
    ev = set(f["evidence"])
    assert {"up0", "up40", "rdp", "tgs", "rdpflow"} <= ev
    assert not ev & {"early-rdp", "net", "elsewhere", "before"}
    assert f["evidence_count"] == 5 + 3
    assert (
        "In the 4 h before, 1 interactive or RDP logon(s) reached jp-tky-ws001 as adm-sato from "
        "th-bkk-ws002, the first at 2026-09-12 13:00 UTC; 3 record(s) of that session are cited."
    ) in f["reason"]
    assert f["first_seen"] == ts(12, 13)


def test_without_an_inventory_names_and_addresses_meet(write_events) -> None:  # type: ignore[no-untyped-def]
    # the flows know the hosts by address, the logon by name: the events pair them
    rows = _estate()
    rows.append(
        event(
            ts=ts(2),
            event_code=4624,
            user="t.suzuki",
            src_host=HOST,
            src_ip=HOST_IP,
            dst_host="jp-dc-fs01",
        )
    )
    rep = detect(write_events(rows), None, detectors=["exfil.outbound_volume"])
    (f,) = rep.findings.to_pylist()
    assert {"rdp", "tgs", "rdpflow"} <= set(f["evidence"])
    assert STAGER in f["entities"]["hosts"]


def test_no_session_no_change(inventory, write_events) -> None:  # type: ignore[no-untyped-def]
    rows = [r for r in _estate() if r["event_id"] not in {"rdp", "early-rdp"}]
    rep = detect(write_events(rows), inventory, detectors=["exfil.outbound_volume"])
    (f,) = rep.findings.to_pylist()
    assert f["entities"]["hosts"] == [HOST] and f["entities"]["accounts"] == []
    assert f["evidence_count"] == 5 and "interactive" not in f["reason"]


def test_bulk_collection_cites_the_session_on_the_reading_host(inventory, write_events) -> None:  # type: ignore[no-untyped-def]
    from tests.detect.detectors.exfil.test_bulk_collection import _reads

    rows = [r for d in range(1, 11) for r in _reads("s.chai", d, 8)]
    rows += _reads("s.chai", 12, 300, hour=15)  # from th-bkk-ws001 (10.3.0.101)
    rows.append(
        event(
            event_id="rdp",
            ts=ts(12, 14),
            logon_type=10,
            user="s.chai",
            src_ip=STAGER_IP,
            dst_host="th-bkk-ws001",
            log_host="th-bkk-ws001",
        )
    )
    rows.append({**_flow(ts(12, 14), STAGER_IP, "10.3.0.101", MB, port=3389), "event_id": "f"})
    rep = detect(write_events(rows), inventory, detectors=["exfil.bulk_collection"])
    (f,) = rep.findings.to_pylist()
    assert STAGER in f["entities"]["hosts"] and f["entities"]["accounts"] == ["s.chai"]
    assert {"rdp", "f"} <= set(f["evidence"]) and f["evidence_count"] == 302
    assert (
        "1 interactive or RDP logon(s) reached th-bkk-ws001 as s.chai from th-bkk-ws002"
        in (f["reason"])
    )


def _overnight(dst: str) -> list[dict]:  # type: ignore[type-arg]
    """An upload just after midnight, staged over RDP just before it, by a host that the
    flows know by address and the logon by name (the name given on day 2 only): the staging
    session comes from the day before, the name from the state."""
    rows = [_flow(ts(d, 20), HOST_IP, "203.0.113.10", 2 * MB) for d in range(1, 12)]
    rows.append(
        event(ts=ts(2), user="t.suzuki", src_host=HOST, src_ip=HOST_IP, dst_host="jp-dc-fs01")
    )
    rows += [
        {**_flow(ts(12, 1) + timedelta(minutes=m), HOST_IP, dst, 400 * MB), "event_id": f"up{m}"}
        for m in range(0, 50, 10)
    ]
    rows.append(_logon(ts(11, 23, 30), "rdp", 10, STAGER_IP, STAGER))
    rows.append({**_flow(ts(11, 23, 30), STAGER_IP, HOST_IP, MB, port=3389), "event_id": "rf"})
    return rows


@pytest.mark.parametrize("det", ["exfil.outbound_volume", "exfil.new_external_destination"])
def test_daily_runs_and_a_late_day_equal_one_batch_run(det, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.detect.foldcheck import runs, seen

    got = runs(
        tmp_path, _overnight("198.51.100.77"), None, [det], late=("2026-09-02", "2026-09-12")
    )
    (f,) = got["batch"].findings.to_pylist()
    assert {"up0", "up40", "rdp", "rf"} <= set(f["evidence"]) and f["evidence_count"] == 7
    assert STAGER in f["entities"]["hosts"] and f["first_seen"] == ts(11, 23, 30)
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])


@pytest.mark.parametrize("det", ["exfil.outbound_volume", "exfil.new_external_destination"])
def test_a_name_given_after_the_upload_day_is_not_used_in_a_slice(det, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # the logon knows the uploading host by name, its flows by address; the events pair the two
    # only on the day after the upload: a one-day run of the upload day cannot cite the session,
    # so neither may a slice that also holds the day after
    from tests.detect.foldcheck import runs, seen

    rows = [r for r in _estate() if r["event_id"] not in {"early-rdp", "net"}]
    rows.append(
        event(ts=ts(13), user="t.suzuki", src_host=HOST, src_ip=HOST_IP, dst_host="jp-dc-fs01")
    )
    got = runs(tmp_path, rows, None, [det])
    (f,) = got["batch"].findings.to_pylist()
    assert not {"rdp", "tgs", "rdpflow"} & set(f["evidence"]) and f["evidence_count"] == 5
    assert STAGER not in f["entities"]["hosts"]
    assert seen(got["daily"]) == seen(got["batch"])
