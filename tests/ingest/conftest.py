"""Shared helpers for the ingest tests: parse bytes with one parser, with a fixed clock."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pytest
from ingest_samples import NOW

from ashiato.events import ACCESS_EVENT
from ashiato.ingest.base import ParseContext, Parser, Rejection

SHA = "0123456789abcdef" + "0" * 48


def parse_bytes(parser: Parser, data: bytes) -> tuple[pa.Table, list[Rejection]]:
    """Run a parser over in-memory bytes; check the batch contract on the way."""
    ctx = ParseContext(sha256=SHA, path="/in/sample.log", now=NOW)
    batches = []
    rejections: list[Rejection] = []
    for pb in parser.parse(io.BytesIO(data), ctx):
        assert pb.batch.schema.equals(ACCESS_EVENT)
        assert pb.batch.num_rows <= 50_000
        batches.append(pb.batch)
        rejections.extend(pb.rejections)
    return pa.Table.from_batches(batches, schema=ACCESS_EVENT), rejections


@pytest.fixture
def parse() -> Any:
    return parse_bytes
