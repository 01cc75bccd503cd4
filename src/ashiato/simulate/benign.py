"""Ordinary people and machines, hour by hour, in each site's local time and calendar.

Humans log on in a morning rush, work with a slowly growing set of servers and shares (first-seen
edges every working day, realism §2.1), browse the internet and mistype passwords; weekends and each
country's holidays are quiet for them. Machine accounts (``HOST$``) keep authenticating to the
domain controllers 24/7, which makes them about half of all authentication events (realism §2.3).
"""

from __future__ import annotations

from dataclasses import dataclass

from ashiato.simulate.config import LOGON_PROFILE, WORK_PROFILE
from ashiato.simulate.emit import Emitter
from ashiato.simulate.enterprise import Enterprise

HOUR = 3_600_000_000
_LP = [x / sum(LOGON_PROFILE) for x in LOGON_PROFILE]
_WP = [x / sum(WORK_PROFILE) for x in WORK_PROFILE]
EXTERNAL = ("203.0.113.", "198.51.100.", "52.97.146.", "13.107.6.", "142.250.196.", "54.239.28.")
_DOCS = ("orders", "invoice", "contract", "quote", "shipping", "claims")
_CAD = ("bracket", "housing", "gearbox", "harness", "panel", "mould")


@dataclass(frozen=True)
class SiteHour:
    """One site in one UTC hour: its local hour and whether people work that day."""

    local_hour: int
    workday: bool
    day_index: int  # simulation day (UTC) of this hour
    online: bool = True  # False before a new office goes live (hardneg.new_office_day)


class Habits:
    """Each user's working set of destinations, growing by first-seen edges (realism §2.1)."""

    def __init__(self, e: Enterprise, em: Emitter) -> None:
        d = em.d
        self.e = e
        staged = set(e.migration_fs)  # unused until the migration week (hardneg.Migration)
        osa_servers = [
            h for h in e.servers if e.hosts[h].site == e.hosts[e.dcs[0]].site and h not in staged
        ]
        popular = [e.infra["mail"], e.infra["web"], e.infra["prx"], *e.file_servers]
        self.pool = osa_servers + popular * 3 + [e.infra[k] for k in e.infra if "app" in k] * 2
        self.sets: list[list[int]] = [[] for _ in e.users]
        for s, users in enumerate(e.site_users):
            local = e.local_fs.get(s)
            for u in users:
                ws = [local] if local is not None else []
                ws += [d.pick(e.file_servers), e.infra["mail"], e.infra["web"]]
                if u in e.xsite:
                    ws += e.file_servers
                self.sets[u] = ws

    def destination(self, u: int, em: Emitter) -> int:
        """Where user ``u`` goes next: usually a known host, sometimes a new one."""
        d = em.d
        known = self.sets[u]
        if d.u() < em.r.p_new_edge:
            if d.u() < em.r.p_new_colleague:
                new = d.pick(self.e.site_ws[self.e.users[u].home_site])
            else:
                new = d.pick(self.pool)
            if new not in known:
                known.append(new)
            return new
        x = d.u()
        return known[int(len(known) * x * x)]


def _share_paths(em: Emitter, share: str, n: int) -> list[str]:
    d = em.d
    if share in ("CustomerData", "Sales"):
        k = len(em.e.customers)
        return [f"CUST-{1 + d.i(k):04d}\\\\{_DOCS[d.i(6)]}-{2024 + d.i(3)}.xlsx" for _ in range(n)]
    return [f"proj-{d.i(300):03d}\\\\{_CAD[d.i(6)]}-{d.i(60):02d}.dwg" for _ in range(n)]


def human_access(em: Emitter, t: int, u: int, src: int, dst: int, mal: int = -1) -> None:
    """One network session of user ``u`` from ``src`` to ``dst`` (share objects on file servers)."""
    e, d, r = em.e, em.d, em.r
    user = e.users[u]
    ntlm = d.u() < r.p_ntlm
    if d.u() < r.p_network_fail:
        em.fail(t - 4000, user.name, src, dst, "0xC000006A", 3, ntlm)
    if not ntlm and d.u() < r.p_tgs:
        em.tgs(t - 2000, user.name, src, dst)
    lid = em.logon(t, user.name, user.sid, src, dst, 3, ntlm, False, mal)
    host = e.hosts[dst]
    if host.role == "file-server":
        shares = host.shares
        share = "CustomerData" if "CustomerData" in shares and d.u() < r.p_customer_share else ""
        share = share or shares[d.i(len(shares))]
        n = 1 + int(d.u() * 2 * (r.files_per_share_access - 1) + 0.5)
        em.share(t + 3000, user.name, user.sid, lid, src, dst, share, _share_paths(em, share, n))
        em.net_flow(t, src, dst, 445, "smb", "smb")
    else:
        em.net_flow(t, src, dst, 445 if host.role != "database" else 1433, "smb", "smb")


