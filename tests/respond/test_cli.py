"""The three response verbs, through the real command line."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from ashiato.cli import app
from tests.respond.conftest import C1, Response, truth_end


def test_contain_notify_and_verify_from_the_command_line(
    response: Response, tmp_path: Path
) -> None:
    est = response.estate
    base = ["--store", str(est.store), "--inventory", str(est.root / "sim" / "inventory")]
    base += ["--incident", est.incident[C1]]
    run = CliRunner().invoke(app, ["contain", *base, "--out", str(tmp_path / "c")])
    assert run.exit_code == 0, run.output
    for name in ("containment.nft", "windows-firewall.ps1", "cisco-ios-acl.txt", "plan.json"):
        assert (tmp_path / "c" / name).stat().st_size > 0
    assert "legitimate broken" in run.output

    run = CliRunner().invoke(app, ["notify", *base, "--out", str(tmp_path / "n")])
    assert run.exit_code == 0, run.output
    with (tmp_path / "n" / "customers.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["customer_id"] for r in rows} == {d.customer for d in est.of(C1).data}
    assert len(rows) == len({d.customer for d in est.of(C1).data}) > 0
    assert all((tmp_path / "n" / "letters" / f"{r['customer_id']}.ja.txt").exists() for r in rows)

    def verify(since: str) -> dict:  # type: ignore[type-arg]
        plan = ["--plan", str(tmp_path / "c" / "plan.json"), "--json"]
        run = CliRunner().invoke(app, ["verify-containment", *base, "--since", since, *plan])
        assert run.exit_code == 0, run.output
        return json.loads(run.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    quiet = verify((truth_end(est, C1) + timedelta(seconds=1)).isoformat())
    assert quiet["verdict"] == "no activity since T" and quiet["alarms"] == []
    loud = verify("2026-09-20T00:00:00+00:00")  # inside the campaign: it went on
    assert loud["verdict"] == "alarm" and loud["alarms"]
