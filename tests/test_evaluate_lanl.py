"""LANL redteam.txt labels: matched to auth events, then ranked (ROC AUC, AP, precision@80%)."""

from __future__ import annotations

import json
import random
from itertools import product
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from ashiato.cli import app
from ashiato.detect.runner import detect
from ashiato.evaluate import evaluate
from ashiato.evaluate_lanl import (
    average_precision,
    grouped,
    precision_at_recall,
    ranking,
    roc_auc,
)
from ashiato.ingest import ingest
from ashiato.store import Store

AUTH = """\
1,C625$@DOM1,C625$@DOM1,C625,C625,Negotiate,Service,LogOn,Success
150885,U620@DOM1,U620@DOM1,C17693,C1003,NTLM,Network,LogOn,Success
150885,U620@DOM1,U620@DOM1,C17693,C1003,NTLM,Network,LogOff,Success
150886,U1@DOM1,U1@DOM1,C17693,C1003,NTLM,Network,LogOn,Success
151036,U748@DOM1,SYSTEM@C305,C17693,C305,NTLM,Network,LogOn,Success
"""
REDTEAM = "150885,U620@DOM1,C17693,C1003\n151036,U748@DOM1,C17693,C305\n"


def test_redteam_labels_match_auth_events(tmp_path: Path) -> None:
    (tmp_path / "auth.txt").write_text(AUTH)
    (tmp_path / "redteam.txt").write_text(REDTEAM)
    store = tmp_path / "store"
    epoch = "2015-03-01T00:00:00+00:00"
    report = ingest([tmp_path / "auth.txt"], store, workers=1, options={"lanl.epoch": epoch})
    assert report.records_stored == 5
    detect(store, None)  # no inventory: the inventory detectors are skipped, no findings
    ev = evaluate(store, tmp_path / "redteam.txt", epoch=epoch)
    c = ev.campaigns[0]
    assert c.id == "lanl-redteam"
    # label 1 matches the logon and the logoff of U620 (same second, hosts, user); label 2
    # matches through the source user (the destination account is SYSTEM)
    assert c.events == 3
    assert not c.detected and ev.event_recall == 0.0


# --- rank metrics (evaluate_lanl): hand-computed cases first, then a planted campaign -----------


def _metrics(scores: list[float], labels: list[int]) -> tuple[object, object, object]:
    uniq, pos, neg = grouped(scores, labels)
    return roc_auc(pos, neg), average_precision(pos, neg), precision_at_recall(uniq, pos, neg)[0]


def test_metrics_on_a_hand_computed_ranking() -> None:
    # positives at ranks 1, 3, 4 of 6: the AUC counts 3 + 2 + 2 of 9 pairs won; AP averages the
    # precisions at each positive (1, 2/3, 3/4); recall 0.8 needs all three: 3 of 4 flagged
    auc, ap, p80 = _metrics([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], [1, 0, 1, 1, 0, 0])
    assert auc == pytest.approx(7 / 9)
    assert ap == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    assert p80 == pytest.approx(3 / 4)


def test_ties_count_half_and_unflagged_items_do_not_reach_recall() -> None:
    # one positive and one negative at 1, the same at 0: pairs won 1 + 0.5 + 0.5 of 4
    auc, ap, p80 = _metrics([1, 1, 0, 0], [1, 0, 1, 0])
    assert auc == pytest.approx(0.5)
    assert ap == pytest.approx(0.5 * 0.5 + 0.5 * 0.5)
    assert p80 is None  # recall 0.8 only by flagging the score-0 (uncited) events too
    r = ranking("event", *grouped([1, 1, 0, 0], [1, 0, 1, 0]))
    assert r.flagged == 2 and r.flagged_positives == 1 and "never reached" in r.note
    assert _metrics([1, 0], [0, 0])[:2] == (None, None)  # no positive: undefined, not 0


def test_metrics_match_brute_force_on_random_ties() -> None:
    rng = random.Random(3)
    s = [float(rng.randint(0, 4)) for _ in range(200)]
    y = [int(rng.random() < 0.2 + 0.1 * v) for v in s]
    pairs = [(a, b) for a, b in product(range(200), repeat=2) if y[a] and not y[b]]
    wins = sum(1.0 if s[a] > s[b] else 0.5 if s[a] == s[b] else 0.0 for a, b in pairs)
    order = sorted(set(s), reverse=True)
    ap, prev_recall = 0.0, 0.0
    for t in order:  # scikit-learn's definition: step sum over distinct thresholds
        tp = sum(1 for v, lab in zip(s, y, strict=True) if v >= t and lab)
        n = sum(1 for v in s if v >= t)
        ap += (tp / sum(y) - prev_recall) * tp / n
        prev_recall = tp / sum(y)
    auc, got_ap, _ = _metrics(s, y)
    assert auc == pytest.approx(wins / len(pairs))
    assert got_ap == pytest.approx(ap)


DAY = 86400


