"""What an investigation answers, as plain dataclasses that serialise to JSON and render in Rich.

Every answer carries its evidence (event ids) so that an analyst, the report and the notification
letters can point at the log records behind each claim.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from ashiato.quote.term import markup, text


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_jsonable(x) for x in v]
    return v


def _ts(v: datetime | None) -> str:
    return v.strftime("%Y-%m-%d %H:%M UTC") if v else "-"


@dataclass(frozen=True)
class Hop:
    """One credential use from one host to another: a step on an intruder's path."""

    ts: datetime
    account: str
    src: str
    dst: str
    event_id: str
    kind: str


@dataclass(frozen=True)
class Seeds:
    """Where an investigation starts: accounts, the hosts they were misused from, a time span."""

    kind: str
    id: str
    accounts: list[str]
    hosts: list[str]
    start: datetime
    end: datetime
    finding_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReachedAccount:
    account: str
    first_seen: datetime | None
    via: str | None  # host it was first used from in the campaign
    seed: bool


@dataclass(frozen=True)
class ReachedHost:
    """A host in the blast radius, the path that reached it and what was touched there."""

    host: str
    site: str | None
    role: str | None
    seed: bool  # a host the intruder worked from
    routine_only: bool  # reached only by edges the owner already used before the campaign
    first_reached: datetime | None
    path: list[Hop]
    accounts: list[str]
    events: int
    routine_events: int
    shares: dict[str, list[str]]  # share name -> object paths
    database: bool


@dataclass(frozen=True)
class Scope:
    seeds: Seeds
    hosts: list[ReachedHost]
    accounts: list[ReachedAccount]
    edge_event_ids: list[str]
    routine_event_ids: list[str]

    @property
    def touched_hosts(self) -> list[str]:
        """Hosts the intruder worked from or reached, routine-only ones left out."""
        return [h.host for h in self.hosts if not h.routine_only]


@dataclass(frozen=True)
class DataAccess:
    """One customer's data store that the intruder touched, with the evidence."""

    customer: str
    customer_name: str
    data_store: str
    host: str
    data_categories: list[str]
    first_access: datetime
    last_access: datetime
    event_ids: list[str]


@dataclass(frozen=True)
class ChannelCoverage:
    """Which days one log channel has data for one host, and its holes."""

    host: str
    site: str | None
    channel: str
    first_day: str
    last_day: str
    days: int
    missing_days: list[str]


@dataclass(frozen=True)
class Hole:
    """A suspicious hole in the logs: cleared, record numbers skipped, or a host gone silent."""

    host: str
    kind: str  # "cleared" | "record_gap" | "silent"
    start: datetime | None
    end: datetime | None
    detail: str
    event_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Coverage:
    channels: list[ChannelCoverage]
    sites: dict[str, dict[str, list[str]]]  # site -> channel -> days with data
    holes: list[Hole]
    data_start: datetime | None
    data_end: datetime | None

    def days_with(self, host: str, channel_prefix: str) -> set[str]:
        """ISO days on which ``host`` has data from channels starting with ``channel_prefix``."""
        out: set[str] = set()
        for c in self.channels:
            if c.host == host and c.channel.startswith(channel_prefix):
                every = _days_from(c.first_day, c.last_day)
                out |= set(every) - set(c.missing_days)
        return out


def _days_from(first: str, last: str) -> list[str]:
    d, stop = date.fromisoformat(first), date.fromisoformat(last)
    out = []
    while d <= stop:
        out.append(d.isoformat())
        d += timedelta(days=1)
    return out


@dataclass(frozen=True)
class HostExfil:
    host: str
    verdict: str  # "evidence of exfiltration" | "no evidence" | "unknown"
    bytes_out: int  # to external networks during the campaign
    baseline_daily: float  # the host's own median daily external bytes before the campaign
    peer_daily: float  # median over peers (same site and role) of their daily maximum
    destinations: list[str]
    reason: str
    event_ids: list[str]


@dataclass(frozen=True)
class Exfiltration:
    verdict: str
    hosts: list[HostExfil]


@dataclass(frozen=True)
class Onset:
    earliest: datetime | None
    confidence: str  # "high" (a finding covers it) | "medium" (matching events only) | "none"
    coverage_start: datetime | None  # earliest data for the hosts involved: onset cannot predate
    event_ids: list[str]
    reason: str