def _interactive(em: Emitter, t: int, u: int, ws: int, typo: bool) -> None:
    e, d = em.e, em.d
    user = e.users[u]
    if typo:
        if d.u() < 0.5:
            em.fail(t - 9_000_000, user.name, ws, ws, "0xC000006A", 2)
        else:
            em.tgt(t - 9_000_000, user.name, user.sid, ws, "0x18")
    em.tgt(t, user.name, user.sid, ws)
    em.tgs(t + 20_000, user.name, ws, ws)
    em.logon(t + 60_000, user.name, user.sid, ws, ws, 2)


def _lockout(em: Emitter, t: int, u: int, ws: int) -> None:
    name = em.e.users[u].name
    for k in range(4):
        em.fail(t + k * 7_000_000, name, ws, ws, "0xC000006A", 2)
    for k in range(2):
        em.fail(t + 40_000_000 + k * 30_000_000, name, ws, ws, "0xC0000234", 2)


def humans(
    em: Emitter,
    habits: Habits,
    h0: int,
    site: int,
    sh: SiteHour,
    away: frozenset[int] = frozenset(),
) -> None:
    """Logons, network work, lockouts and web browsing of one site's people in one hour.

    People in ``away`` (travelling: their trip's activity comes from ``ops``) leave their desk
    empty: their picks still happen, but the events (and the draws inside them) are skipped.
    """
    e, d, r = em.e, em.d, em.r
    users = e.site_users[site]
    if not users or not sh.online:
        return
    day = 1.0 if sh.workday else r.offday_human_factor
    lh = sh.local_hour
    span = HOUR - 20_000_000
    for _ in range(d.poisson(len(users) * r.logons_per_user_workday * _LP[lh] * day)):
        u = d.pick(users)
        t, typo = h0 + d.i(span) + 10_000_000, d.u() < r.p_logon_typo
        if u not in away:
            _interactive(em, t, u, e.users[u].ws, typo)
    if sh.workday and lh == 9:
        for _ in range(d.poisson(len(users) * r.p_lockout_user_day)):
            u = d.pick(users)
            t = h0 + d.i(HOUR // 2)
            if u not in away:
                _lockout(em, t, u, e.users[u].ws)
    for _ in range(d.poisson(len(users) * r.net_access_per_user_workday * _WP[lh] * day)):
        u = d.pick(users)
        t, dst = h0 + d.i(span) + 10_000_000, habits.destination(u, em)
        if u not in away:
            human_access(em, t, u, e.users[u].ws, dst)
    for _ in range(d.poisson(len(users) * r.web_flows_per_user_workday * _WP[lh] * day)):
        ws = e.users[d.pick(users)].ws
        ip = EXTERNAL[d.i(len(EXTERNAL))] + str(1 + d.i(254))
        port, svc = (443, "ssl") if d.u() < 0.9 else (80, "http")
        em.ext_flow(h0 + d.i(HOUR), e.hosts[ws].ip, ip, port, svc, "web")


def machines(em: Emitter, h0: int, site: int, sh: SiteHour) -> None:
    """Computer accounts: TGTs, service tickets and SYSVOL/LDAP logons on the DCs, 24/7."""
    e, d, r = em.e, em.d, em.r
    hosts = e.site_hosts[site]
    if not hosts or not sh.online:
        return
    power = 1.0 if sh.workday and 8 <= sh.local_hour < 19 else r.ws_night_power
    n = len(hosts)

    def pick() -> int:
        while True:
            h = d.pick(hosts)
            if e.hosts[h].role != "workstation" or d.u() < power:
                return h

    for _ in range(d.poisson(n * r.machine_dc_logons_per_host_hour)):
        h = pick()
        dc = e.dc_for(h)
        if h == dc:
            continue
        t = h0 + d.i(HOUR)
        if d.u() < r.p_machine_fail:
            em.tgt(t - 3000, e.hosts[h].machine, em.msid[h], h, "0x18")
        em.logon(t, e.hosts[h].machine, em.msid[h], h, dc, 3, d.u() < r.p_machine_ntlm)
        if e.hosts[h].site != e.hosts[dc].site and d.u() < r.p_flow_machine:
            em.flow(t, h, dc, 445 if d.u() < 0.5 else 389, "smb" if d.u() < 0.5 else "ldap", "ldap")
    for _ in range(d.poisson(n * r.machine_tgs_per_host_hour)):
        h = pick()
        em.tgs(h0 + d.i(HOUR), e.hosts[h].machine, h, e.dc_for(h))
    for _ in range(d.poisson(n * r.machine_tgt_per_host_hour)):
        h = pick()
        em.tgt(h0 + d.i(HOUR), e.hosts[h].machine, em.msid[h], h)
    for h in e.servers:
        if e.hosts[h].site == site and d.u() < r.server_cloud_flows_per_hour:
            ip = EXTERNAL[2 + d.i(4)] + str(1 + d.i(254))
            em.ext_flow(h0 + d.i(HOUR), e.hosts[h].ip, ip, 443, "ssl", "web")
