"""Each site's public holidays: its country's national calendar, with the inventory's overrides.

Working time is local: a weekday that is a public holiday where a site is counts as time off
there. The national calendar comes from the ``holidays`` package (by the site's ``country``);
the inventory's ``holidays`` entries add local holidays or take out national ones the site
works on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import holidays as holidays_pkg

from ashiato.inventory.model import Inventory


def site_holidays(inventory: Inventory, years: Iterable[int]) -> dict[str, dict[dt.date, str]]:
    """``{site: {day: holiday name}}`` for the given years, overrides applied."""
    wanted = sorted(set(years))
    national: dict[str, dict[dt.date, str]] = {}
    out: dict[str, dict[dt.date, str]] = {}
    for site in inventory.sites:
        if site.country not in national:
            try:
                cal = holidays_pkg.country_holidays(site.country, years=wanted) if wanted else {}
            except NotImplementedError:  # a country the package has no calendar for
                cal = {}
            national[site.country] = dict(cal.items())
        out[site.name] = dict(national[site.country])
    for h in inventory.holidays:
        if h.date.year not in wanted or h.site not in out:
            continue
        if h.observed:
            out[h.site][h.date] = h.name or "local holiday"
        else:
            out[h.site].pop(h.date, None)
    return out
