"""Where things live inside a store directory; the only module that knows the paths.

A store is a plain directory that DuckDB and Spark read directly::

    STORE/
      events/day=YYYY-MM-DD/<sha16>-<n>.parquet   access events, hive-partitioned by UTC day
      manifest/<sha256>.parquet                    evidence manifest, one file per input file
      rejects/<sha16>.parquet                      rejected records of one input file
      findings/findings.parquet                    findings of the last detect run
      incidents/incidents.parquet                  incidents of the last detect run
      tmp/                                         half-written files; never read

Every file is written under ``tmp/`` and renamed into place, so a reader never sees half a file;
an input file counts as ingested only once its manifest row exists (written last).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ashiato.errors import StoreError


@dataclass(frozen=True)
class StoreLayout:
    """Paths of one store."""

    root: Path

    @property
    def events_dir(self) -> Path:
        return self.root / "events"

    @property
    def manifest_dir(self) -> Path:
        return self.root / "manifest"

    @property
    def rejects_dir(self) -> Path:
        return self.root / "rejects"

    @property
    def findings_dir(self) -> Path:
        return self.root / "findings"

    @property
    def incidents_dir(self) -> Path:
        return self.root / "incidents"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    @property
    def findings_file(self) -> Path:
        return self.findings_dir / "findings.parquet"

    @property
    def incidents_file(self) -> Path:
        return self.incidents_dir / "incidents.parquet"

    @property
    def entity_risk_file(self) -> Path:
        return self.incidents_dir / "entity_risk.parquet"

    def events_glob(self) -> str:
        return str(self.events_dir / "day=*" / "*.parquet")

    def day_dir(self, day: str) -> Path:
        return self.events_dir / f"day={day}"

    def ensure(self) -> None:
        for d in (
            self.events_dir,
            self.manifest_dir,
            self.rejects_dir,
            self.findings_dir,
            self.incidents_dir,
            self.tmp_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)


@contextmanager
def writer_lock(layout: StoreLayout) -> Iterator[None]:
    """Hold the store's writer lock: one ingest at a time, since each removes others' orphans."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with (layout.root / ".lock").open("a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise StoreError(f"{layout.root}: another ingest is writing to this store") from exc
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
