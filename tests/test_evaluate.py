"""Evaluation against ground truth: detection, delay, host recall, noise, event precision/recall."""

from __future__ import annotations

import json
from pathlib import Path

from ashiato.detect.runner import detect
from ashiato.evaluate import evaluate
from tests.conftest import event, ts


def _truth(path: Path, records: list[tuple[str, str]]) -> Path:
    lines = [
        {
            "type": "campaign",
            "id": "c1",
            "name": "test campaign",
            "accounts": ["adm-sato"],
            "hosts": ["th-bkk-ws001", "jp-dc-fs01", "jp-dc-dc01"],
            "start": "2026-09-12T16:00:00Z",
            "end": "2026-09-13T00:00:00Z",
        }
    ]
    for log_host, rid in records:
        lines.append(
            {
                "type": "event",
                "campaign": "c1",
                "source": "windows",
                "log_host": log_host,
                "record_id": rid,
                "ts": None,
                "event_code": 4624,
            }
        )
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def test_evaluate_scores_campaign_and_noise(inventory, write_events, tmp_path: Path) -> None:
    rows = [
        event(
            ts=ts(d, 1),
            user="adm-sato",
            src_ip="10.1.0.101",
            dst_host="jp-dc-fs01",
            log_host="jp-dc-fs01",
            record_id=str(d),
        )
        for d in range(1, 11)
    ]
    # the campaign: two malicious logons; a third malicious record the detectors cannot see
    rows += [
        event(
            ts=ts(12, 17),
            user="adm-sato",
            src_ip="10.3.0.101",
            dst_host="jp-dc-fs01",
            log_host="jp-dc-fs01",
            record_id="100",
        ),
        event(
            ts=ts(12, 18),
            user="adm-sato",
            src_ip="10.3.0.101",
            dst_host="jp-dc-fs01",
            log_host="jp-dc-fs01",
            record_id="101",
        ),
        event(
            ts=ts(12, 19),
            kind="privilege_grant",
            event_code=4672,
            user="adm-sato",
            dst_host="jp-dc-fs01",
            log_host="jp-dc-fs01",
            record_id="102",
        ),
        # benign noise: a plain user from Thailand to the Tokyo office workstation (policy break)
        event(
            ts=ts(15, 3),
            user="t.suzuki",
            src_ip="10.3.0.102",
            dst_host="jp-tky-ws001",
            log_host="jp-tky-ws001",
            record_id="7",
        ),
    ]
    root = write_events(rows)
    detect(root, inventory)
    truth = _truth(
        tmp_path / "truth.jsonl",
        [("jp-dc-fs01", "100"), ("jp-dc-fs01", "101"), ("jp-dc-fs01", "102"), ("nohost", "9")],
    )
    ev = evaluate(root, truth)
    c = ev.campaigns[0]
    assert c.detected and c.events == 3 and c.events_flagged == 2
    assert c.delay_seconds == 3600.0  # campaign start 16:00, first flagged event 17:00
    assert c.queue_rank == 1 and c.incident_id and c.incident_id.startswith("I-")
    assert c.incident_findings is not None and c.purity == round(
        c.true_findings / c.incident_findings, 4
    )
    assert c.host_recall == round(2 / 3, 4)  # the source (by IP) and fs01; dc01 never reached
    assert ev.truth_events_missing == 1
    assert ev.incidents == 2 and ev.true_incidents == 1 and ev.top_incident_is_true
    assert ev.event_recall == round(2 / 3, 4)
    assert ev.event_precision == round(2 / 3, 4)  # 3 distinct events cited, 2 malicious
    assert ev.false_incidents_per_day == round(1 / ev.days, 3)
    out = ev.to_json()
    assert {"campaigns", "false_incidents_per_day", "event_precision", "event_recall"} <= set(out)
    assert {"id", "detected", "delay_seconds", "host_recall", "purity"} <= set(out["campaigns"][0])


