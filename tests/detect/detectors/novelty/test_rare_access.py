"""Golden samples for novelty.rare_access.

Positive: s.chai (TH-BKK, group XSite) reaches two data-centre hosts that only one Tokyo admin
ever reached, from a site that never reached them: one finding for the day, both events.
Hard negatives: a migration (four accounts newly reach one host on the same day), a peer
precedent (a Bangkok account reaches a host a Bangkok peer already uses), a broad account (help-desk
style, already beyond ``max_breadth`` hosts), a brand-new account (no baseline of its own) and
everything during warm-up.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ashiato.detect import runner
from ashiato.detect.detectors.novelty import rare_access
from ashiato.inventory import Inventory
from tests.conftest import event, ts
from tests.detect.foldcheck import runs, seen

DET = [rare_access.SPEC.id]
TKY, BKK = "10.1.0.101", "10.3.0.101"
Writer = Callable[[list[dict[str, Any]]], Path]


@pytest.fixture(autouse=True)
def _only_this(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "DETECTORS", (rare_access,))


def _baseline() -> list[dict[str, Any]]:
    rows = [
        # adm-sato (peer: home site JP-TKY) uses the data-centre hosts from day 1
        event(ts=ts(1, 1), user="adm-sato", src_ip=TKY, dst_host="jp-dc-db01"),
        event(ts=ts(1, 2), user="adm-sato", src_ip=TKY, dst_host="jp-dc-app01"),
        event(ts=ts(1, 3), user="adm-sato", src_ip=TKY, dst_host="jp-dc-nas01"),
        event(ts=ts(1, 3), user="th.user0", src_ip=BKK, dst_host="jp-dc-web01"),
    ]
    for d in range(1, 11):
        rows.append(event(ts=ts(d, 4), user="t.suzuki", src_ip=TKY, dst_host="jp-dc-fs01"))
        rows.append(event(ts=ts(d, 5), user="s.chai", src_ip=BKK, dst_host="jp-dc-fs01"))
        for i in range(4):  # four more Bangkok users and one broad help-desk account
            rows.append(event(ts=ts(d, 6), user=f"th.user{i}", src_ip=BKK, dst_host="jp-dc-fs01"))
            rows.append(event(ts=ts(d, 7), user="hd-x", src_ip=BKK, dst_host=f"th-bkk-ws{i:03d}"))
    return rows


def test_positive_rare_destinations_grouped_per_day(
    inventory: Inventory, write_events: Writer
) -> None:
    rows = _baseline()
    n = len(rows)
    rows += [
        event(ts=ts(12, 3), user="s.chai", src_ip=BKK, dst_host="jp-dc-db01"),
        event(ts=ts(12, 4), user="s.chai", src_ip=BKK, dst_host="jp-dc-app01"),
        event(ts=ts(12, 5), user="s.chai", src_ip=BKK, dst_host="jp-dc-db01"),  # not new again
    ]
    rep = runner.detect(write_events(rows), inventory, detectors=DET)
    f = rep.findings.to_pylist()
    assert len(f) == 1
    assert f[0]["evidence"] == [f"e{n:06d}", f"e{n + 1:06d}"], "the two first accesses"
    assert f[0]["score"] == 54.0
    assert f[0]["entities"]["accounts"] == ["s.chai"]
    assert f[0]["reason"] == (
        "First time s.chai reached jp-dc-app01, jp-dc-db01, from th-bkk-ws001 at 2026-09-12 "
        "03:00 UTC: at most 1 of 8 accounts ever did (not counting accounts that reach more "
        "than 50 hosts), none of its 0 peers (group XSite) did, and no account from TH-BKK "
        "had reached it before. The account had reached 1 host(s) before; it reached 2 new "
        "host(s) that day."
    )


def test_hard_negatives(inventory: Inventory, write_events: Writer) -> None:
    rows = _baseline()
    # migration: four Bangkok accounts newly reach jp-dc-nas01 on the same day
    rows += [
        event(ts=ts(12, 3), user=f"th.user{i}", src_ip=BKK, dst_host="jp-dc-nas01")
        for i in range(4)
    ]
    # peer precedent: th.user1, an account the inventory does not know (peers: the accounts
    # of its source site), reaches a host its Bangkok peer th.user0 already uses
    rows.append(event(ts=ts(12, 4), user="th.user1", src_ip=BKK, dst_host="jp-dc-web01"))
    # brand-new account: no week of its own history
    rows.append(event(ts=ts(11, 4), user="new.hire", src_ip=BKK, dst_host="jp-dc-fs01"))
    rows.append(event(ts=ts(12, 4), user="new.hire", src_ip=BKK, dst_host="jp-dc-app01"))
    # during warm-up nothing is new
    rows.append(event(ts=ts(3, 4), user="s.chai", src_ip=BKK, dst_host="jp-dc-app01"))
    rep = runner.detect(write_events(rows), inventory, detectors=DET)
    assert rep.findings.num_rows == 0, rep.findings.to_pylist()[0]["reason"]
    # a broad account (beyond max_breadth hosts) reaching one more is habitual, not rare
    broad = [*_baseline(), event(ts=ts(12, 3), user="hd-x", src_ip=BKK, dst_host="jp-dc-db01")]
    params = {DET[0]: {"max_breadth": 3}}
    rep = runner.detect(write_events(broad), inventory, detectors=DET, params=params)
    assert rep.findings.num_rows == 0
    rep = runner.detect(write_events(broad), inventory, detectors=DET)
    assert rep.findings.to_pylist()[0]["entities"]["accounts"] == ["hd-x"], "control"


def test_daily_runs_and_a_late_day_equal_one_batch_run(
    tmp_path: Path, inventory: Inventory
) -> None:
    """s.chai first reaches jp-dc-db01 on day 5 and jp-dc-app01 on day 6: two findings, each
    judged against the counts and first-seen sets of the days before. Day 5 held back until
    day 6 was judged makes day 6 look like two new hosts; its late arrival rolls the state
    back, as one batch run would."""
    rows = [r for r in _baseline() if r["ts"].day <= 4]
    n = len(rows)
    rows += [
        event(ts=ts(5, 3), user="s.chai", src_ip=BKK, dst_host="jp-dc-db01"),
        event(ts=ts(6, 3), user="s.chai", src_ip=BKK, dst_host="jp-dc-db01"),
        event(ts=ts(6, 4), user="s.chai", src_ip=BKK, dst_host="jp-dc-app01"),
    ]
    params = {DET[0]: {"warmup_days": 2}}
    got = runs(tmp_path, rows, inventory, DET, params, late=("2026-09-05", "2026-09-06"))
    f = sorted(got["batch"].findings.to_pylist(), key=lambda r: r["first_seen"])
    assert [r["evidence"] for r in f] == [[f"e{n:06d}"], [f"e{n + 2:06d}"]]
    assert "at most 1 of 8 accounts ever did" in f[1]["reason"]
    assert "The account had reached 2 host(s) before" in f[1]["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])


def test_a_pair_new_again_within_one_long_slice(
    inventory: Inventory, write_events: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within a slice longer than the look-back, a pair's later use can be new again (it then
    counts in the account's breadth): the same findings whether the days are judged one by one
    or all in one slice."""
    rows = _baseline()
    n = len(rows)
    rows += [
        event(ts=ts(12, 3), user="s.chai", src_ip=BKK, dst_host="jp-dc-db01"),
        event(ts=ts(13, 3), user="s.chai", src_ip=BKK, dst_host="jp-dc-db01"),  # not new
        event(ts=ts(17, 3), user="s.chai", src_ip=BKK, dst_host="jp-dc-db01"),  # new again
        event(ts=ts(18, 3), user="s.chai", src_ip=BKK, dst_host="jp-dc-app01"),
    ]
    params = {DET[0]: {"lookback_days": 3}}
    got = {}
    for days in ("1", "30"):
        monkeypatch.setenv("ASHIATO_SLICE_DAYS", days)
        got[days] = seen(runner.detect(write_events(rows), inventory, detectors=DET, params=params))
    assert got["1"] == got["30"]
    last = max(got["30"][0], key=lambda f: f[1])
    assert last[4] == (f"e{n + 3:06d}",)
    # fs01 and db01, and db01 again after the look-back: three onsets before app01
    assert "The account had reached 3 host(s) before" in last[6]
