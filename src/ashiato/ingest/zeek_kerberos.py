"""Zeek kerberos.log (TSV or JSON lines): ticket requests seen on the wire, one row per exchange.

The network-side twin of Windows 4768/4769: request type ``AS`` is a ticket-granting-ticket
request (kind ``kerberos_tgt``), ``TGS`` a service-ticket request (``kerberos_service``); any other
type is kept as ``other``. ``client`` (``user/REALM`` or ``user@REALM``) gives the user (lower case)
and the domain (first label of the realm, upper case). ``service`` is the SPN as Zeek logs it; when
it names a host (``cifs/jp-osa-fs01.corp``, or a machine account ``FS01$``) that host is the
``dst_host``, while ``krbtgt/REALM`` names none. ``dst_ip`` stays the KDC the request went to.
Outcome: ``success`` T is success, F failure; unset is unknown unless ``error_msg`` is set (then
failure). ``status`` is ``error_msg``. cipher, forwardable, renewable, till... stay in ``raw``.
"""

from __future__ import annotations

from typing import Any

from ashiato.ingest import normalise as nz
from ashiato.ingest.base import Row
from ashiato.ingest.zeek import (
    ID_FIELDS,
    ZeekLog,
    ZeekParser,
    event,
    is_ip,
    outcome_tf,
    sig,
)

NAME = "zeek_kerberos"
_KINDS = {"AS": "kerberos_tgt", "TGS": "kerberos_service"}
_NO_HOST = frozenset({"krbtgt", "kadmin", "changepw"})


def client_name(v: Any) -> tuple[str | None, str | None]:
    """``user/REALM`` or ``user@REALM`` as (user lower case, domain upper case NetBIOS form)."""
    s = nz.text(v)
    if s is None:
        return None, None
    name, sep, realm = s.rpartition("/")
    if not sep:
        name, sep, realm = s.rpartition("@")
        if not sep:
            return nz.user(s), None
    return nz.user(name), nz.domain(realm)


def service_host(spn: str | None) -> str | None:
    """The host an SPN names (``cifs/fs01.corp:445`` → fs01; ``FS01$`` → fs01); None for an IP."""
    if spn is None:
        return None
    svc, sep, inst = spn.partition("/")
    if not sep:
        return spn[:-1].lower() or None if spn.endswith("$") else None
    if svc.lower() in _NO_HOST:
        return None
    inst = inst.split("/", 1)[0].split("@", 1)[0]
    if inst.startswith("[") or inst.count(":") > 1:  # an IPv6 address names no host
        return None
    h = nz.host(inst.split(":", 1)[0])
    return None if h is None or is_ip(h) else h


def _row(ts: int, v: list[Any], lineno: int) -> Row:
    request_type, client, service, success, error_msg = v[5], v[6], v[7], v[8], v[9]
    user, domain = client_name(client)
    spn = nz.text(service)
    status = nz.text(error_msg)
    outcome = outcome_tf(success)
    if outcome == "unknown" and status is not None:
        outcome = "failure"
    return event(
        ts,
        _KINDS.get(str(request_type).upper(), "other"),
        v,
        lineno,
        outcome=outcome,
        status=status,
        user=user,
        domain=domain,
        auth_package="Kerberos",
        dst_host=service_host(spn),
        service=spn,
    )


LOG = ZeekLog(
    path="kerberos",
    fields=(*ID_FIELDS, "request_type", "client", "service", "success", "error_msg"),
    row=_row,
    required=("uid", "id.orig_h", "id.resp_h", "request_type"),
    signature=(sig("id.orig_h", "request_type"),),
)


class ZeekKerberosParser(ZeekParser):
    """Zeek kerberos.log: AS requests as kerberos_tgt, TGS requests as kerberos_service."""


PARSER = ZeekKerberosParser(NAME, "Zeek kerberos.log: TSV with #fields header, or JSON lines", LOG)
