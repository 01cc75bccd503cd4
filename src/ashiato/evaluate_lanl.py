"""Rank metrics for LANL red-team labels: ROC AUC, average precision, precision at 80% recall.

The published LANL protocol (Euler, NDSS 2022; Argus, S&P 2024) scores every authentication and
ranks the red team's among them. Here an auth event's score is the highest score of the findings
that cite it as evidence (0 when none does); an edge-day, one (day, user, source, destination),
takes its events' highest score and is malicious when one of its events is. The detectors only
compare a window with what came *before* it (cumulative maxima, first-seen, ``lag``), so a test
day is always judged against earlier days only: the train-before-test protocol.

Scores take few distinct values (one per finding score), so the curves are computed from counts
of positives and negatives per distinct score, grouped in the engine: this scales to the 1.05
billion auth events of the real set. Metrics follow scikit-learn's definitions (ties averaged in
the AUC; AP as the step sum over distinct thresholds) and are tested on hand-computed cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table

Floats = npt.NDArray[np.float64]

TARGET_RECALL = 0.8


@dataclass(frozen=True)
class Ranking:
    """How well finding scores rank labelled items (events or edge-days) above the rest."""

    unit: str  # "event" or "edge-day"
    items: int
    positives: int
    flagged: int  # items with a score above 0 (cited by some finding)
    flagged_positives: int
    roc_auc: float | None  # None without both classes
    average_precision: float | None
    precision_at_80_recall: float | None  # None when findings never reach recall 0.8
    threshold_at_80_recall: float | None
    note: str


@dataclass(frozen=True)
class LanlScores:
    """Rank metrics per event and per edge-day, and the alert rate over the scored days."""

    test_from: str | None  # items before this only trained the baselines and are not scored
    days: float
    alerts_per_day: float  # findings whose first event falls in the scored days, per day
    flagged_events_per_day: float
    events: Ranking
    edges: Ranking

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        t = Table(title=f"LANL red team, ranked ({self.days:g} scored days)")
        for col in ("unit", "items (red)", "flagged (red)", "ROC AUC", "AP", "precision@80% rec."):
            t.add_column(col, justify="left" if col == "unit" else "right")
        for r in (self.events, self.edges):
            t.add_row(
                r.unit,
                f"{r.items:,} ({r.positives:,})",
                f"{r.flagged:,} ({r.flagged_positives:,})",
                _fmt(r.roc_auc),
                _fmt(r.average_precision),
                _fmt(r.precision_at_80_recall) if r.precision_at_80_recall is not None else "n/r",
            )
        yield t
        yield (
            f"alerts (findings) per day {self.alerts_per_day:.2f}; "
            f"flagged events per day {self.flagged_events_per_day:.1f}"
        )
        for r in (self.events, self.edges):
            if r.note:
                yield f"{r.unit}: {r.note}"


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def grouped(scores: Any, labels: Any) -> tuple[Floats, Floats, Floats]:
    """(distinct scores ascending, positives per score, negatives per score) of raw arrays."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    uniq, inv = np.unique(s, return_inverse=True)
    pos = np.bincount(inv, weights=y.astype(np.float64), minlength=len(uniq))
    neg = np.bincount(inv, weights=(~y).astype(np.float64), minlength=len(uniq))
    return uniq, pos.astype(np.float64), neg.astype(np.float64)


def roc_auc(pos: Floats, neg: Floats) -> float | None:
    """Mann-Whitney AUC over per-score counts (scores ascending); a tie counts one half."""
    p, n = pos.sum(), neg.sum()
    if p == 0 or n == 0:
        return None
    neg_below = np.cumsum(neg) - neg
    return float((pos * (neg_below + 0.5 * neg)).sum() / (p * n))


def pr_points(pos: Floats, neg: Floats) -> tuple[Floats, Floats]:
    """Precision and recall when flagging every item scoring at least each distinct score,
    highest threshold first (inputs ascending)."""
    tp = np.cumsum(pos[::-1])
    fp = np.cumsum(neg[::-1])
    total = pos.sum()
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    recall = tp / total if total else np.zeros_like(tp)
    return precision, recall


def average_precision(pos: Floats, neg: Floats) -> float | None:
    """Sum over distinct thresholds of (recall gained) x precision, as scikit-learn does."""
    if pos.sum() == 0:
        return None
    precision, recall = pr_points(pos, neg)
    gained = np.diff(np.concatenate(([0.0], recall)))
    return float((gained * precision).sum())


