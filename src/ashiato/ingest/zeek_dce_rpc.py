"""Zeek dce_rpc.log (TSV or JSON lines): remote procedure calls, one row each, kind ``other``.

Remote service creation (``svcctl`` ``CreateServiceW``), scheduled tasks (``atsvc``), DCSync
(``drsuapi`` ``DRSGetNCChanges``) and WMI are DCE/RPC calls; no access-event kind fits a remote
call, so each row is kind ``other`` (a deliberate choice) with ``service`` = the endpoint
(interface) and ``path`` = the operation, so that Sigma-like queries on kind/service/path find
them. Outcome unknown (Zeek does not log the result). ``named_pipe`` and ``rtt`` stay in ``raw``.
"""

from __future__ import annotations

from typing import Any

from ashiato.ingest import normalise as nz
from ashiato.ingest.base import Row
from ashiato.ingest.zeek import ID_FIELDS, ZeekLog, ZeekParser, event, sig

NAME = "zeek_dce_rpc"


def _row(ts: int, v: list[Any], lineno: int) -> Row:
    return event(ts, "other", v, lineno, service=nz.text(v[5]), path=nz.text(v[6]))


LOG = ZeekLog(
    path="dce_rpc",
    fields=(*ID_FIELDS, "endpoint", "operation"),
    row=_row,
    required=("uid", "id.orig_h", "id.resp_h", "endpoint", "operation"),
    signature=(sig("id.orig_h", "endpoint", "operation"), sig("id.orig_h", "named_pipe")),
)


class ZeekDceRpcParser(ZeekParser):
    """Zeek dce_rpc.log: each remote call as kind other, service endpoint, path operation."""


PARSER = ZeekDceRpcParser(NAME, "Zeek dce_rpc.log: TSV with #fields header, or JSON lines", LOG)
