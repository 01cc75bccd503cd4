"""The planted-campaign contract (plan, protocol, timing helpers) and the incident campaign c1.

``c1-valid-admin-th-id-ph``: a Domain Admin's valid credentials (the owner keeps using the account
from Tokyo the whole time) are used at night, local time, from one workstation in Bangkok, a week
later also from Jakarta and later from Manila, to reconnoitre the data centre, read customer-data
shares, log on to databases and send a modest amount of data out. Each scenario plans its whole
story up front (it is small) with its own random stream; the runner merges it hour by hour. The
other scenarios live in ``ashiato.simulate.scenarios``, which also holds the registry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from ashiato.simulate.benign import HOUR
from ashiato.simulate.emit import P_NET, Emitter, Event
from ashiato.simulate.enterprise import DC_SITE, Enterprise
from ashiato.simulate.zeek import Flow

DAY = 24 * HOUR
BASELINE_DAYS = 7  # scenarios never start in the first week when the run is long enough
_FILES = ("orders", "contacts", "contract")
_DOCS = ("orders", "contacts", "pricing", "budget", "invoice", "contract", "shipping", "claims")


@dataclass
class CampaignPlan:
    """Everything a scenario will write, and the header line of its ground truth."""

    id: str
    name: str
    description: str
    techniques: list[str]
    accounts: list[str] = field(default_factory=list)
    src_hosts: list[str] = field(default_factory=list)
    dst_hosts: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)
    skipped: str | None = None  # why nothing was planted (e.g. no holiday in the span), if so


class Scenario(Protocol):
    """An attack scenario: plans its events with the emitter it is given (its own random stream)."""

    id: str
    name: str
    description: str
    techniques: tuple[str, ...]

    def plan(
        self, e: Enterprise, em: Emitter, days: int, start: dt.date, index: int
    ) -> CampaignPlan:
        """Plan the whole campaign; events carry ``index`` as their campaign marker."""
        ...


def scenario_day(days: int, frac: float) -> int:
    """A scenario's first day: ``frac`` of the way through the run after the clean baseline week.

    Runs shorter than 10 days have no room for a week of baseline; they are compressed (the first
    third stays clean), as :func:`stage_days` does for c1.
    """
    lo = BASELINE_DAYS if days >= 10 else days // 3
    return min(days - 1, lo + round(frac * max(0, days - 1 - lo)))


def utc_offset_us(e: Enterprise, site: int, start: dt.date) -> int:
    """The site's offset from UTC in microseconds (every modelled zone is DST-free)."""
    off = ZoneInfo(e.sites[site].tz).utcoffset(dt.datetime(start.year, start.month, start.day))
    return int(off.total_seconds()) * 1_000_000 if off else 0


def workday_on_or_after(e: Enterprise, site: int, start: dt.date, day: int, days: int) -> int:
    """The first working day (no weekend, no public holiday of ``site``) from ``day``, if any."""
    off = e.offdays[site] if site < len(e.offdays) else set()
    for k in range(day, days):
        date = start + dt.timedelta(days=k)
        if date.weekday() < 5 and date not in off:
            return k
    return min(day, days - 1)


def local_time(e: Enterprise, site: int, start: dt.date, day: int, local_us: int, days: int) -> int:
    """Simulation time of ``local_us`` past local midnight of ``day`` at ``site``, kept in range."""
    t = day * DAY + local_us - utc_offset_us(e, site, start)
    return min(max(t, 0), days * DAY - 3 * HOUR)


def build_plan(
    sc: Scenario, e: Enterprise, em: Emitter, accounts: list[int], srcs: list[int], dsts: list[int]
) -> CampaignPlan:
    """A :class:`CampaignPlan` from the emitter's events and the scenario's id/name/techniques."""
    mal = [ev for ev in em.events if ev[4] >= 0]  # a story's benign backdrop is not the campaign
    hosts = {e.hosts[ev[1]].name for ev in mal} | {e.hosts[h].name for h in srcs + dsts}
    sites = dict.fromkeys(e.sites[e.hosts[h].site].name for h in srcs + dsts)
    return CampaignPlan(
        sc.id,
        sc.name,
        sc.description,
        list(sc.techniques),
        [e.users[u].name for u in accounts],
        [e.hosts[h].name for h in dict.fromkeys(srcs)],
        sorted({e.hosts[h].name for h in dsts}),
        sorted(hosts),
        list(sites),
        em.events,
        em.flows,
    )


