"""Verify containment: after time T, any activity over a blocked path or by a disabled or reset
credential is an alarm; "no activity since T" is only as good as the logs after T.

Every host the answer depends on (the blocked sources and destinations, and the domain
controllers that would see a reset credential used) is checked for logs after T, channel by
channel: a host with no logs after T is "unknown", never "clean".
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ashiato.events import EventKind
from ashiato.inventory.model import Inventory, Role
from ashiato.investigate.coverage import recorded
from ashiato.investigate.data import Source
from ashiato.respond.history import load_events, store_end
from ashiato.respond.model import Alarm, ContainmentPlan, HostCoverage, Verification
from ashiato.respond.replay import LOCAL_KINDS, network_match
from ashiato.store import Store

ALARMS_MAX = 1000


def _alarm(r: dict[str, Any], rule: str, why: str) -> Alarm:
    return Alarm(
        event_id=r["event_id"],
        ts=r["ts"],
        rule=rule,
        kind=r["kind"],
        user=r["user"],
        src=r["src"],
        dst=r["dst"],
        outcome=r["outcome"],
        why=why,
    )


def host_coverage(source: Source, hosts: dict[str, str], since: datetime) -> list[HostCoverage]:
    """Per host: its last event (logged, or a flow seen) and the channels with data after T."""
    hs = sorted(hosts)
    if not hs:
        return []
    rec, chan = recorded(source, hs)
    a = rec.select(host=rec.log_host, channel=chan, ts=rec.ts)
    e = source.events
    flows = e.filter(e.kind == EventKind.NETWORK_FLOW.value)
    fchan = "flow:" + flows.source
    s = flows.select(host=flows.src_asset.coalesce(flows.src_host), channel=fchan, ts=flows.ts)
    d = flows.select(host=flows.dst_asset.coalesce(flows.dst_host), channel=fchan, ts=flows.ts)
    u = a.union(s.filter(s.host.isin(hs))).union(d.filter(d.host.isin(hs)))
    agg = u.group_by(["host", "channel"]).aggregate(last=u.ts.max(), after=(u.ts > since).sum())
    rows = source.execute(agg).to_pylist()
    out = []
    for h in hs:
        mine = [r for r in rows if r["host"] == h]
        after = sum(int(r["after"] or 0) for r in mine)
        last = max((r["last"] for r in mine), default=None)
        chans = sorted(r["channel"] for r in mine if r["after"])
        out.append(
            HostCoverage(
                host=h,
                role=hosts[h],
                last_event=last,
                events_after=after,
                channels_after=chans,
                status="logs after T" if after else "unknown: no logs after T",
            )
        )
    return out


def verify_containment(
    store: str | Path | Store,
    inventory: Inventory,
    plan: ContainmentPlan,
    since: datetime,
    variant: str | None = None,
) -> Verification:
    """Alarms for activity after ``since`` that the plan (``variant``, else the recommended one)
    should have stopped, and the coverage behind a quiet answer."""
    v = variant or plan.recommended
    blocks = [b for b in plan.network if v in b.variants]
    actions = [a for a in plan.accounts if v in a.variants]
    source = Source.open(store if isinstance(store, Store) else Store(store), inventory)
    try:
        events = load_events(
            source,
            hosts=[h for b in blocks for h in b.src_hosts],
            sites=[b.src_site for b in blocks if b.level == "site" and b.src_site],
            users=[a.account for a in actions],
            since=since,
        )
        roles: dict[str, str] = {}
        for asset in inventory.assets:
            if actions and asset.role == Role.DOMAIN_CONTROLLER:
                roles[asset.host] = "domain controller"
        for b in blocks:
            for h in b.dst_hosts:
                roles[h] = "blocked destination"
            for h in b.src_hosts:
                roles[h] = "blocked source"
        coverage = host_coverage(source, roles, since)
        end = store_end(source)
    finally:
        source.close()
    alarms: list[Alarm] = []
    expected: list[Alarm] = []
    matchers = [(b, network_match(b)) for b in blocks]
    by_user = {a.account: a for a in actions}
    for r in events:
        hit = next((b for b, m in matchers if m(r)), None)
        if hit is not None:
            alarms.append(_alarm(r, hit.id, f"traffic over a blocked path ({hit.level} block)"))
            continue
        a = by_user.get(r["user"] or "")
        if a is None:
            continue
        if a.action == "disable":
            alarms.append(_alarm(r, a.id, "activity by a disabled account"))
        elif (
            r["src"] in a.owner_hosts
            or (
                r["kind"] in LOCAL_KINDS
                and r["src"] in (None, r["log_host"])
                and r["log_host"] in a.local_hosts
            )
            or (r["src"] is None and r["kind"] in _BOOKKEEPING)
        ):
            expected.append(_alarm(r, a.id, "the owner's own host, after the reset"))
        else:
            alarms.append(
                _alarm(r, a.id, "reset credential used from a host other than the owner's")
            )
    unknown = [c.host for c in coverage if not c.events_after]
    t = since.strftime("%Y-%m-%d %H:%M:%S UTC")
    tail = (
        f"the store ends at {end:%Y-%m-%d %H:%M:%S UTC}"
        if end is not None
        else "the store holds no events"
    )
    if alarms:
        verdict = "alarm"
        summary = f"{len(alarms)} events since {t} the plan should have stopped; {tail}"
    elif end is None or end <= since:
        verdict = "unknown"
        summary = f"no logs at all after {t} ({tail}): nothing can be concluded"
    elif unknown:
        verdict = "no activity seen since T, coverage partial"
        summary = (
            f"no activity since {t} in the logs there are, but {len(unknown)} of "
            f"{len(coverage)} hosts have no logs after T ({', '.join(unknown[:10])}): unknown "
            f"there; {tail}"
        )
    else:
        verdict = "no activity since T"
        hours = (end - since).total_seconds() / 3600
        summary = (
            f"no activity since {t}: all {len(coverage)} hosts the answer depends on have logs "
            f"after T; {tail} ({hours:.1f} h after T)"
        )
    return Verification(
        incident=plan.incident,
        since=since,
        verdict=verdict,
        alarms=alarms[:ALARMS_MAX],
        expected=expected[:ALARMS_MAX],
        coverage=coverage,
        store_end=end,
        summary=summary,
        unknown_hosts=unknown,
    )


_BOOKKEEPING = frozenset({EventKind.LOGOFF.value, EventKind.PRIVILEGE_GRANT.value})
"""Events a session writes without a source address (logoff, 4672): attributed to the owner."""
