"""RDP-staged exfiltration: an RDP session to a host, staging from a file share, a big upload.

From a foothold workstation the intruder opens an RDP session (mstsc with explicit credentials, a
4648 on the workstation, Kerberos tickets, 4624 type 10 on the target and the 3389 and 88 flows) to
a host H in another office (its file server or a PC), reads a data-centre file share from H
(network logon, 5140/5145, a large SMB flow) and, 20 to 120 minutes after the RDP logon, H
uploads gigabytes over HTTPS to an internet address it never used. The credential is a Domain
Admin's in some runs and an ordinary user's (their own desk as the foothold) in others; the
host, share, timing and volume vary with the seed.
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
from ashiato.simulate.emit import P_MSTSC, P_NET, Emitter
from ashiato.simulate.enterprise import Enterprise

_MIN = 60_000_000
_HOSTING = ("45.77.{}.{}", "104.238.{}.{}", "149.28.{}.{}", "185.220.{}.{}")
_PARTS = ("orders", "contacts", "pricing", "design", "payroll", "forecast")


class RdpStagedExfil:
    """rdp-staged-exfil: RDP to a server, share reads from it, then an upload out of it."""

    id = "rdp-staged-exfil"
    name = "RDP session, staging and upload from the same host"
    description = (
        "An RDP session (4624 type 10 with its 3389 and Kerberos flows) from a workstation to a "
        "host in another office, file-share reads from that host, then 20-120 minutes after the "
        "RDP logon a multi-gigabyte HTTPS upload from that host to an internet address."
    )
    techniques: tuple[str, ...] = ("T1021.001", "T1074.002", "T1039", "T1048.002", "T1078")
    frac = 0.55

    def plan(
        self, e: Enterprise, em: Emitter, days: int, start: dt.date, index: int
    ) -> CampaignPlan:
        """One session: RDP, staging reads a few minutes in, the upload after the planned gap."""
        d = em.d
        em.reset()
        site = d.pick(office_sites(e))
        owner = d.pick(ordinary_users(e, site))
        src = e.users[owner].ws
        admin = d.u() < 0.5
        acct = e.domain_admins[-1] if admin else owner
        a = e.users[acct]
        # H is in another office (so the sensor sees the RDP) and is no host other scenarios use
        # (the data centre's servers are theirs): that office's file server or a colleague's PC
        away = [x for x in office_sites(e) if x != site] or [site]
        far = d.pick(away)
        desks = [e.users[u].ws for u in ordinary_users(e, far) if e.users[u].ws != src]
        host = e.local_fs[far] if far in e.local_fs and d.u() < 0.5 else d.pick(desks)
        fs = d.pick(e.file_servers)
        day = workday_on_or_after(e, site, start, scenario_day(days, self.frac), days)
        t = local_time(e, site, start, day, (9 + d.i(13)) * HOUR + d.i(HOUR), days)
        if admin:
            em.explicit(t, owner, d.logon_id(), a.name, src, host, P_MSTSC, index)
            em.tgt(t + 100_000, a.name, a.sid, src, mal=index)
        em.tgs(t + 200_000, a.name, src, host, index)
        t_rdp = t + 300_000 + d.i(200_000)
        rlid = em.logon(t_rdp, a.name, a.sid, src, host, 10, priv=admin, mal=index)
        em.flow(t_rdp - 150_000, src, host, 3389, "rdp", "rdp", index, scale=2.0 + 6 * d.u())
        if e.hosts[src].site == e.hosts[e.dc_for(src)].site:  # else the ticket flows are logged
            em.flow(t + 200_000, src, e.dc_for(src), 88, "krb", "krb", index)
        gap = 20 + d.i(101)  # minutes from the RDP logon to the first upload
        ts = t_rdp + 2 * _MIN + d.i(3 * _MIN)  # staging ends before the upload
        files = 0
        for _ in range(1 + d.i(3)):
            em.explicit(ts, acct, rlid, a.name, host, fs, P_NET, index)
            em.tgs(ts + 50_000, a.name, host, fs, index)
            lid = em.logon(ts + 100_000, a.name, a.sid, host, fs, 3, priv=admin, mal=index)
            share = e.hosts[fs].shares[d.i(len(e.hosts[fs].shares))]
            paths = [
                f"{_PARTS[d.i(len(_PARTS))]}\\\\{d.i(900):03d}-{2024 + d.i(3)}.xlsx"
                for _ in range(40 + d.i(200))
            ]
            files += len(paths)
            em.share(ts + 150_000, a.name, a.sid, lid, host, fs, share, paths, index)
            em.flow(ts + 120_000, host, fs, 445, "smb", "smb", index, scale=15.0 + 30 * d.u())
            ts += _MIN + d.i(3 * _MIN)
        out = _HOSTING[d.i(len(_HOSTING))].format(1 + d.i(254), 1 + d.i(254))
        tu = t_rdp + gap * _MIN
        n_up = 1 + d.i(4)
        for _ in range(n_up):
            em.ext_flow(tu, e.hosts[host].ip, out, 443, "ssl", "upload", index)
            tu += 3 * _MIN + d.i(6 * _MIN)
        plan = build_plan(self, e, em, [acct], [src, host], [host, fs])
        plan.description += (
            f" This run: {a.name} from {e.hosts[src].name} to {e.hosts[host].name}, {files} files "
            f"staged from {e.hosts[fs].name}, upload to {out} {gap} min after the RDP logon "
            f"({n_up} connections)."
        )
        return plan
