"""The report on the simulated incident c1: its words against ground truth, every section and
chart visible in headless Chromium with no network, and the PDF rendered to pages by pdftoppm."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from PIL import Image

from ashiato.report.build import CHART_SECTIONS, SECTIONS, top_incident
from ashiato.store import Store
from ashiato.store.manifest import read_manifest
from tests.report.conftest import Built

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def html(built: Built) -> str:
    return built.report.html.read_text("utf-8")


def test_report_is_written_for_the_incident(built: Built) -> None:
    assert built.report.incident_id == built.incident["c1-valid-admin-th-id-ph"]
    assert built.report.html.stat().st_size > 50_000
    assert built.report.pdf is not None and built.report.pdf.read_bytes()[:5] == b"%PDF-"


def test_every_section_is_in_the_html(built: Built) -> None:
    text = html(built)
    for sid, _ in SECTIONS:
        assert f'<section id="{sid}"' in text, sid
    assert len(re.findall(r'<img src="data:image/png;base64,', text)) == len(CHART_SECTIONS)


def test_self_contained(built: Built) -> None:
    """Nothing to fetch: no http(s) URL in any src/href, no external stylesheet or script."""
    text = html(built)
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert "<script src" not in text and "<link " not in text


def test_executive_summary_answers_with_ground_truth(built: Built) -> None:
    """c1: one admin account from Bangkok, Jakarta and Manila; customer data; exfiltration."""
    text = html(built)
    summary = text[text.index('<section id="executive-summary"') : text.index('id="findings"')]
    for site in ("TH-BKK", "ID-JKT", "PH-MNL", "JP-OSA-DC"):
        assert site in summary
    assert "adm-yamaguchi" in summary
    assert "evidence of exfiltration" in summary
    assert "One actor" in summary
    assert "Aster Motors" in summary  # a customer of the file server's CustomerData share
    assert "2026-09-08 18:01 UTC" in summary  # the onset (the campaign's first event)
    assert "What to do now" in summary


def test_manifest_lists_every_input_with_its_hash(built: Built) -> None:
    text = html(built)
    rows = read_manifest(Store(built.store).layout).to_pylist()
    assert rows
    for r in rows:
        assert r["sha256"] in text


def test_top_incident_is_the_riskiest(built: Built) -> None:
    incidents = Store(built.store).read_incidents().to_pylist()
    best = max(incidents, key=lambda r: r["risk"])
    assert top_incident(Store(built.store)) == best["incident_id"]


def test_renders_in_headless_chromium(built: Built, tmp_path: Path) -> None:
    from playwright.sync_api import Route, sync_playwright

    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})

            def record(route: Route) -> None:
                url = route.request.url
                if url.startswith(("data:", "file:")):
                    route.continue_()
                else:
                    requested.append(url)
                    route.abort()

            page.route("**/*", record)
            page.goto(built.report.html.as_uri(), wait_until="load")
            for sid, _ in SECTIONS:
                section = page.locator(f"section#{sid}")
                assert section.count() == 1, sid
                assert section.is_visible(), sid
            for sid in CHART_SECTIONS:
                img = page.locator(f"section#{sid} figure.chart img")
                assert img.count() == 1, sid
                img.scroll_into_view_if_needed()
                assert img.is_visible(), sid
                box = img.bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 150, sid
                natural = img.evaluate("i => [i.complete, i.naturalWidth, i.naturalHeight]")
                assert natural[0] and natural[1] > 300 and natural[2] > 150, sid
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert requested == []
    with Image.open(shot) as im:
        assert im.height > 3000  # the whole page, not the viewport
        assert _ink(im) > 0.02


def _ink(im: Image.Image) -> float:
    """Share of pixels that are not (nearly) white."""
    g = im.convert("L")
    hist = g.histogram()
    return 1.0 - sum(hist[245:]) / (g.width * g.height)


def test_pdf_renders_to_pages(built: Built, tmp_path: Path) -> None:
    assert built.report.pdf is not None
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", str(built.report.pdf), str(tmp_path / "page")],
        check=True,
        timeout=120,
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    for p in pages:
        with Image.open(p) as im:
            assert _ink(im) > 0.005, p.name
    # The chart pages carry pictures, not just text: some page is far inkier than text alone.
    inks = []
    for p in pages:
        with Image.open(p) as im:
            inks.append(_ink(im))
    assert max(inks) > 0.15
