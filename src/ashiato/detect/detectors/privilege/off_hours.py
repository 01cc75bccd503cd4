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
joined back as a small table, so the engine query stays portable.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import pyarrow as pa

from ashiato.detect.bursts import warmup_end
from ashiato.detect.common import CREDENTIAL_KINDS, earliest, local_time, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.events import EventKind
from ashiato.inventory.calendar import site_holidays

SPEC = DetectorSpec(
    id="privilege.off_hours",
    title="Privileged account used off hours for the first time",
    version="5",
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
)


def _off_hours_table(ctx: DetectionContext, hours: pa.Table) -> pa.Table:
    """Per (site, UTC hour): off working time or not, and the site's holiday that day if any."""
    inv = ctx.inventory
    assert inv is not None
    sites = {s.name: s for s in inv.sites}
    utc_hours: list[datetime] = hours["hour"].to_pylist()
    years = {y for h in utc_hours for y in (h.year - 1, h.year, h.year + 1)}
    calendar = site_holidays(inv, years)
    off: list[bool] = []
    holiday: list[str | None] = []
    for site, hour in zip(hours["src_site"].to_pylist(), utc_hours, strict=True):
        s = sites.get(site)
        if s is None:
            off.append(False)
            holiday.append(None)
            continue
        local: datetime = hour.astimezone(ZoneInfo(s.timezone))
        start, end = s.working_hours
        name = calendar[site].get(local.date()) if local.weekday() < 5 else None
        off.append(name is not None or local.weekday() >= 5 or not start <= local.hour < end)
        holiday.append(name)
    return hours.append_column("off", pa.array(off, pa.bool_())).append_column(
        "holiday", pa.array(holiday, pa.string())
    )


def query(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    p = ctx.params
    everyone = bool(p["holidays_all_accounts"])
    t = e.filter(
        e.kind.isin([k.value for k in CREDENTIAL_KINDS]),
        e.outcome != "failure",
        e.privileged | ibis.literal(everyone),
        e.account_kind.fill_null("human") != "service",  # their jobs run at night by design
        ~e.user.endswith("$"),
        e.src_site.notnull(),
    ).mutate(hour=lambda r: r.ts.truncate("h"))
    hours = ctx.execute(t.select("src_site", "hour").distinct())
    flags = ibis.memtable(_off_hours_table(ctx, hours))
    t = t.inner_join(flags, [t.src_site == flags.src_site, t.hour == flags.hour]).select(
        t, flags.off, flags.holiday
    )
    t = t.mutate(day=lambda r: r.ts.truncate("D"))
    # Holidays are a baseline of their own: late evenings say nothing about holidays. Off hours
    # are judged for privileged accounts; holidays, when told, for every person's account, on
    # the days it does a day's work: as many hosts as on its own typical working day.
    # Hosts reached: logons and share access, not the domain controllers every logon touches.
    reached = t.kind.isin([EventKind.LOGON.value, EventKind.SHARE_ACCESS.value]) & (
        t.dst_role.fill_null("") != "domain-controller"
    )
    t = t.mutate(reached=ibis.ifelse(reached, t.dst_asset.fill_null(t.dst_host), ibis.null(str)))
    daily = t.filter(~t.off).group_by("user", "day").aggregate(nd=t.reached.nunique())
    typical = daily.group_by("user").aggregate(typical=daily.nd.median())
    hol = t.filter(t.holiday.notnull())
    hol_days = hol.group_by("user", "src_site", "day").aggregate(nd=hol.reached.nunique())
    hol_days = hol_days.left_join(typical, hol_days.user == typical.user).select(
        hol_days, typical.typical
    )
    floor = int(p["holiday_min_destinations"])
    worked = hol_days.filter(
        (hol_days.nd >= floor) & (hol_days.nd >= hol_days.typical.fill_null(floor))
    ).select(w_user="user", w_site="src_site", w_day="day", w_worked=ibis.literal(True))
    t = t.left_join(
        worked, [t.user == worked.w_user, t.src_site == worked.w_site, t.day == worked.w_day]
    ).select(t, worked.w_worked)
    keep = t.privileged | t.w_worked.fill_null(False)
    t = t.filter(keep if everyone else t.privileged)
    off = t.filter(t.off).mutate(when=lambda r: r.holiday.notnull())
    first = off.group_by("user", "src_site", "when").aggregate(first_day=off.day.min())
    # Holidays come in runs (Golden Week, Songkran, Lebaran, Japan's Silver Week): the days
    # worked in the run that holds the first one are part of the same novelty, each its own
    # finding, so that what the account reached on the second day is named too.
    stretch = ibis.interval(days=int(p["holiday_stretch_days"]))
    novel = off.inner_join(
        first,
        [
            off.user == first.user,
            off.src_site == first.src_site,
            off.when == first.when,
            (off.day == first.first_day)
            | (off.when & (off.day > first.first_day) & (off.day <= first.first_day + stretch)),
        ],
    ).select(off, first.first_day)
    start = warmup_end(ctx.data_start, int(p["warmup_days"]))
    if start is not None:
        novel = novel.filter(novel.day >= start)
    return novel.group_by("user", "src_site", "day").aggregate(
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
