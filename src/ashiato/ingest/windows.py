"""The one mapping from a Windows event to an access-event row, shared by every Windows parser.

EVTX files, NXLog JSON and Winlogbeat/ECS JSON spell the same event three ways; once a parser has
found the event id, channel, provider, computer, time, record id and the EventData/UserData fields,
this module decides the kind and which fields fill which columns, so the three agree. Event ids are
only unique within a channel (Sysmon 1 is not Security 1), so the mapping is keyed on the event's
family (its channel, or its provider when the channel is missing) and id. Unknown events are kept
with kind "other"; nothing is rejected for being unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ashiato.ingest import normalise as nz
from ashiato.ingest.base import Row

SECURITY = "security"
SYSTEM = "system"
EVENTLOG = "eventlog"  # the Eventlog provider without a channel: 1102 and 104
SYSMON = "sysmon"
RDP_RCM = "rdp_rcm"  # TerminalServices-RemoteConnectionManager
RDP_LSM = "rdp_lsm"  # TerminalServices-LocalSessionManager
OTHER_FAMILY = "other"

_CHANNELS = {
    "security": SECURITY,
    "system": SYSTEM,
    "microsoft-windows-sysmon/operational": SYSMON,
    "microsoft-windows-terminalservices-remoteconnectionmanager/operational": RDP_RCM,
    "microsoft-windows-terminalservices-localsessionmanager/operational": RDP_LSM,
}
_PROVIDERS = {
    "microsoft-windows-security-auditing": SECURITY,
    "service control manager": SYSTEM,
    "microsoft-windows-eventlog": EVENTLOG,
    "eventlog": EVENTLOG,
    "microsoft-windows-sysmon": SYSMON,
    "microsoft-windows-terminalservices-remoteconnectionmanager": RDP_RCM,
    "microsoft-windows-terminalservices-localsessionmanager": RDP_LSM,
}

SYSTEM_KEYS = ("Channel", "Computer", "EventID", "Provider", "EventRecordID", "TimeCreated")
"""System fields added to every raw map (Sigma rules query these names)."""
_SYSTEM_SET = frozenset(SYSTEM_KEYS)

Getter = Callable[[str], Any]
Handler = Callable[[int, Getter, Any, int, int, Any], Row]


@lru_cache(maxsize=4096)
def _family(channel: str | None, provider: str | None) -> str:
    if channel:
        return _CHANNELS.get(channel.lower(), OTHER_FAMILY)
    if provider:
        return _PROVIDERS.get(provider.lower(), SECURITY)
    return SECURITY  # bare Security exports often name neither


def family(channel: Any, provider: Any) -> str:
    """The event family: from the channel if there is one, else the provider, else Security."""
    if channel is not None and channel.__class__ is not str:
        channel = str(channel)
    if provider is not None and provider.__class__ is not str:
        provider = str(provider)
    return _family(channel, provider)


def _row(
    ts: int,
    kind: str,
    code: int,
    h: Any,
    off: int,
    rid: Any,
    *,
    outcome: str = "success",
    status: Any = None,
    user: Any = None,
    domain: Any = None,
    logon_type: Any = None,
    auth: Any = None,
    src_host: Any = None,
    src_ip: Any = None,
    src_port: Any = None,
    dst_host: Any = None,
    dst_ip: Any = None,
    dst_port: Any = None,
    protocol: Any = None,
    service: Any = None,
    share: Any = None,
    path: Any = None,
    process: Any = None,
) -> Row:
    return (
        ts, kind, code, outcome, status, user, domain, logon_type, auth, src_host, src_ip,
        src_port, dst_host, dst_ip, dst_port, protocol, service, None, None, None, share, path,
        process, h, off, rid,
    )  # fmt: skip


def _split_user(v: Any) -> tuple[str | None, str | None]:
    """``DOMAIN\\user`` → (user, DOMAIN)."""
    s = nz.text(v)
    if s is None:
        return None, None
    d, sep, _ = s.rpartition("\\")
    return nz.user(s), (nz.domain(d) if sep else None)


def _logon(code: int, g: Getter, h: Any, ts: int, off: int, rid: Any) -> Row:  # 4624 4625 4634 4647
    status = None
    if code == 4625:
        sub = g("SubStatus")
        status = nz.text(g("Status") if nz.is_zero_status(sub) else sub)
    return _row(
        ts, _KIND[code], code, h, off, rid,
        outcome="failure" if code == 4625 else "success",
        status=status,
        user=nz.user(g("TargetUserName")),
        domain=nz.domain(g("TargetDomainName")),
        logon_type=nz.small_int(g("LogonType"), "LogonType"),
        auth=nz.text(g("AuthenticationPackageName")),
        src_host=nz.host(g("WorkstationName")),
        src_ip=nz.ip(g("IpAddress")),
        src_port=nz.port(g("IpPort"), "IpPort"),
        dst_host=h,
        process=nz.text(g("ProcessName")),
    )  # fmt: skip


def _kerberos(code: int, g: Getter, h: Any, ts: int, off: int, rid: Any) -> Row:  # 4768 4769 4771
    status = nz.text(g("Status"))
    service = nz.text(g("ServiceName"))
    dst_host = h
    if code == 4769:
        dst_host = service[:-1].lower() if service is not None and service.endswith("$") else None
    failed = code == 4771 or not nz.is_zero_status(status)
    return _row(
        ts, _KIND[code], code, h, off, rid,
        outcome="failure" if failed else "success",
        status=status,
        user=nz.user(g("TargetUserName")),
        domain=nz.domain(g("TargetDomainName")),
        auth="Kerberos",
        src_ip=nz.ip(g("IpAddress")),
        src_port=nz.port(g("IpPort"), "IpPort"),
        dst_host=dst_host,
        service=service,
    )  # fmt: skip


def _ntlm(code: int, g: Getter, h: Any, ts: int, off: int, rid: Any) -> Row:  # 4776
    status = nz.text(g("Status"))
    ok = nz.is_zero_status(status)
    return _row(
        ts, "logon" if ok else "logon_failure", code, h, off, rid,
        outcome="success" if ok else "failure",
        status=None if ok else status,
        user=nz.user(g("TargetUserName")),
        auth="NTLM",
        src_host=nz.host(g("Workstation")),
        dst_host=h,
    )  # fmt: skip


def _explicit(code: int, g: Getter, h: Any, ts: int, off: int, rid: Any) -> Row:  # 4648
    target = nz.host(g("TargetServerName"))
    return _row(
        ts, "explicit_credentials", code, h, off, rid,
        user=nz.user(g("TargetUserName")),
        domain=nz.domain(g("TargetDomainName")),
        src_host=h,
        dst_host=h if target == "localhost" else target,
        dst_ip=nz.ip(g("IpAddress")),
        dst_port=nz.port(g("IpPort"), "IpPort"),
        process=nz.text(g("ProcessName")),
    )  # fmt: skip


def _share(code: int, g: Getter, h: Any, ts: int, off: int, rid: Any) -> Row:  # 5140 5145
    return _row(
        ts, _KIND[code], code, h, off, rid,
        user=nz.user(g("SubjectUserName")),
        domain=nz.domain(g("SubjectDomainName")),
        src_ip=nz.ip(g("IpAddress")),
        src_port=nz.port(g("IpPort"), "IpPort"),
        dst_host=h,
        share=nz.text(g("ShareName")),
        path=nz.text(g("RelativeTargetName")) if code == 5145 else None,
    )  # fmt: skip


def _subject(
    code: int, g: Getter, h: Any, ts: int, off: int, rid: Any
) -> Row:  # 4672 4688 1102 104
    return _row(
        ts, _KIND[code], code, h, off, rid,
        user=nz.user(g("SubjectUserName")),
        domain=nz.domain(g("SubjectDomainName")),
        dst_host=h,
        process=nz.text(g("NewProcessName")) if code == 4688 else None,
    )  # fmt: skip


def _account(code: int, g: Getter, h: Any, ts: int, off: int, rid: Any) -> Row:  # 4720-4781
    name = g("TargetUserName")
    if name is None:
        name = g("NewTargetUserName")  # 4781 renames
    dom = g("TargetDomainName")
    src = None
    if code == 4740:  # lockout: TargetDomainName holds the caller computer
        src, dom = nz.host(dom), None
    return _row(
        ts, "account_change", code, h, off, rid,
        user=nz.user(name),
        domain=nz.domain(dom),
        src_host=src,
        dst_host=h,
    )  # fmt: skip


def _service(code: int, g: Getter, h: Any, ts: int, off: int, rid: Any) -> Row:  # 7045 4697
    if code == 7045:
        account, path = g("AccountName"), g("ImagePath")
    else:
        account, path = g("ServiceAccount"), g("ServiceFileName")
    return _row(
        ts, "service_install", code, h, off, rid,
        user=nz.user(account),
        domain=None if code == 7045 else nz.domain(g("SubjectDomainName")),
        dst_host=h,
        service=nz.text(g("ServiceName")),
        path=nz.text(path),
    )  # fmt: skip


def _sysmon_process(code: int, g: Getter, h: Any, ts: int, off: int, rid: Any) -> Row:  # Sysmon 1
    user, domain = _split_user(g("User"))
    return _row(
        ts, "process_start", code, h, off, rid,
        user=user, domain=domain, dst_host=h, process=nz.text(g("Image")),
    )  # fmt: skip


def _sysmon_flow(code: int, g: Getter, h: Any, ts: int, off: int, rid: Any) -> Row:  # Sysmon 3
    user, domain = _split_user(g("User"))
    proto = nz.text(g("Protocol"))
    return _row(
        ts, "network_flow", code, h, off, rid,
        outcome="unknown",
        user=user,
        domain=domain,
        src_host=nz.host(g("SourceHostname")),
        src_ip=nz.ip(g("SourceIp")),
        src_port=nz.port(g("SourcePort"), "SourcePort"),
        dst_host=nz.host(g("DestinationHostname")),
        dst_ip=nz.ip(g("DestinationIp")),
        dst_port=nz.port(g("DestinationPort"), "DestinationPort"),
        protocol=None if proto is None else proto.lower(),
        process=nz.text(g("Image")),
    )  # fmt: skip


def _rdp_auth(code: int, g: Getter, h: Any, ts: int, off: int, rid: Any) -> Row:  # RCM 1149
    return _row(
        ts, "logon", code, h, off, rid,
        user=nz.user(g("Param1")),
        domain=nz.domain(g("Param2")),
        logon_type=10,
        src_ip=nz.ip(g("Param3")),
        dst_host=h,
    )  # fmt: skip


def _rdp_session(code: int, g: Getter, h: Any, ts: int, off: int, rid: Any) -> Row:  # LSM 21 24 25
    user, domain = _split_user(g("User"))
    addr = nz.text(g("Address"))
    local = addr is not None and addr.upper() == "LOCAL"  # a console session, not RDP
    return _row(
        ts, "logoff" if code == 24 else "logon", code, h, off, rid,
        user=user,
        domain=domain,
        logon_type=2 if local else 10,
        src_ip=None if local else nz.ip(addr),
        dst_host=h,
    )  # fmt: skip


def _other(code: int, g: Getter, h: Any, ts: int, off: int, rid: Any) -> Row:
    return _row(
        ts, "other", code, h, off, rid,
        user=nz.user(g("TargetUserName") or g("SubjectUserName")),
        domain=nz.domain(g("TargetDomainName") or g("SubjectDomainName")),
        dst_host=h,
    )  # fmt: skip


_KIND = {
    4624: "logon", 4625: "logon_failure", 4634: "logoff", 4647: "logoff",
    4672: "privilege_grant", 4688: "process_start", 4768: "kerberos_tgt",
    4769: "kerberos_service", 4771: "logon_failure", 5140: "share_access",
    5145: "share_object", 1102: "log_cleared", 104: "log_cleared",
}  # fmt: skip
"""Kinds of the codes whose handler serves several kinds."""

_ACCOUNT_CODES = (*range(4720, 4739), 4740, 4741, 4742, 4743, 4756, 4767, 4781)
_SECURITY: dict[int, Handler] = {
    4624: _logon, 4625: _logon, 4634: _logon, 4647: _logon, 4648: _explicit,
    4672: _subject, 4688: _subject, 4768: _kerberos, 4769: _kerberos, 4771: _kerberos,
    4776: _ntlm, 5140: _share, 5145: _share, 4697: _service, 1102: _subject,
    **dict.fromkeys(_ACCOUNT_CODES, _account),
}  # fmt: skip
HANDLERS: dict[str, dict[int, Handler]] = {
    SECURITY: _SECURITY,
    SYSTEM: {7045: _service, 104: _subject},
    EVENTLOG: {1102: _subject, 104: _subject},
    SYSMON: {1: _sysmon_process, 3: _sysmon_flow},
    RDP_RCM: {1149: _rdp_auth},
    RDP_LSM: {21: _rdp_session, 24: _rdp_session, 25: _rdp_session},
    OTHER_FAMILY: {},
}
"""Family → event id → handler; an id missing here is stored with kind "other"."""


def map_event(
    code: int,
    channel: Any,
    provider: Any,
    log_host: str | None,
    ts: int,
    get: Getter,
    offset: int,
    record_id: str | None,
) -> Row:
    """One row (ROW_FIELDS order) for a Windows event.

    ``get`` reads an EventData/UserData field by name (usually ``dict.get``); ``log_host`` is the
    normalised computer name. Raises ``BadRecord`` naming the field when a mapped value is unusable.
    """
    handler = HANDLERS[family(channel, provider)].get(code, _other)
    return handler(code, get, log_host, ts, offset, record_id)


def add_system(raw: dict[str, Any], system: tuple[Any, ...]) -> dict[str, Any]:
    """Add the SYSTEM_KEYS values (same order) to ``raw`` in place and return it.

    An EventData field with a system field's name (104's UserData ``Channel``, the cleared log) is
    kept as ``EventData.<name>``.
    """
    if raw.keys() & _SYSTEM_SET:
        for key, val in zip(SYSTEM_KEYS, system, strict=True):
            old = raw.get(key)
            if old is None or old == val:
                raw[key] = val
            elif val is not None:
                raw["EventData." + key] = old
                raw[key] = val
    else:
        raw.update(zip(SYSTEM_KEYS, system, strict=True))
    return raw
