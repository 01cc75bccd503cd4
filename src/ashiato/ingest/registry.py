"""The one list of parsers, declared in one place (no registration by import side effect).

Auto-detection asks each parser, in this order, whether it recognises a file's first bytes; the
first that says yes parses the file. A consistency test walks every entry.
"""

from __future__ import annotations

from ashiato.errors import IngestError
from ashiato.ingest import (
    ecs_json,
    evtx,
    journald,
    lanl_auth,
    lanl_flows,
    lanl_proc,
    mapped,
    nxlog_json,
    syslog_auth,
    zeek_conn,
    zeek_dce_rpc,
    zeek_kerberos,
    zeek_ntlm,
    zeek_other,
    zeek_rdp,
    zeek_smb_files,
    zeek_smb_mapping,
)
from ashiato.ingest.base import Parser

PARSERS: tuple[Parser, ...] = (
    evtx.PARSER,  # binary, magic bytes ElfFile\0
    ecs_json.PARSER,
    nxlog_json.PARSER,  # flat Windows JSON: after ecs_json (which wants winlog)
    zeek_conn.PARSER,
    zeek_kerberos.PARSER,
    zeek_ntlm.PARSER,
    zeek_rdp.PARSER,
    zeek_smb_mapping.PARSER,
    zeek_smb_files.PARSER,
    zeek_dce_rpc.PARSER,
    zeek_other.PARSER,  # after the specific Zeek parsers: any other Zeek log
    journald.PARSER,  # JSON lines with __REALTIME_TIMESTAMP and MESSAGE
    lanl_auth.PARSER,  # LANL CSVs: exact field counts and vocabularies, all head lines
    lanl_flows.PARSER,
    lanl_proc.PARSER,
    syslog_auth.PARSER,  # a syslog header on the first line and on 80% of the head's lines
    mapped.PARSER,  # never sniffs: --format mapped --option mapping=FILE
)

SNIFF_BYTES = 64 * 1024
"""How much of a file (decompressed) ``sniff`` gets to see."""


def parser_names() -> tuple[str, ...]:
    return tuple(p.name for p in PARSERS)


def get_parser(name: str) -> Parser:
    """The parser called ``name``; IngestError listing the known names otherwise."""
    for p in PARSERS:
        if p.name == name:
            return p
    raise IngestError(f"unknown format {name!r}; known formats: {', '.join(parser_names())}")


def detect(head: bytes, name: str) -> Parser | None:
    """The first parser whose ``sniff`` recognises ``head``, or None."""
    for p in PARSERS:
        if p.sniff(head, name):
            return p
    return None
