"""Ground truth: one header line per planted campaign, then one line per malicious record written.

A scenario that could not be planted (say, no public holiday in the span) leaves one line
``{"type": "skipped", "id", "name", "reason"}`` instead of a header, so the reason is on record.

The events listed are exactly the malicious lines in the logs, keyed the way an analyst would find
them: (recording host, Windows record id) for Security events, the Zeek uid for flows.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import TracebackType
from typing import IO

import orjson

from ashiato.simulate.campaign import CampaignPlan


def iso_us(t0: dt.datetime, t_us: int, *, ms: bool = False) -> str:
    """ISO-8601 UTC for ``t_us`` microseconds after ``t0`` (milliseconds if ``ms``)."""
    when = t0 + dt.timedelta(microseconds=t_us)
    text = when.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text[:-3] if ms else text) + "Z"


class TruthWriter:
    """Writes ``ground_truth.jsonl`` as the simulation goes."""

    def __init__(self, path: Path, plans: list[CampaignPlan], t0: dt.datetime) -> None:
        self.path = path
        self.plans = plans
        self.t0 = t0
        self._fh: IO[bytes] | None = None

    def __enter__(self) -> TruthWriter:
        self._fh = self.path.open("wb")
        for p in self.plans:
            if p.skipped is not None:  # not a campaign: a note that readers of campaigns ignore
                note = {"type": "skipped", "id": p.id, "name": p.name, "reason": p.skipped}
                self._fh.write(orjson.dumps(note) + b"\n")
                continue
            times = [ev[0] for ev in p.events] + [fl[0] for fl in p.flows]
            header = {
                "type": "campaign",
                "id": p.id,
                "name": p.name,
                "description": p.description,
                "accounts": p.accounts,
                "src_hosts": p.src_hosts,
                "dst_hosts": p.dst_hosts,
                "hosts": p.hosts,
                "sites": p.sites,
                "start": iso_us(self.t0, min(times), ms=True) if times else None,
                "end": iso_us(self.t0, max(times)) if times else None,
                "techniques": p.techniques,
            }
            self._fh.write(orjson.dumps(header) + b"\n")
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fh is not None:
            self._fh.close()

    def _write(self, obj: dict[str, object]) -> None:
        assert self._fh is not None
        self._fh.write(orjson.dumps(obj) + b"\n")

    def windows(self, campaign: str, log_host: str, record_id: int, ts: str, code: int) -> None:
        """One malicious Windows event."""
        self._write(
            {
                "type": "event",
                "campaign": campaign,
                "source": "windows",
                "log_host": log_host,
                "record_id": str(record_id),
                "ts": ts,
                "event_code": code,
            }
        )

    def zeek(self, campaign: str, uid: str, t_us: int) -> None:
        """One malicious conn.log record; ``t_us`` is microseconds since the Unix epoch."""
        ts = iso_us(dt.datetime(1970, 1, 1, tzinfo=dt.UTC), t_us)
        self._write(
            {
                "type": "event",
                "campaign": campaign,
                "source": "zeek",
                "log_host": None,
                "record_id": uid,
                "ts": ts,
                "event_code": None,
            }
        )
