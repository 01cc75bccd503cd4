"""Analyst verdicts are data: recorded with who and why, applied by the next detect run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ashiato.detect import suppress
from ashiato.detect.runner import detect
from ashiato.errors import AshiatoError
from ashiato.store import StoreLayout
from tests.conftest import event, ts

ASHIATO = str(Path(sys.executable).with_name("ashiato"))


def _rows() -> list[dict]:
    return [
        # two unrelated policy breaks from Thailand
        event(ts=ts(5, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01"),
        event(ts=ts(6, 3), user="t.suzuki", src_ip="10.3.0.102", dst_host="jp-tky-ws001"),
    ]


def test_finding_verdict_applies_next_run(inventory, write_events) -> None:
    root = write_events(_rows())
    rep = detect(root, inventory, detectors=["segmentation.policy_violation"])
    assert rep.findings.num_rows == 2 and rep.suppressed == 0
    target = next(f for f in rep.findings.to_pylist() if f["entities"]["accounts"] == ["t.suzuki"])
    layout = StoreLayout(root)
    s = suppress.add(
        layout,
        detector=target["detector"],
        scope="finding",
        value=target["finding_id"],
        verdict="expected",
        by="alice",
        why="Suzuki helps the Bangkok office with its PCs",
    )
    assert [x.id for x in suppress.load(layout)] == [s.id]
    rep2 = detect(root, inventory, detectors=["segmentation.policy_violation"])
    assert rep2.suppressed == 1
    assert [f["entities"]["accounts"] for f in rep2.findings.to_pylist()] == [["adm-sato"]]
    assert any("suppressed" in n for n in rep2.notices)
    assert rep2.incidents.num_rows == 1
    # same verdict again replaces, not duplicates; removing restores the finding
    suppress.add(
        layout,
        detector=s.detector,
        scope="finding",
        value=s.value,
        verdict="expected",
        by="bob",
        why="again",
    )
    assert len(suppress.load(layout)) == 1 and suppress.load(layout)[0].by == "bob"
    assert suppress.remove(layout, s.id)
    assert detect(root, inventory).findings.num_rows >= 2


def test_account_scope_and_who_why_required(inventory, write_events) -> None:
    root = write_events(_rows())
    layout = StoreLayout(root)
    with pytest.raises(AshiatoError, match="who"):
        suppress.add(
            layout,
            detector="*",
            scope="account",
            value="adm-sato",
            verdict="expected",
            by="",
            why="x",
        )
    suppress.add(
        layout,
        detector="*",
        scope="account",
        value="adm-sato",
        verdict="false_positive",
        by="alice",
        why="migration week",
    )
    rep = detect(root, inventory)
    assert all("adm-sato" not in f["entities"]["accounts"] for f in rep.findings.to_pylist())


def test_cli_suppress_incident_and_list(inventory, inventory_dir, write_events) -> None:
    root = write_events(_rows())
    env = {**os.environ, "COLUMNS": "200"}

    def run(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ASHIATO, *a], capture_output=True, text=True, env=env, check=False)

    assert run("detect", "--store", str(root), "--inventory", str(inventory_dir)).returncode == 0
    inc = json.loads(run("incidents", "--store", str(root), "--json").stdout.splitlines()[0])
    p = run(
        "suppress",
        "--store",
        str(root),
        "--incident",
        inc["id"],
        "--by",
        "alice",
        "--why",
        "known admin work",
    )
    assert p.returncode == 0, p.stderr
    listed = [
        json.loads(x)
        for x in run("suppressions", "--store", str(root), "--json").stdout.splitlines()
    ]
    assert {x["value"] for x in listed} == set(inc["finding_ids"])
    assert all(x["by"] == "alice" and x["why"] == "known admin work" for x in listed)
    bad = run("suppress", "--store", str(root), "--finding", "F-nope", "--by", "a", "--why", "b")
    assert bad.returncode == 2 and "no finding F-nope" in bad.stderr
