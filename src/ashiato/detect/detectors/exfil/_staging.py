"""The session that staged an upload: who sat at the uploading host, from where, over what.

An upload is rarely the intruder's first act on the host that sends it: someone logs on to it
interactively or over RDP (4624 types 2, 10, 11) in the hours before, from a host of theirs, and
the network shows that session (flows to port 3389, Kerberos service tickets, SMB) between the two.
A finding that cites only the upload leaves that session, and the host it came from, for the
analyst to find. ``staging`` finds them in the engine for the few flagged uploads: the interactive
logons onto the uploading host from ``hours`` before its first flagged event to its last, their
source hosts, and every access record (flows, logons, tickets, share access, explicit
credentials) between those sources and the host in the same window. The exfil detectors join it
onto their candidates; ``describe`` turns its columns into the finding's extra evidence, hosts,
accounts and a sentence.

The exfil detectors are judged day by day with ``CONTEXT_DAYS`` of raw events before the judged
day: an upload early in the morning was staged the evening before. ``judged`` is the judged
day's part of the events (what the detectors count); ``staging`` reads all of them, so a
``staging_hours`` beyond a day reaches back one day at most. A detector judging a slice of
several days at once (``SPEC.multi_day``) names each candidate's judged day (``staging(day=)``):
its window then stops at that day's context, as a one-day run's would. Without an inventory the
flows know the uploading host by address and its logons by name: the names events gave each
address on any day so far are state (``NAMES``, folded from ``names_of``), and of the slice's
days, those up to the judged one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis

from ashiato.detect.common import earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext
from ashiato.detect.state import StateTable
from ashiato.events import EventKind

CONTEXT_DAYS = 1
"""Days before the judged one whose events the staging session is looked for in."""

INTERACTIVE = (2, 10, 11)
"""Logon types of a person at the host's keyboard or screen: console, RDP, cached."""

RECORD_KINDS = (
    EventKind.NETWORK_FLOW,
    EventKind.LOGON,
    EventKind.KERBEROS_SERVICE,
    EventKind.SHARE_ACCESS,
    EventKind.SHARE_OBJECT,
    EventKind.EXPLICIT_CREDENTIALS,
)
"""Records that show a staging source and the uploading host talking (either way)."""

NOT_A_SOURCE = ("127.0.0.1", "::1", "-", "0.0.0.0", "::", "localhost")
"""What a log says for a console logon's source: no other host."""

COLUMNS = ("stage_logons", "stage_first", "stage_sources", "stage_users", "stage_evidence")
"""The columns ``staging`` adds to a detector's candidates."""


NAMES = StateTable(
    "host_names",
    keys={"ip": "string", "name": "string"},
    values={"last_ts": "timestamp('UTC', 6)"},
    combine={"last_ts": "max"},
    description="The host names events gave each address (either end of an event), and when "
    "they last did: the uploading host's logons know it by name, its flows by address.",
)
"""The state table of host names per address that every exfil detector with staging keeps."""


def _named(events: ibis.Table) -> ibis.Table:
    e = events
    named = e.filter(e.src_host.notnull(), e.src_ip.notnull()).select(
        _ip=e.src_ip, _name=e.src_host, ts=e.ts
    )
    return named.union(
        e.filter(e.dst_host.notnull(), e.dst_ip.notnull()).select(
            _ip=e.dst_ip, _name=e.dst_host, ts=e.ts
        )
    )


def names_of(ctx: DetectionContext) -> ibis.Table:
    """The judged day's (address, name) pairs: ``NAMES``'s fold."""
    n = _named(judged(ctx))
    return n.group_by(ip=n._ip, name=n._name).aggregate(last_ts=n.ts.max())


def judged(ctx: DetectionContext) -> ibis.Table:
    """The judged day's events (``ctx.events`` also holds ``CONTEXT_DAYS`` before it)."""
    e = ctx.events
    return e if ctx.slice_start is None else e.filter(e.ts >= ctx.slice_start)


def _endpoints(e: ibis.Table) -> ibis.Table:
    return e.mutate(
        s=e.src_asset.fill_null(e.src_host).fill_null(e.src_ip),
        d=e.dst_asset.fill_null(e.dst_host).fill_null(e.dst_ip),
    )


