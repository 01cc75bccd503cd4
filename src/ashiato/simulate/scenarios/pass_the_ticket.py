"""Pass-the-ticket: a user's stolen Kerberos ticket used from a workstation that user never touched.

The intruder on workstation W imports a ticket-granting ticket stolen from user U (dumped from
memory elsewhere), so the domain controller sees service tickets (4769) for U requested from W's
address with no 4768 from that address for U, and no logon of U on W. With the tickets the intruder
makes Kerberos network logons (4624 type 3) as U from W to one or more file servers and sometimes
browses a share. In some runs U's real owner is at their own desk at the time (ordinary logon and
work from their own PC, written as benign records); in others the owner is idle (evening), so a
detector cannot rely on concurrent activity of the owner.
"""

from __future__ import annotations

import datetime as dt

from ashiato.simulate.benign import HOUR, human_access
from ashiato.simulate.campaign import (
    CampaignPlan,
    build_plan,
    local_time,
    office_sites,
    ordinary_users,
    scenario_day,
    user_session,
    workday_on_or_after,
)
from ashiato.simulate.emit import Emitter
from ashiato.simulate.enterprise import Enterprise

_MIN = 60_000_000


class PassTheTicket:
    """pass-the-ticket: 4769s for a user from a host with no TGT of theirs, then share logons."""

    id = "pass-the-ticket"
    name = "Pass-the-ticket from a foreign workstation"
    description = (
        "A real user's stolen Kerberos ticket is used from a workstation where that user never "
        "logged on and obtained no TGT: service tickets (4769) from that address, then Kerberos "
        "network logons as the user to file servers, sometimes with share access; the owner is "
        "at work elsewhere in some runs and idle in others."
    )
    techniques: tuple[str, ...] = ("T1550.003", "T1558", "T1021.002", "T1039")
    frac = 0.35

    def plan(
        self, e: Enterprise, em: Emitter, days: int, start: dt.date, index: int
    ) -> CampaignPlan:
        """One to three sessions on one to three working days, each to 1-3 file servers."""
        d = em.d
        em.reset()
        sites = office_sites(e)
        w_site = d.pick(sites)
        u_site = w_site if d.u() < 0.5 else d.pick(sites)
        u = d.pick(ordinary_users(e, u_site))
        user = e.users[u]
        mine = {e.users[x].ws for x in ordinary_users(e, w_site)} - {user.ws}
        ws = d.pick(sorted(mine) or [w for w in e.site_ws[w_site] if w != user.ws])
        active = d.u() < 0.5  # the owner works at their own desk while the ticket is used
        servers = list(dict.fromkeys([*e.file_servers, *e.local_fs.values()]))
        servers = [h for h in servers if e.hosts[h].site != e.new_site]
        day = workday_on_or_after(e, u_site, start, scenario_day(days, self.frac), days)
        dsts: list[int] = []
        for k in range(1 + d.i(3)):
            if k:
                day = workday_on_or_after(e, u_site, start, min(days - 1, day + 1 + d.i(3)), days)
            hour = 10 + d.i(6) if active else 19 + d.i(3)
            t = local_time(e, u_site, start, day, hour * HOUR + d.i(HOUR), days)
            if active:
                self._owner_at_work(em, t - 20 * _MIN + d.i(15 * _MIN), u, servers)
            for dst in dict.fromkeys(d.pick(servers) for _ in range(1 + d.i(3))):
                user_session(em, t, u, ws, dst, index, (2, 26), p_share=0.7)
                dsts.append(dst)
                t += 3 * _MIN + d.i(25 * _MIN)
        plan = build_plan(self, e, em, [u], [ws], dsts)
        owner = "at work at their own desk" if active else "idle"
        plan.description += (
            f" This run: {user.name}'s ticket used from {e.hosts[ws].name} while the owner is "
            f"{owner}."
        )
        return plan

    @staticmethod
    def _owner_at_work(em: Emitter, t: int, u: int, servers: list[int]) -> None:
        """The real owner's ordinary morning: a desk logon and some work (benign records)."""
        e, d = em.e, em.d
        user = e.users[u]
        em.tgt(t, user.name, user.sid, user.ws)
        em.tgs(t + 20_000, user.name, user.ws, user.ws)
        em.logon(t + 60_000, user.name, user.sid, user.ws, user.ws, 2)
        for k in range(2 + d.i(3)):
            human_access(em, t + (k + 1) * (5 * _MIN + d.i(10 * _MIN)), u, user.ws, d.pick(servers))
