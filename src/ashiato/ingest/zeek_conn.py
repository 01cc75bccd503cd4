"""Zeek conn.log, as TSV with its ``#fields`` header or as JSON lines: one row per connection.

The network view of lateral movement (who talked to whom, on which port, how many bytes): kind
``network_flow``, outcome unknown. Reading (header, escaping, JSON) is the shared Zeek reader's
(``zeek.py``); this module only maps fields. Fields without an access-event column (conn_state,
history, ...) go to ``raw`` verbatim; unset ones are left out.
"""

from __future__ import annotations

from typing import Any

from ashiato.ingest import normalise as nz
from ashiato.ingest.base import Row
from ashiato.ingest.zeek import ID_FIELDS, ZeekLog, ZeekParser, event, sig

NAME = "zeek_conn"


def _row(ts: int, v: list[Any], lineno: int) -> Row:
    proto, service, dur, ob, rb = v[5], v[6], v[7], v[8], v[9]
    return event(
        ts,
        "network_flow",
        v,
        lineno,
        protocol=nz.text(proto),
        service=nz.text(service),
        bytes_out=nz.count(ob, "orig_bytes"),
        bytes_in=nz.count(rb, "resp_bytes"),
        duration_s=nz.seconds(dur, "duration"),
    )


LOG = ZeekLog(
    path="conn",
    fields=(*ID_FIELDS, "proto", "service", "duration", "orig_bytes", "resp_bytes"),
    row=_row,
    signature=(sig("id.orig_h", "conn_state"), sig("id.orig_h", "orig_pkts", "resp_pkts")),
)


class ZeekConnParser(ZeekParser):
    """Zeek conn.log (TSV with header, or JSON lines): one network_flow row per connection."""


PARSER = ZeekConnParser(NAME, "Zeek conn.log: TSV with #fields header, or JSON lines", LOG)