def ordinary_users(e: Enterprise, site: int) -> list[int]:
    """A site's people who hold no admin account and are not cross-site engineers (all if none)."""
    busy = set(e.xsite) | set(e.admin_of.values())
    return [u for u in e.site_users[site] if u not in busy] or e.site_users[site]


def office_sites(e: Enterprise) -> list[int]:
    """Sites with people and workstations, except the office that only comes online mid-run."""
    return [s for s in range(len(e.sites)) if s != e.new_site and e.site_users[s]]


def user_session(
    em: Emitter,
    t: int,
    u: int,
    src: int,
    dst: int,
    mal: int,
    files: tuple[int, int] = (1, 12),
    p_share: float = 1.0,
) -> None:
    """A Kerberos network session of account ``u`` from ``src`` to ``dst``: a service ticket, a
    type-3 logon and, on a file server (with probability ``p_share``), a share with a few
    documents read (between ``files[0]`` and ``files[1]``), then the SMB flow if the sensor sees it.
    """
    e, d = em.e, em.d
    a = e.users[u]
    em.tgs(t, a.name, src, dst, mal)
    lid = em.logon(t + 80_000 + d.i(300_000), a.name, a.sid, src, dst, 3, mal=mal)
    host = e.hosts[dst]
    if host.role == "file-server" and d.u() < p_share:
        share = host.shares[d.i(len(host.shares))]
        lo, hi = files
        paths = [
            f"{_DOCS[d.i(len(_DOCS))]}-{2024 + d.i(3)}-{d.i(300):03d}.xlsx"
            for _ in range(lo + d.i(hi - lo + 1))
        ]
        em.share(t + 600_000, a.name, a.sid, lid, src, dst, share, paths, mal)
    em.net_flow(t + 70_000, src, dst, 445, "smb", "smb", mal)


def stage_days(days: int) -> tuple[int, int, int]:
    """First (0-based) day of the TH, ID and PH stages; compressed when the run is short."""
    if days < 4:
        return 0, days // 3, 2 * days // 3
    th = max(1, round(days * 0.24))  # 30 days -> day 8: a week of clean baseline
    rest = days - th
    idn = th + max(1, round(rest * 0.33))
    return th, idn, min(days - 1, idn + max(1, round(rest * 0.3)))