def _fixture(tmp: Path) -> tuple[Path, Path, int]:
    """Five days of benign auth over 300 users and 420 hosts; U7's credentials then reach many
    hosts they never reached: a few probes on day 1, bursts and a hop on days 2-4."""
    rng = random.Random(11)
    lines: list[tuple[int, str]] = []
    servers = [f"C{400 + i}" for i in range(20)]
    for day, u in product(range(5), range(1, 301)):
        usual = [servers[(u + k) % 20] for k in range(3)]
        for _ in range(rng.randint(2, 5)):
            t = day * DAY + rng.randint(0, DAY - 1)
            dst = rng.choice(usual)
            lines.append((t, f"U{u}@DOM1,U{u}@DOM1,C{u},{dst},NTLM,Network,LogOn,Success"))
    red: list[tuple[int, str, str]] = []  # (time, src, dst)
    red += [(1 * DAY + 3600 + 60 * i, "C7", f"C{100 + i}") for i in range(3)]  # early probes
    red += [(2 * DAY + 36000 + 90 * i, "C7", f"C{110 + i}") for i in range(25)]
    red += [(3 * DAY + 7200, "C7", "C150")]  # arrive on C150 ...
    red += [(3 * DAY + 9000 + 120 * i, "C150", f"C{160 + i}") for i in range(15)]  # ... hop on
    # day 4 from another desk: U7's own history holds a 25-host hour, C250's does not
    red += [(4 * DAY + 50000 + 60 * i, "C250", f"C{200 + i}") for i in range(30)]
    for t, src, dst in red:
        lines.append((t, f"U7@DOM1,U7@DOM1,{src},{dst},NTLM,Network,LogOn,Success"))
    lines.sort()
    auth = tmp / "auth.txt"
    auth.write_text("".join(f"{t},{rest}\n" for t, rest in lines))
    rt = tmp / "redteam.txt"
    rt.write_text("".join(f"{t},U7@DOM1,{s},{d}\n" for t, s, d in red))
    return auth, rt, len(red)


def test_planted_lanl_campaign_ranks_above_chance(tmp_path: Path) -> None:
    auth, rt, n_red = _fixture(tmp_path)
    store = tmp_path / "store"
    epoch = "2015-03-01T00:00:00+00:00"
    ingest([auth], store, workers=1, options={"lanl.epoch": epoch})
    warm = {"warmup_days": 2}
    detect(
        store,
        None,
        infer_sites=True,
        params={"fanout.credential_fanout": warm, "lateral.hop_chain": warm},
    )
    ev = evaluate(store, rt, epoch=epoch)
    r = ev.ranking
    assert r is not None
    e = r.events
    assert e.positives == n_red == ev.campaigns[0].events
    assert e.flagged_positives == ev.campaigns[0].events_flagged
    # the day-1 probes fall in the warm-up: cited by nothing, so recall stays below 1
    assert 0 < e.flagged_positives <= n_red - 3
    assert e.roc_auc is not None and e.roc_auc > 0.9
    assert e.average_precision is not None and e.average_precision > 10 * n_red / e.items
    assert e.precision_at_80_recall is not None and e.precision_at_80_recall > 0.5
    assert r.edges.positives == n_red  # every red event is its own (day, user, src, dst)
    assert r.days == pytest.approx(5, abs=0.01) and r.alerts_per_day > 0

    # the event scores the module ranks, recomputed independently in Python
    findings = Store(store).read_findings().to_pylist()
    best: dict[str, float] = {}
    for f in findings:
        for eid in f["evidence"]:
            best[eid] = max(best.get(eid, 0.0), f["score"])
    glob = Store(store).layout.events_glob()
    rows = duckdb.sql(
        f"""SELECT event_id, epoch(ts)::BIGINT - epoch('{epoch}'::TIMESTAMPTZ)::BIGINT,
                   "user", src_host, dst_host FROM read_parquet('{glob}')"""
    ).fetchall()
    red_keys = {tuple(ln.lower().replace("@dom1", "").split(",")) for ln in rt.read_text().split()}
    scores = [best.get(eid, 0.0) for eid, *_ in rows]
    labels = [int((str(t), u, s, d) in red_keys) for _, t, u, s, d in rows]
    assert sum(labels) == n_red
    auc, ap, p80 = _metrics(scores, labels)
    assert (e.roc_auc, e.average_precision, e.precision_at_80_recall) == pytest.approx(
        (auc, ap, p80), abs=1e-6
    )

    # training days left out: only days 2-4 are ranked, the probes of day 1 drop out
    later = evaluate(store, rt, epoch=epoch, test_from_day=2).ranking
    assert later is not None and later.events.positives == n_red - 3
    assert later.days == pytest.approx(3, abs=0.01)

    out = CliRunner().invoke(
        app, ["evaluate", "--store", str(store), "--truth", str(rt), "--epoch", epoch, "--json"]
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["ranking"]["events"]["roc_auc"] == e.roc_auc
    text = CliRunner().invoke(
        app, ["evaluate", "--store", str(store), "--truth", str(rt), "--epoch", epoch]
    )
    assert "ROC AUC" in text.output
