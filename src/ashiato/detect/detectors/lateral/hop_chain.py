"""Lateral-movement paths: logged on to host B, then from B on to C, and on, as never before.

People reach servers from their own workstation (or a jump host they always use). An intruder
moves *through* the estate: logs on to B, then from B on to C. A link is an arrival on B followed,
within ``window_days``, by an account acting from B for the first time (after the warm-up); the
arrival may be by the same account or, within ``switch_hours``, by a different one that had never
logged on to B before (a credential switch: the account acting from B never arrived there). A hop
from a desk where the account, or the person who owns it, logged on interactively is someone
working there, not movement. Links whose onward leg is the next link's arrival join into one path
(A→B→C→D...), reported once. In the spirit of Hopper, each hop is scored by its rarity: on how
many earlier days that source reached that host, and that account reached that host.

Judged one UTC day at a time against its state (``SPEC.state``), which holds what the links need
from the past: when each account first acted from each host (and whether it sat at that desk
then), the recent arrivals on each host (the events of the last ``window_days``, with whether each
came from the arriving account's own desk, kept for their times and evidence), each account's
first arrival on each host (for credential switches), when each host was first seen, the last
interactive logon of each account at each desk, on how many days each source reached each host
and each account reached each host (the rarity, counted as each day is judged), and the links of
paths still moving (a path whose last link is older than ``window_days`` is closed). A hop's
events in the ``onward_hours`` after its first one may run into the next day: that day adds them
to the same link. A path that grows on a later day is reported again under the same key (its
first account, first host and start), whole, with the evidence no earlier day reported; the
runner merges the days into one finding. The links are joined into paths by ``_hop_paths`` (plain
Python over a few rows), called from the query as an Ibis Python UDF over the day's links and
the open ones: the query stays one compiled statement that runs for every day.

A slice of several days is judged as its days one at a time: each event is held against the
state and the slice's days before its own (the first acts, first arrivals and day counts of the
earlier days, their last desk logons, the earliest ``max_evidence`` of each earlier day's
arrivals as the state keeps them); each day's hops and links are grouped by that day
(``part_day``), and the paths are assembled day after day in the UDF, each day seeing the open
links as the days before left them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from ashiato.detect.bursts import warmup_end
from ashiato.detect.common import CREDENTIAL_KINDS, earliest, fmt_ts, short_list, vals
from ashiato.detect.detectors.lateral import _hop_paths as hp
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param, Stage, staged
from ashiato.detect.state import StateTable
from ashiato.events import EventKind

_TS = "timestamp('UTC', 6)"
_STRS = "array<string>"
_ARRIVALS = f"array<struct<ts: {_TS}, id: string, desk: boolean, site: string>>"
_LINK_VALUES = {
    "a_ts": _TS,
    "h_ts": _TS,
    "last_ts": _TS,
    "a_host_days": "int64",
    "a_acct_days": "int64",
    "h_host_days": "int64",
    "h_acct_days": "int64",
    "a_events": _STRS,
    "h_events": _STRS,
    "sites": _STRS,
    "via_sites": _STRS,
    "to_sites": _STRS,
    "roles": _STRS,
    "privileged": "boolean",
    "shown": "boolean",
    "keep_until": _TS,
}
_LINK_KEYS = {**dict.fromkeys(hp.IDENTITY, "string"), "day": _TS}

SPEC = DetectorSpec(
    id="lateral.hop_chain",
    title="Lateral-movement path through hosts",
    version="7",
    severity="high",
    techniques=("T1021", "T1078", "T1570", "T1550"),
    needs=tuple(k for k in CREDENTIAL_KINDS if k is not EventKind.KERBEROS_TGT),
    requires_inventory=False,
    description=(
        "An account logs on to a host and then, within days, that host becomes the source of "
        "logons it had never made (by the same account, or by another: a credential switch); "
        "hops chain into one path, scored by how rare each hop is."
    ),
    params=(
        Param("window_days", 14, "How long after arriving on a host a hop from it counts."),
        Param("switch_hours", 24, "How long after another account's arrival a switch counts."),
        Param("onward_hours", 12, "Onward events after the first one that belong to the hop."),
        Param("warmup_days", 7, "Initial days that only build the baseline."),
        Param("min_novelty", 0.2, "Paths whose rarest hop is less novel than this are routine."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    words="latest",  # a path grows day by day and each day says all of it
    multi_day=True,
    state=(
        StateTable(
            "acted",
            keys={"user": "string", "src": "string"},
            values={"first_ts": _TS, "present": "boolean"},
            combine={"first_ts": "min", "present": "first:first_ts"},
            description="When each account first acted from each host, and whether it (or its "
            "owner) had then logged on at that host's keyboard within window_days.",
        ),
        StateTable(
            "arrived",
            keys={"a_user": "string", "via": "string", "a_from": "string", "day": _TS},
            values={
                "a_min": _TS,
                "arrivals": _ARRIVALS,
                "host_days": "int64",
                "acct_days": "int64",
                "keep_until": _TS,
            },
            combine={
                "a_min": "min",
                "arrivals": "first:a_min",
                "host_days": "first:a_min",
                "acct_days": "first:a_min",
                "keep_until": "max",
            },
            description="Each day's arrivals of an account on a host from a source: the earliest "
            "max_evidence of them (time, event, from the account's own desk or not, site), and "
            "the rarity of that source and account reaching the host before the day; kept for "
            "window_days + onward_hours.",
            keep_days=1,
            keep_by="keep_until",
            day_key="day",
        ),
        StateTable(
            "first_arrival",
            keys={"a_user": "string", "via": "string"},
            values={
                "a_first": _TS,
                "a_from": "string",
                "a_event": "string",
                "a_site": "string",
                "host_days": "int64",
                "acct_days": "int64",
            },
            combine={
                "a_first": "min",
                **dict.fromkeys(("a_from", "a_event", "a_site"), "first:a_first"),
                "host_days": "first:a_first",
                "acct_days": "first:a_first",
            },
            description="Each account's first arrival on each host (a credential switch needs "
            "the other account to have arrived for the first time), and its rarity.",
        ),
        StateTable(
            "born",
            keys={"host": "string"},
            values={"born": _TS},
            combine={"born": "min"},
            description="When each host was first seen at either end of a credential use.",
        ),
        StateTable(
            "desk",
            keys={"d_user": "string", "d_host": "string"},
            values={"last_ts": _TS, "keep_until": _TS},
            combine={"last_ts": "max", "keep_until": "max"},
            description="Each account's last interactive logon at each host; kept window_days.",
            keep_days=1,
            keep_by="keep_until",
        ),
        StateTable(
            "pair_days",
            keys={"src": "string", "dst": "string"},
            values={"days": "int64"},
            combine={"days": "sum"},
            description="On how many days each source reached each host.",
        ),
        StateTable(
            "acct_days",
            keys={"user": "string", "dst": "string"},
            values={"days": "int64"},
            combine={"days": "sum"},
            description="On how many days each account reached each host.",
        ),
        StateTable(
            "links",
            keys=_LINK_KEYS,
            values=_LINK_VALUES,
            combine={
                **dict.fromkeys(_LINK_VALUES, "first:a_ts"),
                "a_ts": "min",
                "h_ts": "min",
                "last_ts": "max",
                "privileged": "bool_or",
                "shown": "bool_or",
                "keep_until": "max",
            },
            description="The links judged on each day (with their rarity, sites and evidence) "
            "of the paths that moved in the last window_days, and whether their evidence was "
            "reported.",
            keep_days=1,
            keep_by="keep_until",
        ),
    ),
)

_KINDS = [k.value for k in CREDENTIAL_KINDS if k is not EventKind.KERBEROS_TGT]
_ELEM = dt.Struct(
    {
        "ts": dt.Timestamp(timezone="UTC", scale=6),
        "id": dt.string,
        "desk": dt.boolean,
        "site": dt.string,
    }
)
_ELEM_KEY = dt.Struct({"ts": dt.Timestamp(timezone="UTC", scale=6), "id": dt.string})


@ibis.udf.agg.builtin(name="min_by", signature=((_ELEM, _ELEM_KEY, dt.int64), dt.Array(_ELEM)))
def _min_by_n(arg, key, n):  # type: ignore[no-untyped-def]
    """DuckDB's ``min_by(arg, key, n)``: the n args with the smallest keys, in key order."""


