"""Pass-the-hash spree: one help-desk NTLM hash, dozens of a site's workstations in an hour or two.

An intruder on one ordinary workstation has dumped the NTLM hash of a help-desk account (which
legitimately touches hundreds of PCs, but from its owner's PC and over Kerberos) and replays it:
NTLM network logons (4624 type 3, NtLmSsp, KeyLength 0) with a 4672 on each target, then the
ADMIN$ share (5140/5145, a PsExec-style service binary dropped). Service installs (System 7045) are
not written: the simulator emits the Security channel only. Flows follow the sensor model of the
benign traffic: workstation-to-workstation traffic inside one office is not seen by the sensor.
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

_MIN = 60_000_000
_DROPS = ("PSEXESVC.exe", "svcupd.exe", "wmiexec.tmp")


class PassTheHashSpree:
    """pth-spree: NTLM pass-the-hash with a help-desk credential across one site's workstations."""

    id = "pth-spree"
    name = "Pass-the-hash spree across one office"
    description = (
        "A help-desk account's NTLM hash is replayed from one compromised workstation to dozens "
        "of workstations of the same office within an hour or two: NTLM type-3 logons with key "
        "length 0, admin rights on each, ADMIN$ share access and a dropped service binary."
    )
    techniques: tuple[str, ...] = ("T1550.002", "T1021.002", "T1078.002", "T1570", "T1569.002")
    frac = 0.45  # place in the run, after the baseline week

    def plan(
        self, e: Enterprise, em: Emitter, days: int, start: dt.date, index: int
    ) -> CampaignPlan:
        """One afternoon: 20-50 targets, one every 40-120 s."""
        d = em.d
        em.reset()
        site = max(range(len(e.sites)), key=lambda s: len(e.site_ws[s]) if s != e.new_site else 0)
        cred = e.helpdesk[-1]
        a = e.users[cred]
        avoid = {e.users[x].ws for x in e.admin_of} | {e.users[o].ws for o in e.admin_of.values()}
        pool = [w for w in e.site_ws[site] if w not in avoid] or e.site_ws[site]
        src = d.pick(pool)
        others = [w for w in e.site_ws[site] if w != src]
        n = min(len(others), 20 + d.i(31))
        targets = [others[i] for i in sorted(range(len(others)), key=lambda _: d.u())[:n]]
        day = workday_on_or_after(e, site, start, scenario_day(days, self.frac), days)
        t = local_time(e, site, start, day, (13 + d.i(3)) * HOUR + d.i(HOUR), days)
        for dst in targets:
            lid = em.logon(
                t, a.name, a.sid, src, dst, 3, ntlm=True, priv=True, mal=index, keylen="0"
            )
            share = "ADMIN$" if d.u() < 0.8 else "C$"
            drop = [_DROPS[d.i(len(_DROPS))]] if share == "ADMIN$" and d.u() < 0.6 else []
            em.share(t + 300_000, a.name, a.sid, lid, src, dst, share, drop, index)
            em.net_flow(t, src, dst, 445, "smb", "smb", index)
            t += _MIN * 2 // 3 + d.i(_MIN * 4 // 3)
        return build_plan(self, e, em, [cred], [src], targets)
