"""Insider upload: an ordinary employee copies a share they use every day, then uploads it to cloud.

No privilege, no new host, no new account: the only signals are volume and time. On one evening
(20:00-23:00 local, a working day) the user opens their office file server's design share several
times and reads hundreds of files (5140 and bursts of 5145 with many RelativeTargetName), then
their workstation sends tens of gigabytes over HTTPS to a cloud-storage address it never used.
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
from ashiato.simulate.emit import Emitter
from ashiato.simulate.enterprise import Enterprise

_SITE = "TH-BKK"
_CLOUD = "162.125.{}.{}"  # a consumer cloud-storage provider's range (stands for any such service)
_PARTS = ("bracket", "housing", "gearbox", "harness", "panel", "mould", "spec", "bom")


class InsiderUpload:
    """insider-upload: after-hours bulk reads of a familiar share, then a huge HTTPS upload."""

    id = "insider-upload"
    name = "Insider copies a share to cloud storage"
    description = (
        "An ordinary Bangkok employee reads hundreds of files from the design share of their own "
        "office file server after hours, then uploads tens of gigabytes over HTTPS to a cloud "
        "storage address from their workstation."
    )
    techniques: tuple[str, ...] = ("T1039", "T1567.002", "T1030", "T1078")
    frac = 0.62

    def plan(
        self, e: Enterprise, em: Emitter, days: int, start: dt.date, index: int
    ) -> CampaignPlan:
        """Three to five read sessions from 20:00 local, then the upload flows."""
        d = em.d
        em.reset()
        site = e.site_index(_SITE)
        busy = set(e.xsite) | set(e.admin_of.values())
        u = d.pick([x for x in e.site_users[site] if x not in busy] or e.site_users[site])
        user = e.users[u]
        ws = user.ws
        fs = e.local_fs.get(site, e.file_servers[0])
        share = "Design" if "Design" in e.hosts[fs].shares else e.hosts[fs].shares[0]
        day = workday_on_or_after(e, site, start, scenario_day(days, self.frac), days)
        t = local_time(e, site, start, day, 20 * HOUR + d.i(HOUR), days)
        seen: set[str] = set()
        for _ in range(3 + d.i(3)):
            lid = em.logon(t, user.name, user.sid, ws, fs, 3, mal=index)
            paths = []
            for _ in range(120 + d.i(200)):
                p = f"proj-{d.i(400):03d}\\\\{_PARTS[d.i(8)]}-{d.i(90):02d}-r{d.i(9)}.dwg"
                if p not in seen:
                    seen.add(p)
                    paths.append(p)
            em.share(t + 2_000_000, user.name, user.sid, lid, ws, fs, share, paths, index)
            em.net_flow(t + 1_000_000, ws, fs, 445, "smb", "smb", index)
            t += 2_000_000 + 1000 * len(paths) + 8 * 60_000_000 + d.i(15 * 60_000_000)
        cloud = _CLOUD.format(1 + d.i(120), 1 + d.i(250))
        for _ in range(3 + d.i(4)):
            em.ext_flow(t, e.hosts[ws].ip, cloud, 443, "ssl", "upload", index)
            t += 6 * 60_000_000 + d.i(6 * 60_000_000)
        return build_plan(self, e, em, [u], [ws], [fs])
