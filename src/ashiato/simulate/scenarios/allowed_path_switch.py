"""Allowed-path account switch: every hop is allowed by the policy; the change of account is odd.

Account A, an ordinary employee, logs on from their own workstation W1 to a data-centre server S1
(RDP or a network logon; the policy lets every office reach the data-centre servers). On S1, A
uses the credentials of a different account B (a 4648 with A as subject and B as target, then B's
Kerberos tickets from S1's address) to log on to another data-centre server S2, which the policy
allows for B (intra-site, or the data-centre service rule for service accounts). Neither account
uses that path otherwise, and most runs do it in the evening or early morning of A's office.
"""

from __future__ import annotations

import datetime as dt

from ashiato.simulate.benign import HOUR
from ashiato.simulate.campaign import (
    CampaignPlan,
    build_plan,
    local_time,
    office_sites,
    ordinary_users,
    scenario_day,
    workday_on_or_after,
)
from ashiato.simulate.emit import P_NET, P_RUNAS, Emitter
from ashiato.simulate.enterprise import DC_SITE, Enterprise

_MIN = 60_000_000


class AllowedPathSwitch:
    """allowed-path-switch: A from W1 to S1, then B (explicit credentials) from S1 to S2."""

    id = "allowed-path-switch"
    name = "Account switch along allowed paths"
    description = (
        "An ordinary account logs on from its workstation to a data-centre server, then uses "
        "another account's credentials there (4648) to log on to a second data-centre server: "
        "each hop is allowed by the policy, but the switch, the path and the hour are unusual "
        "for both accounts."
    )
    techniques: tuple[str, ...] = ("T1078.002", "T1021.001", "T1021.002", "T1550")
    frac = 0.7

    def plan(
        self, e: Enterprise, em: Emitter, days: int, start: dt.date, index: int
    ) -> CampaignPlan:
        """One to three sessions along W1 -> S1 -> S2 on working days of A's office."""
        d = em.d
        em.reset()
        site = d.pick(office_sites(e))
        acct_a = d.pick(ordinary_users(e, site))
        a = e.users[acct_a]
        w1 = a.ws
        osa = e.site_index(DC_SITE)
        s1 = d.pick([e.infra[k] for k in e.infra if "app" in k or k in ("web", "mail", "prx")])
        # B: an account no other scenario uses (c1, slow-and-low and rdp-staged-exfil take the
        # first, second and last Domain Admin, pth-spree the last help-desk account, svc-* svc-sql)
        switch = [
            *e.domain_admins[2:-1],
            e.helpdesk[0],
            e.services["svc-backup"],
            e.services["svc-report"],
            e.services["svc-scan"],
        ]
        acct_b = switch[d.i(len(switch))]
        b = e.users[acct_b]
        b_priv = bool(b.groups)
        s2_pool = [
            h
            for h in e.servers
            if e.hosts[h].site == osa
            and h != s1
            and h not in e.dcs
            and h not in e.migration_fs
            and e.hosts[h].role in ("database", "file-server", "server")
        ]
        odd_hour = d.u() < 0.7
        day = workday_on_or_after(e, site, start, scenario_day(days, self.frac), days)
        dsts: list[int] = [s1]
        for k in range(1 + d.i(3)):
            if k:
                day = workday_on_or_after(e, site, start, min(days - 1, day + 1 + d.i(4)), days)
            hour = (20 + d.i(4) if d.u() < 0.7 else 5 + d.i(2)) if odd_hour else 10 + d.i(6)
            t = local_time(e, site, start, day, hour * HOUR + d.i(HOUR), days)
            rdp = d.u() < 0.5
            em.tgs(t, a.name, w1, s1, index)
            lid = em.logon(t + 100_000, a.name, a.sid, w1, s1, 10 if rdp else 3, mal=index)
            port, kind = (3389, "rdp") if rdp else (445, "smb")
            em.flow(t + 80_000, w1, s1, port, kind, kind, index)
            t += 3 * _MIN + d.i(20 * _MIN)
            for s2 in dict.fromkeys(d.pick(s2_pool) for _ in range(1 + d.i(2))):
                proc = P_RUNAS if d.u() < 0.4 else P_NET
                em.explicit(t, acct_a, lid, b.name, s1, s2, proc, index)
                em.tgt(t + 60_000, b.name, b.sid, s1, mal=index)
                em.tgs(t + 110_000, b.name, s1, s2, index)
                blid = em.logon(t + 200_000, b.name, b.sid, s1, s2, 3, priv=b_priv, mal=index)
                if e.hosts[s2].role == "file-server":
                    share = e.hosts[s2].shares[d.i(len(e.hosts[s2].shares))]
                    paths = [f"{d.i(500):03d}\\\\export-{d.i(90):02d}.zip" for _ in range(d.i(8))]
                    em.share(t + 300_000, b.name, b.sid, blid, s1, s2, share, paths, index)
                port = 1433 if e.hosts[s2].role == "database" else 445
                em.net_flow(t + 180_000, s1, s2, port, "smb" if port == 445 else "-", "smb", index)
                dsts.append(s2)
                t += 5 * _MIN + d.i(15 * _MIN)
        plan = build_plan(self, e, em, [acct_a, acct_b], [w1, s1], dsts)
        when = "at an unusual hour" if odd_hour else "in office hours"
        plan.description += (
            f" This run: {a.name} from {e.hosts[w1].name} to {e.hosts[s1].name}, then {b.name} "
            f"from there, {when}."
        )
        return plan
