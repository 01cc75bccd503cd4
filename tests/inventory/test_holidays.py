"""Site holidays: each site's national calendar, the inventory's overrides, hostile values."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ashiato.errors import InventoryError
from ashiato.inventory import load_inventory
from ashiato.inventory.calendar import site_holidays

HEADER = "site,date,name,observed\n"


def test_national_calendar_per_site_with_overrides(inventory_dir: Path) -> None:
    (inventory_dir / "holidays.csv").write_text(
        HEADER + "JP-TKY,2026-09-21,,false\nTH-BKK,2026-09-15,Office anniversary,\n"
    )
    inv = load_inventory(inventory_dir)
    cal = site_holidays(inv, [2026])
    assert cal["JP-DC"][date(2026, 9, 21)] == "Respect for the Aged Day"
    assert date(2026, 9, 21) not in cal["JP-TKY"]  # this office works that day
    assert cal["JP-TKY"][date(2026, 9, 23)] == "Autumnal Equinox Day"
    assert cal["TH-BKK"][date(2026, 9, 15)] == "Office anniversary"  # observed by default
    assert date(2026, 9, 21) not in cal["TH-BKK"]  # a Japanese holiday, not a Thai one


def test_yaml_holidays(inventory_dir: Path) -> None:
    (inventory_dir / "holidays.yaml").write_text(
        "holidays:\n  - site: JP-DC\n    date: 2026-09-21\n    observed: false\n"
    )
    assert date(2026, 9, 21) not in site_holidays(load_inventory(inventory_dir), [2026])["JP-DC"]


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("JP-TKY,2026-02-30,x,true", ["date"]),
        ("JP-TKY,1758412800,x,true", ["date", "YYYY-MM-DD"]),
        ("JP-TKY,21/09/2026,x,true", ["date", "YYYY-MM-DD"]),
        ("JP-TKY,2026-09-21,x,maybe", ["observed"]),
        ("JP-TKY,2026-09-21,\x1b[31mred\x1b[0m,true", ["name", "control"]),
        ("JP-TKY,2026-09-21,\u202eyadiloh,true", ["name", "bidirectional"]),
        ("JP-TKY,2026-09-21," + "x" * 500 + ",true", ["name", "120"]),
        ("JP-TKY,2026-09-21,x,true,extra", ["more cells"]),
        ("../../etc/passwd,2026-09-21,x,true", ["site", "unknown site"]),
    ],
)
def test_hostile_values_name_file_and_line(inventory_dir: Path, row: str, words: list[str]) -> None:
    (inventory_dir / "holidays.csv").write_text(HEADER + "JP-DC,2026-09-22,,false\n" + row + "\n")
    with pytest.raises(InventoryError) as exc:
        load_inventory(inventory_dir)
    msg = str(exc.value)
    assert "holidays.csv:3" in msg, msg
    for w in words:
        assert w in msg, msg


def test_unknown_column_and_duplicates(inventory_dir: Path) -> None:
    p = inventory_dir / "holidays.csv"
    p.write_text("site,date,colour\nJP-DC,2026-09-22,blue\n")
    with pytest.raises(InventoryError, match=r"holidays\.csv:2.*colour.*unknown key"):
        load_inventory(inventory_dir)
    p.write_text(HEADER + "JP-DC,2026-09-22,,false\nJP-DC,2026-09-22,again,true\n")
    with pytest.raises(InventoryError, match="listed twice"):
        load_inventory(inventory_dir)


def test_unknown_site_in_yaml_names_line(inventory_dir: Path) -> None:
    (inventory_dir / "holidays.yaml").write_text(
        "holidays:\n  - site: JP-DC\n    date: 2026-09-21\n"
        "  - site: NOWHERE\n    date: 2026-09-22\n"
    )
    with pytest.raises(InventoryError, match=r"holidays\.yaml:4: holidays\[1\]\.site: unknown"):
        load_inventory(inventory_dir)


def test_country_without_a_calendar(inventory_dir: Path) -> None:
    p = inventory_dir / "sites.yaml"
    p.write_text(p.read_text().replace("country: TH", "country: ZZ"))
    assert site_holidays(load_inventory(inventory_dir), [2026])["TH-BKK"] == {}
