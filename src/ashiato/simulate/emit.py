"""Activity primitives shared by benign behaviours and attack scenarios: one call, the right events.

A "network logon" is a ticket on the DC, a 4624 (and a 4672 for privileged accounts) on the target
and, when the sensor would see it, a conn.log flow: the same code path for an admin and an intruder,
so the planted campaign differs from benign work only in *who, from where and when*, never in shape.
"""

from __future__ import annotations

from ashiato.simulate.config import DOMAIN, DOMAIN_SID, REALM, Rates
from ashiato.simulate.ecs import (
    T4624,
    T4625,
    T4648,
    T4672,
    T4768,
    T4768F,
    T4769,
    T4771,
    T5140,
    T5145,
    esc,
)
from ashiato.simulate.enterprise import Enterprise
from ashiato.simulate.rand import Draw
from ashiato.simulate.zeek import Flow

#: (t_us since simulation start, recording host, template id, dynamic fields, campaign or -1)
Event = tuple[int, int, int, tuple[str, ...], int]

KRBTGT_SID = f"{DOMAIN_SID}-502"
ZERO_GUID = "{00000000-0000-0000-0000-000000000000}"
P_WINLOGON = esc("C:\\Windows\\System32\\winlogon.exe")
P_SERVICES = esc("C:\\Windows\\System32\\services.exe")
P_SVCHOST = esc("C:\\Windows\\System32\\svchost.exe")
P_TASKENG = esc("C:\\Windows\\System32\\taskhostw.exe")
P_RUNAS = esc("C:\\Windows\\System32\\runas.exe")
P_NET = esc("C:\\Windows\\System32\\net.exe")
P_MSTSC = esc("C:\\Windows\\System32\\mstsc.exe")

# Bytes per connection kind: (lognormal mu, sigma) of orig and resp bytes; UNCONFIRMED shapes.
_BYTES = {
    "krb": ((7.2, 0.3), (7.4, 0.3)),
    "ldap": ((7.5, 0.8), (8.5, 1.0)),
    "smb": ((8.5, 1.5), (10.5, 2.0)),
    "rdp": ((11.0, 1.2), (13.0, 1.2)),
    "web": ((7.5, 1.0), (9.8, 1.8)),
    "sql": ((8.0, 1.0), (10.0, 1.8)),
    "backup": ((20.5, 1.0), (9.0, 0.5)),
    "exfil": ((17.3, 0.5), (9.0, 0.5)),
    "upload": ((22.6, 0.4), (13.0, 0.5)),  # bulk cloud upload: ~6 GB out per connection
}


