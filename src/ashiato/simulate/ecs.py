"""Winlogbeat 8 / ECS JSON lines for Windows Security events, from pre-built templates.

Each event code has one template: the constant parts are serialised once with orjson, and only the
fields that vary are spliced in with ``%`` formatting. That keeps the per-event cost to one tuple
and one string format, which is what lets a month of a 1,500-terminal estate be written in seconds.
Dynamic values must already be JSON-safe; use :func:`esc` for anything with a backslash.
"""

from __future__ import annotations

import orjson

from ashiato.simulate.config import DOMAIN

_SLOT = "\x01"
PROVIDER = "Microsoft-Windows-Security-Auditing"


def esc(s: str) -> str:
    """JSON-escape a string for splicing into a template (without the quotes)."""
    return orjson.dumps(s).decode()[1:-1]


D = None  # marks a dynamic event_data value in the specs below


def _template(
    code: int,
    action: str,
    task: str,
    data: list[tuple[str, str | None]],
    *,
    success: bool = True,
) -> str:
    doc = {
        "@timestamp": _SLOT,
        "event": {
            "code": str(code),
            "kind": "event",
            "provider": PROVIDER,
            "action": action,
            "outcome": "success" if success else "failure",
            "module": "security",
        },
        "host": {"name": _SLOT},
        "log": {"level": "information"},
        "winlog": {
            "channel": "Security",
            "computer_name": _SLOT,
            "event_id": str(code),
            "record_id": _SLOT,
            "provider_name": PROVIDER,
            "api": "wineventlog",
            "task": task,
            "opcode": "Info",
            "keywords": ["Audit Success" if success else "Audit Failure"],
            "event_data": {k: (_SLOT if v is None else v) for k, v in data},
        },
        "ecs": {"version": "8.0.0"},
        "agent": {"type": "winlogbeat", "version": "8.11.0"},
    }
    return orjson.dumps(doc).decode().replace("%", "%%").replace("\\u0001", "%s")


