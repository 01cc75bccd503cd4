"""Zeek smb_mapping.log (TSV or JSON lines): SMB tree connects, one ``share_access`` row each.

The wire view of Windows 5140: a client mapped a share (``ADMIN$``, ``C$``, ``IPC$`` are the
lateral-movement classics). ``path`` (``\\\\host\\SHARE``) becomes ``share`` in the Windows
``\\\\*\\SHARE`` form (so the two sources compare; share-name case kept as the client sent it),
and its host part, when it is a name rather than an IP, the ``dst_host``; the original path is kept
in ``raw``. ``share_type`` (DISK, PIPE, PRINTER) is the ``service``. Zeek does not log the user.
"""

from __future__ import annotations

from typing import Any

from ashiato.ingest import normalise as nz
from ashiato.ingest.base import Row
from ashiato.ingest.zeek import ID_FIELDS, ZeekLog, ZeekParser, event, is_ip, sig

NAME = "zeek_smb_mapping"


def unc(path: Any) -> tuple[str | None, str | None]:
    """``\\\\host\\SHARE[\\...]`` as (``\\\\*\\SHARE``, host short name or None if an IP)."""
    s = nz.text(path)
    if s is None:
        return None, None
    parts = s.lstrip("\\").split("\\")
    if not s.startswith("\\") or len(parts) < 2 or not parts[1]:
        return s, None
    h = parts[0].strip("[]")
    return "\\\\*\\" + parts[1], None if is_ip(h) else nz.host(h)


def _row(ts: int, v: list[Any], lineno: int) -> Row:
    share, dst_host = unc(v[5])
    return event(
        ts,
        "share_access",
        v,
        lineno,
        dst_host=dst_host,
        service=nz.text(v[6]),
        share=share,
    )


LOG = ZeekLog(
    path="smb_mapping",
    fields=(*ID_FIELDS, "path", "share_type"),
    row=_row,
    required=("uid", "id.orig_h", "id.resp_h", "path"),
    signature=(sig("id.orig_h", "share_type"), sig("id.orig_h", "native_file_system")),
    keep_raw=frozenset({"path"}),
)


class ZeekSmbMappingParser(ZeekParser):
    """Zeek smb_mapping.log: each share mapped as a share_access row."""


PARSER = ZeekSmbMappingParser(
    NAME, "Zeek smb_mapping.log: TSV with #fields header, or JSON lines", LOG
)
