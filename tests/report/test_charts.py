"""Charts and map placement on small inputs: each returns a real PNG, empty inputs included."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from ashiato.investigate.model import (
    ChannelCoverage,
    Coverage,
    Hole,
    Hop,
    ReachedHost,
    Scope,
    Seeds,
)
from ashiato.report import charts
from ashiato.report.geo import site_positions

T0 = datetime(2026, 9, 1, tzinfo=UTC)


def _png(c: charts.Chart) -> Image.Image:
    assert c.png[:8] == b"\x89PNG\r\n\x1a\n"
    assert c.data_uri.startswith("data:image/png;base64,")
    im = Image.open(io.BytesIO(c.png))
    assert (im.width, im.height) == (c.width, c.height)
    return im


def _host(name: str, site: str, seed: bool, path: list[Hop]) -> ReachedHost:
    return ReachedHost(
        name,
        site,
        "workstation" if seed else "server",
        seed,
        False,
        T0,
        path,
        ["adm"],
        1,
        0,
        {},
        False,
    )


def test_site_positions_keep_sites_apart() -> None:
    pos = site_positions({"JP-TKY-HQ": "JP", "JP-OSA-DC": "JP", "X-1": "JP", "Y": "ZZ"})
    assert set(pos) == {"JP-TKY-HQ", "JP-OSA-DC", "X-1", "Y"}
    pts = list(pos.values())
    for i, a in enumerate(pts):
        for b in pts[i + 1 :]:
            assert abs(a[0] - b[0]) + abs(a[1] - b[1]) > 1.0
    assert pos["JP-TKY-HQ"][0] > 120  # still in Japan, roughly


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        ("th-ws1", "jp-fs1"),
        # mathtext ($...$), NUL, ESC and a 300-character name: drawn as typed, cut short
        ("a$x^{2}$b\x00\x1b[2J" + "w" * 300, "fs$\\frac{1}{0}$\u202e\n"),
    ],
)
def test_charts_draw_small_inputs(src: str, dst: str) -> None:
    hop = Hop(T0, "adm", src, dst, "e1", "logon")
    scope = Scope(
        Seeds("incident", "I-1", ["adm"], [src], T0, T0 + timedelta(days=2)),
        [_host(src, "TH", True, []), _host(dst, "JP", False, [hop])],
        [],
        ["e1"],
        [],
    )
    rows = [
        {
            "ts": T0 + timedelta(hours=i),
            "kind": "logon",
            "src": src,
            "src_site": "TH",
            "dst": dst,
            "dst_site": "JP",
            "event_id": f"e{i}",
        }
        for i in range(5)
    ] + [{"ts": T0, "kind": "finding", "event_id": "F-1", "src_site": "TH"}]
    assert _png(charts.timeline_chart(rows, {src: "TH"}, [src])).width > 500
    assert charts.site_edges(rows) == {("TH", "JP"): 5}
    _png(charts.site_map(charts.site_edges(rows), {"TH": "TH", "JP": "JP"}))
    g, weights = charts.movement_graph(scope, rows)
    assert weights[(src, dst)] == 5 and g.number_of_nodes() == 2
    _png(charts.lateral_graph(scope, rows))
    cov = Coverage(
        [
            ChannelCoverage(
                dst, "JP", "windows:security", "2026-09-01", "2026-09-04", 3, ["2026-09-03"]
            )
        ],
        {},
        [Hole(dst, "cleared", T0, T0, "1102")],
        T0,
        T0 + timedelta(days=3),
    )
    hosts, days, cells = charts.coverage_grid(cov)
    assert hosts == [dst] and len(days) == 4
    assert cells == [[charts.FULL, charts.FULL, charts.GAP, charts.FULL]]
    _png(charts.coverage_chart(cov))


def test_empty_inputs_still_draw() -> None:
    scope = Scope(Seeds("incident", "I-1", [], [], T0, T0), [], [], [], [])
    for c in (
        charts.timeline_chart([]),
        charts.site_map({}, {}),
        charts.lateral_graph(scope, []),
        charts.coverage_chart(None),
    ):
        _png(c)


def test_pdf_fetches_nothing_but_data_urls(tmp_path: Path) -> None:
    """A stray remote reference in the HTML is refused, not fetched; data: images still show."""
    import weasyprint

    from ashiato.report.build import _data_only_fetcher, write_pdf

    fetcher = _data_only_fetcher(weasyprint)
    fetch = fetcher.fetch if hasattr(fetcher, "fetch") else fetcher
    with pytest.raises(ValueError, match=r"disallowed protocol|fetches nothing"):
        fetch("http://192.0.2.1/x.png")
    chart = charts.site_map({("A", "B"): 3}, {"A": "JP", "B": "TH"})
    html = f'<img src="{chart.data_uri}"><img src="http://192.0.2.1/x.png"><p>hello</p>'
    out = write_pdf(html, tmp_path / "x.pdf")
    assert out.read_bytes()[:5] == b"%PDF-"


def test_no_incidents_is_a_store_error(tmp_path: Path) -> None:
    from ashiato.errors import StoreError
    from ashiato.inventory import Inventory
    from ashiato.report import write_report

    (tmp_path / "store").mkdir()
    with pytest.raises(StoreError, match="no incidents"):
        write_report(tmp_path / "store", Inventory(), tmp_path / "r.html")


def test_exfiltration_qualification_names_hosts_without_flows() -> None:
    from ashiato.investigate.model import Exfiltration, HostExfil, Investigation
    from ashiato.report.build import exfil_qualification

    scope = Scope(
        Seeds("incident", "I-1", ["adm"], ["ws1"], T0, T0 + timedelta(days=1)), [], [], [], []
    )
    inv = Investigation(
        scope.seeds,
        scope,
        exfiltration=Exfiltration(
            "unknown",
            [
                HostExfil("ws1", "unknown", 0, 0.0, 0.0, [], "no flow logs", []),
                HostExfil("fs1", "no evidence", 10, 5.0, 5.0, [], "below", []),
            ],
        ),
    )
    text = exfil_qualification(inv)
    assert "1 of the 2 touched host(s)" in text and "ws1" in text and "unknown" in text
