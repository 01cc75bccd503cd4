"""IT operations: the benign behaviours that look most like an intruder (realism §2.4, §2.7, §2.9).

Backup, SCCM and the vulnerability scanner in the data centre reach every host with privileged
service accounts; Domain Admins administer servers and overseas PCs from Tokyo; the help desk
touches hundreds of workstations a day; site admins work their own office; a Domain Admin on a
business trip uses a Thai or Indonesian workstation for a few days; stale credentials fail every
hour.
"""

from __future__ import annotations

from dataclasses import dataclass

from ashiato.simulate.benign import HOUR, SiteHour
from ashiato.simulate.emit import P_NET, P_RUNAS, Emitter
from ashiato.simulate.enterprise import DC_SITE, HQ, Enterprise
from ashiato.simulate.rand import Draw


@dataclass(frozen=True)
class Trip:
    """A Domain Admin working from an overseas office for a few days (a legitimate hard case)."""

    admin: int
    site: int
    ws: int
    first_day: int
    last_day: int


def plan_trips(e: Enterprise, d: Draw, days: int, per_30: float, exclude: int) -> list[Trip]:
    """Business trips of JP Domain Admins (never ``exclude``, the account a scenario may use)."""
    admins = [a for a in e.domain_admins if a != exclude]
    overseas = [
        s
        for s, spec in enumerate(e.sites)
        if spec.country != "JP" and e.site_ws[s] and s != e.new_site
    ]
    trips = []
    for _ in range(max(1, round(days / 30 * per_30))):
        site = d.pick(overseas)
        first = d.i(max(1, days - 2))
        trips.append(Trip(d.pick(admins), site, d.pick(e.site_ws[site]), first, first + 2 + d.i(3)))
    return trips


