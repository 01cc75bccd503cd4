"""The demo path end to end through the installed `ashiato` command (real processes, real files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ASHIATO = str(Path(sys.executable).with_name("ashiato"))


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    p = subprocess.run(
        [ASHIATO, *args], check=False, capture_output=True, text=True, env=env, timeout=600
    )
    if ok:
        assert p.returncode == 0, f"ashiato {' '.join(args)} failed:\n{p.stdout}\n{p.stderr}"
    return p


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    run("demo", "--out", str(out), "--terminals", "120", "--days", "21", "--seed", "11")
    return out


def test_demo_prints_queue_and_scores(demo: Path) -> None:
    store = demo / "store"
    ev = json.loads(
        run(
            "evaluate",
            "--store",
            str(store),
            "--truth",
            str(demo / "enterprise/ground_truth.jsonl"),
            "--json",
        ).stdout
    )
    assert ev["campaigns"] and ev["campaigns"][0]["detected"]
    assert ev["campaigns"][0]["delay_seconds"] is not None
    assert ev["top_incident_is_true"], "the planted campaign must top the queue"
    assert 0 < ev["event_precision"] <= 1 and 0 < ev["event_recall"] <= 1


def test_findings_and_incidents_json(demo: Path) -> None:
    store = str(demo / "store")
    findings = [
        json.loads(x) for x in run("findings", "--store", store, "--json").stdout.splitlines()
    ]
    assert findings
    for f in findings:
        assert {"detector", "score", "entities", "first_seen", "last_seen", "evidence"} <= set(f)
    incidents = [
        json.loads(x) for x in run("incidents", "--store", store, "--json").stdout.splitlines()
    ]
    assert incidents and all("id" in i for i in incidents)
    risks = [i["risk"] for i in incidents]
    assert risks == sorted(risks, reverse=True)
    cited = {e for f in findings for e in f["evidence"]}
    assert cited


def test_reingest_adds_nothing(demo: Path) -> None:
    store = str(demo / "store")
    before = run("store", "manifest", "--store", store, "--json").stdout.splitlines()
    out = run("ingest", str(demo / "enterprise/logs"), "--store", store).stdout
    assert "already ingested" in out
    after = run("store", "manifest", "--store", store, "--json").stdout.splitlines()
    assert before == after


def test_inventory_check_cli(demo: Path, tmp_path: Path) -> None:
    assert "valid" in run("inventory", "check", str(demo / "enterprise/inventory")).stdout
    bad = tmp_path / "inv"
    bad.mkdir()
    (bad / "sites.yaml").write_text(
        "sites:\n  - name: X\n    country: JP\n    timezone: Mars/Base\n"
    )
    p = run("inventory", "check", str(bad), ok=False)
    assert p.returncode == 2 and "sites.yaml:4" in p.stderr and "Mars/Base" in p.stderr


def test_malformed_lines_are_counted(tmp_path: Path, demo: Path) -> None:
    src = sorted((demo / "enterprise/logs/windows").glob("*.jsonl"))[0]
    lines = src.read_text().splitlines()[:50]
    lines[3] = "{not json"
    lines[7] = lines[7].replace('"@timestamp"', '"@when"')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    store = str(tmp_path / "store")
    p = run("ingest", str(bad), "--store", store, "--strict", ok=False)
    assert p.returncode == 1
    rej = [
        json.loads(x)
        for x in run("store", "rejects", "--store", store, "--json").stdout.splitlines()
    ]
    assert sorted(r["source_offset"] for r in rej) == [4, 8]
    assert all(r["reason"] for r in rej)
    m = json.loads(run("store", "manifest", "--store", store, "--json").stdout.splitlines()[0])
    assert (m["records_read"], m["records_stored"], m["records_rejected"]) == (50, 48, 2)
