"""Zeek rdp.log (TSV or JSON lines): Remote Desktop connections, one row each, as RDP logons.

Every row is kind ``logon`` with logon type 10 (remote interactive) and no auth package (Zeek does
not see it). The user is the ``cookie`` (the ``mstshash`` name the client sends; ``DOMAIN\\user``
also gives the domain); ``client_name`` (the client's computer name) is the src_host. Outcome from
``result``: ``Success`` is success; ``encrypted`` (the session went to TLS/CredSSP, so Zeek cannot
see the verdict) or unset is unknown; anything else (``SSL_NOT_ALLOWED_BY_SERVER``, ...) is a
failure with ``result`` as status. security_protocol, keyboard_layout, client_build... stay in
``raw``.
"""

from __future__ import annotations

from typing import Any

from ashiato.ingest import normalise as nz
from ashiato.ingest.base import Row
from ashiato.ingest.zeek import ID_FIELDS, ZeekLog, ZeekParser, event, sig

NAME = "zeek_rdp"
_UNKNOWN = frozenset({"encrypted"})


def _row(ts: int, v: list[Any], lineno: int) -> Row:
    cookie, result, client_name = nz.text(v[5]), nz.text(v[6]), v[7]
    domain = None
    if cookie is not None and "\\" in cookie:
        domain = nz.domain(cookie.rpartition("\\")[0])
    if result is None or result.lower() in _UNKNOWN:
        outcome, status = "unknown", None
    elif result.lower() == "success":
        outcome, status = "success", None
    else:
        outcome, status = "failure", result
    return event(
        ts,
        "logon",
        v,
        lineno,
        outcome=outcome,
        status=status,
        user=nz.user(cookie),
        domain=domain,
        logon_type=10,
        src_host=nz.host(client_name),
        service="rdp",
    )


LOG = ZeekLog(
    path="rdp",
    fields=(*ID_FIELDS, "cookie", "result", "client_name"),
    row=_row,
    signature=(
        sig("id.orig_h", "security_protocol"),
        sig("id.orig_h", "keyboard_layout"),
        sig("id.orig_h", "encryption_method"),
        sig("id.orig_h", "cookie", "result"),
    ),
)


class ZeekRdpParser(ZeekParser):
    """Zeek rdp.log: each RDP connection as a logon of type 10."""


PARSER = ZeekRdpParser(NAME, "Zeek rdp.log: TSV with #fields header, or JSON lines", LOG)
