"""The day-by-day fold: one batch run and daily runs leave the same findings; state is kept,
versioned and rolled back for late data (``ashiato.detect.fold``, ``ashiato.detect.state``)."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from ashiato.detect import runner
from ashiato.detect.state import DetectorState, StateTable
from ashiato.inventory import Inventory
from ashiato.store import StoreLayout
from tests.conftest import event, ts
from tests.detect.foldcheck import add_day, by_day, numbered, runs, seen

DORMANT = "novelty.dormant_account"


def _dormant_month() -> list[dict[str, object]]:
    rows = [
        event(ts=ts(d, 3), user="k.ito", src_ip="10.1.0.101", dst_host="jp-tky-ws001")
        for d in range(1, 31)
    ]
    rows += [
        event(ts=ts(1, 2), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-tky-ws001"),
        event(ts=ts(3, 2), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-tky-ws001"),
        # back after 17 days, late in the day: the evidence runs past midnight into day 21
        event(ts=ts(20, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-tky-ws001"),
        event(ts=ts(21, 1), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01"),
        event(ts=ts(2, 5), user="t.suzuki", src_ip="10.1.0.101", dst_host="jp-dc-fs01"),
        event(ts=ts(12, 5), user="t.suzuki", src_ip="10.1.0.101", dst_host="jp-dc-fs01"),
        # silent from day 2 to day 25 (23 days), but day 12's use arrives late
        event(ts=ts(25, 5), user="t.suzuki", src_ip="10.1.0.101", dst_host="jp-tky-ws001"),
    ]
    return rows


def test_daily_runs_and_a_late_day_equal_one_batch_run(
    tmp_path: Path, inventory: Inventory
) -> None:
    params = {DORMANT: {"dormant_days": 20}}
    got = runs(
        tmp_path,
        _dormant_month(),
        inventory,
        [DORMANT],
        params,
        late=("2026-09-12", "2026-09-20"),
        daily_runs=True,
    )
    batch = got["batch"]
    assert batch.findings.num_rows == 1, "t.suzuki's day-12 use breaks the silence"
    f = batch.findings.to_pylist()[0]
    assert f["evidence_count"] == 2, "the reactivation (day 20) and its next 24 h (day 21)"
    assert "It went on from 2026-09-20 17:00 UTC to 2026-09-21 01:00 UTC" in f["reason"]
    assert seen(got["daily"]) == seen(batch)
    assert seen(got["late"]) == seen(batch)


@pytest.mark.parametrize(("slice_days", "judged"), [(1, 19), (31, 30)])
def test_a_late_day_rolls_the_state_back_and_judges_again(
    tmp_path: Path,
    inventory: Inventory,
    monkeypatch: pytest.MonkeyPatch,
    slice_days: int,
    judged: int,
) -> None:
    """Without day 12, t.suzuki's day-25 use ends 23 days of silence; day 12 arriving after
    day 25 was judged takes the finding away, as a batch run over all days would. The days
    judged again run from the start of the slice that held day 12: day 12 itself when each
    day was its own slice, day 1 when the month was one slice."""
    monkeypatch.setenv("ASHIATO_SLICE_DAYS", str(slice_days))
    params = {DORMANT: {"dormant_days": 20}}
    rows = _dormant_month()
    days = by_day(numbered(rows))
    store = tmp_path / "s"
    for day, day_rows in days.items():
        if day != "2026-09-12":
            add_day(store, day, day_rows)
    before = runner.detect(store, inventory, detectors=[DORMANT], params=params)
    users = sorted(r["entities"]["accounts"][0] for r in before.findings.to_pylist())
    assert users == ["adm-sato", "t.suzuki"]
    add_day(store, "2026-09-12", days["2026-09-12"])
    after = runner.detect(store, inventory, detectors=[DORMANT], params=params)
    assert [r["entities"]["accounts"][0] for r in after.findings.to_pylist()] == ["adm-sato"]
    run = next(r for r in after.runs if r.detector == DORMANT)
    assert f"{judged} day(s) judged" in run.detail


def test_a_run_with_nothing_new_judges_no_day(tmp_path: Path, inventory: Inventory) -> None:
    store = tmp_path / "s"
    for day, day_rows in by_day(numbered(_dormant_month())).items():
        add_day(store, day, day_rows)
    first = runner.detect(store, inventory, detectors=[DORMANT])
    again = runner.detect(store, inventory, detectors=[DORMANT])
    run = next(r for r in again.runs if r.detector == DORMANT)
    assert "0 day(s) judged" in run.detail
    assert again.findings.equals(first.findings)
    # a changed parameter is another detector: its state is begun afresh, and says why
    changed = runner.detect(
        store, inventory, detectors=[DORMANT], params={DORMANT: {"dormant_days": 20}}
    )
    run = next(r for r in changed.runs if r.detector == DORMANT)
    assert "30 day(s) judged" in run.detail and "parameters" in run.detail
    meta = DetectorState(StoreLayout(store), DORMANT).meta()
    assert meta is not None and meta.watermark == "2026-09-30" and len(meta.days) == 30


def test_state_tables_refuse_a_value_without_a_combine() -> None:
    with pytest.raises(ValueError, match="needs one combine"):
        StateTable("t", {"k": "string"}, {"v": "int64"}, {}, "")
    with pytest.raises(ValueError, match="unknown combine"):
        StateTable("t", {"k": "string"}, {"v": "int64"}, {"v": "median"}, "")
    t = StateTable(
        "t", {"k": "string"}, {"v": "int64", "at": "int64"}, {"v": "first:at", "at": "min"}, ""
    )
    assert 'arg_min_null("v", "at")' in t.combine_sql("x")


def test_combines_keep_declared_types_and_a_null_latest_value() -> None:
    """A sum stays BIGINT (DuckDB widens it), and ``last:`` takes the latest row's value even
    when it is null (``arg_max`` would skip to an older one)."""
    import duckdb

    t = StateTable(
        "t",
        {"k": "string"},
        {"n": "int64", "at": "int64", "tz": "string"},
        {"n": "sum", "at": "max", "tz": "last:at"},
        "",
    )
    con = duckdb.connect()
    rows = "VALUES ('a', 2, 1, 'Asia/Tokyo'), ('a', 3, 2, NULL)"
    src = f'(SELECT * FROM ({rows}) v(k, n, "at", tz))'
    con.execute(f"CREATE TABLE s AS {t.combine_sql(src)}")
    assert con.sql('SELECT k, n, "at", tz FROM s').fetchall() == [("a", 5, 2, None)]
    assert dict(con.sql("DESCRIBE s").fetchall()[i][:2] for i in range(4))["n"] == "BIGINT"


def test_state_show_and_rebuild_commands(
    tmp_path: Path, inventory_dir: Path, inventory: Inventory
) -> None:
    import json

    from typer.testing import CliRunner

    from ashiato.cli import app

    store = tmp_path / "s"
    for day, day_rows in by_day(numbered(_dormant_month())).items():
        add_day(store, day, day_rows)
    runner.detect(store, inventory, detectors=[DORMANT])
    cli = CliRunner()
    shown = cli.invoke(app, ["state", "show", "--store", str(store), "--json"])
    assert shown.exit_code == 0, shown.output
    row = json.loads(shown.output.splitlines()[0])
    assert row["detector"] == DORMANT and row["watermark"] == "2026-09-30" and row["days"] == 30
    assert row["tables"]["last_use"] == 3 and row["bytes"] > 0
    built = cli.invoke(
        app,
        [
            "state",
            "rebuild",
            "--store",
            str(store),
            "--inventory",
            str(inventory_dir),
            "--detector",
            DORMANT,
        ],
    )
    assert built.exit_code == 0, built.output
    assert f"{DORMANT}: 30 day(s) folded, to 2026-09-30" in built.output
    again = runner.detect(store, inventory, detectors=[DORMANT])
    assert "0 day(s) judged" in next(r for r in again.runs if r.detector == DORMANT).detail
    bad = cli.invoke(app, ["state", "rebuild", "--store", str(store), "--detector", "no.such"])
    assert bad.exit_code != 0 and "unknown detector" in bad.output


def test_kept_days_bound_a_state_table() -> None:
    import duckdb

    t = StateTable(
        "daily",
        {"host": "string", "day": "date"},
        {"bytes": "int64"},
        {"bytes": "sum"},
        "bytes per host and day",
        keep_days=2,
        keep_by="day",
    )
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE s AS SELECT * FROM (VALUES ('a', DATE '2026-09-01', 5), "
        "('a', DATE '2026-09-08', 7), ('a', DATE '2026-09-09', 1)) v(host, day, bytes)"
    )
    con.execute("CREATE TABLE fold_day AS SELECT TIMESTAMPTZ '2026-09-10 00:00:00+00' AS start")
    sql = t.expire_sql("s")
    assert sql is not None
    con.execute(sql)
    assert con.sql("SELECT day::VARCHAR FROM s ORDER BY day").fetchall() == [
        ("2026-09-08",),
        ("2026-09-09",),
    ]
    with pytest.raises(ValueError, match="keep_days needs keep_by"):
        StateTable("x", {"k": "string"}, {"v": "int64"}, {"v": "sum"}, "", keep_days=3)


RDP_RULE = """\
title: Remote interactive logon (test)
id: 5d9b8f2e-7a41-4c55-9a3e-0c1f4b7e2a10
status: test
level: medium
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4624, LogonType: 10}
  condition: selection
