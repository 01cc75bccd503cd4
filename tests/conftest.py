"""Shared fixtures: a tiny enterprise inventory and a way to write events straight into a store."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ashiato.events import ACCESS_EVENT
from ashiato.inventory import Inventory, load_inventory
from ashiato.store import StoreLayout
from tests.estate import estate

__all__ = ["estate"]  # the shared simulated estate, built once per session when asked for

SITES_YAML = """\
sites:
  - name: JP-TKY
    country: JP
    timezone: Asia/Tokyo
    cidrs: [10.1.0.0/16]
    host_patterns: ["jp-tky-*"]
  - name: JP-DC
    country: JP
    timezone: Asia/Tokyo
    cidrs: [10.2.0.0/16]
  - name: TH-BKK
    country: TH
    timezone: Asia/Bangkok
    cidrs: [10.3.0.0/16]
    host_patterns: ["th-bkk-*"]
"""

POLICY_YAML = """\
policy:
  default: deny
  intra_site: allow
  rules:
    - name: anyone-to-dc
      to_role: domain-controller
    - name: jp-to-jp
      from_site: JP-TKY
      to_site: JP-DC
    - name: engineers-to-fs
      from_site: TH-BKK
      to_site: JP-DC
      to_role: file-server
      accounts: group:XSite
"""

ASSETS_CSV = """\
host,ips,site,role,criticality,data_categories,owner
jp-dc-dc01,10.2.0.10,JP-DC,domain-controller,critical,,
jp-dc-fs01,10.2.0.20,JP-DC,file-server,high,customer-pii,
jp-tky-ws001,10.1.0.101,JP-TKY,workstation,low,,
th-bkk-ws001,10.3.0.101,TH-BKK,workstation,low,,
th-bkk-ws002,10.3.0.102,TH-BKK,workstation,low,,
"""

ACCOUNTS_CSV = """\
user,domain,privileged_groups,groups,kind,home_site,owner
adm-sato,CORP,Domain Admins,,human,JP-TKY,
t.suzuki,CORP,,,human,JP-TKY,
s.chai,CORP,,XSite,human,TH-BKK,
svc-backup,CORP,Backup Operators,,service,JP-DC,it-infra
"""


@pytest.fixture(scope="session", autouse=True)
def user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Never the user's data or cache: one data directory (the default Sigma rule set is
    extracted into it once) and one compiled-rule cache (the default set compiles once) for the
    whole session, inherited by the `ashiato` processes that tests start."""
    dirs = {
        "ASHIATO_DATA_DIR": tmp_path_factory.mktemp("ashiato-data"),
        "ASHIATO_CACHE_DIR": tmp_path_factory.mktemp("ashiato-cache"),
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, path in dirs.items():
            mp.setenv(name, str(path))
        # A test store spans at most a month: one slice (each slice has a fixed cost per
        # detector). The fold checks (``tests/detect/foldcheck.py``) set their own slices.
        mp.setenv("ASHIATO_SLICE_DAYS", "31")
        yield dirs


@pytest.fixture
def inventory_dir(tmp_path: Path) -> Path:
    d = tmp_path / "inventory"
    d.mkdir()
    (d / "sites.yaml").write_text(SITES_YAML)
    (d / "policy.yaml").write_text(POLICY_YAML)
    (d / "assets.csv").write_text(ASSETS_CSV)
    (d / "accounts.csv").write_text(ACCOUNTS_CSV)
    return d


@pytest.fixture
def inventory(inventory_dir: Path) -> Inventory:
    return load_inventory(inventory_dir)


def ts(day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A UTC time on a day of September 2026."""
    return datetime(2026, 9, day, hour, minute, tzinfo=UTC)


def event(**kw: Any) -> dict[str, Any]:
    """An access-event row with defaults for every field not given."""
    row: dict[str, Any] = {f.name: None for f in ACCESS_EVENT}
    row.update(kind="logon", outcome="success", event_code=4624, logon_type=3, source="test")
    row.update(kw)
    return row


@pytest.fixture
def write_events(tmp_path: Path) -> Callable[[list[dict[str, Any]]], Path]:
    """Write rows into a fresh store (one Parquet file per day); return the store root."""

    def _write(rows: list[dict[str, Any]]) -> Path:
        root = tmp_path / "store"
        layout = StoreLayout(root)
        layout.ensure()
        by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for i, given in enumerate(rows):
            r = dict(given)
            if r.get("event_id") is None:
                r["event_id"] = f"e{i:06d}"
            r["source_offset"] = r.get("source_offset") or i + 1
            by_day[r["ts"].strftime("%Y-%m-%d")].append(r)
        for day, day_rows in by_day.items():
            d = layout.day_dir(day)
            d.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(day_rows, schema=ACCESS_EVENT), d / "t-0.parquet")
        return root

    return _write