class Operations:
    """Service accounts, admins and help desk; call :meth:`hour` once per simulated hour."""

    def __init__(self, e: Enterprise, em: Emitter, trips: list[Trip]) -> None:
        self.e, self.em, self.trips = e, em, trips
        self.tky = e.site_index(HQ)
        self.osa = e.site_index(DC_SITE)
        self.all_ws = [h.idx for h in e.hosts if h.role == "workstation"]
        self.targets = [h for h in e.servers if e.hosts[h].site == self.osa]
        self.hq_hosts = e.site_hosts[self.tky]
        self.overseas = [h.idx for h in e.hosts if e.sites[h.site].country != "JP"]
        self.offline: set[int] = set()  # sites not yet live this hour (a new office)
        self._tgt_at: dict[tuple[int, int], int] = {}  # (account, host) -> its last TGT

    def _tgt(self, t: int, u: int, src: int) -> None:
        """The TGT a Kerberos client obtains before its first service ticket, and again when
        the last one from that host has expired (10 h): without it an operations account's
        routine would look like a ticket imported from elsewhere (pass-the-ticket). Obtained at
        the start of the hour of ``t``: before every session of that hour, whatever their order."""
        at = t - t % HOUR
        last = self._tgt_at.get((u, src))
        if last is None or at - last >= 10 * HOUR:
            self._tgt_at[(u, src)] = at
            self.em.tgt(at, self.e.users[u].name, self.e.users[u].sid, src)

    def _live(self, host: int) -> bool:
        return not self.offline or self.e.hosts[host].site not in self.offline

    def hour(self, h: int, clocks: list[SiteHour]) -> None:
        """Emit every operations behaviour for UTC hour ``h``."""
        h0 = h * HOUR
        self.offline = {s for s, c in enumerate(clocks) if not c.online}
        day, utc_hour = divmod(h, 24)
        self._sccm(h0, day, utc_hour)
        jp = clocks[self.tky]
        if 1 <= jp.local_hour <= 4:
            self._backup(h0, jp.local_hour)
        if 20 <= jp.local_hour <= 23:
            self._scanner(h0, day, jp.local_hour)
        self._apps(h0, utc_hour)
        self._admins(h0, day, clocks)
        self._helpdesk(h0, clocks)

    def _svc(self, name: str) -> tuple[str, str]:
        u = self.e.users[self.e.services[name]]
        return u.name, u.sid

    def _sccm(self, h0: int, day: int, utc_hour: int) -> None:
        em, d = self.em, self.em.d
        src = self.e.infra["sccm"]
        name, sid = self._svc("svc-sccm")
        for i in range((day * 5 + utc_hour) % 24, len(self.all_ws), 24):
            ws = self.all_ws[i]
            if not self._live(ws):
                continue
            t = h0 + d.i(HOUR - 1_000_000)
            self._tgt(t - 5000, self.e.services["svc-sccm"], src)
            if d.u() < em.r.p_tgs:
                em.tgs(t - 3000, name, src, ws)
            em.logon(t, name, sid, src, ws, 3, priv=True)
            em.net_flow(t, src, ws, 445, "smb", "smb")

    def _backup(self, h0: int, jp_hour: int) -> None:
        em, d, e = self.em, self.em.d, self.e
        src = e.infra["bk"]
        name, sid = self._svc("svc-backup")
        for k, dst in enumerate(e.servers):
            if k % 4 != jp_hour - 1 or dst == src or not self._live(dst):
                continue
            t = h0 + d.i(HOUR - 5_000_000)
            self._tgt(t - 5000, e.services["svc-backup"], src)
            em.tgs(t - 3000, name, src, dst)
            lid = em.logon(t, name, sid, src, dst, 3, priv=True)
            if e.hosts[dst].role == "file-server":
                em.share(t + 2000, name, sid, lid, src, dst, "D$", [])
            em.flow(t, dst, src, 445, "smb", "backup")

    def _scanner(self, h0: int, day: int, jp_hour: int) -> None:
        em, d, e = self.em, self.em.d, self.e
        src = e.infra["scan"]
        name, sid = self._svc("svc-scan")
        step = round(1 / em.r.scan_fraction_per_night)
        for dst in range((day + jp_hour) % step, len(e.hosts), step):
            if dst == src or (dst // step) % 4 != jp_hour - 20 or not self._live(dst):
                continue
            t = h0 + d.i(HOUR - 1_000_000)
            if d.u() < 0.02:  # one scan job still holds an old password: UNCONFIRMED rate
                em.fail(t - 5000, name, src, dst, "0xC000006A", 3, ntlm=True)
                continue
            em.logon(t, name, sid, src, dst, 3, ntlm=True, priv=True)
            em.net_flow(t, src, dst, 445, "smb", "smb")

    def _apps(self, h0: int, utc_hour: int) -> None:
        em, d, e = self.em, self.em.d, self.e
        apps = [v for k, v in e.infra.items() if k.startswith("app")]
        name, sid = self._svc("svc-app")
        for _ in range(d.poisson(em.r.app_db_logons_per_hour * len(apps))):
            src, dst = d.pick(apps), d.pick(e.databases)
            t = h0 + d.i(HOUR)
            em.logon(t, name, sid, src, dst, 3, ntlm=d.u() < 0.3)
            em.net_flow(t, src, dst, 1433, "-", "sql")
        if utc_hour == 20:  # nightly SQL service restart after maintenance
            sql, ssid = self._svc("svc-sql")
            for db in e.databases:
                em.logon(h0 + d.i(HOUR), sql, ssid, db, db, 5, priv=True)
        # Stale credentials: a decommissioned report job and a deleted account, every hour.
        rep, _ = self._svc("svc-report")
        stale = em.r.stale_cred_per_1k_terminals_hour * e.n_terminals / 1000
        for _ in range(d.poisson(stale)):
            fs = e.file_servers[d.i(2)]
            em.fail(h0 + d.i(HOUR), rep, apps[0], fs, "0xC000006A", 3, ntlm=d.u() < 0.5)
        for _ in range(d.poisson(stale / 4)):
            t = h0 + d.i(HOUR)
            em.tgt(t, "svc-ftp-old", "S-1-0-0", apps[-1], "0x6")
            em.fail(t + 5000, "svc-ftp-old", apps[-1], e.databases[0], "0xC0000064", 3, True)
        for srv in e.servers:
            if d.u() < em.r.sched_tasks_per_server_day / 24 and self._live(srv):
                em.task(h0 + d.i(HOUR), srv, "svc-backup" if d.u() < 0.5 else "svc-report")

    def _admin_session(self, t: int, admin: int, src: int, dst: int) -> None:
        em, d, e = self.em, self.em.d, self.e
        a = e.users[admin]
        owner = e.admin_of[admin]
        rdp = d.u() < em.r.p_admin_rdp
        em.explicit(t - 500_000, owner, d.logon_id(), a.name, src, dst, P_RUNAS if rdp else P_NET)
        self._tgt(t - 300_000, admin, src)
        em.tgs(t - 200_000, a.name, src, dst)
        lid = em.logon(t, a.name, a.sid, src, dst, 10 if rdp else 3, priv=True)
        if e.hosts[dst].role == "file-server" and d.u() < 0.3:
            em.share(t + 2000, a.name, a.sid, lid, src, dst, "C$", [])
        em.net_flow(
            t, src, dst, 3389 if rdp else 445, "rdp" if rdp else "smb", "rdp" if rdp else "smb"
        )

    def _admins(self, h0: int, day: int, clocks: list[SiteHour]) -> None:
        em, d, e = self.em, self.em.d, self.e
        jp = clocks[self.tky]
        for a in e.domain_admins:
            trip = next(
                (x for x in self.trips if a == x.admin and x.first_day <= day <= x.last_day), None
            )
            if any(a == x.admin and day == x.first_day - 1 for x in self.trips):
                # the flight: trip days count in UTC, and Tokyo's morning is the UTC day before,
                # so working that day would put the admin in Tokyo two hours before Bangkok
                continue
            clock = clocks[trip.site] if trip else jp
            src = trip.ws if trip else e.users[a].ws
            if not clock.workday:
                continue
            if 8 <= clock.local_hour < 18:
                lam = em.r.da_sessions_per_hour
            elif 18 <= clock.local_hour < 23:
                lam = em.r.da_sessions_per_hour * em.r.p_admin_after_hours
            else:
                continue
            if trip and clock.local_hour == 8:
                # the owner sits down first: admin sessions of this hour start a second later
                owner = e.admin_of[a]
                em.logon(h0 + d.i(1_000_000), e.users[owner].name, e.users[owner].sid, src, src, 2)
            for _ in range(d.poisson(lam)):
                x = d.u()
                if trip or x >= em.r.p_admin_overseas + 0.3:
                    dst = d.pick(self.targets)
                elif x < em.r.p_admin_overseas:
                    dst = d.pick(self.overseas)
                else:
                    dst = d.pick(self.hq_hosts)
                if dst != src and self._live(dst):
                    self._admin_session(h0 + d.i(HOUR - 2_000_000) + 1_000_000, a, src, dst)
        for a in e.site_admins:
            s = e.users[a].home_site
            if clocks[s].online and clocks[s].workday and 8 <= clocks[s].local_hour < 17:
                for _ in range(d.poisson(em.r.site_admin_sessions_per_hour)):
                    dst = d.pick(e.site_hosts[s])
                    if dst != e.users[a].ws:
                        t = h0 + d.i(HOUR - 2_000_000) + 1_000_000
                        self._admin_session(t, a, e.users[a].ws, dst)

    def _helpdesk(self, h0: int, clocks: list[SiteHour]) -> None:
        em, d, e = self.em, self.em.d, self.e
        jp = clocks[self.tky]
        if not jp.workday or not 8 <= jp.local_hour < 19:
            return
        for a in e.helpdesk:
            hd = e.users[a]
            for _ in range(d.poisson(em.r.hd_sessions_per_hour)):
                dst = d.pick(self.all_ws)
                if dst == hd.ws or not self._live(dst):
                    continue
                t = h0 + d.i(HOUR - 2_000_000) + 1_000_000
                rdp = d.u() < 0.05
                self._tgt(t - 150_000, a, hd.ws)
                if d.u() < em.r.p_tgs * 2:
                    em.tgs(t - 100_000, hd.name, hd.ws, dst)
                em.logon(t, hd.name, hd.sid, hd.ws, dst, 10 if rdp else 3, priv=True)
                em.net_flow(
                    t,
                    hd.ws,
                    dst,
                    3389 if rdp else 445,
                    "rdp" if rdp else "smb",
                    "rdp" if rdp else "smb",
                )