def precision_at_recall(
    uniq: Floats, pos: Floats, neg: Floats, target: float = TARGET_RECALL
) -> tuple[float | None, float | None]:
    """Best precision (and its threshold) among alerting thresholds (score > 0) reaching
    ``target`` recall; (None, None) when flagging every cited item still falls short."""
    precision, recall = pr_points(pos, neg)
    thresholds = uniq[::-1]
    ok = (recall >= target - 1e-12) & (thresholds > 0)
    if pos.sum() == 0 or not ok.any():
        return None, None
    i = int(np.flatnonzero(ok)[np.argmax(precision[ok])])
    return float(precision[i]), float(thresholds[i])


def ranking(unit: str, uniq: Floats, pos: Floats, neg: Floats) -> Ranking:
    """Every metric of one unit from per-score counts (scores ascending)."""
    flagged = uniq > 0
    p_at, thr = precision_at_recall(uniq, pos, neg)
    n_pos = int(pos.sum())
    f_pos = int(pos[flagged].sum())
    note = ""
    if n_pos and p_at is None:
        note = (
            f"recall {TARGET_RECALL:.0%} never reached: findings cite {f_pos} of {n_pos} "
            f"red-team {unit}s ({f_pos / n_pos:.0%})"
        )
    elif not n_pos:
        note = "no red-team item among the scored ones"
    return Ranking(
        unit=unit,
        items=int(pos.sum() + neg.sum()),
        positives=n_pos,
        flagged=int(pos[flagged].sum() + neg[flagged].sum()),
        flagged_positives=f_pos,
        roc_auc=_round(roc_auc(pos, neg)),
        average_precision=_round(average_precision(pos, neg)),
        precision_at_80_recall=_round(p_at),
        threshold_at_80_recall=thr,
        note=note,
    )


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _counts(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Floats, Floats, Floats]:
    rows = con.sql(sql).fetchall()
    if not rows:
        z = np.zeros(0)
        return z, z, z
    arr = np.asarray(rows, dtype=np.float64)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def lanl_scores(con: duckdb.DuckDBPyConnection, test_from: datetime | None = None) -> LanlScores:
    """Rank metrics from the open evaluation connection.

    Needs the views ``events`` (the store's, with ``source``), ``findings`` and the table ``mal``
    (event ids matched to ``redteam.txt`` labels). Only ``lanl_auth`` events at or after
    ``test_from`` (default: all) are scored.
    """
    where = "e.source = 'lanl_auth'" + (" AND e.ts >= $t" if test_from else "")
    params = {"t": test_from} if test_from else {}
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE scored AS
        WITH s AS (SELECT event_id, max(f.score) AS score
                   FROM (SELECT score, unnest(evidence) AS event_id FROM findings) f
                   GROUP BY event_id)
        SELECT e.event_id, e.ts, e."user", e.src_host, e.dst_host,
               coalesce(s.score, 0)::DOUBLE AS score,
               e.event_id IN (SELECT event_id FROM mal) AS red
        FROM events e LEFT JOIN s USING (event_id) WHERE {where}""",
        params,
    )
    per = "SELECT score, sum(red::INT), sum((NOT red)::INT) FROM {} GROUP BY score ORDER BY score"
    ev = ranking("event", *_counts(con, per.format("scored")))
    edges = """(SELECT max(score) AS score, bool_or(red) AS red FROM scored
                GROUP BY date_trunc('day', ts), "user", src_host, dst_host)"""
    ed = ranking("edge-day", *_counts(con, per.format(edges)))
    lo, hi = con.sql("SELECT min(ts), max(ts) FROM scored").fetchall()[0]
    days = max((hi - lo).total_seconds() / 86400, 1.0) if lo is not None else 1.0
    since = test_from or lo
    n_alerts = (
        con.execute(
            "SELECT count(*) FROM findings WHERE first_seen >= $t", {"t": since}
        ).fetchall()[0][0]
        if since is not None
        else 0
    )
    return LanlScores(
        test_from=test_from.isoformat() if test_from else None,
        days=round(days, 2),
        alerts_per_day=round(n_alerts / days, 3),
        flagged_events_per_day=round(ev.flagged / days, 3),
        events=ev,
        edges=ed,
    )


def test_start(con: duckdb.DuckDBPyConnection, test_from_day: float | None) -> datetime | None:
    """The instant ``test_from_day`` days after the first LANL auth event (None: score all)."""
    if test_from_day is None:
        return None
    lo = con.sql("SELECT min(ts) FROM events WHERE source = 'lanl_auth'").fetchall()[0][0]
    return None if lo is None else lo + timedelta(days=test_from_day)
