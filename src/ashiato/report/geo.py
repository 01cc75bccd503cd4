"""Rough map positions for sites: a small fixed table of country centres, sites spread around them.

The site-to-site map only needs offices to sit roughly where they are (Tokyo north-east of Manila,
Jakarta in the south), not a real basemap; no tiles, no network, no geodata package.
"""

from __future__ import annotations

import math

#: Approximate (longitude, latitude) of each country's main business centre, by ISO 3166 alpha-2.
COUNTRY_CENTRES: dict[str, tuple[float, float]] = {
    "JP": (137.0, 35.5),
    "TH": (100.5, 13.8),
    "ID": (106.8, -6.2),
    "PH": (121.0, 14.6),
    "VN": (106.0, 16.0),
    "MY": (101.7, 3.1),
    "SG": (103.8, 1.35),
    "CN": (116.4, 39.9),
    "HK": (114.2, 22.3),
    "TW": (121.5, 25.0),
    "KR": (127.0, 37.5),
    "IN": (77.2, 28.6),
    "AU": (151.2, -33.9),
    "US": (-98.0, 39.0),
    "GB": (-0.1, 51.5),
    "DE": (10.0, 51.0),
    "FR": (2.35, 48.9),
    "NL": (4.9, 52.4),
}

#: Cities the simulated estate uses, by a fragment of the site name (more precise than the centre).
SITE_HINTS: dict[str, tuple[float, float]] = {
    "TKY": (139.7, 35.7),
    "OSA": (135.5, 34.7),
    "NGY": (136.9, 35.2),
    "BKK": (100.5, 13.8),
    "RYG": (101.3, 12.7),
    "JKT": (106.8, -6.2),
    "MNL": (121.0, 14.6),
    "HAN": (105.8, 21.0),
    "HCM": (106.7, 10.8),
}


def site_positions(sites: dict[str, str], min_gap: float = 0.18) -> dict[str, tuple[float, float]]:
    """(longitude, latitude) for each site name, given site name -> country code.

    A site whose name holds a known city code sits on that city; otherwise on its country's
    centre, and several sites of one country are spread on a small circle so they do not overlap.
    Unknown countries go on a row below the map. Sites closer than ``min_gap`` times the map's
    extent (Tokyo and Osaka) are pushed apart so their markers and labels stay readable.
    """
    out: dict[str, tuple[float, float]] = {}
    by_country: dict[str, list[str]] = {}
    for name in sorted(sites):
        hint = next((v for k, v in SITE_HINTS.items() if k in name.upper()), None)
        if hint is not None:
            out[name] = hint
        else:
            by_country.setdefault(sites[name].upper(), []).append(name)
    unknown = 0
    for country, names in sorted(by_country.items()):
        centre = COUNTRY_CENTRES.get(country)
        if centre is None:
            for n in names:
                out[n] = (100.0 + 6.0 * unknown, -15.0)
                unknown += 1
            continue
        for i, n in enumerate(names):
            if len(names) == 1:
                out[n] = centre
            else:
                a = 2 * math.pi * i / len(names)
                out[n] = (centre[0] + 1.5 * math.cos(a), centre[1] + 1.5 * math.sin(a))
    xs = [p[0] for p in out.values()]
    ys = [p[1] for p in out.values()]
    extent = max(max(xs, default=0) - min(xs, default=0), max(ys, default=0) - min(ys, default=0))
    return _spread(out, max(3.0, min_gap * extent))


def _spread(pos: dict[str, tuple[float, float]], gap: float) -> dict[str, tuple[float, float]]:
    """Push points closer than ``gap`` apart along the line joining them, a few rounds."""
    p = {k: [v[0], v[1]] for k, v in pos.items()}
    names = sorted(p)
    for _ in range(60):
        moved = False
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                dx, dy = p[b][0] - p[a][0], p[b][1] - p[a][1]
                d = math.hypot(dx, dy)
                if d >= gap:
                    continue
                if d == 0:
                    dx, dy, d = 1.0, -1.0, math.sqrt(2)
                push = (gap - d) / 2 / d
                p[a][0] -= dx * push
                p[a][1] -= dy * push
                p[b][0] += dx * push
                p[b][1] += dy * push
                moved = True
        if not moved:
            break
    return {k: (v[0], v[1]) for k, v in p.items()}
