"""Large stores read the enriched events through a view instead of a temp table: same findings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ashiato.detect import runner
from tests.conftest import event, ts


def detecting_rows() -> list[dict[str, Any]]:
    """Rows on which several detectors find something (also used by ``test_sqlcache``)."""
    rows = [
        event(ts=ts(d, 1), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-fs01")
        for d in range(1, 11)
    ]
    rows += [
        event(
            ts=ts(12, 17) + timedelta(minutes=i),
            user="adm-sato",
            src_ip="10.3.0.101",
            dst_host="jp-dc-fs01",
        )
        for i in range(3)
    ]
    rows += [event(ts=ts(12, 3) + timedelta(seconds=i), user=f"u{i}", src_ip="10.3.0.102",
                   kind="logon_failure", outcome="failure", event_code=4625,
                   dst_host="jp-dc-dc01") for i in range(40)]  # fmt: skip
    return rows


def test_view_and_table_give_the_same_findings(inventory, write_events, monkeypatch) -> None:
    rows = detecting_rows()
    root = write_events(rows)
    table = runner.detect(root, inventory).findings
    monkeypatch.setattr(runner, "MATERIALIZE_MAX_EVENTS", 0)
    view = runner.detect(root, inventory).findings
    assert table.num_rows >= 3
    assert view.to_pylist() == table.to_pylist()
