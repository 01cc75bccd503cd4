"""Path assembly for ``lateral.hop_chain``: plain Python over its few link rows.

A link is (arriving account, from, via, acting account, to). Links whose onward leg is the next
link's arrival chain into a path; links out of one arrival or into one onward leg are the same
movement. Each hop carries its rarity: earlier days on which its source reached its target, and
its account reached its target (counted when the hop was judged, and kept with the link).

Judged day by day, the links of a day come with the links of earlier days still open (kept in the
detector's state): a path that grows on a later day is reported again, whole, under the same key;
its evidence then holds only the events no earlier day reported. A slice of several days is judged
as its days one after the other (``assemble_days``): each day's paths are assembled from its own
links and the links still open after the days before it, as the day's fold would have left them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from ashiato.events import TS

_STR = pa.list_(pa.string())
SCHEMA = pa.schema(
    [
        ("started", TS),  # the path's first arrival: with its account and host, its key
        ("first_seen", TS),  # the first event this day's part reports
        ("last_seen", TS),
        ("accounts", _STR),
        ("hosts", _STR),
        ("sites", _STR),
        ("roles", _STR),
        ("privileged", pa.bool_()),
        ("evidence", _STR),
        ("branches", _STR),
        ("hops", pa.string()),
    ]
)
IDENTITY = ("a_user", "a_from", "via", "user", "dst")
"""What makes a link one: rows of the same identity judged on several days are one link."""
COMPONENT = pa.schema(
    [
        *SCHEMA,
        ("novelty", pa.float64()),  # its rarest hop's: a routine path is not reported
        ("members", _STR),  # the row ids of every link of the movement
        ("on_path", _STR),  # the row ids of the links on the reported path
        ("comp_last", TS),  # the movement's last event
        ("part_day", TS),  # the day it was judged on
        ("report", pa.bool_()),  # its rarest hop is novel enough to report
    ]
)


def _novelty(host_days: int, acct_days: int) -> float:
    """1 for a hop never seen before, ~0 for one made every day (mean of both edges)."""
    return round((1 / (1 + host_days) + 1 / (1 + acct_days)) / 2, 3)


def _hop(src: str, dst: str, user: str, ts: datetime, h: int, a: int) -> dict[str, Any]:
    return {
        "src": src,
        "dst": dst,
        "user": user,
        "ts": ts,
        "host_days": h,
        "acct_days": a,
        "novelty": _novelty(h, a),
    }


def merge(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One link per identity from its rows (one per day it was judged on)."""
    by: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: (r["a_ts"], r["h_ts"], r["rid"])):
        k = by.get(tuple(r[c] for c in IDENTITY))
        ids = {*(r["a_events"] or ()), *(r["h_events"] or ())}
        if k is None:
            k = {c: r[c] for c in IDENTITY}
            k.update(
                a_ts=r["a_ts"],
                h_ts=r["h_ts"],
                last_ts=r["last_ts"],
                counts=(r["a_host_days"], r["a_acct_days"], r["h_host_days"], r["h_acct_days"]),
                privileged=False,
                new=False,
                h_first=None,
                rids=[],
                ids=set(),
                shown=set(),
                **{c: set() for c in ("sites", "via_sites", "to_sites", "roles")},
            )
            by[tuple(r[c] for c in IDENTITY)] = k
        k["a_ts"], k["h_ts"] = min(k["a_ts"], r["a_ts"]), min(k["h_ts"], r["h_ts"])
        k["last_ts"] = max(k["last_ts"], r["last_ts"])
        k["privileged"] = k["privileged"] or bool(r["privileged"])
        k["new"] = k["new"] or bool(r["new"])
        if r["h_first"] is not None:
            k["h_first"] = r["h_first"]
        k["rids"].append(r["rid"])
        (k["shown"] if r["shown"] else k["ids"]).update(ids)
        for c in ("sites", "via_sites", "to_sites", "roles"):
            k[c].update(x for x in r[c] or () if x)
    return list(by.values())


