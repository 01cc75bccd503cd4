"""Hourly bursts against an entity's own history: the shared core of fan-out and spraying.

Given rows with an ``entity`` (and ``entity_kind``), an ``hour`` and a value to count distinct
(hosts reached, accounts tried), it flags the hours whose distinct count reaches ``min_n`` and
``ratio`` times the most that entity reached in any earlier hour (``min_new`` when it has no
earlier hour), after the warm-up. The comparison is per entity because busy accounts are normal.

Detectors built on it are judged day by day: an hour never crosses midnight, so the day's rows
hold every hour they judge, and the most an entity reached in any hour of the days before is
their state (``best``, a max per entity, ``BEST``), folded from ``best_of``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import ibis

from ashiato.detect.state import StateTable

if TYPE_CHECKING:
    from ashiato.detect.spec import DetectionContext

KEYS = ["entity_kind", "entity"]


def best_table(what: str) -> StateTable:
    """The state of a burst detector: each entity's most ``what`` in any one hour so far."""
    return StateTable(
        "best",
        keys={"entity_kind": "string", "entity": "string"},
        values={"best": "int64"},
        combine={"best": "max"},
        description=f"Each entity's most {what} in any one hour of the days folded so far.",
    )


def _hourly(rows: ibis.Table, counted: str) -> ibis.Table:
    return rows.group_by(*KEYS, "hour").aggregate(n=rows[counted].nunique())


def best_of(rows: ibis.Table, counted: str) -> ibis.Table:
    """(entity_kind, entity, best): the day's most per entity in one hour (the state's fold)."""
    hourly = _hourly(rows, counted)
    return hourly.group_by(*KEYS).aggregate(best=hourly.n.max().cast("int64"))


def flagged_hours(
    rows: ibis.Table,
    counted: str,
    *,
    min_n: int,
    min_new: int,
    ratio: float,
    not_before: ibis.Scalar | datetime | None,
    before: ibis.Table | None = None,
) -> ibis.Table:
    """(entity_kind, entity, hour, n, prev) for every hour that bursts; ``before`` (a ``best``
    state: entity_kind, entity, best) holds the maxima of hours before ``rows``'."""
    hourly = _hourly(rows, counted)
    cum = ibis.cumulative_window(group_by=KEYS, order_by="hour")
    w = ibis.window(group_by=KEYS, order_by="hour")
    hourly = hourly.mutate(run=hourly.n.max().over(cum)).mutate(prev=lambda r: r.run.lag().over(w))
    if before is not None:
        b = before.select(*KEYS, past=before.best)
        hourly = hourly.left_join(b, KEYS).select(hourly, b.past)
        hourly = hourly.mutate(
            prev=ibis.ifelse(
                hourly.prev.isnull() | (hourly.past > hourly.prev),
                hourly.past.cast(hourly.prev.type()),
                hourly.prev,
            )
        )
    out = hourly.filter(
        ibis.ifelse(
            hourly.prev.isnull(),
            hourly.n >= min_new,
            (hourly.n >= min_n) & (hourly.n >= hourly.prev * ratio),
        )
    )
    if not_before is not None:
        # Compare hour buckets with the hour bucket of the warm-up's end: the data's first hour
        # starts before its first event (a store that begins at 19:27 has the 19:00 bucket).
        if isinstance(not_before, datetime):
            out = out.filter(out.hour >= not_before.replace(minute=0, second=0, microsecond=0))
        else:
            out = out.filter(out.hour >= not_before.truncate("h"))
    return out.select(*KEYS, "hour", "n", "prev")


def evidence_of(rows: ibis.Table, hours: ibis.Table) -> ibis.Table:
    """The rows of the flagged hours, with the hour's count and previous maximum, and the day."""
    j = rows.inner_join(
        hours,
        [
            rows.entity_kind == hours.entity_kind,
            rows.entity == hours.entity,
            rows.hour == hours.hour,
        ],
    ).select(rows, hours.n, hours.prev)
    return j.mutate(day=j.hour.truncate("D"))


def warmup_end(ctx: DetectionContext, days: int) -> ibis.Scalar | datetime | None:
    """When the warm-up of ``days`` after the data's start ends (an expression when the
    context has the start as one, so the SQL does not embed the store's start)."""
    if ctx.data_start is None:
        return None
    if ctx.data_start_at is not None:
        return ctx.data_start_at + ibis.interval(days=days)
    return ctx.data_start + timedelta(days=days)
