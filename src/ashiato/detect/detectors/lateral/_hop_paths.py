"""Path assembly for ``lateral.hop_chain``: plain Python over its few link rows.

A link is (arriving account, from, via, acting account, to). Links whose onward leg is the next
link's arrival chain into a path; links out of one arrival or into one onward leg are the same
movement. Each hop carries its rarity: earlier days on which its source reached its target, and
its account reached its target.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa

from ashiato.events import TS

EDGE_SCHEMA = pa.schema(
    [("src", pa.string()), ("dst", pa.string()), ("user", pa.string()), ("ts", TS)]
)
_STR = pa.list_(pa.string())
SCHEMA = pa.schema(
    [
        ("first_seen", TS),
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
_Edge = tuple[str, str, str, datetime]


def edges_of(links: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The arrival and onward leg of every link, as (src, dst, user, ts) columns."""
    es = {(k["a_from"], k["via"], k["a_user"], k["a_ts"]) for k in links}
    es |= {(k["via"], k["dst"], k["user"], k["h_ts"]) for k in links}
    cols = list(zip(*sorted(es), strict=True))
    return {n: list(c) for n, c in zip(("src", "dst", "user", "ts"), cols, strict=True)}


def _novelty(host_days: int, acct_days: int) -> float:
    """1 for a hop never seen before, ~0 for one made every day (mean of both edges)."""
    return round((1 / (1 + host_days) + 1 / (1 + acct_days)) / 2, 3)


def _hop(e: _Edge, seen: Mapping[_Edge, tuple[int, int]]) -> dict[str, Any]:
    h, a = seen.get(e, (0, 0))
    return {
        "src": e[0],
        "dst": e[1],
        "user": e[2],
        "ts": e[3],
        "host_days": h,
        "acct_days": a,
        "novelty": _novelty(h, a),
    }


def assemble(
    links: list[dict[str, Any]], counts: list[dict[str, Any]], min_novelty: float
) -> dict[str, list[Any]]:
    """Join links into paths (the onward leg of one is the arrival of the next): one row each."""
    seen = {
        (c["src"], c["dst"], c["user"], c["ts"]): (c["host_days"], c["acct_days"]) for c in counts
    }
    links = sorted(links, key=lambda k: (k["h_ts"], k["a_ts"], k["via"], k["dst"], k["user"]))
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
    out: dict[str, list[Any]] = {c.name: [] for c in SCHEMA}
    for members in groups.values():
        heads = [i for i in members if not any(i in nxt[j] for j in members)] or members[:1]
        best = max((longest(i) for i in heads), key=len)
        first = links[best[0]]
        legs = [(first["a_from"], first["via"], first["a_user"], first["a_ts"])]
        legs += [
            (links[i]["via"], links[i]["dst"], links[i]["user"], links[i]["h_ts"]) for i in best
        ]
        hops = [_hop(e, seen) for e in legs]
        if max(h["novelty"] for h in hops) < min_novelty:
            continue
        ms = [links[i] for i in members]
        on = [links[i] for i in best]  # the path: its events are the evidence
        on_path = {(h["src"], h["dst"]) for h in hops}
        branch = {f"{k['via']}→{k['dst']}" for k in ms if (k["via"], k["dst"]) not in on_path}
        branch |= {
            f"{k['a_from']}→{k['via']}" for k in ms if (k["a_from"], k["via"]) not in on_path
        }
        row = {
            "first_seen": min(k["a_ts"] for k in on),
            "last_seen": max(k["last_ts"] for k in on),
            "accounts": sorted({h["user"] for h in hops}),
            "hosts": sorted({x for k in on for x in (k["a_from"], k["via"], k["dst"])}),
            "sites": sorted(
                {s for k in on for c in ("sites", "via_sites", "to_sites") for s in k[c] or [] if s}
            ),
            "roles": sorted({r for k in on for r in k["roles"] or [] if r}),
            "privileged": any(k["privileged"] for k in on),
            "evidence": sorted({x for k in on for c in ("a_events", "h_events") for x in k[c]}),
            "branches": sorted(branch),
            "hops": json.dumps([{**h, "ts": h["ts"].isoformat()} for h in hops]),
        }
        for c, v in row.items():
            out[c].append(v)
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
