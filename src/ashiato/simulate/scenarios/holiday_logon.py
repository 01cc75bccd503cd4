"""Holiday logon: a user works on a national public holiday of their office's country.

The benign model keeps each site's public holidays quiet (``enterprise.site_offdays``). On a
weekday that is a public holiday of one office's country (from the ``holidays`` package), in normal
daytime hours, one ordinary user of that office logs on at their desk and reaches several servers
(file servers with share access, application servers, mail), as if it were a working day; some
runs add a second session later that day or on another holiday. When no public holiday of any
office falls on a weekday of the span, nothing is planted and the ground truth records why.
"""

from __future__ import annotations

import datetime as dt

import holidays

from ashiato.simulate.benign import HOUR
from ashiato.simulate.campaign import (
    CampaignPlan,
    build_plan,
    local_time,
    office_sites,
    ordinary_users,
    scenario_day,
    user_session,
)
from ashiato.simulate.emit import Emitter
from ashiato.simulate.enterprise import Enterprise

_MIN = 60_000_000


def weekday_holidays(e: Enterprise, start: dt.date, days: int) -> list[tuple[int, int, str]]:
    """(site, day, holiday name) for every weekday public holiday of an office in the span."""
    years = sorted({(start + dt.timedelta(days=k)).year for k in range(days)})
    out: list[tuple[int, int, str]] = []
    for s in office_sites(e):
        hol = holidays.country_holidays(e.sites[s].country, years=years)
        for k in range(days):
            date = start + dt.timedelta(days=k)
            if date.weekday() < 5 and date in hol:
                out.append((s, k, str(hol[date])))
    return out


class HolidayLogon:
    """holiday-logon: an ordinary user's desk logon and server work on their country's holiday."""

    id = "holiday-logon"
    name = "Work on a national public holiday"
    description = (
        "An ordinary user logs on at their desk and reaches several servers in normal daytime "
        "hours on a weekday that is a national public holiday of their office's country."
    )
    techniques: tuple[str, ...] = ("T1078", "T1039", "T1021.002")

    def plan(
        self, e: Enterprise, em: Emitter, days: int, start: dt.date, index: int
    ) -> CampaignPlan:
        """Pick a holiday after the baseline week if there is one, then a user of that office."""
        d = em.d
        em.reset()
        found = weekday_holidays(e, start, days)
        if not found:
            plan = build_plan(self, e, em, [], [], [])
            plan.skipped = (
                f"no weekday public holiday of any office's country between {start} and "
                f"{start + dt.timedelta(days=days - 1)}"
            )
            return plan
        later = [h for h in found if h[1] >= scenario_day(days, 0.0)]
        site, day, what = (later or found)[d.i(len(later or found))]
        u = d.pick(ordinary_users(e, site))
        user = e.users[u]
        ws = user.ws
        servers = [e.infra["mail"], *e.file_servers, *(v for k, v in e.infra.items() if "app" in k)]
        if site in e.local_fs:
            servers += [e.local_fs[site]] * 2
        same = [k for s, k, _ in found if s == site and k != day]
        sessions = [day] + ([day] if d.u() < 0.4 else []) + ([d.pick(same)] if same else [])[:1]
        if len(sessions) > 1 and d.u() < 0.5:
            sessions.pop()
        dsts: list[int] = []
        last = -1
        for sday in sorted(sessions):
            lo = 9 if sday != last else 13
            t = local_time(e, site, start, sday, (lo + d.i(2)) * HOUR + d.i(HOUR), days)
            last = sday
            em.tgt(t, user.name, user.sid, ws, mal=index)
            em.tgs(t + 20_000, user.name, ws, ws, index)
            em.logon(t + 60_000, user.name, user.sid, ws, ws, 2, mal=index)
            t += 2 * _MIN + d.i(10 * _MIN)
            for dst in dict.fromkeys(d.pick(servers) for _ in range(2 + d.i(5))):
                user_session(em, t, u, ws, dst, index)
                dsts.append(dst)
                t += 4 * _MIN + d.i(30 * _MIN)
        plan = build_plan(self, e, em, [u], [ws], dsts)
        date = start + dt.timedelta(days=day)
        plan.description += f" This run: {e.sites[site].name} on {date} ({what})."
        return plan