"""


def test_sigma_rules_judge_each_day_once_and_as_a_batch_would(
    tmp_path: Path, inventory: Inventory
) -> None:
    rule = tmp_path / "rdp.yml"
    rule.write_text(RDP_RULE)

    def rdp(day: int, hour: int, user: str, host: str) -> dict[str, object]:
        raw = {"EventID": "4624", "Channel": "Security", "LogonType": "10"}
        return event(
            ts=ts(day, hour),
            user=user,
            logon_type=10,
            src_ip="10.3.0.101",
            dst_host=host,
            log_host=host,
            raw=list((raw | {"TargetUserName": user}).items()),
        )

    rows = [rdp(d, 9, "adm-sato", "jp-dc-fs01") for d in (2, 5, 9, 12, 16)]
    rows += [rdp(12, 23, "k.ito", "jp-tky-ws001"), rdp(13, 1, "k.ito", "jp-tky-ws001")]
    got = runs(
        tmp_path,
        rows,
        inventory,
        [],
        late=("2026-09-12", "2026-09-16"),
        rules=[rule],
        daily_runs=True,
    )
    batch = got["batch"].findings.to_pylist()
    assert sorted((f["entities"]["accounts"], f["evidence_count"]) for f in batch) == [
        (["adm-sato"], 5),
        (["k.ito"], 2),
    ]
    assert seen(got["daily"]) == seen(got["batch"]) == seen(got["late"])
    run = next(r for r in got["daily"].runs if r.detector == "sigma")
    assert run.detail == "1 day(s) judged (to 2026-09-16)", "only the newest day"


def test_post_steps_see_only_findings_that_changed_or_reach_new_days(
    tmp_path: Path, inventory: Inventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The credential followed after a reactivation (``follow``) reaches a host on a day that
    arrives in a later run: that finding goes through the step again and gains the host; a
    run with nothing new sends no finding through it and leaves the findings as they were."""
    seen_by_step: list[list[str]] = []
    follow = runner.follow_credentials

    def recording(findings, *args, **kw):  # type: ignore[no-untyped-def]
        seen_by_step.append([f.finding_id for f in findings])
        return follow(findings, *args, **kw)

    monkeypatch.setattr(runner, "follow_credentials", recording)
    rows = _dormant_month()
    rows.append(event(ts=ts(22, 1), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-dc01"))
    days = by_day(numbered(rows))
    store = tmp_path / "s"
    for day, day_rows in days.items():
        if day <= "2026-09-21":
            add_day(store, day, day_rows)
    params = {DORMANT: {"dormant_days": 20}}
    first = runner.detect(store, inventory, detectors=[DORMANT], params=params)
    adm = [r for r in first.findings.to_pylist() if r["entities"]["accounts"] == ["adm-sato"]]
    assert "jp-dc-dc01" not in adm[0]["entities"]["hosts"]
    for day, day_rows in days.items():
        if day > "2026-09-21":
            add_day(store, day, day_rows)
    second = runner.detect(store, inventory, detectors=[DORMANT], params=params)
    adm = [r for r in second.findings.to_pylist() if r["entities"]["accounts"] == ["adm-sato"]]
    assert "jp-dc-dc01" in adm[0]["entities"]["hosts"], "followed onto the new day"
    assert adm[0]["finding_id"] in seen_by_step[-1]
    seen_by_step.clear()
    third = runner.detect(store, inventory, detectors=[DORMANT], params=params)
    assert seen_by_step in ([], [[]]), "nothing new: no finding goes through the step"
    assert third.findings.equals(second.findings)


def test_merged_parts_take_the_strongest_or_the_latest_words() -> None:
    import pyarrow as pa

    from ashiato.detect.parts import merge_findings
    from ashiato.detect.spec import Finding, findings_table

    def part(day: int, score: float, words: str) -> Finding:
        return Finding(
            detector="x.y",
            detector_version="1",
            title=words,
            severity="high",
            score=score,
            techniques=("T1021",),
            first_seen=ts(day, 1),
            last_seen=ts(day, 2),
            accounts=("a",),
            hosts=(f"h{day}",),
            sites=(),
            ips=(),
            reason=words,
            evidence=(f"e{day}",),
            evidence_count=3,
            key="k",
        )

    parts = [part(3, 90.0, "two hops"), part(4, 90.0, "three hops")]
    table = findings_table(parts).append_column("key", pa.array(["k", "k"]))
    (strong,) = merge_findings(table)
    (late,) = merge_findings(table, latest=True)
    assert strong.title == "two hops" and late.title == "three hops"
    for f in (strong, late):
        assert f.evidence == ("e3", "e4") and f.evidence_count == 6
        assert f.hosts == ("h3", "h4") and f.finding_id == parts[0].finding_id
        assert "on 2 day(s)" in f.reason


def test_slices_hold_consecutive_days_within_a_size() -> None:
    from ashiato.detect.slices import day_slices as _slices

    days = ["2026-09-01", "2026-09-02", "2026-09-03", "2026-09-05", "2026-09-06"]
    assert _slices(days, 7) == [tuple(days)]
    assert _slices(days, 2) == [tuple(days[:2]), (days[2],), tuple(days[3:])]
    # a slice grows only while its event files stay within the bytes given; a heavy day alone
    weight = {"2026-09-01": 60, "2026-09-02": 60, "2026-09-03": 200, "2026-09-05": 10}
    got = _slices(days, 7, weight, 150)
    assert got == [tuple(days[:2]), (days[2],), tuple(days[3:])]


def test_a_day_keyed_delta_outside_its_slice_is_refused() -> None:
    """A table read back from its deltas must get rows of the slice's days only: a delta that
    reaches outside them is a detector's fault, raised rather than stored."""
    from ashiato.detect.statetables import keeps_to as _keeps_to
    from ashiato.errors import DetectError

    table = StateTable(
        "arrived", {"who": "string", "day": "timestamp('UTC', 6)"}, {"n": "int64"}, {"n": "sum"},
        "test", day_key="day",
    )  # fmt: skip
    delta = pa.table({"who": ["a", "b"], "day": [ts(3, 0), ts(4, 0)], "n": [1, 2]})
    _keeps_to("d", table, delta, ["2026-09-03", "2026-09-04"])  # inside: accepted
    with pytest.raises(DetectError, match="2026-09-03 to 2026-09-04, outside the slice"):
        _keeps_to("d", table, delta, ["2026-09-04"])
    with pytest.raises(ValueError, match="day_key must be one of its keys"):
        StateTable("t", {"who": "string"}, {"n": "int64"}, {"n": "sum"}, "test", day_key="n")


def test_a_new_day_holds_one_detectors_state_at_a_time(
    tmp_path: Path, inventory: Inventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A detector's state is read when its first slice comes and freed after its last: a run
    over one new day never has two detectors' state in memory beside the day's events."""
    from ashiato.detect import fold

    store = tmp_path / "s"
    days = by_day(numbered(_dormant_month()))
    dets = [DORMANT, "novelty.rare_access", "lateral.hop_chain", "privilege.off_hours"]
    for day, day_rows in days.items():
        if day != "2026-09-30":
            add_day(store, day, day_rows)
    runner.detect(store, inventory, detectors=dets)
    add_day(store, "2026-09-30", days["2026-09-30"])
    held: list[set[str]] = []
    prefix = {d: "state_" + re.sub(r"[^0-9A-Za-z]", "_", d) + "_" for d in dets}
    run = fold._run

    def watching(raw: object, compiled: tuple[str, object]) -> object:
        names = [r[0] for r in raw.sql("SELECT table_name FROM duckdb_tables()").fetchall()]  # type: ignore[attr-defined]
        held.append({d for d in dets if any(n.startswith(prefix[d]) for n in names)})
        return run(raw, compiled)  # type: ignore[arg-type]

    monkeypatch.setattr(fold, "_run", watching)
    after = runner.detect(store, inventory, detectors=dets)
    assert all("1 day(s) judged" in r.detail for r in after.runs if r.detector in dets)
    assert held and max(len(h) for h in held) == 1
    assert len(set().union(*held)) >= 3, "each detector's state was there for its own queries"


def test_a_day_keyed_table_is_read_from_the_slices_that_reach_its_first_live_day(
    tmp_path: Path,
) -> None:
    """A delta is named by its slice's first day: a slice of a week holds rows of its later
    days too, so it is read when it reaches the first live day."""
    from ashiato.detect.state import Meta

    ds = DetectorState(StoreLayout(tmp_path), "d")
    for day in ("2026-09-01", "2026-09-08", "2026-09-09"):
        ds.write(ds.delta_file("arrived", day), pa.table({"n": [1]}))
    slices = {"2026-09-01": "2026-09-07", "2026-09-08": "2026-09-08", "2026-09-09": "2026-09-09"}
    meta = Meta("fp", slices=slices, live={"arrived": "2026-09-05"})
    read = ds.live_deltas("arrived", meta)
    assert read is not None and [f.stem for f in read] == list(slices)
    meta.live["arrived"] = "2026-09-08"
    assert [f.stem for f in ds.live_deltas("arrived", meta) or []] == ["2026-09-08", "2026-09-09"]
    assert ds.live_deltas("other", meta) is None, "no word on it: its snapshot is read"