class Emitter:
    """Collects one hour's events and flows; behaviours call its activity methods."""

    def __init__(self, e: Enterprise, draw: Draw, rates: Rates) -> None:
        self.e = e
        self.d = draw
        self.r = rates
        self.events: list[Event] = []
        self.flows: list[Flow] = []
        self.msid = [f"{DOMAIN_SID}-{50000 + h.idx}" for h in e.hosts]
        self.share_path = {}
        for h in e.hosts:
            for s in h.shares:
                self.share_path[s] = (esc("\\\\*\\" + s), esc("\\??\\D:\\Shares\\" + s))

    def reset(self) -> None:
        """Start a new hour."""
        self.events = []
        self.flows = []

    # -- Kerberos on the DC ----------------------------------------------------------------------
    def tgt(
        self, t: int, name: str, sid: str, src: int, status: str = "0x0", mal: int = -1
    ) -> None:
        """4768 on the source's DC; a non-zero status is a failed pre-authentication."""
        ip = "::ffff:" + self.e.hosts[src].ip
        tmpl = T4768 if status == "0x0" else T4768F
        pre = "2" if status == "0x0" else "0"
        f = (name, sid, KRBTGT_SID, status, "0x12", pre, ip, str(self.d.port()))
        self.events.append((t, self.e.dc_for(src), tmpl, f, mal))
        self._krb_flow(t, src, mal)

    def preauth_fail(
        self, t: int, name: str, sid: str, src: int, status: str = "0x18", mal: int = -1
    ) -> None:
        """4771 on the source's DC: Kerberos pre-authentication failed (0x18: bad password)."""
        ip = "::ffff:" + self.e.hosts[src].ip
        f = (name, sid, status, ip, str(self.d.port()))
        self.events.append((t, self.e.dc_for(src), T4771, f, mal))
        self._krb_flow(t, src, mal)

    def tgs(self, t: int, name: str, src: int, dst: int, mal: int = -1, svc: int = -1) -> None:
        """4769 on the source's DC for a ticket to ``dst``, or to service account ``svc``."""
        ip = "::ffff:" + self.e.hosts[src].ip
        if svc >= 0:
            service, sid = self.e.users[svc].name, self.e.users[svc].sid
        else:
            service, sid = self.e.hosts[dst].machine, self.msid[dst]
        f = (name + "@" + REALM, REALM, service, sid, ip, str(self.d.port()), self.d.guid())
        self.events.append((t, self.e.dc_for(src), T4769, f, mal))
        self._krb_flow(t, src, mal)

    def _krb_flow(self, t: int, src: int, mal: int) -> None:
        dc = self.e.dc_for(src)
        if self.e.hosts[src].site != self.e.hosts[dc].site and (
            mal >= 0 or self.d.u() < self.r.p_flow_machine
        ):
            self.flow(t + 2000, src, dc, 88, "krb", "krb", mal)

    # -- logons on the target --------------------------------------------------------------------
    def logon(
        self,
        t: int,
        name: str,
        sid: str,
        src: int,
        dst: int,
        ltype: int = 3,
        ntlm: bool = False,
        priv: bool = False,
        mal: int = -1,
        keylen: str = "128",
    ) -> str:
        """4624 on ``dst`` (plus 4672 if privileged); returns the new logon id.

        ``keylen`` is the NTLM session key length: "0" is what a pass-the-hash logon leaves.
        """
        d = self.d
        h = self.e.hosts
        lid = d.logon_id()
        elev = "%%1842" if priv else "%%1843"
        # fmt: off
        if ltype == 3:
            if ntlm:
                f = ("S-1-0-0", "-", "-", "0x0", sid, name, lid, "3", "NtLmSsp ", "NTLM",
                     h[src].upper, ZERO_GUID, "NTLM V2", keylen, "0x0", "-", h[src].ip,
                     str(d.port()), elev)
            else:
                f = ("S-1-0-0", "-", "-", "0x0", sid, name, lid, "3", "Kerberos", "Kerberos",
                     "-", d.guid(), "-", "0", "0x0", "-", h[src].ip, str(d.port()), elev)
        elif ltype == 2:
            f = ("S-1-5-18", h[dst].machine, DOMAIN, "0x3e7", sid, name, lid, "2", "User32 ",
                 "Negotiate", h[dst].upper, d.guid(), "-", "0", "0x2f0", P_WINLOGON,
                 "127.0.0.1", "0", elev)
        elif ltype == 10:
            f = ("S-1-5-18", h[dst].machine, DOMAIN, "0x3e7", sid, name, lid, "10", "User32 ",
                 "Negotiate", h[src].upper, d.guid(), "-", "0", "0x4a8", P_WINLOGON, h[src].ip,
                 "0", elev)
        else:  # 5: service
            f = ("S-1-5-18", h[dst].machine, DOMAIN, "0x3e7", sid, name, lid, "5", "Advapi  ",
                 "Negotiate", "-", ZERO_GUID, "-", "0", "0x2a4", P_SERVICES, "-", "-", elev)
        # fmt: on
        self.events.append((t, dst, T4624, f, mal))
        if priv:
            self.events.append((t, dst, T4672, (sid, name, DOMAIN, lid), mal))
        return lid

    def fail(
        self,
        t: int,
        name: str,
        src: int,
        dst: int,
        sub: str,
        ltype: int = 3,
        ntlm: bool = False,
        mal: int = -1,
    ) -> None:
        """4625 on ``dst``; ``sub`` is the SubStatus (0xC0000234 is reported as the Status)."""
        h = self.e.hosts
        status, sub = ("0xC0000234", "0x0") if sub == "0xC0000234" else ("0xC000006D", sub)
        # fmt: off
        if ltype == 2:
            f = ("S-1-5-18", h[dst].machine, DOMAIN, "0x3e7", name, status, sub, "2", "User32 ",
                 "Negotiate", h[dst].upper, "0x2f0", P_WINLOGON, "127.0.0.1", "0")
        else:
            pkg, proc = ("NTLM", "NtLmSsp ") if ntlm else ("Kerberos", "Kerberos")
            f = ("S-1-0-0", "-", "-", "0x0", name, status, sub, str(ltype), proc, pkg,
                 h[src].upper, "0x0", "-", h[src].ip, str(self.d.port()))
        # fmt: on
        self.events.append((t, dst, T4625, f, mal))

    def explicit(
        self,
        t: int,
        subj: int,
        logon_id: str,
        target: str,
        src: int,
        dst: int,
        proc: str = P_RUNAS,
        mal: int = -1,
    ) -> None:
        """4648 on ``src``: user ``subj`` ran ``proc`` with the credentials of ``target``."""
        h = self.e.hosts
        u = self.e.users[subj]
        f = (
            u.sid,
            u.name,
            DOMAIN,
            logon_id,
            target,
            ZERO_GUID,
            h[dst].name,
            "cifs/" + h[dst].name,
            "0x%x" % (0x400 + self.d.i(0x4000)),
            proc,
            h[dst].ip,
            "445",
        )
        self.events.append((t, src, T4648, f, mal))

    def task(self, t: int, host: int, target: str) -> None:
        """4648 by SYSTEM on a server: a scheduled task running as a service account."""
        h = self.e.hosts[host]
        f = (
            "S-1-5-18",
            h.machine,
            DOMAIN,
            "0x3e7",
            target,
            ZERO_GUID,
            "localhost",
            "localhost",
            "0x%x" % (0x400 + self.d.i(0x4000)),
            P_TASKENG,
            "127.0.0.1",
            "0",
        )
        self.events.append((t, host, T4648, f, -1))

    def share(
        self,
        t: int,
        name: str,
        sid: str,
        lid: str,
        src: int,
        dst: int,
        share: str,
        paths: list[str],
        mal: int = -1,
    ) -> None:
        """5140 for the share session and one 5145 per object path (already JSON-escaped)."""
        sn, lp = self.share_path.get(share) or (esc("\\\\*\\" + share), esc("\\??\\D:\\" + share))
        ip = self.e.hosts[src].ip
        port = str(self.d.port())
        self.events.append((t, dst, T5140, (sid, name, DOMAIN, lid, ip, port, sn, lp), mal))
        for k, p in enumerate(paths):
            f = (sid, name, DOMAIN, lid, ip, port, sn, lp, p)
            self.events.append((t + 1000 * (k + 1), dst, T5145, f, mal))

    # -- network flows ---------------------------------------------------------------------------
    def flow(
        self,
        t: int,
        src: int,
        dst: int,
        port: int,
        service: str,
        kind: str,
        mal: int = -1,
        scale: float = 1.0,
    ) -> None:
        """A conn.log record between two hosts of the estate."""
        h = self.e.hosts
        self.ext_flow(t, h[src].ip, h[dst].ip, port, service, kind, mal, True, scale)

    def ext_flow(
        self,
        t: int,
        src_ip: str,
        dst_ip: str,
        port: int,
        service: str,
        kind: str,
        mal: int = -1,
        local_resp: bool = False,
        scale: float = 1.0,
    ) -> None:
        """A conn.log record to any address (internet destinations have ``local_resp`` False)."""
        d = self.d
        (mo, so), (mr, sr) = _BYTES[kind]
        ob = d.lognormal(mo, so) * scale
        rb = d.lognormal(mr, sr) * scale
        if kind in ("web", "smb") and d.u() < self.r.bytes_pareto_share:
            rb += d.pareto(2e5, self.r.bytes_pareto_alpha)
        ob_i, rb_i = int(ob), int(rb)
        opk = 2 + ob_i // 1200
        rpk = 2 + rb_i // 1400
        dur = int(d.lognormal(13.0, 1.6)) + (ob_i + rb_i) // 20  # ~50 MB/s links
        proto = "udp" if kind == "krb" and d.u() < 0.3 else "tcp"
        hist = "Dd" if proto == "udp" else "ShADadFf"
        self.flows.append(
            (
                t,
                src_ip,
                d.port(),
                dst_ip,
                port,
                proto,
                service,
                dur,
                ob_i,
                rb_i,
                "SF",
                local_resp,
                hist,
                opk,
                rpk,
                mal,
            )
        )

    def net_flow(
        self,
        t: int,
        src: int,
        dst: int,
        port: int,
        service: str,
        kind: str,
        mal: int = -1,
    ) -> None:
        """Log the flow if it crosses a site boundary, else keep a small sample of server flows."""
        h = self.e.hosts
        if h[src].site != h[dst].site or (
            h[dst].role != "workstation" and self.d.u() < self.r.p_flow_intra_server
        ):
            self.flow(t, src, dst, port, service, kind, mal)
