"""Run a simulation: build the enterprise, then generate, sort and write the logs hour by hour.

Memory stays bounded by one hour of events (plus each user's small working set): every UTC hour is
generated, sorted by time, given per-host record ids and written to that UTC day's files before the
next hour starts. Output is byte-identical for the same arguments.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from ashiato.simulate.benign import HOUR, Habits, SiteHour, humans, machines
from ashiato.simulate.campaign import CampaignPlan
from ashiato.simulate.config import Rates
from ashiato.simulate.ecs import CODES, TEMPLATES
from ashiato.simulate.emit import Emitter, Event
from ashiato.simulate.enterprise import build_enterprise, site_offdays
from ashiato.simulate.hardneg import Migration, new_office_day
from ashiato.simulate.inventory_out import write_inventory
from ashiato.simulate.ops import Operations, plan_trips
from ashiato.simulate.rand import Draw, stream
from ashiato.simulate.scenarios import DEFAULT_SCENARIOS, SCENARIOS, resolve
from ashiato.simulate.truth import TruthWriter
from ashiato.simulate.zeek import Flow, format_flows, make_uids, write_footer, write_header

# Random streams (spawn keys) per purpose, so changing one behaviour does not reshuffle another.
_S_BENIGN, _S_TRIPS, _S_RECORDS, _S_UIDS, _S_SCENARIO = 2, 3, 4, 5, 10


_CHUNK = 20_000  # lines formatted before they are written: bounds memory in the morning rush


def _flush(fh: TextIO, lines: list[str]) -> int:
    n = len(lines)
    if n:
        fh.write("\n".join(lines))
        fh.write("\n")
        lines.clear()
    return n


@dataclass(frozen=True)
class SimulationSummary:
    """What a simulation wrote."""

    windows_events: int
    zeek_records: int
    malicious_events: int
    hosts: int
    accounts: int
    files_written: int
    elapsed_seconds: float


def _clocks(
    sites_tz: list[ZoneInfo],
    offdays: list[set[dt.date]],
    t0: dt.datetime,
    h: int,
    online: list[int],
) -> list[SiteHour]:
    now = t0 + dt.timedelta(hours=h)
    out = []
    day_index = h // 24
    for s, tz in enumerate(sites_tz):
        local = now.astimezone(tz)
        day = local.date()
        work = local.weekday() < 5 and day not in offdays[s]
        out.append(SiteHour(local.hour, work, day_index, day_index >= online[s]))
    return out


def simulate(
    out: Path,
    *,
    terminals: int = 1500,
    days: int = 30,
    seed: int = 7,
    start: dt.date = dt.date(2026, 9, 1),
    progress: Callable[[int, int], None] | None = None,
    scenarios: Sequence[str] = DEFAULT_SCENARIOS,
) -> SimulationSummary:
    """Simulate ``terminals`` workstations for ``days`` UTC days from ``start`` into ``out``.

    ``scenarios`` names the attack scenarios to plant (``"all"`` for every registered one); an
    unknown name raises ``ValueError`` listing the known ones. Each scenario draws from its own
    random stream, keyed by its registry position, so it tells the same story alone or with others.
    """
    began = time.perf_counter()
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    chosen = resolve(scenarios)
    out = Path(out)
    e = build_enterprise(terminals, seed)
    offdays = site_offdays(e, start, days)
    e.offdays = offdays
    files = len(write_inventory(e, out / "inventory"))
    rates = Rates()
    online = [0] * len(e.sites)
    online[e.new_site] = new_office_day(days, rates.new_office_online_frac)
    plans: list[CampaignPlan] = []
    order = list(SCENARIOS)
    for i, sid in enumerate(chosen):
        sem = Emitter(e, Draw(stream(seed, _S_SCENARIO + order.index(sid))), rates)
        plans.append(SCENARIOS[sid]().plan(e, sem, days, start, i))
    em = Emitter(e, Draw(stream(seed, _S_BENIGN)), rates)
    exclude = e.domain_admins[0]
    trips = plan_trips(e, Draw(stream(seed, _S_TRIPS)), days, rates.trips_per_30_days, exclude)
    habits = Habits(e, em)
    ops = Operations(e, em, trips)
    migration = Migration(e, em, habits, days, start)
    mal_ev: dict[int, list[Event]] = {}
    mal_fl: dict[int, list[Flow]] = {}
    for p in plans:
        for ev in p.events:
            mal_ev.setdefault(ev[0] // HOUR, []).append(ev)
        for fl in p.flows:
            mal_fl.setdefault(fl[0] // HOUR, []).append(fl)
    rec = (stream(seed, _S_RECORDS).integers(10_000, 2_000_000, size=len(e.hosts))).tolist()
    uid_rng = stream(seed, _S_UIDS)
    fqdn = [h.fqdn for h in e.hosts]
    names = [h.name for h in e.hosts]
    t0 = dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)
    epoch = int(t0.timestamp())
    tzs = [ZoneInfo(s.tz) for s in e.sites]
    n_win = n_zeek = n_mal = 0
    total = days * 24
    win_dir = out / "logs" / "windows"
    zeek_dir = out / "logs" / "zeek"
    win_dir.mkdir(parents=True, exist_ok=True)
    zeek_dir.mkdir(parents=True, exist_ok=True)
    with TruthWriter(out / "ground_truth.jsonl", plans, t0) as truth:
        files += 1
        for day in range(days):
            date = start + dt.timedelta(days=day)
            wpath = win_dir / f"security-{date:%Y-%m-%d}.jsonl"
            zpath = zeek_dir / f"conn.{date:%Y-%m-%d}.log"
            with (
                wpath.open("w", encoding="utf-8", newline="\n") as wf,
                zpath.open("w", encoding="utf-8", newline="\n") as zf,
            ):
                files += 2
                write_header(zf, date)
                # a travelling admin's desk is empty from the flight (the UTC day before the trip,
                # which holds Japan's morning of its first day) to the trip's last day
                away = frozenset(
                    e.admin_of[x.admin] for x in trips if x.first_day - 1 <= day <= x.last_day
                )
                for hh in range(24):
                    h = day * 24 + hh
                    h0 = h * HOUR
                    em.reset()
                    clocks = _clocks(tzs, offdays, t0, h, online)
                    for s in range(len(e.sites)):
                        humans(em, habits, h0, s, clocks[s], away)
                        machines(em, h0, s, clocks[s])
                    ops.hour(h, clocks)
                    migration.hour(h, clocks)
                    events = em.events + mal_ev.pop(h, [])
                    flows = em.flows + mal_fl.pop(h, [])
                    lo, hi = h0, h0 + HOUR - 1
                    events.sort(key=lambda ev: min(max(ev[0], lo), hi))
                    flows.sort(key=lambda fl: min(max(fl[0], lo), hi))
                    prefix = (t0 + dt.timedelta(hours=h)).strftime("%Y-%m-%dT%H:")
                    lines = []
                    for t, host, tmpl, f, mal in events:
                        off = (min(max(t, lo), hi) - h0) // 1000
                        m, ms = divmod(off, 60000)
                        sec, ms = divmod(ms, 1000)
                        ts = f"{prefix}{m:02d}:{sec:02d}.{ms:03d}Z"
                        r = rec[host] + 1
                        rec[host] = r
                        fq = fqdn[host]
                        lines.append(TEMPLATES[tmpl] % ((ts, fq, fq, r, *f)))
                        if mal >= 0:
                            truth.windows(plans[mal].id, names[host], r, ts, CODES[tmpl])
                            n_mal += 1
                        if len(lines) >= _CHUNK:
                            n_win += _flush(wf, lines)
                    n_win += _flush(wf, lines)
                    del events
                    clamped: list[Flow] = [
                        fl if lo <= fl[0] <= hi else (min(max(fl[0], lo), hi), *fl[1:])
                        for fl in flows
                    ]
                    uids = make_uids(uid_rng, len(clamped))
                    zlines = format_flows(clamped, uids, epoch)
                    for fl, uid in zip(clamped, uids, strict=True):
                        if fl[15] >= 0:
                            truth.zeek(plans[fl[15]].id, uid, epoch * 1_000_000 + fl[0])
                            n_mal += 1
                    if zlines:
                        zf.write("\n".join(zlines))
                        zf.write("\n")
                    n_zeek += len(zlines)
                    if progress is not None:
                        progress(h + 1, total)
                write_footer(zf, date)
    return SimulationSummary(
        windows_events=n_win,
        zeek_records=n_zeek,
        malicious_events=n_mal,
        hosts=len(e.hosts),
        accounts=len(e.users),
        files_written=files,
        elapsed_seconds=round(time.perf_counter() - began, 3),
    )