@dataclass(frozen=True)
class Session:
    """The activity from one source host by one pair of hands: what clustering works on."""

    src: str
    site: str | None
    accounts: list[str]
    first: datetime
    last: datetime
    events: int
    logon_types: list[int]
    auth_packages: list[str]
    hours: list[int]  # 24-bin UTC hour histogram
    targets: list[str]
    host: str = ""  # the source host (``src`` also names the accounts when the host is shared)


@dataclass(frozen=True)
class Campaign:
    sessions: list[str]
    sites: list[str]
    accounts: list[str]
    first: datetime
    last: datetime


@dataclass(frozen=True)
class Actors:
    campaigns: list[Campaign]
    sessions: list[Session]
    merges: list[str]  # why sessions were put together
    splits: list[str]  # why campaigns stay apart


@dataclass
class Investigation:
    """Everything known about one incident, account, host or site, with the evidence."""

    seeds: Seeds
    scope: Scope
    timeline: pa.Table | None = None  # see timeline.TIMELINE
    data: list[DataAccess] = field(default_factory=list)
    coverage: Coverage | None = None
    exfiltration: Exfiltration | None = None
    onset: Onset | None = None
    actors: Actors | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the timeline as a list of rows)."""
        out: dict[str, Any] = {}
        for name in ("seeds", "scope", "coverage", "exfiltration", "onset", "actors"):
            v = getattr(self, name)
            out[name] = None if v is None else _jsonable(asdict(v))
        out["data"] = [_jsonable(asdict(d)) for d in self.data]
        out["timeline"] = [] if self.timeline is None else _jsonable(self.timeline.to_pylist())
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Names come from the logs: every value is a term.text cell or term.markup (no markup
        # of its own, control characters shown escaped).
        s = self.seeds
        yield Text.from_markup(
            f"[bold]Investigation of {markup(s.kind)} {markup(s.id)}[/]: accounts "
            f"{markup(', '.join(s.accounts) or '-')} from {markup(', '.join(s.hosts) or '-')}, "
            f"{_ts(s.start)} to {_ts(s.end)}"
        )
        t = Table(title="Scope: hosts reached")
        for col in ("host", "site", "role", "first reached", "path", "shares"):
            t.add_column(col)
        for h in self.scope.hosts:
            path = " → ".join([h.path[0].src, *(p.dst for p in h.path)]) if h.path else "seed"
            t.add_row(
                text(h.host),
                text(h.site or "-"),
                text(h.role or "-"),
                _ts(h.first_reached),
                text("routine only", style="dim") if h.routine_only else text(path),
                text(", ".join(h.shares)),
            )
        yield t
        if self.data:
            d = Table(title="Customers whose data was touched")
            for col in ("customer", "data store", "categories", "first", "last", "events"):
                d.add_column(col)
            for a in self.data:
                d.add_row(
                    text(f"{a.customer} {a.customer_name}"),
                    text(a.data_store),
                    text(", ".join(a.data_categories)),
                    _ts(a.first_access),
                    _ts(a.last_access),
                    str(len(a.event_ids)),
                )
            yield d
        parts: list[Any] = []
        if self.exfiltration is not None:
            parts.append(
                Text.from_markup(f"[bold]Exfiltration:[/] {markup(self.exfiltration.verdict)}")
            )
            for e in self.exfiltration.hosts:
                if e.verdict != "no evidence":
                    parts.append(text(f"  {e.host}: {e.verdict} — {e.reason}"))
        if self.onset is not None:
            o = self.onset
            parts.append(
                Text.from_markup(
                    f"[bold]Onset:[/] {_ts(o.earliest)} ({markup(o.confidence)}; data from "
                    f"{_ts(o.coverage_start)}) — {markup(o.reason)}"
                )
            )
        if self.actors is not None:
            parts.append(
                Text.from_markup(f"[bold]Actors:[/] {len(self.actors.campaigns)} campaign(s)")
            )
            for c in self.actors.campaigns:
                parts.append(
                    text(
                        f"  {', '.join(c.sessions)} ({', '.join(c.sites)}; {', '.join(c.accounts)})"
                    )
                )
        if self.coverage is not None and self.coverage.holes:
            parts.append(Text.from_markup(f"[bold]Log holes:[/] {len(self.coverage.holes)}"))
            for hole in self.coverage.holes[:10]:
                parts.append(text(f"  {hole.host} {hole.kind}: {hole.detail}"))
        yield Group(*parts)
