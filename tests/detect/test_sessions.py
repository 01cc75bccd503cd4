"""A finding that cites a logon also cites that session's 4672 privilege grant."""

from __future__ import annotations

from datetime import timedelta

from ashiato.detect.runner import detect
from tests.conftest import event, ts


def test_privilege_grant_joins_the_cited_logon(inventory, write_events) -> None:
    t = ts(5, 17)
    rows = [
        event(
            ts=t, user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01", log_host="jp-dc-fs01"
        ),
        event(
            ts=t + timedelta(milliseconds=3),
            kind="privilege_grant",
            event_code=4672,
            user="adm-sato",
            dst_host="jp-dc-fs01",
            log_host="jp-dc-fs01",
            logon_type=None,
        ),
        # another host's grant, and a grant much later: not this session
        event(
            ts=t,
            kind="privilege_grant",
            event_code=4672,
            user="adm-sato",
            dst_host="jp-dc-dc01",
            log_host="jp-dc-dc01",
            logon_type=None,
        ),
        event(
            ts=t + timedelta(minutes=5),
            kind="privilege_grant",
            event_code=4672,
            user="adm-sato",
            dst_host="jp-dc-fs01",
            log_host="jp-dc-fs01",
            logon_type=None,
        ),
    ]
    rep = detect(write_events(rows), inventory, detectors=["segmentation.policy_violation"])
    f = rep.findings.to_pylist()
    assert len(f) == 1
    assert f[0]["evidence"] == ["e000000", "e000001"] and f[0]["evidence_count"] == 2
