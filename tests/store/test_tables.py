"""Store.kind_counts: what a detect run reads first to know which detectors have anything to do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.conftest import event, ts

from ashiato.store import Store


def test_kind_counts(write_events: Callable[[list[dict[str, Any]]], Path]) -> None:
    root = write_events(
        [
            event(ts=ts(3, 1) + timedelta(microseconds=7)),
            event(ts=ts(5, 2), kind="account_change"),
            event(ts=ts(4, 3)),
        ]
    )
    assert Store(root).kind_counts() == [
        ("account_change", 1, ts(5, 2), ts(5, 2)),
        ("logon", 2, ts(3, 1) + timedelta(microseconds=7), ts(4, 3)),
    ]


def test_kind_counts_of_an_empty_store(tmp_path: Path) -> None:
    assert Store(tmp_path, create=True).kind_counts() == []
