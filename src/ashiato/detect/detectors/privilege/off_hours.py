"""Credentials used outside the site's working time (privileged) or on its holidays, first time.

The intrusion this product exists for ran at night in the offices' local time. Admins do work
late, so the signal is novelty: the first day (after the warm-up) on which a privileged account
is used from a site outside that site's working hours (its own time zone and hours from the
inventory; weekends count as off hours) when it never was before from that site. A public
holiday of the site (its country's national calendar from the ``holidays`` package, with the
inventory's ``holidays`` overrides) on a weekday is working time off too, judged on its own: the
first holiday on which an account works from a site, when it never worked one there before, is a
finding even in daytime, and so are the days it works in the same run of holidays (within
``holiday_stretch_days``); an account that worked earlier holidays there is not. With
``holidays_all_accounts`` (the default) every person's account is judged on holidays, on the
days it does a day's work: it reaches (logons, share access; domain controllers aside) at least
as many hosts as on its own typical working day
(the median over its working days) and at least ``holiday_min_destinations``. A short look at
mail on a holiday is common; a full day's work is not, and what "full" means is the account's
own. Off hours stay privileged-only.
Service and machine accounts are left out: their jobs run at night by design. Local time and the
calendar are worked out in Python over the few distinct (site, hour) pairs, not per event, and
joined back as small tables, so the engine query stays portable.

Judged in slices of days against its state, each day as if alone (it knows the state and the
slice's earlier days): the first day each account was used off hours and on a holiday from each
site (``first_off``) and, per account, how many working days it reached how many hosts
(``workdays``: the histogram its typical day, the median, is read from, over its days up to the
judged one). Local time and holidays come from small tables the engine
joins (each site's UTC offsets between clock changes, and its holidays from the year before the
data begins to 20 years after), so that one compiled query serves every day.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import pyarrow as pa

from ashiato.detect.bursts import warmup_end
from ashiato.detect.common import CREDENTIAL_KINDS, earliest, local_time, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.detect.state import StateTable
from ashiato.events import EventKind
from ashiato.inventory.calendar import site_holidays

SPEC = DetectorSpec(
    id="privilege.off_hours",
    title="Privileged account used off hours for the first time",
    version="7",
    severity="medium",
    techniques=("T1078.002",),
    needs=CREDENTIAL_KINDS,
    requires_inventory=True,
    description=(
        "A privileged account is used from a site outside that site's local working hours, "
        "or on one of the site's public holidays, which it never was before from that site."
    ),
    params=(
        Param("warmup_days", 7, "Initial days that only build the baseline."),
        Param(
            "holidays_all_accounts",
            True,
            "Judge work on a site's public holidays for every human account, not only "
            "privileged ones (off hours stay privileged-only).",
        ),
        Param(
            "holiday_min_destinations",
            2,
            "Hosts (its own desk included) an unprivileged account must reach on a holiday, at "
            "least, to be judged; it must also reach as many as on its own typical working day "
            "(the median): a working day, not a look at mail.",
        ),
        Param(
            "holiday_stretch_days",
            4,
            "Holidays worked within this many days after an account's first worked holiday "
            "from a site are judged with it (a run of holidays is one break).",
        ),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    state=(
        StateTable(
            "first_off",
            keys={"f_user": "string", "f_site": "string", "f_when": "boolean"},
            values={"first_day": "timestamp('UTC', 6)"},
            combine={"first_day": "min"},
            description=(
                "The first day each account was used off hours (f_when false) or on a holiday "
                "(true) from each site, as judged."
            ),
        ),
        StateTable(
            "workdays",
            keys={"w_user": "string", "nd": "int64"},
            values={"days": "int64"},
            combine={"days": "sum"},
            description="Per account, how many working days it reached ``nd`` hosts.",
        ),
    ),
    multi_day=True,
)

_YEARS = 20
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _local_tables(ctx: DetectionContext) -> tuple[pa.Table, pa.Table]:
    """Each site's UTC offsets (one row per stretch between clock changes, with its working
    hours) and its public holidays, for the engine to work local time out per event.

    Holidays are those of the year before the data begins to ``_YEARS`` years after; the
    clock changes are worked out over the same years (beyond them the last offset holds)."""
    inv = ctx.inventory
    assert inv is not None
    first = ctx.data_start.year if ctx.data_start is not None else 2000
    years = range(first - 1, first + _YEARS + 1)
    with warnings.catch_warnings():  # some calendars cover fewer years: those are unknown
        warnings.simplefilter("ignore")
        calendar = site_holidays(inv, years)
    lo = datetime(years[0], 1, 1, tzinfo=UTC)
    hi = datetime(years[-1] + 1, 1, 1, tzinfo=UTC)
    zones: dict[str, list[tuple[datetime, datetime, int]]] = {}
    offsets: dict[str, list[Any]] = {
        k: [] for k in ("o_site", "o_from", "o_to", "o_secs", "o_start", "o_end")
    }
    for s in inv.sites:
        if s.timezone not in zones:
            zones[s.timezone] = _stretches(ZoneInfo(s.timezone), lo, hi)
        for start, end, secs in zones[s.timezone]:
            offsets["o_site"].append(s.name)
            offsets["o_from"].append(start)
            offsets["o_to"].append(end)
            offsets["o_secs"].append(secs)
            offsets["o_start"].append(s.working_hours[0])
            offsets["o_end"].append(s.working_hours[1])
    ts = pa.timestamp("us", tz="UTC")
    off = pa.table(
        {
            "o_site": pa.array(offsets["o_site"], pa.string()),
            "o_from": pa.array(offsets["o_from"], ts),
            "o_to": pa.array(offsets["o_to"], ts),
            "o_secs": pa.array(offsets["o_secs"], pa.int64()),
            "o_start": pa.array(offsets["o_start"], pa.int64()),
            "o_end": pa.array(offsets["o_end"], pa.int64()),
        }
    )
    days = [(site, d, name) for site, cal in calendar.items() for d, name in sorted(cal.items())]
    hol = pa.table(
        {
            "h_site": pa.array([x[0] for x in days], pa.string()),
            "h_date": pa.array([x[1] for x in days], pa.date32()),
            "h_name": pa.array([x[2] for x in days], pa.string()),
        }
    )
    return off, hol


def _stretches(zone: ZoneInfo, lo: datetime, hi: datetime) -> list[tuple[datetime, datetime, int]]:
    """``zone``'s UTC offset (seconds) per stretch between its clock changes from ``lo`` to
    ``hi``; the first and last stretches reach out to the ends of time."""

    def secs(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    changes: list[tuple[datetime, int]] = [(_EARLIEST, secs(lo))]
    day = lo
    while day < hi:
        nxt = day + timedelta(days=1)
        if secs(nxt) != secs(day):  # the change lies in (day, nxt]: find its minute
            a, b = day, nxt
            while b - a > timedelta(minutes=1):
                mid = a + (b - a) / 2
                mid = mid.replace(second=0, microsecond=0)
                if mid <= a:
                    mid = a + timedelta(minutes=1)
                if secs(mid) == secs(a):
                    a = mid
                else:
                    b = mid
            changes.append((b, secs(b)))
        day = nxt
    ends = [at for at, _ in changes[1:]] + [_LATEST]
    return [(at, end, s) for (at, s), end in zip(changes, ends, strict=True)]


def _flagged(ctx: DetectionContext, t: ibis.Table) -> ibis.Table:
    """``t`` with ``off`` (outside its source site's working time) and ``holiday`` (the site's
    public holiday on a weekday), from the local time of the event's UTC hour."""
    off_t, hol_t = _local_tables(ctx)
    offs, hols = ibis.memtable(off_t), ibis.memtable(hol_t)
    t = t.mutate(hour=t.ts.truncate("h"))
    t = t.left_join(
        offs, [t.src_site == offs.o_site, t.hour >= offs.o_from, t.hour < offs.o_to]
    ).drop("o_site", "o_from", "o_to")
    local = t.hour + t.o_secs.as_interval("s")
    t = t.mutate(l_hour=local.hour(), l_wday=local.day_of_week.index(), l_date=local.date())
    t = t.left_join(hols, [t.src_site == hols.h_site, t.l_date == hols.h_date]).drop(
        "h_site", "h_date"
    )
    holiday = ibis.ifelse(t.l_wday < 5, t.h_name, ibis.null(str))
    off = holiday.notnull() | (t.l_wday >= 5) | ~((t.o_start <= t.l_hour) & (t.l_hour < t.o_end))
    t = t.mutate(
        off=t.o_secs.notnull() & off,
        holiday=ibis.ifelse(t.o_secs.notnull(), holiday, ibis.null(str)),
    )
    return t.drop("o_secs", "o_start", "o_end", "l_hour", "l_wday", "l_date", "h_name")


