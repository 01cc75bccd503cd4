"""Compromised service account: svc-sql, which only ever starts services, turns up on a desk.

The SQL service account normally logs on as a service (type 5) on the databases and nowhere else.
Its password, read from a config file, is used from a Manila workstation in the evening: ``runas``
(4648 and an interactive type-2 logon on the workstation), RDP to a database server (type 10), and
from there explicit-credential network logons to servers the account never touched (file servers,
application and backup servers), reading a few customer files. Two evenings in a row.
"""

from __future__ import annotations

import datetime as dt

from ashiato.simulate.benign import HOUR
from ashiato.simulate.campaign import (
    CampaignPlan,
    build_plan,
    local_time,
    scenario_day,
    workday_on_or_after,
)
from ashiato.simulate.emit import P_MSTSC, P_NET, P_RUNAS, Emitter
from ashiato.simulate.enterprise import Enterprise

_SITE = "PH-MNL"
_SVC = "svc-sql"


class ServiceAccountCompromise:
    """svc-compromise: a service account logging on interactively, by RDP and to new hosts."""

    id = "svc-compromise"
    name = "Compromised service account used interactively"
    description = (
        "The svc-sql service account, normally only a service logon on the databases, is used "
        "from a Manila workstation in the evening: runas (interactive logon), RDP to a database, "
        "then explicit-credential logons to file, application and backup servers it never uses."
    )
    techniques: tuple[str, ...] = ("T1078.002", "T1021.001", "T1021.002", "T1552.001", "T1039")
    frac = 0.8

    def plan(
        self, e: Enterprise, em: Emitter, days: int, start: dt.date, index: int
    ) -> CampaignPlan:
        """One or two evening sessions on consecutive days."""
        d = em.d
        em.reset()
        site = e.site_index(_SITE)
        busy = set(e.xsite) | set(e.admin_of.values())
        owner = d.pick([u for u in e.site_users[site] if u not in busy] or e.site_users[site])
        ws = e.users[owner].ws
        svc = e.services[_SVC]
        s = e.users[svc]
        first = workday_on_or_after(e, site, start, scenario_day(days, self.frac), days)
        never = [
            h
            for h in e.servers
            if e.hosts[h].role in ("file-server", "server") and e.hosts[h].site != e.new_site
        ]
        dsts: list[int] = []
        srcs = [ws]
        for day in dict.fromkeys((first, min(first + 1, days - 1))):
            t = local_time(e, site, start, day, (18 + d.i(3)) * HOUR + d.i(HOUR), days)
            olid = d.logon_id()
            em.explicit(t, owner, olid, s.name, ws, ws, P_RUNAS, index)
            em.tgt(t + 200_000, s.name, s.sid, ws, mal=index)
            em.logon(t + 400_000, s.name, s.sid, ws, ws, 2, mal=index)
            db = d.pick(e.databases)
            t += 60_000_000 + d.i(120_000_000)
            em.explicit(t, owner, olid, s.name, ws, db, P_MSTSC, index)
            em.tgs(t + 100_000, s.name, ws, db, index)
            rlid = em.logon(t + 300_000, s.name, s.sid, ws, db, 10, priv=True, mal=index)
            em.flow(t + 200_000, ws, db, 3389, "rdp", "rdp", index)
            dsts.append(db)
            srcs.append(db)
            for dst in dict.fromkeys(d.pick(never) for _ in range(3 + d.i(4))):
                t += 90_000_000 + d.i(300_000_000)
                em.explicit(t, svc, rlid, s.name, db, dst, P_NET, index)
                em.tgs(t + 50_000, s.name, db, dst, index)
                lid = em.logon(t + 100_000, s.name, s.sid, db, dst, 3, priv=True, mal=index)
                if e.hosts[dst].role == "file-server":
                    share = "CustomerData" if "CustomerData" in e.hosts[dst].shares else "C$"
                    k_c = len(e.customers)
                    paths = (
                        [
                            f"CUST-{1 + d.i(k_c):04d}\\\\contacts-{2024 + d.i(3)}.csv"
                            for _ in range(3 + d.i(10))
                        ]
                        if share == "CustomerData"
                        else []
                    )
                    em.share(t + 150_000, s.name, s.sid, lid, db, dst, share, paths, index)
                em.net_flow(t + 120_000, db, dst, 445, "smb", "smb", index)
                dsts.append(dst)
        return build_plan(self, e, em, [svc], srcs, dsts)
