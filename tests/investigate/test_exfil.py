"""Exfiltration verdicts: the c1 uploads and the insider's big one are found; a host whose flow
logs are missing over the campaign is "unknown", never "no evidence"."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ashiato.investigate.exfil import EVIDENCE, NO_EVIDENCE, UNKNOWN
from tests.investigate.conftest import Estate, derived_store

C1 = "c1-valid-admin-th-id-ph"


def test_c1_modest_upload_is_evidence(estate: Estate) -> None:
    ex = estate.of(C1).exfiltration
    assert ex is not None and ex.verdict == EVIDENCE
    by = {h.host: h for h in ex.hosts}
    mal = estate.truth_events[C1]
    for src in estate.campaigns[C1]["src_hosts"]:
        h = by[src]
        assert h.verdict == EVIDENCE, h.reason
        assert set(h.event_ids) & mal
        assert all(d.startswith("203.0.113.") for d in h.destinations)
    # the servers the intruder reached sent nothing outside
    assert by["jp-osa-fs01"].verdict == NO_EVIDENCE
    assert sum(h.bytes_out for h in ex.hosts) < 1_000_000_000  # modest: well under a gigabyte


def test_insider_big_upload(estate: Estate) -> None:
    ex = estate.of("insider-upload").exfiltration
    assert ex is not None and ex.verdict == EVIDENCE
    ws = next(h for h in ex.hosts if h.host == "th-bkk-ws00012")
    assert ws.verdict == EVIDENCE and ws.bytes_out > 10_000_000_000
    assert set(ws.event_ids) & estate.truth_events["insider-upload"]


def test_no_upload_no_evidence(estate: Estate) -> None:
    ex = estate.of("svc-compromise").exfiltration
    assert ex is not None and ex.verdict == NO_EVIDENCE


def test_flow_logs_removed_gives_unknown(estate: Estate) -> None:
    """Without the three source workstations' flow logs, c1's uploads cannot be seen: unknown."""
    ips = [
        str(ip)
        for a in estate.inventory.assets
        if a.host in estate.campaigns[C1]["src_hosts"]
        for ip in a.ips
    ]
    arr = pa.array(ips)

    def drop(t: pa.Table) -> pa.ChunkedArray:
        flow = pc.equal(t["kind"], "network_flow")
        mine = pc.or_(pc.is_in(t["src_ip"], arr), pc.is_in(t["dst_ip"], arr))
        return pc.fill_null(pc.and_(flow, mine), False)

    store = derived_store(estate, "noflow", drop)
    inv = estate.investigate("incident", estate.incident[C1], store)
    ex = inv.exfiltration
    assert ex is not None and ex.verdict == UNKNOWN
    by = {h.host: h for h in ex.hosts}
    for src in estate.campaigns[C1]["src_hosts"]:
        assert by[src].verdict == UNKNOWN, by[src].reason
    assert by["jp-osa-fs01"].verdict == NO_EVIDENCE
    assert inv.coverage is not None
    assert not inv.coverage.days_with("th-bkk-ws00013", "flow")
    assert inv.coverage.days_with("th-bkk-ws00013", "windows:")