def _judged(ctx: DetectionContext) -> ibis.Table:
    """The slice's credential uses of the accounts judged, flagged off hours / holiday."""
    e = ctx.events
    everyone = bool(ctx.params["holidays_all_accounts"])
    t = e.filter(
        e.kind.isin([k.value for k in CREDENTIAL_KINDS]),
        e.outcome != "failure",
        e.privileged | ibis.literal(everyone),
        e.account_kind.fill_null("human") != "service",  # their jobs run at night by design
        ~e.user.endswith("$"),
        e.src_site.notnull(),
    )
    t = _flagged(ctx, t).mutate(day=lambda r: r.ts.truncate("D"))
    # Hosts reached: logons and share access, not the domain controllers every logon touches.
    reached = t.kind.isin([EventKind.LOGON.value, EventKind.SHARE_ACCESS.value]) & (
        t.dst_role.fill_null("") != "domain-controller"
    )
    return t.mutate(reached=ibis.ifelse(reached, t.dst_asset.fill_null(t.dst_host), ibis.null(str)))


def _workday(t: ibis.Table) -> ibis.Table:
    """Hosts each account reached in each day's working time (its day in the histogram)."""
    w = t.filter(~t.off)
    return w.group_by(w_user=w.user, w_day=w.day).aggregate(nd=w.reached.nunique().cast("int64"))


