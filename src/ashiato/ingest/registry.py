"""The one list of parsers, declared in one place (no registration by import side effect).

Auto-detection asks each parser, in this order, whether it recognises a file's first bytes; the
first that says yes parses the file. A consistency test walks every entry.
"""

from __future__ import annotations

from ashiato.errors import IngestError
from ashiato.ingest import ecs_json, zeek_conn
from ashiato.ingest.base import Parser

PARSERS: tuple[Parser, ...] = (
    ecs_json.PARSER,
    zeek_conn.PARSER,
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
