"""Benign hard negatives on a schedule: an IT migration week and a new office going live.

Both are legitimate and both look like an intruder to a novelty rule (realism §2.9, §2.10):

* **Migration week.** Over a few working days most users are moved to new file servers
  (``jp-osa-nfsNN``, staged and idle until then), each mapping a few of them: a burst of
  first-seen (user, host) edges (check C4). At night the ``svc-migrate`` account copies data from
  every old file server to the new ones, an account reaching many servers for the first time.
  The new servers then join the users' working sets, so their later use is ordinary.
* **New office.** The office ``NEW_OFFICE`` (VN-HCM) is silent until its go-live day, then its
  users, PCs and site admin start at once. It is in the inventory and the policy from the start:
  a planned office is registered by IT before go-live, so the realistic hard case is novelty
  (new accounts, hosts and site-to-JP paths all appearing on one day), not a policy gap.

Help-desk staff touching hundreds of hosts, backup reaching every server, SCCM every PC and admins
on business trips are already modelled in ``ops``.
"""

from __future__ import annotations

import datetime as dt

from ashiato.simulate.benign import HOUR, Habits, SiteHour, human_access
from ashiato.simulate.emit import Emitter
from ashiato.simulate.enterprise import HQ, Enterprise


def new_office_day(days: int, frac: float) -> int:
    """The (UTC) day the new office goes live: mid-run, never day 0 when the run allows."""
    return min(days - 1, max(1 if days > 1 else 0, round(days * frac)))


def migration_start(
    days: int, start: dt.date, frac: float, workdays: int, hq_off: set[dt.date]
) -> int:
    """First day of the migration: the first HQ working Monday (else working day) from ``frac``."""
    d0 = min(days - 1, max(0, round(days * frac)))
    dates = [(k, start + dt.timedelta(days=k)) for k in range(d0, max(d0 + 1, days - workdays + 1))]
    work = [k for k, date in dates if date.weekday() < 5 and date not in hq_off]
    monday = [k for k in work if (start + dt.timedelta(days=k)).weekday() == 0]
    return (monday or work or [d0])[0]


class Migration:
    """Moves users to the new file servers during the migration week; call :meth:`hour` hourly."""

    def __init__(
        self, e: Enterprise, em: Emitter, habits: Habits, days: int, start: dt.date
    ) -> None:
        self.e, self.em, self.habits = e, em, habits
        r, d = em.r, em.d
        self.tky = e.site_index(HQ)
        hq_off = e.offdays[self.tky] if e.offdays else set()
        self.first = migration_start(
            days, start, r.migration_start_frac, r.migration_workdays, hq_off
        )
        k = min(len(e.migration_fs), r.migration_servers_per_user)
        #: (utc day, site, local hour) -> users moved then; built once, consumed as hours pass
        self.plan: dict[tuple[int, int, int], list[int]] = {}
        for s, users in enumerate(e.site_users):
            if s == e.new_site:
                continue
            for u in users:
                if d.u() < r.migration_user_share:
                    key = (self.first + d.i(r.migration_workdays), s, 9 + d.i(8))
                    self.plan.setdefault(key, []).append(u)
        self.targets: dict[int, list[int]] = {}
        for u in sorted(u for us in self.plan.values() for u in us):
            start_at = d.i(len(e.migration_fs))
            self.targets[u] = [
                e.migration_fs[(start_at + j) % len(e.migration_fs)] for j in range(k)
            ]

    def hour(self, h: int, clocks: list[SiteHour]) -> None:
        """Emit the migration's user moves and night copies for UTC hour ``h``."""
        if not self.plan and not self.first <= h // 24 < self.first + self.em.r.migration_workdays:
            return
        em, d, e = self.em, self.em.d, self.e
        h0, day = h * HOUR, h // 24
        for s, c in enumerate(clocks):
            users = self.plan.pop((day, s, c.local_hour), None)
            if not users:
                continue
            if not c.workday:  # a weekend or holiday at that office: moved on the next day
                self.plan.setdefault((day + 1, s, c.local_hour), []).extend(users)
                continue
            for u in users:
                ws = e.users[u].ws
                for fs in self.targets[u]:
                    human_access(em, h0 + d.i(HOUR - 20_000_000) + 10_000_000, u, ws, fs)
                    if fs not in self.habits.sets[u]:
                        self.habits.sets[u].append(fs)
        jp = clocks[self.tky]
        in_week = self.first <= day < self.first + em.r.migration_workdays
        if in_week and jp.local_hour == 22:
            self._copy(h0)

    def _copy(self, h0: int) -> None:
        em, d, e = self.em, self.em.d, self.e
        u = e.users[e.services["svc-migrate"]]
        for dst in e.migration_fs:
            for src in e.file_servers:
                t = h0 + d.i(HOUR - 5_000_000)
                em.tgs(t - 3000, u.name, dst, src)
                lid = em.logon(t, u.name, u.sid, dst, src, 3, priv=True)
                em.share(t + 2000, u.name, u.sid, lid, dst, src, "D$", [])
                em.flow(t, src, dst, 445, "smb", "backup")
