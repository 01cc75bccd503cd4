"""Any other Zeek log (dns, http, ssl, weird, notice, ssh, ...): stored as kind ``other``.

So that no Zeek file goes unrecognised and nothing read is lost, a Zeek log that no specific
parser maps is kept whole: kind ``other``, outcome unknown, src/dst from ``id.*`` when the log has
them, ``record_id`` the ``uid`` when it has one, every other field in ``raw`` plus ``_path`` (the
log's name) so that analysts and Sigma rules can tell the logs apart. A record needs a ``ts``: a
log without one (``loaded_scripts``) has each record rejected with that reason.

Sniffing: a Zeek TSV header (``#separator`` or ``#fields``) or JSON lines with ``_path`` or with
``ts`` plus ``uid``, ``fuid`` or ``id.orig_h`` (so JSON x509 or known_* logs without ``_path`` are
not recognised), and not a log a specific Zeek parser claims (this module lists them; register it
after them).
"""

from __future__ import annotations

from typing import Any

from ashiato.ingest import (
    zeek_conn,
    zeek_dce_rpc,
    zeek_kerberos,
    zeek_ntlm,
    zeek_rdp,
    zeek_smb_files,
    zeek_smb_mapping,
)
from ashiato.ingest.base import Row
from ashiato.ingest.zeek import ID_FIELDS, ZeekLog, ZeekParser, event, head_info, sig

NAME = "zeek_other"
SPECIFIC = (
    zeek_conn.LOG,
    zeek_kerberos.LOG,
    zeek_ntlm.LOG,
    zeek_rdp.LOG,
    zeek_smb_mapping.LOG,
    zeek_smb_files.LOG,
    zeek_dce_rpc.LOG,
)
"""The logs other Zeek parsers map: never claimed here."""

_JSON_SIGNS = (sig("ts", "uid"), sig("ts", "id.orig_h"), sig("ts", "fuid"))


def _row(ts: int, v: list[Any], lineno: int) -> Row:
    return event(ts, "other", v, lineno)


LOG = ZeekLog(path=None, fields=ID_FIELDS, row=_row, required=(), needed=(), raw_path=True)


class ZeekOtherParser(ZeekParser):
    """Any Zeek log no specific parser maps: kind other, all fields kept in raw."""

    def sniff(self, head: bytes, name: str) -> bool:
        info = head_info(head)
        if info is None or any(log.matches(info) for log in SPECIFIC):
            return False
        if info.tsv or info.path is not None:
            return True
        return any(s <= info.keys for s in _JSON_SIGNS)


PARSER = ZeekOtherParser(
    NAME, "Any other Zeek log (dns, http, ssl, weird, ...): TSV or JSON lines, kind other", LOG
)