def staging(
    events: ibis.Table,
    hot: ibis.Table,
    keys: Sequence[str],
    hours: float,
    cap: int,
    names: ibis.Table | None = None,
    day: str | None = None,
) -> ibis.Table:
    """Per ``keys`` of ``hot``, the session that staged its upload (see the module docstring).

    ``hot`` has the ``keys``, ``host`` (the uploading host, as the detector resolves it),
    ``host_ip`` (one of its addresses, or null), ``t0`` and ``t1`` (the upload's first and last
    flagged event). Keys with no interactive logon in the window have no row. The result's key
    columns are named ``_k0``, ``_k1``... (``attach`` joins them back). ``names``: a ``NAMES``
    state, the host names of addresses on days before ``events``. ``day``: the column of
    ``hot`` holding the UTC day its upload is judged on, for a slice of several days judged as
    each day alone would be (``SPEC.multi_day``): the window reaches back ``CONTEXT_DAYS`` before
    that day at most, and the names are those given up to that day's end.
    """
    ks = [f"_k{i}" for i in range(len(keys))]
    back = ibis.interval(seconds=int(float(hours) * 3600))
    lo = hot.t0 - back
    extra: dict[str, ibis.Value] = {}
    if day is not None:  # the judged day's own window: its context days, its names so far
        lo = ibis.greatest(lo, hot[day] - ibis.interval(days=CONTEXT_DAYS))
        extra["_until"] = hot[day] + ibis.interval(days=1)
    h = hot.select(
        *[hot[k].name(n) for k, n in zip(keys, ks, strict=True)],
        _host=hot.host,
        _hip=hot.host_ip,
        _t0=hot.t0,
        _t1=hot.t1,
        _lo=lo,
        **extra,
    ).distinct()
    e = _endpoints(events)
    # the names the events give the uploading host's address (no inventory: flows know it by
    # address, its own logons by name)
    if day is None:
        named = _named(events).select("_ip", "_name")
        if names is not None:  # the names of the days before ``events``
            named = named.union(names.select(_ip=names.ip, _name=names.name))
        named = named.distinct()
        named = named.semi_join(h, named._ip == h._hip)
        h = h.left_join(named, h._hip == named._ip).drop("_ip")
    else:
        nt = _named(events)
        if names is not None:
            nt = nt.union(
                names.select(_ip=names.ip, _name=names.name, ts=names.last_ts.cast(nt.ts.type()))
            )
        nt = nt.semi_join(h, nt._ip == h._hip)
        nt = nt.group_by("_ip", "_name").aggregate(_named_at=nt.ts.min())
        h = h.left_join(nt, [h._hip == nt._ip, nt._named_at < h._until])
        h = h.select(*ks, "_host", "_hip", "_t0", "_t1", "_lo", "_until", "_name").distinct()
    lg = e.filter(
        e.kind == EventKind.LOGON.value,
        e.outcome != "failure",
        e.logon_type.isin(list(INTERACTIVE)),
    )
    onto = (
        (lg.d == h._host)
        | (lg.dst_host.notnull() & (lg.dst_host == h._name))
        | (lg.dst_ip.notnull() & (lg.dst_ip == h._hip))
    )
    sess = lg.inner_join(h, [onto, lg.ts >= h._lo, lg.ts <= h._t1])
    local = (
        sess.s.isnull()
        | sess.s.lower().isin(list(NOT_A_SOURCE))
        | (sess.s == sess._host)
        | (sess.s == sess._hip.fill_null(""))
    )
    sess = sess.select(
        *ks,
        "_host",
        "_hip",
        "_name",
        "_t0",
        "_t1",
        "_lo",
        "event_id",
        "ts",
        "user",
        _stager=ibis.ifelse(local, ibis.null("string"), sess.s),
        _sip=ibis.ifelse(local, ibis.null("string"), sess.src_ip),
    )
    pairs = sess.filter(sess._stager.notnull())
    pairs = pairs.select(*ks, "_host", "_hip", "_name", "_lo", "_t1", "_stager", "_sip")
    pairs = pairs.distinct()
    r = e.filter(e.kind.isin([k.value for k in RECORD_KINDS]))

    def _is(name: ibis.Value, ip: ibis.Value, n: ibis.Value, a: ibis.Value) -> ibis.Value:
        return (name == n) | (ip.notnull() & (ip == a))

    host_dst = _is(r.d, r.dst_ip, pairs._host, pairs._hip) | (r.dst_host == pairs._name)
    host_src = _is(r.s, r.src_ip, pairs._host, pairs._hip) | (r.src_host == pairs._name)
    stager_src = _is(r.s, r.src_ip, pairs._stager, pairs._sip)
    stager_dst = _is(r.d, r.dst_ip, pairs._stager, pairs._sip)
    between = (stager_src & host_dst) | (stager_dst & host_src)
    rec = r.inner_join(pairs, [between, r.ts >= pairs._lo, r.ts <= pairs._t1])
    cited = sess.select(*ks, "event_id", "ts").union(
        rec.select(*ks, "event_id", "ts"), distinct=True
    )
    ev = cited.group_by(ks).aggregate(stage_evidence=earliest(cited.event_id, cited.ts, cap))
    who = sess.group_by(ks).aggregate(
        stage_logons=sess.event_id.nunique(),
        stage_first=sess.ts.min(),
        stage_sources=sess._stager.collect(distinct=True),
        stage_users=sess.user.collect(distinct=True),
    )
    return who.inner_join(ev, ks)


def attach(candidates: ibis.Table, staged: ibis.Table, keys: Sequence[str]) -> ibis.Table:
    """``candidates`` with the staging columns (null where nothing staged the upload)."""
    ks = [f"_k{i}" for i in range(len(keys))]
    j = candidates.left_join(
        staged, [candidates[k] == staged[n] for k, n in zip(keys, ks, strict=True)]
    )
    return j.drop(*ks)


def describe(
    row: Mapping[str, Any], host: str, hours: float, cited: Sequence[str]
) -> dict[str, Any]:
    """What a candidate row's staging columns add to its finding: ``evidence`` (the session's
    records not already ``cited``), ``hosts``, ``accounts``, ``sentence`` and ``details`` (all
    empty when nothing staged it)."""
    n = int(row.get("stage_logons") or 0)
    if not n:
        return {"evidence": [], "hosts": [], "accounts": [], "sentence": "", "details": {}}
    sources = vals(row, "stage_sources")
    users = [u for u in vals(row, "stage_users") if u]
    evidence = list(row.get("stage_evidence") or [])
    have = set(cited)
    sentence = (
        f" In the {hours:g} h before, {n} interactive or RDP logon(s) reached {host}"
        + (f" as {short_list(users)}" if users else "")
        + (f" from {short_list(sources)}" if sources else " at its console")
        + f", the first at {fmt_ts(row['stage_first'])}"
        + f"; {len(evidence)} record(s) of that session are cited."
    )
    return {
        "evidence": [x for x in evidence if x not in have],
        "hosts": sources,
        "accounts": users,
        "sentence": sentence,
        "details": {"staged_from": sources, "staged_by": users, "staging_logons": n},
    }