def assemble(rows: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Join links into paths (the onward leg of one is the arrival of the next): one row per
    movement that a new link (``new``) touches, in ``COMPONENT``'s columns."""
    links = sorted(
        merge(rows or ()),
        key=lambda k: (k["h_ts"], k["a_ts"], k["via"], k["dst"], k["user"], k["a_user"]),
    )
    nxt: dict[int, list[int]] = {i: [] for i in range(len(links))}
    parent = list(range(len(links)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, k in enumerate(links):
        for j, m in enumerate(links):
            if (m["a_user"], m["a_from"], m["via"]) == (k["user"], k["via"], k["dst"]) and (
                m["h_ts"] > k["h_ts"]
            ):
                nxt[i].append(j)
                parent[root(j)] = root(i)
    # links out of one arrival, or into one onward leg, are the same movement
    for key in (("a_user", "a_from", "via", "user"), ("via", "user", "dst")):
        firsts: dict[tuple[Any, ...], int] = {}
        for i, k in enumerate(links):
            parent[root(i)] = root(firsts.setdefault(tuple(k[c] for c in key), i))

    def longest(i: int) -> list[int]:
        tails = [longest(j) for j in nxt[i]]
        return [i, *max(tails, key=len, default=[])]

    groups: dict[int, list[int]] = {}
    for i in range(len(links)):
        groups.setdefault(root(i), []).append(i)
    out = []
    for members in groups.values():
        if not any(links[i]["new"] for i in members):
            continue  # judged on an earlier day, and nothing new joined it
        heads = [i for i in members if not any(i in nxt[j] for j in members)] or members[:1]
        best = max((longest(i) for i in heads), key=len)
        first = links[best[0]]
        c = first["counts"]
        hops = [_hop(first["a_from"], first["via"], first["a_user"], first["a_ts"], c[0], c[1])]
        hops += [
            _hop(k["via"], k["dst"], k["user"], k["h_ts"], k["counts"][2], k["counts"][3])
            for k in (links[i] for i in best)
        ]
        ms = [links[i] for i in members]
        on = [links[i] for i in best]  # the path: its events are the evidence
        on_path = {(h["src"], h["dst"]) for h in hops}
        branch = {f"{k['via']}→{k['dst']}" for k in ms if (k["via"], k["dst"]) not in on_path}
        branch |= {
            f"{k['a_from']}→{k['via']}" for k in ms if (k["a_from"], k["via"]) not in on_path
        }
        shown = {x for k in ms for x in k["shown"]}  # reported on an earlier day
        started = min(k["a_ts"] for k in on)
        # reported before: this day's part starts with the day's own events
        later = [k["h_first"] for k in on if k["h_first"]] or [
            k["h_first"] for k in ms if k["h_first"]
        ]
        out.append(
            {
                "started": started,
                "first_seen": min(later) if shown else started,
                "last_seen": max(k["last_ts"] for k in on),
                "accounts": sorted({h["user"] for h in hops}),
                "hosts": sorted({x for k in on for x in (k["a_from"], k["via"], k["dst"])}),
                "sites": sorted(
                    {s for k in on for c in ("sites", "via_sites", "to_sites") for s in k[c]}
                ),
                "roles": sorted({r for k in on for r in k["roles"]}),
                "privileged": any(k["privileged"] for k in on),
                "evidence": sorted({x for k in on for x in k["ids"]} - shown),
                "branches": sorted(branch),
                "hops": json.dumps([{**h, "ts": h["ts"].isoformat()} for h in hops]),
                "novelty": max(h["novelty"] for h in hops),
                "members": sorted(r for k in ms for r in k["rids"]),
                "on_path": sorted(r for k in on for r in k["rids"]),
                "comp_last": max(k["last_ts"] for k in ms),
            }
        )
    return out


def assemble_days(
    rows: Sequence[Mapping[str, Any]] | None, window_days: int, min_novelty: float
) -> list[dict[str, Any]]:
    """``assemble`` for each day of a slice in turn: the day's links (``new``, their ``day``)
    with the links still open (``keep_until`` not before the day) as the days before left them.
    After each day, as its fold does, every link of a movement the day touched is kept open
    ``window_days`` past the movement's last event, and marked ``shown`` when it is on a
    reported path; the day's links join the open ones (no longer new, no first event)."""
    window = timedelta(days=window_days)
    rows = rows or ()
    kept: dict[str, dict[str, Any]] = {r["rid"]: dict(r) for r in rows if not r["new"]}
    out: list[dict[str, Any]] = []
    for day in sorted({r["day"] for r in rows if r["new"]}):
        judged = [r for r in rows if r["new"] and r["day"] == day]
        judged += [r for r in kept.values() if r["keep_until"] >= day]
        comps = assemble(judged)
        until: dict[str, datetime] = {}
        shown: dict[str, bool] = {}
        for c in comps:
            c["part_day"] = day
            c["report"] = c["novelty"] >= min_novelty
            on = set(c["on_path"])
            for rid in c["members"]:
                end = c["comp_last"] + window
                until[rid] = max(until.get(rid, end), end)
                shown[rid] = shown.get(rid, False) or (c["report"] and rid in on)
        for r in judged:
            rid = r["rid"]
            if rid in until:
                k = kept.get(rid) or {**r, "new": False, "h_first": None}
                k["shown"] = bool(r["shown"]) or shown[rid]
                k["keep_until"] = max(r["keep_until"], until[rid])
                kept[rid] = k
        out.extend(comps)
    return out


def hops_of(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    hops: list[dict[str, Any]] = json.loads(row["hops"])
    for h in hops:
        h["ts"] = datetime.fromisoformat(h["ts"])
    return hops


def users_in_order(hops: list[dict[str, Any]]) -> list[str]:
    users = [hops[0]["user"]]
    for h in hops[1:]:
        if h["user"] != users[-1]:
            users.append(h["user"])
    return users
