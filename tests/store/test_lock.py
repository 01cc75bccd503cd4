"""One writer at a time: a second ingest into a store being written is refused, not interleaved."""

from __future__ import annotations

from pathlib import Path

import pytest

from ashiato.errors import StoreError
from ashiato.ingest import ingest
from ashiato.store.layout import StoreLayout, writer_lock


def test_second_writer_refused(tmp_path: Path) -> None:
    layout = StoreLayout(tmp_path / "store")
    src = tmp_path / "in.log"
    src.write_text("")
    with writer_lock(layout), pytest.raises(StoreError, match="another ingest"):
        ingest([src], layout.root, workers=1)
    # released: the same ingest now runs
    report = ingest([src], layout.root, workers=1)
    assert len(report.files) == 1