_LINK_ROW = dt.Struct(
    {
        **dict.fromkeys(hp.IDENTITY, dt.string),
        "rid": dt.string,
        "new": dt.boolean,
        "h_first": dt.Timestamp(timezone="UTC", scale=6),
        "day": dt.Timestamp(timezone="UTC", scale=6),
        **{c: ibis.dtype(t) for c, t in _LINK_VALUES.items()},
    }
)
_COMPONENTS = dt.Array(dt.Struct({f.name: dt.dtype(f.type) for f in hp.COMPONENT}))


@ibis.udf.scalar.python(signature=((dt.Array(_LINK_ROW), dt.int64, dt.float64), _COMPONENTS))
def _assemble(links, window_days, min_novelty):  # type: ignore[no-untyped-def]
    """The movements that each day's links touch, assembled into paths, day after day
    (``_hop_paths.assemble_days``)."""
    return hp.assemble_days(links, window_days, min_novelty)


def functions() -> list[ibis.Expr]:
    """Expressions calling this module's Python functions: the runner registers them with
    the engine from these before running kept SQL, rather than building the whole query."""
    links = ibis.null(dt.Array(_LINK_ROW))
    return [_assemble(links, ibis.literal(0, "int64"), ibis.literal(0.0, "float64"))]


def _credential_events(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    t = e.filter(
        e.kind.isin(_KINDS), e.outcome != "failure", e.user.notnull(), ~e.user.endswith("$")
    )
    t = t.mutate(
        src=t.src_asset.fill_null(t.src_host).fill_null(t.src_ip),
        dst=t.dst_asset.fill_null(t.dst_host),
    )
    return t.filter(t.src.notnull() & t.dst.notnull() & (t.src != t.dst))


def _interval(ctx: DetectionContext, name: str) -> ir.IntervalScalar:
    n = int(ctx.params[name])
    return ibis.interval(days=n) if name.endswith("_days") else ibis.interval(hours=n)


def _int(x: ir.IntegerValue) -> ir.IntegerValue:
    """``x`` as int64 whatever the engine made it: DuckDB sums a state's int64 days into a
    HUGEINT, which Ibis (holding the declared int64) would not cast back."""
    return x.cast("decimal(38, 0)").cast("int64")


def _desk_days(ctx: DetectionContext) -> ibis.Table:
    """The slice's interactive logons (at the keyboard), per account, host and day."""
    e = ctx.events
    d = e.filter(
        (e.kind == EventKind.LOGON.value) & e.logon_type.isin([2, 11]) & (e.outcome != "failure")
    )
    d = d.select(d_user=d.user, d_host=d.dst_asset.fill_null(d.dst_host), d_ts=d.ts)
    d = d.filter(d.d_user.notnull() & d.d_host.notnull())
    return d.group_by("d_user", "d_host", d_day=d.d_ts.truncate("D")).aggregate(
        first_ts=d.d_ts.min(), last_ts=d.d_ts.max()
    )


def _at_desk(
    ctx: DetectionContext, x: ibis.Table, keys: list[str], user: str, owner: str, host: str, ts: str
) -> ibis.Table:
    """``x`` with ``desk``: whether its account, or the person who owns it, sat at ``host`` in
    the ``window_days`` up to ``ts`` (a person at the keyboard of the source host is someone
    working on that host, not a credential moving through it: an admin on a business trip runs
    admin tools from the desk they sit at). Every earlier day's logons are before ``ts``: the
    last one of each says (the state's, and the slice's days before ``ts``'s); of ``ts``'s own
    day, the first (as the day judged alone saw it)."""
    window = _interval(ctx, "window_days")
    s, days = ctx.state["desk"], _desk_days(ctx)
    facts = s.select(
        "d_user", "d_host", d_day=s.last_ts.truncate("D"), d_first=s.last_ts, d_last=s.last_ts
    ).union(days.select("d_user", "d_host", "d_day", d_first=days.first_ts, d_last=days.last_ts))
    hits = []
    for who in (user, owner):
        x_day = x[ts].truncate("D")
        d_ts = ibis.cases(
            (facts.d_day == x_day, facts.d_first),
            (facts.d_day < x_day, facts.d_last),
            else_=ibis.null(facts.d_last.type()),
        )
        j = x.inner_join(
            facts,
            [
                facts.d_host == x[host],
                facts.d_user == x[who],
                d_ts <= x[ts],
                d_ts >= x[ts] - window,
            ],
        )
        hits.append(j.select(*[x[k] for k in keys]))
    hit = hits[0].union(hits[1]).mutate(desk=ibis.literal(True)).view()
    return x.left_join(hit, keys).select(x, desk=hit.desk.fill_null(False))


def _day_counts(ctx: DetectionContext, t: ibis.Table, who: str, table: str) -> ibis.Table:
    """Each (``who``, dst) and slice day it occurs on, with on how many days before it
    (``n``: the state's ``table`` and the slice's earlier days) it occurred."""
    d = t.select(who_=t[who], dst_=t.dst, day_=t.ts.truncate("D")).distinct()
    s = ctx.state[table]
    d = d.left_join(s, [s[who] == d.who_, s.dst == d.dst_]).select(d, n0=_int(s.days).fill_null(0))
    earlier = ibis.row_number().over(group_by=[d.who_, d.dst_], order_by=d.day_)
    return d.select("who_", "dst_", "day_", n=d.n0 + earlier)


def _host_days(ctx: DetectionContext) -> ibis.Table:
    return _day_counts(ctx, _credential_events(ctx), "src", "pair_days")


def _acct_days(ctx: DetectionContext) -> ibis.Table:
    return _day_counts(ctx, _credential_events(ctx), "user", "acct_days")


def _rarity(
    ctx: DetectionContext, t: ibis.Table, x: ibis.Table, src: str, user: str, dst: str, day: str
) -> ibis.Table:
    """``x`` with ``host_days`` / ``acct_days``: on how many days before ``day`` (the state's
    and those of the slice's ``t``) ``src`` reached ``dst``, and ``user`` reached ``dst``."""
    hd, ad = staged(ctx, "host_days", _host_days), staged(ctx, "acct_days", _acct_days)
    j = x.left_join(hd, [hd.who_ == x[src], hd.dst_ == x[dst], hd.day_ == x[day]]).select(
        x, host_days=hd.n.fill_null(0)
    )
    return j.left_join(ad, [ad.who_ == j[user], ad.dst_ == j[dst], ad.day_ == j[day]]).select(
        j, acct_days=ad.n.fill_null(0)
    )


def _arrivals(t: ibis.Table) -> ibis.Table:
    """Every credential use is an arrival on its target."""
    return t.select(
        a_user=t.user,
        via=t.dst,
        a_from=t.src,
        a_ts=t.ts,
        a_event=t.event_id,
        a_site=t.src_site,
        a_owner=t.owner,
        a_day=t.ts.truncate("D"),
    )


def _new_firsts(ctx: DetectionContext, t: ibis.Table) -> ibis.Table:
    """The accounts acting from a host for the first time in the slice (and ever), and
    whether they (or their owner) then sat at its keyboard."""
    g = t.group_by("user", "src", day=t.ts.truncate("D")).aggregate(
        first_ts=t.ts.min(), owner=t.owner.max()
    )
    g = g.mutate(nth=ibis.row_number().over(group_by=[g.user, g.src], order_by=g.day))
    f = g.filter(g.nth == 0).select("user", "src", "first_ts", "owner")  # its first day's
    f = f.anti_join(ctx.state["acted"], ["user", "src"])
    return _at_desk(ctx, f, ["user", "src"], "user", "owner", "src", "first_ts").rename(
        present="desk"
    )


def _firsts(ctx: DetectionContext) -> ibis.Table:
    return _new_firsts(ctx, _credential_events(ctx))


def _first_arrivals(ctx: DetectionContext, t: ibis.Table) -> ibis.Table:
    """The accounts arriving on a host for the first time in the slice (and ever), with the
    rarity of that arrival on its day."""
    a = _arrivals(t)
    key = ibis.struct({"ts": a.a_ts, "id": a.a_event})
    f = a.group_by("a_user", "via").aggregate(
        a_first=a.a_ts.min(),
        a_from=a.a_from.argmin(key),
        a_event=a.a_event.argmin(key),
        a_site=a.a_site.argmin(key),
    )
    f = f.anti_join(ctx.state["first_arrival"], ["a_user", "via"])
    f = f.mutate(a_day=f.a_first.truncate("D"))
    return _rarity(ctx, t, f, "a_from", "a_user", "via", "a_day").drop("a_day")


def _firsts_arriving(ctx: DetectionContext) -> ibis.Table:
    return _first_arrivals(ctx, _credential_events(ctx))


def _desk_arrivals(ctx: DetectionContext) -> ibis.Table:
    """Every arrival of the slice, with whether it came from the arriving account's own desk,
    and its rarity."""
    t = _credential_events(ctx)
    a = _at_desk(ctx, _arrivals(t), ["a_event"], "a_user", "a_owner", "a_from", "a_ts")
    return _rarity(ctx, t, a, "a_from", "a_user", "via", "a_day")


def _born_today(t: ibis.Table) -> ibis.Table:
    ends = t.select(host=t.src, ts=t.ts).union(t.select(host=t.dst, ts=t.ts))
    return ends.group_by("host").aggregate(born=ends.ts.min())


def _hops(ctx: DetectionContext, t: ibis.Table) -> ibis.Table:
    """Per (account, source, target, day): the account's first act from the source (after the
    warm-up, not at its desk) and its events of the day in the ``onward_hours`` after (also of a
    first act of the day before whose hours run past midnight)."""
    acted = ctx.state["acted"]
    onward = _interval(ctx, "onward_hours")
    old = acted.filter(acted.first_ts > ctx.slice_start - onward)
    cols = ("user", "src", "first_ts", "present")
    f = staged(ctx, "firsts", _firsts).select(*cols).union(old.select(*cols))
    f = f.filter(~f.present)
    start = warmup_end(ctx, int(ctx.params["warmup_days"]))
    if start is not None:
        f = f.filter(f.first_ts >= start)
    h = t.inner_join(f, ["user", "src"]).select(t, f.first_ts)
    h = h.filter(h.ts <= h.first_ts + onward)
    h = h.group_by("user", "src", "dst", "first_ts", part_day=h.ts.truncate("D")).aggregate(
        h_first=h.ts.min(),
        last_ts=h.ts.max(),
        h_events=earliest(h.event_id, h.ts, int(ctx.params["max_evidence"])),
        via_sites=h.src_site.collect(distinct=True),
        to_sites=h.dst_site.collect(distinct=True),
        roles=h.dst_role.collect(distinct=True),
        privileged=h.privileged.max(),
    )
    # the rarity of the hop before its day (its first event's: all of the judged day)
    h = _rarity(ctx, t, h, "src", "user", "dst", "part_day")
    return h.rename(h_host_days="host_days", h_acct_days="acct_days")


def _same(ctx: DetectionContext, t: ibis.Table, fk: ibis.Table) -> ibis.Table:
    """The arrivals of the acting account on the host it acts from, in the ``window_days``
    before, per (account, host, first act, judged day, arrived from): the judged day's own
    arrivals, the earliest ``max_evidence`` of each earlier day's (as the state keeps them) from
    the slice, and the state's."""
    cap = int(ctx.params["max_evidence"])
    window, switch = _interval(ctx, "window_days"), _interval(ctx, "switch_hours")
    # An arrival from the arriving account's own desk (it, or its owner, logged on there at the
    # keyboard) is someone at work reaching a machine: an administrator fixing a branch PC from
    # Tokyo. It explains a move onward only within hours; days later, someone else acting from
    # that PC with the same credential did not come from the administrator's desk.
    a = staged(ctx, "arrivals", _desk_arrivals)
    a = a.semi_join(fk, [a.a_user == fk.user, a.via == fk.src])
    a = a.mutate(
        nth=ibis.row_number().over(
            group_by=[a.a_user, a.via, a.a_from, a.a_day], order_by=[a.a_ts, a.a_event]
        )
    )
    fv = fk.view()
    on_day = (a.a_day == fv.part_day) | ((a.a_day < fv.part_day) & (a.nth < cap))
    today = a.inner_join(fv, [a.a_user == fv.user, a.via == fv.src, on_day]).select(
        fv.user,
        fv.src,
        fv.first_ts,
        fv.part_day,
        a.a_from,
        ts=a.a_ts,
        id=a.a_event,
        desk=a.desk,
        site=a.a_site,
        host_days=a.host_days,
        acct_days=a.acct_days,
    )
    s = ctx.state["arrived"]
    past = s.inner_join(fk, [s.a_user == fk.user, s.via == fk.src, s.a_min < fk.first_ts]).select(
        fk.user,
        fk.src,
        fk.first_ts,
        fk.part_day,
        s.a_from,
        s.host_days,
        s.acct_days,
        e=s.arrivals.unnest(),
    )
    past = past.select(
        "user",
        "src",
        "first_ts",
        "part_day",
        "a_from",
        ts=past.e.ts,
        id=past.e.id,
        desk=past.e.desk,
        site=past.e.site,
        host_days=past.host_days,
        acct_days=past.acct_days,
    )
    j = today.union(past, distinct=False)
    j = j.filter(
        (j.ts < j.first_ts)
        & (j.ts >= j.first_ts - window)
        & (~j.desk | (j.ts >= j.first_ts - switch))
    )
    return j.group_by("user", "src", "first_ts", "part_day", "a_from").aggregate(
        a_ts=j.ts.min(),
        a_events=earliest(j.id, j.ts, cap),
        sites=j.site.collect(distinct=True),
        a_host_days=j.host_days.argmin(j.ts),
        a_acct_days=j.acct_days.argmin(j.ts),
    )


def _other(ctx: DetectionContext, t: ibis.Table, fk: ibis.Table) -> ibis.Table:
    """For a first act from a host no arrival of the acting account explains: the one other
    account that arrived there for the first time in the ``switch_hours`` before."""
    switch = _interval(ctx, "switch_hours")
    fa = ctx.state["first_arrival"]
    cols = ("a_user", "via", "a_first", "a_from", "a_event", "a_site", "host_days", "acct_days")
    fa = fa.select(*cols).union(staged(ctx, "first_arrivals", _firsts_arriving).select(*cols))
    o = fk.inner_join(
        fa,
        [
            fa.via == fk.src,
            fa.a_user != fk.user,
            fa.a_first < fk.first_ts,
            fa.a_first >= fk.first_ts - switch,
        ],
    )
    # A switch is a guess at cause; it is only made when it is unambiguous (exactly one other
    # account arrived) and when the host has a baseline (a host that just appeared, like a new
    # office being set up, has every account arriving and acting for the first time).
    n_in = o.group_by("user", "src", "part_day").aggregate(n_in=o.a_user.nunique())
    o = o.semi_join(n_in.filter(n_in.n_in == 1).view(), ["user", "src", "part_day"])
    b = ctx.state["born"].union(_born_today(t), distinct=False)
    b = b.group_by("host").aggregate(born=b.born.min())
    o = o.inner_join(b, o.src == b.host)
    o = o.filter(o.born <= o.first_ts - _interval(ctx, "warmup_days"))
    start = warmup_end(ctx, int(ctx.params["warmup_days"]))
    if start is not None:
        o = o.filter(o.a_first >= start)
    return o.select(
        "user",
        "src",
        "first_ts",
        "part_day",
        "a_user",
        "a_from",
        a_ts=o.a_first,
        a_events=ibis.array([o.a_event]),
        sites=ibis.array([o.a_site]),
        a_host_days=o.host_days,
        a_acct_days=o.acct_days,
    )


def _links_today(ctx: DetectionContext, t: ibis.Table) -> ibis.Table:
    """The day's links, one row per (arriving account, from, via, acting account, to), in the
    ``links`` state's columns."""
    h = _hops(ctx, t)
    fk = h.select("user", "src", "first_ts", "part_day").distinct()
    same = _same(ctx, t, fk)
    came = same.select("user", "src", "part_day").distinct()
    other = _other(ctx, t, fk.anti_join(came.view(), ["user", "src", "part_day"]))
    arr_cols = ("a_from", "a_ts", "a_events", "sites", "a_host_days", "a_acct_days")
    keys = ("user", "src", "first_ts", "part_day")
    arr = (
        same.mutate(a_user=same.user)
        .select(*keys, "a_user", *arr_cols)
        .union(other.select(*keys, "a_user", *arr_cols), distinct=False)
    )
    h = h.view()
    j = arr.inner_join(h, list(keys))
    window = _interval(ctx, "window_days")
    return j.select(
        a_user=j.a_user,
        a_from=j.a_from,
        via=j.src,
        user=j.user,
        dst=j.dst,
        day=j.last_ts.truncate("D"),
        a_ts=j.a_ts,
        h_ts=j.h_first,
        last_ts=j.last_ts,
        h_first=j.h_first,
        a_host_days=j.a_host_days,
        a_acct_days=j.a_acct_days,
        h_host_days=j.h_host_days,
        h_acct_days=j.h_acct_days,
        a_events=j.a_events,
        h_events=j.h_events,
        sites=j.sites,
        via_sites=j.via_sites,
        to_sites=j.to_sites,
        roles=j.roles,
        privileged=j.privileged,
        shown=ibis.literal(False),
        keep_until=j.last_ts + window,
    )


def _link_rows(ctx: DetectionContext, t: ibis.Table) -> ibis.Table:
    """The slice's links and the earlier days' links of paths still moving, with a row id."""
    s = ctx.state["links"]
    cols = [*_LINK_KEYS, *_LINK_VALUES]
    today = _links_today(ctx, t)
    # h_first: the first of the link's events of the day (a later day's part starts there)
    today = today.select(*cols, "h_first").cast(s.schema()).mutate(new=True)
    old = s.filter(s.keep_until >= ctx.slice_start).select(*cols)
    old = old.mutate(new=False, h_first=ibis.null(today.h_first.type()))
    rows = today.union(old, distinct=False)
    rid = ibis.literal("|").join([*(rows[c] for c in hp.IDENTITY), rows.day.cast("string")])
    return rows.mutate(rid=rid)


def _components(ctx: DetectionContext, rows: ibis.Table) -> ibis.Table:
    """The movements each day's links touch, assembled into paths day after day
    (``_hop_paths.assemble_days``); paths whose rarest hop is routine are not ``report``ed
    (their links are kept all the same)."""
    link = ibis.struct({n: rows[n] for n in _LINK_ROW.names})
    agg = rows.aggregate(links=link.collect())
    window = ibis.literal(int(ctx.params["window_days"]), "int64")
    novelty = ibis.literal(float(ctx.params["min_novelty"]), "float64")
    c = agg.select(c=_assemble(agg.links, window, novelty).unnest())
    return c.select(**{f.name: c.c[f.name] for f in hp.COMPONENT})


def _rows(ctx: DetectionContext) -> ibis.Table:
    return _link_rows(ctx, _credential_events(ctx))


def _paths(ctx: DetectionContext) -> ibis.Table:
    return _components(ctx, staged(ctx, "rows", _rows))


STAGES: dict[str, Stage] = {
    "host_days": _host_days,
    "acct_days": _acct_days,
    "firsts": _firsts,
    "first_arrivals": _firsts_arriving,
    "arrivals": _desk_arrivals,
    "rows": _rows,
    "paths": _paths,
}
"""Each read by ``query`` and the folds, or by several parts of them: made once per slice
(``staged``); in order, as each reads those before it."""


def query(ctx: DetectionContext) -> ibis.Table:
    c = staged(ctx, "paths", _paths)
    return c.filter(c.report).select(*hp.SCHEMA.names, "part_day")


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    t = _credential_events(ctx)
    window, onward = _interval(ctx, "window_days"), _interval(ctx, "onward_hours")
    # the links of the movements the slice's days touched: its own, and the earlier ones kept
    # open (as each day left them: the latest keep and whether any day reported them)
    rows = staged(ctx, "rows", _rows)
    c = staged(ctx, "paths", _paths)
    m = c.select("comp_last", "on_path", "report", rid=c.members.unnest())
    m = m.group_by("rid").aggregate(
        until=(m.comp_last + window).max(), shown=(m.report & m.on_path.contains(m.rid)).any()
    )
    links = rows.inner_join(m.view(), "rid")
    links = links.select(
        *_LINK_KEYS,
        *(c for c in _LINK_VALUES if c not in ("shown", "keep_until")),
        shown=links.shown | links.shown_right,
        keep_until=ibis.greatest(links.keep_until, links.until),
    )
    # every arrival of the slice, with whether it came from the arriving account's own desk
    a = staged(ctx, "arrivals", _desk_arrivals)
    elem = ibis.struct({"ts": a.a_ts, "id": a.a_event, "desk": a.desk, "site": a.a_site})
    arrived = a.group_by("a_user", "via", "a_from", day=a.a_day).aggregate(
        a_min=a.a_ts.min(),
        arrivals=_min_by_n(
            elem,
            ibis.struct({"ts": a.a_ts, "id": a.a_event}),
            int(ctx.params["max_evidence"]),
        ),
        host_days=a.host_days.max(),
        acct_days=a.acct_days.max(),
        keep_until=a.a_ts.max() + window + onward,
    )
    desk = _desk_days(ctx)
    desk = desk.group_by("d_user", "d_host").aggregate(last_ts=desk.last_ts.max())
    days = t.mutate(day=t.ts.truncate("D"))
    return {
        "acted": staged(ctx, "firsts", _firsts).select("user", "src", "first_ts", "present"),
        "arrived": arrived,
        "first_arrival": staged(ctx, "first_arrivals", _firsts_arriving),
        "born": _born_today(t),
        "desk": desk.select("d_user", "d_host", "last_ts", keep_until=desk.last_ts + window),
        "pair_days": days.group_by("src", "dst").aggregate(days=days.day.nunique().cast("int64")),
        "acct_days": days.group_by("user", "dst").aggregate(days=days.day.nunique().cast("int64")),
        "links": links,
    }


def _actors(hops: list[dict[str, Any]], path: list[str]) -> tuple[str, ...]:
    """The accounts and hosts that act along the path. When the path opens with a credential
    switch, the account that arrived on the first host, and the host it came from, are a guess
    at cause (an administrator's routine visit the day before someone else acted from there):
    named in the finding, but not its actors, so they join no incident by themselves."""
    if len(hops) > 1 and hops[0]["user"] != hops[1]["user"]:
        return tuple(sorted({*(h["user"] for h in hops[1:]), *path[1:-1]}))
    return tuple(sorted({*(h["user"] for h in hops), *path[:-1]}))


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    hops = hp.hops_of(row)
    path = [hops[0]["src"], *[h["dst"] for h in hops]]
    accounts = vals(row, "accounts")
    sites = vals(row, "sites")
    switch = len({h["user"] for h in hops}) > 1
    sensitive = {"file-server", "database", "domain-controller"} & set(vals(row, "roles"))
    rarest = max(h["novelty"] for h in hops)
    score = 40.0 + 30.0 * rarest + (10 if switch else 0) + (10 if row["privileged"] else 0)
    score += (5 if sensitive else 0) + (10 if len(sites) > 1 else 0)
    score += 5 * min(2, len(hops) - 2)
    steps = "; ".join(
        f"{h['user']} {h['src']}→{h['dst']} at {fmt_ts(h['ts'])} "
        f"(source→host seen on {h['host_days']} earlier day(s), account→host on {h['acct_days']})"
        for h in hops
    )
    extra = vals(row, "branches")
    reason = (
        f"{len(hops)}-hop path {' → '.join(path)}"
        + (f" with a credential switch ({' → '.join(hp.users_in_order(hops))})" if switch else "")
        + (f", across sites {', '.join(sites)}" if len(sites) > 1 else "")
        + f": {steps}."
        + (f" Also from the same hosts: {short_list(extra)}." if extra else "")
    )
    evidence = vals(row, "evidence")
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{' / '.join(accounts)} moved {' → '.join(path)}",
        severity="critical" if score >= 90 else SPEC.severity,
        score=min(round(score, 1), 100.0),
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=tuple(accounts),
        hosts=tuple(vals(row, "hosts")),
        sites=tuple(sites),
        ips=(),
        reason=reason,
        evidence=tuple(evidence[:cap]),
        evidence_count=len(evidence),
        # the path's first account, not the first in name order: a later day's hop by another
        # account leaves the key (and so the finding) the same
        key=f"{hops[0]['user']}|{path[1]}|{row['started'].isoformat()}",
        actors=_actors(hops, path),
        details={"path": path, "hops": json.loads(row["hops"])},
    )
