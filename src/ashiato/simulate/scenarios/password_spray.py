"""Password spraying from one workstation: hundreds of accounts, two passwords, one hour, one hit.

The sprayer enumerated the directory and a list of guessed names (ex-staff, name formats), then
tries one or two seasonal passwords per account, alternating NTLM over SMB against a domain
controller (4625, Status 0xC000006D with SubStatus 0xC000006A, or 0xC0000064 for names that do not
exist) and Kerberos pre-authentication (4771 0x18, or 4768 0x6 for unknown names). Two attempts per
account stay under the lockout threshold. One ordinary account accepts the second password (4624)
and is used at once to read a sales share.
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
from ashiato.simulate.names import SURNAMES

_SPRAY_SITE = "ID-JKT"
_MIN_TARGETS = 220  # at least this many names, real or guessed
_MAX_REAL = 450


class PasswordSpray:
    """password-spray: failures over hundreds of accounts from one host; one succeeds, then used."""

    id = "password-spray"
    name = "Password spray from one workstation"
    description = (
        "One Jakarta workstation tries two passwords against hundreds of accounts (real and "
        "guessed) over an hour by NTLM and Kerberos pre-authentication; one ordinary account "
        "succeeds and is used straight away to read a sales share in the data centre."
    )
    techniques: tuple[str, ...] = ("T1110.003", "T1078.002", "T1087.002", "T1039")
    frac = 0.2

    def plan(
        self, e: Enterprise, em: Emitter, days: int, start: dt.date, index: int
    ) -> CampaignPlan:
        """Spray in two rounds (one per password) over one evening hour, then use the hit."""
        d = em.d
        em.reset()
        site = e.site_index(_SPRAY_SITE)
        busy = set(e.xsite) | set(e.admin_of.values())
        src_user = d.pick([u for u in e.site_users[site] if u not in busy] or e.site_users[site])
        src = e.users[src_user].ws
        humans = [u for s, us in enumerate(e.site_users) if s != e.new_site for u in us]
        real = sorted((u for u in humans if u != src_user), key=lambda _: d.u())[:_MAX_REAL]
        taken = {u.name for u in e.users}
        fake: list[str] = []
        while len(real) + len(fake) < _MIN_TARGETS:
            country = ("JP", "TH", "ID", "PH")[d.i(4)]
            names = SURNAMES[country]
            guess = f"{chr(97 + d.i(26))}.{names[d.i(len(names))]}{d.i(100)}"
            if guess not in taken:
                taken.add(guess)
                fake.append(guess)
        ordinary = [u for u in real if u not in busy]
        winner = d.pick(ordinary or real)
        targets: list[tuple[str, str, bool]] = [
            (e.users[u].name, e.users[u].sid, True) for u in real
        ]
        targets += [(n, "S-1-0-0", False) for n in fake]
        targets.sort(key=lambda _: d.u())
        day = workday_on_or_after(e, site, start, scenario_day(days, self.frac), days)
        t0 = local_time(e, site, start, day, (19 + d.i(2)) * HOUR + d.i(HOUR // 2), days)
        step = (HOUR // 2) // len(targets)
        hit = 0
        for rnd in range(2):
            for k, (name, sid, exists) in enumerate(targets):
                t = t0 + rnd * (HOUR // 2) + k * step + d.i(step)
                if rnd == 1 and name == e.users[winner].name:
                    hit = t
                    continue
                self._attempt(em, t, name, sid, exists, src, e.dc_for(src), index)
        w = e.users[winner]
        em.logon(hit, w.name, w.sid, src, e.dc_for(src), 3, ntlm=True, mal=index)
        em.net_flow(hit, src, e.dc_for(src), 445, "smb", "smb", index)
        fs = d.pick([h for h in e.file_servers if "Sales" in e.hosts[h].shares] or e.file_servers)
        t = hit + 5 * 60_000_000 + d.i(20 * 60_000_000)
        em.tgt(t, w.name, w.sid, src, mal=index)
        em.tgs(t + 40_000, w.name, src, fs, index)
        lid = em.logon(t + 90_000, w.name, w.sid, src, fs, 3, mal=index)
        k_c = len(e.customers)
        paths = [
            f"CUST-{1 + d.i(k_c):04d}\\\\quote-{2024 + d.i(3)}.xlsx" for _ in range(8 + d.i(20))
        ]
        em.share(t + 150_000, w.name, w.sid, lid, src, fs, "Sales", paths, index)
        em.flow(t + 120_000, src, fs, 445, "smb", "smb", index, scale=10.0)
        return build_plan(self, e, em, [winner], [src], [e.dc_for(src), fs])

    @staticmethod
    def _attempt(
        em: Emitter, t: int, name: str, sid: str, exists: bool, src: int, dc: int, mal: int
    ) -> None:
        if em.d.u() < 0.5:
            em.fail(t, name, src, dc, "0xC000006A" if exists else "0xC0000064", 3, True, mal)
            em.net_flow(t, src, dc, 445, "smb", "smb", mal)
        elif exists:
            em.preauth_fail(t, name, sid, src, "0x18", mal)
        else:
            em.tgt(t, name, sid, src, "0x6", mal)