def _typical(ctx: DetectionContext, t: ibis.Table, keys: ibis.Table) -> ibis.Table:
    """Each account's typical working day on each of ``keys``' days (k_user, k_day): the median
    of the hosts it reached per working day, over its days up to that one (the state's and the
    slice's), from the histogram of days per count."""
    state = ctx.state["workdays"]
    days = _workday(t)
    mine = keys.inner_join(days, [keys.k_user == days.w_user, days.w_day <= keys.k_day]).select(
        "k_user", "k_day", nd=days.nd, days=ibis.literal(1, "int64")
    )
    past = keys.inner_join(state, keys.k_user == state.w_user).select(
        "k_user", "k_day", nd=state.nd, days=state.days.cast("int64")
    )
    h = mine.union(past)
    h = h.group_by("k_user", "k_day", "nd").aggregate(days=h.days.sum())
    cum = ibis.cumulative_window(group_by=[h.k_user, h.k_day], order_by=h.nd)
    h = h.mutate(cum=h.days.sum().over(cum), total=h.days.sum().over(group_by=[h.k_user, h.k_day]))
    # the middle day(s): one for an odd count, the mean of two for an even one
    low, high = (h.total + 1) // 2, h.total // 2 + 1
    m = h.group_by("k_user", "k_day").aggregate(
        v1=h.nd.min(where=h.cum >= low), v2=h.nd.min(where=h.cum >= high)
    )
    return m.select(t_user=m.k_user, t_day=m.k_day, typical=(m.v1 + m.v2) / 2.0)


def _off(ctx: DetectionContext) -> ibis.Table:
    """The slice's off-hours and holiday uses that are judged (``when``: a holiday)."""
    p = ctx.params
    everyone = bool(p["holidays_all_accounts"])
    t = _judged(ctx)
    # Holidays are a baseline of their own: late evenings say nothing about holidays. Off hours
    # are judged for privileged accounts; holidays, when told, for every person's account, on
    # the days it does a day's work: as many hosts as on its own typical working day.
    hol = t.filter(t.holiday.notnull())
    hol_days = hol.group_by("user", "src_site", "day").aggregate(nd=hol.reached.nunique())
    keys = hol_days.select(k_user=hol_days.user, k_day=hol_days.day).distinct()
    typical = _typical(ctx, t, keys)
    hol_days = hol_days.left_join(
        typical, [hol_days.user == typical.t_user, hol_days.day == typical.t_day]
    ).select(hol_days, typical.typical)
    floor = int(p["holiday_min_destinations"])
    worked = hol_days.filter(
        (hol_days.nd >= floor) & (hol_days.nd >= hol_days.typical.fill_null(floor))
    ).select(w_user="user", w_site="src_site", w_day="day", w_worked=ibis.literal(True))
    t = t.left_join(
        worked, [t.user == worked.w_user, t.src_site == worked.w_site, t.day == worked.w_day]
    ).select(t, worked.w_worked)
    keep = t.privileged | t.w_worked.fill_null(False)
    t = t.filter(keep if everyone else t.privileged)
    return t.filter(t.off).mutate(when=lambda r: r.holiday.notnull())


