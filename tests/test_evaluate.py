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
    assert c.host_recall == round(2 / 3, 4)  # the source (by IP) and fs01; dc01 never reached
    assert ev.truth_events_missing == 1
    assert ev.incidents == 2 and ev.true_incidents == 1 and ev.top_incident_is_true
    assert ev.event_recall == round(2 / 3, 4)
    assert ev.event_precision == round(2 / 3, 4)  # 3 distinct events cited, 2 malicious
    assert ev.false_incidents_per_day == round(1 / ev.days, 3)
    out = ev.to_json()
    assert {"campaigns", "false_incidents_per_day", "event_precision", "event_recall"} <= set(out)
    assert {"id", "detected", "delay_seconds", "host_recall"} <= set(out["campaigns"][0])
