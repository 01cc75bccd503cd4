"""Ingest: turn raw log files into access events in the store, with an evidence manifest.

The public API is ``ingest(paths, store)``; parsers are listed in ``registry.PARSERS``.
"""

from ashiato.ingest.base import ParseContext, ParsedBatch, Parser, Rejection
from ashiato.ingest.pipeline import ingest
from ashiato.ingest.registry import PARSERS, get_parser
from ashiato.ingest.report import FileResult, IngestReport, ProgressUpdate

__all__ = [
    "PARSERS",
    "FileResult",
    "IngestReport",
    "ParseContext",
    "ParsedBatch",
    "Parser",
    "ProgressUpdate",
    "Rejection",
    "get_parser",
    "ingest",
]