def query(ctx: DetectionContext) -> ibis.Table:
    p = ctx.params
    off = _off(ctx)
    # Holidays come in runs (Golden Week, Songkran, Lebaran, Japan's Silver Week): the days
    # worked in the run that holds the first one are part of the same novelty, each its own
    # finding, so that what the account reached on the second day is named too.
    stretch = ibis.interval(days=int(p["holiday_stretch_days"]))
    first = ctx.state["first_off"]
    first = first.mutate(first_day=first.first_day.cast(off.day.type()))
    # each day knows the state and the slice's earlier days: the first of the slice's days, if
    # earlier than its own, when the state has none
    off = off.mutate(s_first=off.day.min().over(group_by=[off.user, off.src_site, off.when]))
    off = off.left_join(
        first,
        [off.user == first.f_user, off.src_site == first.f_site, off.when == first.f_when],
    ).select(off, first.first_day)
    off = off.mutate(
        first_day=off.first_day.fill_null(
            ibis.ifelse(off.s_first < off.day, off.s_first, ibis.null(off.day.type()))
        )
    )
    novel = off.filter(
        off.first_day.isnull() | (off.when & (off.day <= off.first_day + stretch))
    ).mutate(first_day=lambda r: r.first_day.fill_null(r.day))
    start = warmup_end(ctx, int(p["warmup_days"]))
    if start is not None:
        novel = novel.filter(novel.day >= start)
    out = novel.group_by("user", "src_site", "day").aggregate(
        first_seen=novel.ts.min(),
        last_seen=novel.ts.max(),
        n=novel.count(),
        tz=novel.src_timezone.max(),
        holiday=novel.holiday.max(),
        first_day=novel.first_day.min(),
        privileged=novel.privileged.any(),
        srcs=novel.src_asset.fill_null(novel.src_host)
        .fill_null(novel.src_ip)
        .collect(distinct=True),
        dsts=novel.dst_asset.fill_null(novel.dst_host).collect(distinct=True),
        roles=novel.dst_role.collect(distinct=True),
        src_ips=novel.src_ip.collect(distinct=True),
        evidence=earliest(novel.event_id, novel.ts, int(p["max_evidence"])),
    )
    return out.mutate(part_day=out.day)


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    off = _off(ctx)
    days = _workday(_judged(ctx))
    return {
        "workdays": days.group_by("w_user", "nd").aggregate(days=days.count().cast("int64")),
        "first_off": off.group_by(f_user=off.user, f_site=off.src_site, f_when=off.when).aggregate(
            first_day=off.day.min()
        ),
    }


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    user, site = row["user"], row["src_site"]
    tz = row["tz"]
    local_hour = row["first_seen"].astimezone(ZoneInfo(tz)).hour if tz else None
    night = local_hour is not None and (local_hour >= 22 or local_hour < 5)
    sensitive = {"file-server", "database", "domain-controller"} & set(vals(row, "roles"))
    base = 55.0 if row["privileged"] else 45.0  # an unprivileged account: on a holiday only
    score = base + (15 if sensitive else 0) + (10 if night else 0)
    dsts, srcs = vals(row, "dsts"), vals(row, "srcs")
    holiday = row.get("holiday")
    when = (
        f"on {site}'s public holiday ({holiday})" if holiday else f"outside {site}'s working hours"
    )
    first = "on a holiday" if holiday else "off hours"
    again = row["first_day"] < row["day"]
    novelty = (
        f"in the same run of holidays as its first holiday worked from that site "
        f"({row['first_day'].date().isoformat()})"
        if again
        else f"for the first time {first} from that site"
    )
    reason = (
        f"{user} was used from {site} ({short_list(srcs)}) {when}, at "
        f"{local_time(row['first_seen'], tz)}{' (night)' if night else ''}, {novelty}: "
        f"{row['n']} event(s) reaching {short_list(dsts) or 'unknown hosts'}."
    )
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{user} used {'on a holiday' if holiday else 'off hours'} from {site}",
        severity="high" if score >= 75 else SPEC.severity,
        score=score,
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=(user,),
        hosts=tuple(sorted({*srcs, *dsts})),
        sites=(site,),
        ips=tuple(vals(row, "src_ips")),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=int(row["n"]),
        key=f"{user}|{site}|{row['day'].date().isoformat()}",
        actors=(user, *srcs, *vals(row, "src_ips")),  # the keyboards it was used from
        details={"local_hour": local_hour, "night": night, "holiday": holiday},
    )