class ValidAdminTHIDPH:
    """c1: stolen Domain Admin credentials used from TH, then ID, then PH workstations at night."""

    id = "c1-valid-admin-th-id-ph"
    name = "Valid domain-admin credentials used from overseas offices"
    description = (
        "An existing Domain Admin account (home JP-TKY-HQ, still used by its owner) is used at "
        "night "
        "local time from one workstation in TH-BKK, later also ID-JKT and PH-MNL, to reach "
        "JP-OSA-DC servers: reconnaissance, customer-data shares, databases, a modest upload."
    )
    techniques: tuple[str, ...] = ("T1078.002", "T1021.002", "T1018", "T1039", "T1213", "T1041")
    p_session = 0.45  # chance of a session per source site per night: a few a week

    def plan(
        self, e: Enterprise, em: Emitter, days: int, start: dt.date, index: int
    ) -> CampaignPlan:
        """Plan sessions night by night for each source site's stage."""
        d = em.d
        em.reset()
        admin = e.domain_admins[0]
        osa = e.site_index(DC_SITE)
        recon = [h for h in e.servers if e.hosts[h].site == osa]
        pii = [h for h in e.file_servers if "CustomerData" in e.hosts[h].shares]
        busy = set(e.xsite) | {e.admin_of[a] for a in e.admin_of}
        sources: list[tuple[int, int, int]] = []  # site, workstation, owner
        for name in ("TH-BKK", "ID-JKT", "PH-MNL"):
            s = e.site_index(name)
            u = d.pick([u for u in e.site_users[s] if u not in busy] or e.site_users[s])
            sources.append((s, e.users[u].ws, u))
        exfil_ip = f"203.0.113.{50 + d.i(150)}"
        used: set[int] = set()
        for k, first in enumerate(stage_days(days)):
            s, ws, owner = sources[k]
            offset = ZoneInfo(e.sites[s].tz).utcoffset(
                dt.datetime(start.year, start.month, start.day)
            )
            off_us = int(offset.total_seconds()) * 1_000_000 if offset else 0
            n_sessions = 0
            for day in range(first, days):
                if day != first and d.u() >= self.p_session:
                    continue
                local_start = day * DAY + (22 + d.i(5)) * HOUR + d.i(HOUR)  # 22:00-02:59 local
                t = local_start - off_us
                if not 0 <= t < days * DAY - 2 * HOUR:
                    t = days * DAY - 2 * HOUR - d.i(HOUR)  # short runs: squeeze into the end
                phase = "recon" if n_sessions == 0 or d.u() < 0.25 else "collect"
                self._session(em, e, t, admin, ws, owner, phase, recon, pii, exfil_ip, index, used)
                n_sessions += 1
        adm = e.users[admin]
        srcs = [e.hosts[ws].name for _, ws, _ in sources]
        dsts = sorted({e.hosts[h].name for h in used})
        logs = sorted({e.hosts[ev[1]].name for ev in em.events} | set(srcs) | set(dsts))
        sites = [e.sites[s].name for s, _, _ in sources] + [DC_SITE]
        return CampaignPlan(
            self.id,
            self.name,
            self.description,
            list(self.techniques),
            [adm.name],
            srcs,
            dsts,
            logs,
            sites,
            em.events,
            em.flows,
        )

    def _session(
        self,
        em: Emitter,
        e: Enterprise,
        t: int,
        admin: int,
        ws: int,
        owner: int,
        phase: str,
        recon: list[int],
        pii: list[int],
        exfil_ip: str,
        mal: int,
        used: set[int],
    ) -> None:
        d = em.d
        a = e.users[admin]
        lid = d.logon_id()
        em.tgt(t, a.name, a.sid, ws, mal=mal)
        t += 2_000_000
        if phase == "recon":
            targets = [e.dc_for(ws)] + [d.pick(recon) for _ in range(8 + d.i(8))]
        else:
            targets = [d.pick(pii) for _ in range(1 + d.i(2))] + [d.pick(e.databases)]
        for dst in dict.fromkeys(targets):
            used.add(dst)
            em.explicit(t, owner, lid, a.name, ws, dst, P_NET, mal)
            sql = e.services["svc-sql"] if e.hosts[dst].role == "database" else -1
            em.tgs(t + 50_000, a.name, ws, dst, mal, svc=sql)
            dlid = em.logon(t + 120_000, a.name, a.sid, ws, dst, 3, priv=True, mal=mal)
            role = e.hosts[dst].role
            if role == "file-server":
                k = len(e.customers)
                paths = [
                    f"CUST-{1 + d.i(k):04d}\\\\{_FILES[d.i(3)]}-{2024 + d.i(3)}.xlsx"
                    for _ in range(5 + d.i(15))
                ]
                em.share(t + 200_000, a.name, a.sid, dlid, ws, dst, "CustomerData", paths, mal)
                em.flow(t + 150_000, ws, dst, 445, "smb", "smb", mal, scale=30.0)
            elif role == "database":
                em.flow(t + 150_000, ws, dst, 1433, "-", "sql", mal, scale=20.0)
            else:
                em.flow(t + 150_000, ws, dst, 445, "smb", "smb", mal)
            t += 20_000_000 + d.i(240_000_000)
        if phase == "collect":
            em.ext_flow(t, e.hosts[ws].ip, exfil_ip, 443, "ssl", "exfil", mal)