_SUBJECT = [
    ("SubjectUserSid", D),
    ("SubjectUserName", D),
    ("SubjectDomainName", D),
    ("SubjectLogonId", D),
]
_4624 = [
    *_SUBJECT,
    ("TargetUserSid", D),
    ("TargetUserName", D),
    ("TargetDomainName", DOMAIN),
    ("TargetLogonId", D),
    ("LogonType", D),
    ("LogonProcessName", D),
    ("AuthenticationPackageName", D),
    ("WorkstationName", D),
    ("LogonGuid", D),
    ("TransmittedServices", "-"),
    ("LmPackageName", D),
    ("KeyLength", D),
    ("ProcessId", D),
    ("ProcessName", D),
    ("IpAddress", D),
    ("IpPort", D),
    ("ImpersonationLevel", "%%1833"),
    ("ElevatedToken", D),
]
_4625 = [
    *_SUBJECT,
    ("TargetUserSid", "S-1-0-0"),
    ("TargetUserName", D),
    ("TargetDomainName", DOMAIN),
    ("Status", D),
    ("FailureReason", "%%2313"),
    ("SubStatus", D),
    ("LogonType", D),
    ("LogonProcessName", D),
    ("AuthenticationPackageName", D),
    ("WorkstationName", D),
    ("TransmittedServices", "-"),
    ("LmPackageName", "-"),
    ("KeyLength", "0"),
    ("ProcessId", D),
    ("ProcessName", D),
    ("IpAddress", D),
    ("IpPort", D),
]
_4648 = [
    *_SUBJECT,
    ("LogonGuid", "{00000000-0000-0000-0000-000000000000}"),
    ("TargetUserName", D),
    ("TargetDomainName", DOMAIN),
    ("TargetLogonGuid", D),
    ("TargetServerName", D),
    ("TargetInfo", D),
    ("ProcessId", D),
    ("ProcessName", D),
    ("IpAddress", D),
    ("IpPort", D),
]
_PRIVS = "\n\t\t\t".join(
    [
        "SeSecurityPrivilege",
        "SeBackupPrivilege",
        "SeRestorePrivilege",
        "SeTakeOwnershipPrivilege",
        "SeDebugPrivilege",
        "SeSystemEnvironmentPrivilege",
        "SeLoadDriverPrivilege",
        "SeImpersonatePrivilege",
        "SeDelegateSessionUserImpersonatePrivilege",
    ]
)
_4672 = [*_SUBJECT, ("PrivilegeList", _PRIVS)]
_4768 = [
    ("TargetUserName", D),
    ("TargetDomainName", DOMAIN),
    ("TargetSid", D),
    ("ServiceName", "krbtgt"),
    ("ServiceSid", D),
    ("TicketOptions", "0x40810010"),
    ("Status", D),
    ("TicketEncryptionType", D),
    ("PreAuthType", D),
    ("IpAddress", D),
    ("IpPort", D),
    ("CertIssuerName", ""),
    ("CertSerialNumber", ""),
    ("CertThumbprint", ""),
]
_4769 = [
    ("TargetUserName", D),
    ("TargetDomainName", D),
    ("ServiceName", D),
    ("ServiceSid", D),
    ("TicketOptions", "0x40810000"),
    ("TicketEncryptionType", "0x12"),
    ("IpAddress", D),
    ("IpPort", D),
    ("Status", "0x0"),
    ("LogonGuid", D),
    ("TransmittedServices", "-"),
]
_5140 = [
    *_SUBJECT,
    ("ObjectType", "File"),
    ("IpAddress", D),
    ("IpPort", D),
    ("ShareName", D),
    ("ShareLocalPath", D),
    ("AccessMask", "0x1"),
    ("AccessList", "%%4416"),
]
_5145 = [
    *_SUBJECT,
    ("ObjectType", "File"),
    ("IpAddress", D),
    ("IpPort", D),
    ("ShareName", D),
    ("ShareLocalPath", D),
    ("RelativeTargetName", D),
    ("AccessMask", "0x120089"),
    ("AccessList", "%%1538\n\t\t\t\t%%1541\n\t\t\t\t%%4416\n\t\t\t\t%%4419\n\t\t\t\t"),
    ("AccessReason", "-"),
]
_4771 = [
    ("TargetUserName", D),
    ("TargetSid", D),
    ("ServiceName", "krbtgt"),
    ("TicketOptions", "0x40810010"),
    ("Status", D),
    ("PreAuthType", "2"),
    ("IpAddress", D),
    ("IpPort", D),
    ("CertIssuerName", ""),
    ("CertSerialNumber", ""),
    ("CertThumbprint", ""),
]

# Template ids (index into TEMPLATES) and their event codes.
T4624, T4625, T4648, T4672, T4768, T4768F, T4769, T5140, T5145, T4771 = range(10)
TEMPLATES: tuple[str, ...] = (
    _template(4624, "logged-in", "Logon", _4624),
    _template(4625, "logon-failed", "Logon", _4625, success=False),
    _template(4648, "logged-in-explicit", "Logon", _4648),
    _template(4672, "logged-in-special", "Special Logon", _4672),
    _template(
        4768, "kerberos-authentication-ticket-requested", "Kerberos Authentication Service", _4768
    ),
    _template(
        4768,
        "kerberos-authentication-ticket-requested",
        "Kerberos Authentication Service",
        _4768,
        success=False,
    ),
    _template(
        4769, "kerberos-service-ticket-requested", "Kerberos Service Ticket Operations", _4769
    ),
    _template(5140, "network-share-object-accessed", "File Share", _5140),
    _template(5145, "network-share-object-access-checked", "Detailed File Share", _5145),
    _template(
        4771,
        "kerberos-preauth-failed",
        "Kerberos Authentication Service",
        _4771,
        success=False,
    ),
)
CODES: tuple[int, ...] = (4624, 4625, 4648, 4672, 4768, 4768, 4769, 5140, 5145, 4771)
