"""Service account from a workstation: svc-app, normally only on the app servers, used from a desk.

svc-app logs on to the databases from the application servers all day (see ``ops``). Someone who
read its password from an application's config file uses it from an office workstation to reach a
database by a network logon, about once a week for the rest of the run, at varying days and hours:
sometimes with ``runas`` (a 4648 on the workstation, a TGT and a service ticket for the database
from the workstation's address), sometimes from a SQL client with the saved password (NTLM). The
workstation is in Japan in most runs, where the policy allows any account from a Japanese site to
the data centre, so only behaviour (an account that never left its servers) can catch it; in the
other runs it is an overseas office, where the policy does not allow workstations to reach the
databases.
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
)
from ashiato.simulate.emit import P_RUNAS, Emitter
from ashiato.simulate.enterprise import Enterprise

_SVC = "svc-app"


class ServiceFromWorkstation:
    """svc-from-workstation: an app server's service account logs on from a desk to a database."""

    id = "svc-from-workstation"
    name = "Application service account used from a workstation"
    description = (
        "The svc-app service account, which normally logs on to the databases only from the "
        "application servers, is used from an office workstation to a database server (network "
        "logon) about once a week over the run, on varying days and hours."
    )
    techniques: tuple[str, ...] = ("T1078.002", "T1552.001", "T1213")
    p_japan = 0.7  # the workstation is in Japan (a path the policy allows)

    def plan(
        self, e: Enterprise, em: Emitter, days: int, start: dt.date, index: int
    ) -> CampaignPlan:
        """Weekly uses from one workstation, each on a random weekday at a random hour."""
        d = em.d
        em.reset()
        sites = office_sites(e)
        jp = [s for s in sites if e.sites[s].country == "JP"]
        abroad = [s for s in sites if s not in jp]
        site = d.pick(jp) if jp and (d.u() < self.p_japan or not abroad) else d.pick(abroad)
        owner = d.pick(ordinary_users(e, site))
        ws = e.users[owner].ws
        svc = e.services[_SVC]
        s = e.users[svc]
        sql = e.services["svc-sql"]
        first = scenario_day(days, 0.0)
        n = max(1, round((days - first) / 7)) + (1 if d.u() < 0.3 else 0)
        step = max(1, (days - first) // n)
        use_days: list[int] = []
        for k in range(n):
            day = min(days - 1, first + k * step + d.i(step))
            date = start + dt.timedelta(days=day)
            while date.weekday() >= 5 and day > first:  # people do this on working days
                day, date = day - 1, date - dt.timedelta(days=1)
            use_days.append(day)
        dsts: list[int] = []
        for day in dict.fromkeys(use_days):
            hour = 9 + d.i(9) if d.u() < 0.7 else 18 + d.i(4)
            t = local_time(e, site, start, day, hour * HOUR + d.i(HOUR), days)
            db = d.pick(e.databases)
            if d.u() < 0.5:
                em.explicit(t, owner, d.logon_id(), s.name, ws, db, P_RUNAS, index)
                em.tgt(t + 150_000, s.name, s.sid, ws, mal=index)
                em.tgs(t + 250_000, s.name, ws, db, index, svc=sql)
                em.logon(t + 400_000, s.name, s.sid, ws, db, 3, mal=index)
            else:
                em.logon(t + 400_000, s.name, s.sid, ws, db, 3, ntlm=True, mal=index)
            em.flow(t + 380_000, ws, db, 1433, "-", "sql", index, scale=1.0 + 4 * d.u())
            dsts.append(db)
        plan = build_plan(self, e, em, [svc], [ws], dsts)
        plan.description += (
            f" This run: from {e.hosts[ws].name} ({e.sites[site].name}), "
            f"{len(set(use_days))} times."
        )
        return plan
