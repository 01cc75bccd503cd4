"""Zeek ntlm.log (TSV or JSON lines): NTLM authentications seen on the wire, one row each.

NTLM over SMB, HTTP or RPC is how pass-the-hash and much legacy lateral movement look on the
network. ``success`` T gives kind ``logon`` (success), F ``logon_failure`` (failure); unset (Zeek
saw no verdict, common on SMB) is kind ``logon`` with outcome unknown. ``username`` → user,
``domainname`` → domain, ``hostname`` (the workstation name the client claims) → src_host,
``server_nb_computer_name`` (else ``server_dns_computer_name``) → dst_host, ``status`` (older
Zeek) → status, auth_package ``NTLM``. ``server_tree_name`` and the rest stay in ``raw``.
"""

from __future__ import annotations

from typing import Any

from ashiato.ingest import normalise as nz
from ashiato.ingest.base import Row
from ashiato.ingest.zeek import ID_FIELDS, ZeekLog, ZeekParser, event, outcome_tf, sig

NAME = "zeek_ntlm"


def _row(ts: int, v: list[Any], lineno: int) -> Row:
    username, hostname, domainname, nb_name, dns_name, success, status = v[5:12]
    outcome = outcome_tf(success)
    return event(
        ts,
        "logon_failure" if outcome == "failure" else "logon",
        v,
        lineno,
        outcome=outcome,
        status=nz.text(status),
        user=nz.user(username),
        domain=nz.domain(domainname),
        auth_package="NTLM",
        src_host=nz.host(hostname),
        dst_host=nz.host(nb_name) or nz.host(dns_name),
    )


LOG = ZeekLog(
    path="ntlm",
    fields=(
        *ID_FIELDS,
        "username",
        "hostname",
        "domainname",
        "server_nb_computer_name",
        "server_dns_computer_name",
        "success",
        "status",
    ),
    row=_row,
    signature=(
        sig("id.orig_h", "domainname"),
        sig("id.orig_h", "server_nb_computer_name"),
        sig("id.orig_h", "server_dns_computer_name"),
        sig("id.orig_h", "server_tree_name"),
        sig("id.orig_h", "username", "hostname"),
    ),
)


class ZeekNtlmParser(ZeekParser):
    """Zeek ntlm.log: NTLM authentications as logon / logon_failure rows."""


PARSER = ZeekNtlmParser(NAME, "Zeek ntlm.log: TSV with #fields header, or JSON lines", LOG)
