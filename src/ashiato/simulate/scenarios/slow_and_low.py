"""Slow and low: a stolen admin credential hops host to host every few days for as long as the run.

Each hop starts from the previous hop's destination and goes to a host never used before in the
chain, in office hours (10:00-16:00 Tokyo time) on working days so it blends into the owner's own
administration. The chain starts on an ordinary Tokyo workstation, wanders over colleagues' PCs and
data-centre servers, and ends on a file server holding customer data, where it reads files.
"""

from __future__ import annotations

import datetime as dt

from ashiato.simulate.benign import HOUR
from ashiato.simulate.campaign import (
    DAY,
    CampaignPlan,
    build_plan,
    local_time,
    scenario_day,
    workday_on_or_after,
)
from ashiato.simulate.emit import P_NET, Emitter
from ashiato.simulate.enterprise import DC_SITE, HQ, Enterprise

_FILES = ("orders", "contacts", "pricing")


class SlowAndLow:
    """slow-and-low: one hop every 2-4 working days along a host chain ending at customer data."""

    id = "slow-and-low"
    name = "Slow-and-low credential hopping"
    description = (
        "A stolen Domain Admin credential moves one hop every few days in Tokyo office hours, "
        "each hop from the previous destination to a new host, from a Tokyo workstation through "
        "colleagues' PCs and data-centre servers to a customer-data file server."
    )
    techniques: tuple[str, ...] = ("T1078.002", "T1021.002", "T1570", "T1039", "T1550")

    def plan(
        self, e: Enterprise, em: Emitter, days: int, start: dt.date, index: int
    ) -> CampaignPlan:
        """Choose the hop days first, then the chain, then write each hop."""
        d = em.d
        em.reset()
        tky, osa = e.site_index(HQ), e.site_index(DC_SITE)
        cred = e.domain_admins[1 % len(e.domain_admins)]
        a = e.users[cred]
        avoid = {e.users[x].ws for x in e.admin_of} | {e.users[o].ws for o in e.admin_of.values()}
        ws_pool = [w for w in e.site_ws[tky] if w not in avoid]
        hop_days: list[int] = []
        day = scenario_day(days, 0.0)
        while day < days:
            day = workday_on_or_after(e, tky, start, day, days)
            if hop_days and day <= hop_days[-1]:
                break
            hop_days.append(day)
            day += 2 + d.i(3) if days >= 14 else 1
        if len(hop_days) < 2:  # short runs: two hops on the last day at least
            hop_days = [max(0, days - 1)] * 2
        n = len(hop_days)
        n_ws = max(1, (n - 1) // 3)
        servers = [
            h
            for h in e.servers
            if e.hosts[h].site == osa and e.hosts[h].role in ("server", "database")
        ]
        foothold = d.pick(ws_pool)
        order = sorted((w for w in ws_pool if w != foothold), key=lambda _: d.u())
        middle = order[:n_ws] + sorted(servers, key=lambda _: d.u())[: n - 1 - n_ws]
        pii = [h for h in e.file_servers if "CustomerData" in e.hosts[h].shares]
        chain = [foothold, *middle, d.pick(pii)]
        owner = next(u for u in e.site_users[tky] if e.users[u].ws == foothold)
        subj, lid = owner, d.logon_id()
        last, prev = hop_days[-1], -DAY
        for k, hday in enumerate(hop_days[: len(chain) - 1]):
            src, dst = chain[k], chain[k + 1]
            when = last if k == len(chain) - 2 else hday
            t = local_time(e, tky, start, when, (10 + d.i(6)) * HOUR + d.i(HOUR), days)
            t = max(t, prev + 600_000_000)  # squeezed short runs keep the hops in order
            prev = t
            em.tgt(t, a.name, a.sid, src, mal=index)
            em.explicit(t + 1_000_000, subj, lid, a.name, src, dst, P_NET, index)
            em.tgs(t + 1_050_000, a.name, src, dst, index)
            dlid = em.logon(t + 1_120_000, a.name, a.sid, src, dst, 3, priv=True, mal=index)
            if e.hosts[dst].role == "file-server":
                k_c = len(e.customers)
                paths = [
                    f"CUST-{1 + d.i(k_c):04d}\\\\{_FILES[d.i(3)]}-{2024 + d.i(3)}.xlsx"
                    for _ in range(20 + d.i(40))
                ]
                em.share(t + 1_200_000, a.name, a.sid, dlid, src, dst, "CustomerData", paths, index)
                em.flow(t + 1_150_000, src, dst, 445, "smb", "smb", index, scale=20.0)
            else:
                em.net_flow(t + 1_150_000, src, dst, 445, "smb", "smb", index)
            subj, lid = cred, dlid
        used = chain[: min(len(chain), len(hop_days) + 1)]
        return build_plan(self, e, em, [cred], used[:-1], used[1:])
