"""Notification against ground truth: the customer list, a letter per customer and language
naming the right systems and dates, Japanese letters in Japanese."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ashiato.respond import notify
from ashiato.respond.notify import CSV_COLUMNS
from tests.investigate.test_customers import _truth_customers
from tests.respond.conftest import C1, Response

TODAY = datetime(2026, 10, 2, tzinfo=UTC)


@pytest.mark.parametrize("campaign", [C1, "svc-compromise"])
def test_customers_and_letters(response: Response, campaign: str, tmp_path: Path) -> None:
    estate = response.estate
    inv = estate.of(campaign)
    n = notify(estate.store, estate.inventory, inv, tmp_path, today=TODAY)
    want = _truth_customers(estate, campaign)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "customers.csv").read_text("utf-8"))))
    assert {r["customer_id"] for r in rows} == want
    assert len(rows) == len(want)
    names = {c.id: c for c in estate.inventory.customers}
    for r in rows:
        assert r["name"] == names[r["customer_id"]].name
        assert r["country"] == names[r["customer_id"]].country
        assert r["exfiltration_verdict"] == inv.exfiltration.verdict  # type: ignore[union-attr]
        assert int(r["evidence_events"]) > 0
        assert r["first_access_utc"] <= r["last_access_utc"]
    for c in want:
        mine = [d for d in inv.data if d.customer == c]
        hosts = {d.host for d in mine}
        first = min(d.first_access for d in mine)
        en = n.letters[(c, "en")].read_text(encoding="utf-8")
        assert names[c].name in en
        assert all(h in en for h in hosts)
        assert first.strftime("%Y-%m-%d %H:%M UTC") in en
        assert all(d.data_store in en for d in mine)
        ja_bytes = n.letters[(c, "ja")].read_bytes()
        ja = ja_bytes.decode("utf-8")  # strict: raises on invalid UTF-8
        assert all(h in ja for h in hosts)
        kana = re.findall(r"[\u3040-\u30ff]", ja)
        kanji = re.findall(r"[\u4e00-\u9fff]", ja)
        assert len(kana) > 100 and len(kanji) > 100
        jst = first.astimezone(ZoneInfo("Asia/Tokyo"))
        assert f"{jst.year}年{jst.month}月{jst.day}日" in ja


def test_c1_letters_cite_truth_evidence(response: Response, tmp_path: Path) -> None:
    estate = response.estate
    notify(estate.store, estate.inventory, estate.of(C1), tmp_path, lang=("en",), today=TODAY)
    text = (tmp_path / "letters" / "CUST-0001.en.txt").read_text(encoding="utf-8")
    cited = set(re.findall(r"event ([0-9a-f]{16}-\d+)", text))
    assert cited and cited <= estate.truth_events[C1]
    assert "jp-osa-fs01" in text and "CustomerData" in text
    assert "may have left our network" in text  # c1's verdict: evidence of exfiltration
    assert not (tmp_path / "letters" / "CUST-0001.ja.txt").exists()


def test_no_customers_for_the_insider(response: Response, tmp_path: Path) -> None:
    estate = response.estate
    n = notify(estate.store, estate.inventory, estate.of("insider-upload"), tmp_path, today=TODAY)
    assert not n.customers and not n.letters
    rows = (tmp_path / "customers.csv").read_text(encoding="utf-8").splitlines()
    assert rows == [",".join(CSV_COLUMNS)]


def test_templates_override(response: Response, tmp_path: Path) -> None:
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "letter.en.txt.j2").write_text(
        "Hello {{ customer.name }}: {{ stores | map(attribute='host') | join(',') }}\n",
        encoding="utf-8",
    )
    estate = response.estate
    n = notify(
        estate.store,
        estate.inventory,
        estate.of("svc-compromise"),
        tmp_path / "out",
        lang=("en",),
        templates=tpl,
        today=TODAY,
    )
    for (cid, _), p in n.letters.items():
        name = next(c.name for c in estate.inventory.customers if c.id == cid)
        assert p.read_text(encoding="utf-8").startswith(f"Hello {name}: ")


HOSTILE = (
    "=x'; Set-Content -Path PWNED-A.txt -Value 1; '\nPWNED-B; Remove-Item C: -Recurse #\x1b[2J"
)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_letters_escape_every_value(lang: str) -> None:
    """A name from the logs cannot start a line of its own or carry ESC, NUL or bidi marks."""
    from ashiato.quote.text import needs_escape
    from ashiato.respond.notify import _environment

    when = datetime(2026, 9, 6, 18, tzinfo=UTC)
    sample = {
        "event_id": "e1",
        "ts": when,
        "kind": "share_access",
        "user": HOSTILE,
        "src": "ws\r\nPWNED-C\x00",
        "dst": "fs01",
        "share": "<script>\u202ePWNED-D",
        "path": "CUST\\\x9b2J\nPWNED-E",
    }
    store = {"name": "ds", "host": "fs01\nPWNED-F", "categories": ["pii"], "first": when}
    store |= {"last": when, "events": 1, "samples": [sample]}
    ctx = {
        "customer": {"id": "C1", "name": "ACME", "country": "JP", "contact": "a@b"},
        "stores": [store],
        "incident": "I-1",
        "onset": when,
        "first": when,
        "last": when,
        "events": 1,
        "exfiltration": "unknown",
        "exfiltration_text": "x",
        "exfiltration_text_ja": "x",
        "sender": "us",
        "today": "2026-10-02",
    }
    text = _environment(None).get_template(f"letter.{lang}.txt.j2").render(**ctx)
    assert not any(needs_escape(c) for c in text if c != "\n")
    for line in text.splitlines():
        assert not line.lstrip(" -・").startswith("PWNED"), line
    assert "\\nPWNED-B" in text and "\\x1b[2J" in text


def test_customers_csv_neutralises_formulas(tmp_path: Path) -> None:
    from ashiato.investigate.model import DataAccess
    from ashiato.quote import spreadsheet
    from ashiato.respond.notify import CustomerNotice

    when = datetime(2026, 9, 6, tzinfo=UTC)
    access = DataAccess("C1", "n", "=ds", "-2+3+cmd|' /C calc'!A0", ["pii"], when, when, ["e"])
    n = CustomerNotice("C1", "@SUM(1)", "JP", "+81\n", [access], "unknown")
    path = spreadsheet.write_rows(tmp_path / "c.csv", CSV_COLUMNS, [n.row()])
    (row,) = list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
    assert row["name"] == "'@SUM(1)" and row["contact"] == "'+81\\n"
    assert row["data_stores"] == "'=ds" and row["systems"].startswith("'-2+3")
