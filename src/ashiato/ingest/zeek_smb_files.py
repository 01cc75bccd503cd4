"""Zeek smb_files.log (TSV or JSON lines): files and pipes opened over SMB, as ``share_object``.

The wire view of Windows 5145: which object in which share a client touched (a service binary
dropped in ``ADMIN$``, the ``svcctl`` pipe PsExec opens). ``name`` is the ``path`` (leading
backslashes stripped, as Windows writes RelativeTargetName); the share comes from Zeek's ``path``
(``\\\\host\\SHARE`` → ``\\\\*\\SHARE``, its host part the ``dst_host`` when it is a name). Both
original values, ``action`` (``SMB::FILE_OPEN``, ``SMB::FILE_DELETE``...), ``size`` and the
times stay in ``raw``.
"""

from __future__ import annotations

from typing import Any

from ashiato.ingest import normalise as nz
from ashiato.ingest.base import Row
from ashiato.ingest.zeek import ID_FIELDS, ZeekLog, ZeekParser, event, sig
from ashiato.ingest.zeek_smb_mapping import unc

NAME = "zeek_smb_files"


def _row(ts: int, v: list[Any], lineno: int) -> Row:
    share, dst_host = unc(v[5])
    name = nz.text(v[6])
    return event(
        ts,
        "share_object",
        v,
        lineno,
        dst_host=dst_host,
        share=share,
        path=None if name is None else name.lstrip("\\") or name,
    )


LOG = ZeekLog(
    path="smb_files",
    fields=(*ID_FIELDS, "path", "name"),
    row=_row,
    required=("uid", "id.orig_h", "id.resp_h", "name"),
    signature=(sig("id.orig_h", "action", "name"), sig("id.orig_h", "times.modified")),
    keep_raw=frozenset({"path", "name"}),
)


class ZeekSmbFilesParser(ZeekParser):
    """Zeek smb_files.log: each file or pipe action as a share_object row."""


PARSER = ZeekSmbFilesParser(NAME, "Zeek smb_files.log: TSV with #fields header, or JSON lines", LOG)
