"""Per day, the logon session ids of its logons and explicit-credential events, kept between runs.

Tying a 4648 to the logon session that made it needs the session ids (the 4648's
``SubjectLogonId``, the 4624's ``TargetLogonId``), which live only in the events' raw field maps.
A map column is decoded whole for every row group a query touches: looking up three days of
logons on a 29,000-terminal estate decoded 1.5 M maps (3-5 s a run) to use a few thousand. So a
day's ids are extracted once, when a run first needs that day, into
``STORE/state/_post/sessions-v1/DAY.parquet`` with the day's event files as they were then; a day
whose files changed since (late data) is extracted again. Only the last ``KEEP_DAYS`` days of the
store are kept: an older day is extracted again when asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ashiato.detect.fold import event_files_by_day
from ashiato.events import EventKind
from ashiato.store.atomic import atomic_write_bytes, atomic_write_parquet
from ashiato.store.layout import StoreLayout

FORMAT = 1
"""Bumped when the extracted columns change: every kept day is extracted again."""

KEEP_DAYS = 7
"""How many of the store's latest days stay extracted (a new day's run looks three days back)."""

KINDS = (EventKind.LOGON.value, EventKind.EXPLICIT_CREDENTIALS.value)

SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("kind", pa.string()),
        ("log_host", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("user", pa.string()),
        ("src_host", pa.string()),
        ("src_ip", pa.string()),
        ("lid", pa.string()),
        ("subject", pa.string()),
    ]
)
"""A session row: ``lid`` is the logon session the event belongs to (a logon's target session,
an explicit-credential event's subject session), lower case; ``subject`` the 4648's subject
account, lower case (null for logons)."""


def session_rows(events: ibis.Table) -> ibis.Table:
    """The session rows (``SCHEMA``) of ``events``: read from their raw fields."""
    e = events.filter(events.kind.isin(KINDS))
    logon = e.kind == EventKind.LOGON.value
    return e.select(
        "event_id",
        "kind",
        "log_host",
        "ts",
        "user",
        "src_host",
        "src_ip",
        lid=ibis.ifelse(logon, e.raw["TargetLogonId"], e.raw["SubjectLogonId"]).lower(),
        subject=ibis.ifelse(logon, ibis.null("string"), e.raw["SubjectUserName"].lower()),
    )


class SessionIndex:
    """The session rows of whole days, extracted once per day's files and kept."""

    def __init__(
        self,
        layout: StoreLayout,
        events: Callable[[], ibis.Table],
        execute: Callable[[ibis.Expr], pa.Table],
    ) -> None:
        """``events()`` gives the stored events, asked for only when a day must be read (a run
        with nothing to look up never opens the engine)."""
        self.root = layout.root / "state" / "_post" / f"sessions-v{FORMAT}"
        self.tmp = layout.tmp_dir
        self.events = events
        self.execute = execute
        self.layout = layout
        self._files: dict[str, list[str]] | None = None
        self.extracted = 0
        """Days extracted by this object (the rest were read as kept)."""

    @property
    def files(self) -> dict[str, list[str]]:
        """The store's event files per day, listed when first needed."""
        if self._files is None:
            self._files = event_files_by_day(self.layout)
        return self._files

    def table(self, lo: datetime, hi: datetime) -> ibis.Table:
        """The session rows from ``lo`` to ``hi`` (both included)."""
        day, last = lo.astimezone(UTC).date(), hi.astimezone(UTC).date()
        days = []
        while day <= last:
            if day.isoformat() in self.files:
                days.append(day.isoformat())
            day += timedelta(days=1)
        parts = {d: self._kept(d) for d in days}
        missing = [d for d, t in parts.items() if t is None]
        if missing:  # one scan over the days not kept (usually the new day, or all of them)
            parts.update(self._extract(missing))
        tables = [t for t in parts.values() if t is not None]
        rows = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
        t = ibis.memtable(rows)
        return t.filter(t.ts >= lo, t.ts <= hi)

    def _kept(self, day: str) -> pa.Table | None:
        """The day's rows as kept, if kept for the day's files as they are now."""
        try:
            sig = json.loads((self.root / f"{day}.json").read_text(encoding="utf-8"))
            if sig == self.files[day]:
                return pq.read_table(self.root / f"{day}.parquet", schema=SCHEMA)
        except (OSError, ValueError, pa.ArrowInvalid):
            pass
        return None

    def _extract(self, days: list[str]) -> dict[str, pa.Table]:
        """The days' rows read from the events (one scan from the first to the last), each day
        kept if among the store's latest."""
        start = datetime.fromisoformat(min(days)).replace(tzinfo=UTC)
        end = datetime.fromisoformat(max(days)).replace(tzinfo=UTC) + timedelta(days=1)
        e = self.events()
        got = self.execute(session_rows(e.filter(e.ts >= start, e.ts < end)))
        got = got.select(SCHEMA.names).cast(SCHEMA)
        out = {}
        for day in days:
            d0 = datetime.fromisoformat(day).replace(tzinfo=UTC)
            mask = pc.and_(
                pc.greater_equal(got["ts"], pa.scalar(d0, SCHEMA.field("ts").type)),
                pc.less(got["ts"], pa.scalar(d0 + timedelta(days=1), SCHEMA.field("ts").type)),
            )
            out[day] = got.filter(mask)
            self.extracted += 1
            if day >= self._keep_from():
                path, sig = self.root / f"{day}.parquet", self.root / f"{day}.json"
                atomic_write_parquet(path, out[day], self.tmp, sync=False)
                atomic_write_bytes(sig, json.dumps(self.files[day]).encode(), self.tmp)
        self._prune()
        return out

    def _keep_from(self) -> str:
        latest = date.fromisoformat(max(self.files))
        return (latest - timedelta(days=KEEP_DAYS - 1)).isoformat()

    def _prune(self) -> None:
        """Drop kept days older than the last ``KEEP_DAYS`` of the store."""
        edge = self._keep_from()
        for f in self.root.glob("*.*"):
            if f.stem < edge:
                f.unlink(missing_ok=True)