def _finding(fid: str, evidence: list[str]) -> dict:  # type: ignore[type-arg]
    return {
        "finding_id": fid,
        "detector": "d",
        "detector_version": "1",
        "title": fid,
        "severity": "high",
        "score": 50.0,
        "technique": [],
        "first_seen": ts(12, 17),
        "last_seen": ts(12, 18),
        "entities": {"accounts": [], "hosts": ["jp-dc-fs01"], "sites": [], "ips": []},
        "reason": fid,
        "evidence": evidence,
        "evidence_count": len(evidence),
        "details": "{}",
    }


def _incident(iid: str, risk: float, fids: list[str]) -> dict:  # type: ignore[type-arg]
    return {
        "incident_id": iid,
        "title": iid,
        "risk": risk,
        "severity": "high",
        "status": "new",
        "first_seen": ts(12, 17),
        "last_seen": ts(12, 18),
        "entities": {"accounts": [], "hosts": [], "sites": [], "ips": []},
        "finding_ids": fids,
        "detectors": ["d"],
        "n_findings": len(fids),
        "summary": iid,
    }


def test_purity_of_each_campaigns_incident_and_scenarios_it_never_saw(
    write_events, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Purity is the share of the campaign's incident's findings that cite its records; a
    campaign id evaluate has never heard of, without start or hosts, is scored all the same."""
    import pyarrow as pa

    from ashiato.events import FINDING, INCIDENT
    from ashiato.store import Store

    rows = [
        event(event_id=f"e{i}", ts=ts(12, 17), user="x", dst_host=h, log_host=h, record_id=str(i))
        for i, h in enumerate(["jp-dc-fs01", "th-bkk-ws001", "jp-tky-ws001", "jp-dc-dc01"])
    ]
    root = write_events(rows)
    st = Store(root)
    # incident A: one finding of the new scenario, three unrelated; incident B: the other one's
    findings = [_finding("F-new", ["e0"]), *(_finding(f"F-n{i}", ["e2"]) for i in range(3))]
    # ... and pass-the-ticket's two findings split over incidents B and C
    findings += [_finding("F-ptt", ["e1"]), _finding("F-ptt2", ["e3"])]
    st.write_findings(pa.Table.from_pylist(findings, schema=FINDING))
    incidents = [
        _incident("I-a", 90, ["F-new", "F-n0", "F-n1", "F-n2"]),
        _incident("I-b", 80, ["F-ptt"]),
        _incident("I-c", 70, ["F-ptt2"]),
    ]
    st.write_incidents(pa.Table.from_pylist(incidents, schema=INCIDENT))
    lines = [
        {"type": "campaign", "id": "rdp-staged-exfil", "name": "new", "start": None},
        {"type": "campaign", "id": "pass-the-ticket", "hosts": ["th-bkk-ws001", "jp-dc-dc01"]},
        {
            "type": "event",
            "campaign": "rdp-staged-exfil",
            "source": "windows",
            "log_host": "jp-dc-fs01",
            "record_id": "0",
        },
        {
            "type": "event",
            "campaign": "pass-the-ticket",
            "source": "windows",
            "log_host": "th-bkk-ws001",
            "record_id": "1",
        },
        {
            "type": "event",
            "campaign": "pass-the-ticket",
            "source": "windows",
            "log_host": "jp-dc-dc01",
            "record_id": "3",
        },
    ]
    truth = tmp_path / "truth.jsonl"
    truth.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    ev = evaluate(root, truth)
    new, ptt = ev.campaigns
    assert (new.id, new.queue_rank, new.purity, new.incident_findings) == (
        "rdp-staged-exfil",
        1,
        0.25,
        4,
    )
    assert new.delay_seconds == 0.0 and new.host_recall == 1.0  # hosts from its records
    assert (ptt.queue_rank, ptt.purity, ptt.incident_findings) == (2, 1.0, 1)
    assert (new.split, new.held) == (1, 1.0)  # one incident holds all its findings
    assert (ptt.split, ptt.held) == (2, 0.5)  # pure, but cut in two
    assert ev.to_json()["campaigns"][0]["purity"] == 0.25
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(ev)
    text = console.export_text()
    assert "25% of 4" in text and "25% of its 4 findings the campaign's" in text
