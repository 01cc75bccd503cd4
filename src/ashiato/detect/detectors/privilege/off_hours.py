"""Credentials used outside the site's working time (privileged) or on its holidays, first time.

The intrusion this product exists for ran at night in the offices' local time. Admins do work
late, so the signal is novelty: the first day (after the warm-up) on which a privileged account
is used from a site outside that site's working hours (its own time zone and hours from the
inventory; weekends count as off hours) when it never was before from that site. A public
holiday of the site (its country's national calendar from the ``holidays`` package, with the
inventory's ``holidays`` overrides) on a weekday is working time off too, judged on its own: the
first holiday on which an account works from a site, when it never worked one there before, is a
finding even in daytime; an account that worked earlier holidays there is not. With
``holidays_all_accounts`` (the default) every person's account is judged on holidays, when it
reaches at least ``holiday_min_destinations`` hosts that day (off hours stay privileged-only).
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
from ashiato.inventory.calendar import site_holidays

SPEC = DetectorSpec(
    id="privilege.off_hours",
    title="Privileged account used off hours for the first time",
    version="2",
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
            5,
            "Hosts (its own desk included) an unprivileged account must reach on a holiday to "
            "be judged: a working day, not a look at mail.",
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
    # Holidays are a baseline of their own: late evenings say nothing about holidays. Off hours
    # are judged for privileged accounts; holidays, when told, for every person's account.
    t = t.filter(t.privileged | t.holiday.notnull()) if everyone else t
    off = t.filter(t.off).mutate(
        day=lambda r: r.ts.truncate("D"), when=lambda r: r.holiday.notnull()
    )
    first = off.group_by("user", "src_site", "when").aggregate(first_day=off.day.min())
    novel = off.inner_join(
        first,
        [
            off.user == first.user,
            off.src_site == first.src_site,
            off.when == first.when,
            off.day == first.first_day,
        ],
    ).select(off)
    start = warmup_end(ctx.data_start, int(p["warmup_days"]))
    if start is not None:
        novel = novel.filter(novel.day >= start)
    out = novel.group_by("user", "src_site", "day").aggregate(
        first_seen=novel.ts.min(),
        last_seen=novel.ts.max(),
        n=novel.count(),
        tz=novel.src_timezone.max(),
        holiday=novel.holiday.max(),
        privileged=novel.privileged.any(),
        srcs=novel.src_asset.fill_null(novel.src_host)
        .fill_null(novel.src_ip)
        .collect(distinct=True),
        dsts=novel.dst_asset.fill_null(novel.dst_host).collect(distinct=True),
        roles=novel.dst_role.collect(distinct=True),
        src_ips=novel.src_ip.collect(distinct=True),
        evidence=earliest(novel.event_id, novel.ts, int(p["max_evidence"])),
        n_dsts=novel.dst_asset.fill_null(novel.dst_host).nunique(),
    )
    # A person on a holiday: a short look at mail is common; a day's work across servers is not.
    return out.filter(out.privileged | (out.n_dsts >= int(p["holiday_min_destinations"])))


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
    reason = (
        f"{user} was used from {site} ({short_list(srcs)}) {when}, at "
        f"{local_time(row['first_seen'], tz)}{' (night)' if night else ''}, for the first time "
        f"{first} from that site: {row['n']} event(s) reaching "
        f"{short_list(dsts) or 'unknown hosts'}."
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
        actors=(user, *vals(row, "src_ips")),
        details={"local_hour": local_hour, "night": night, "holiday": holiday},
    )
