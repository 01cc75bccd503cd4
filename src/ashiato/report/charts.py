"""The report's charts, drawn with Matplotlib into PNG bytes that the HTML inlines as data URIs.

Each function takes plain data (rows, dicts) and returns a picture: no store, no clock, no global
Matplotlib state (figures are built with the object API on the Agg canvas, never pyplot), so the
same call always draws the same chart and tests can feed it small inputs. Host and site names
reach a chart only through ``quote.chart.label`` (no mathtext, controls escaped, cut short); the
PNG is inlined as a data URI, so no text of the chart is markup in the report.
"""

from __future__ import annotations

import base64
import io
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import matplotlib as mpl
import networkx as nx
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch

from ashiato.investigate.model import Coverage, Scope
from ashiato.quote.chart import label
from ashiato.report.geo import site_positions

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
FINDING_COLOUR = "#d62728"
DPI = 100
MAX_ROWS = 40
"""Most hosts one chart lists; the busiest are kept and the caption says how many were left out."""


@dataclass(frozen=True)
class Chart:
    """One rendered chart: PNG bytes, its pixel size and a caption for the report."""

    png: bytes
    width: int
    height: int
    caption: str

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _render(fig: Figure, caption: str) -> Chart:
    buf = io.BytesIO()
    with mpl.rc_context({"svg.fonttype": "none", "font.family": "DejaVu Sans"}):
        fig.savefig(buf, format="png", dpi=DPI)
    w, h = fig.canvas.get_width_height()
    return Chart(buf.getvalue(), int(w), int(h), caption)


def _colours(keys: Iterable[str | None]) -> dict[str | None, str]:
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(sorted({k or "" for k in keys}))}


def _num(ts: datetime) -> float:
    """A time as Matplotlib's date number (days since its default epoch, 1970-01-01 UTC)."""
    return ts.timestamp() / 86400.0


def _empty(title: str, message: str) -> Chart:
    fig = _figure(9, 1.6)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title, loc="left", fontsize=11)
    ax.text(0.5, 0.4, message, ha="center", va="center", fontsize=10, color="#555555")
    return _render(fig, message)


def timeline_chart(
    rows: Sequence[Mapping[str, Any]],
    host_sites: Mapping[str, str] | None = None,
    seeds: Iterable[str] = (),
) -> Chart:
    """Events over time, one lane per source host (coloured by its site), findings marked.

    ``rows`` are timeline rows (``investigate.timeline.TIMELINE``): findings (kind ``finding``)
    go in a lane of their own at the top and as faint vertical lines across all lanes. An event
    without a source (a privilege grant, a local logon) sits in the lane of the host that logged
    it. ``host_sites`` fills in sites the rows lack; ``seeds`` (the intruder's source computers)
    come first and are starred.
    """
    sites_of = dict(host_sites or {})
    first = set(seeds)
    title = "Timeline: the intruder's events per source host (UTC)"
    events = [r for r in rows if r.get("kind") != "finding" and r.get("ts") is not None]
    findings = [r for r in rows if r.get("kind") == "finding" and r.get("ts") is not None]
    if not events and not findings:
        return _empty(title, "No events in the investigation's span.")
    host_site: dict[str, str | None] = {}
    counts: Counter[str] = Counter()
    for r in events:
        h = str(r.get("src") or r.get("log_host") or "?")
        counts[h] += 1
        if not host_site.get(h):
            host_site[h] = (r.get("src_site") if r.get("src") else None) or sites_of.get(h)
    lanes = sorted(
        (h for h, _ in counts.most_common(MAX_ROWS)),
        key=lambda h: (h not in first, host_site[h] or "~", h),
    )
    colour = _colours(host_site[h] for h in lanes)
    fig = _figure(10, 1.6 + 0.28 * (len(lanes) + 1))
    ax = fig.add_subplot()
    y = {h: i for i, h in enumerate(reversed(lanes))}
    top = len(lanes)
    by_site: dict[str | None, tuple[list[float], list[int]]] = {}
    for r in events:
        h = str(r.get("src") or r.get("log_host") or "?")
        if h not in y:
            continue
        xs, ys = by_site.setdefault(host_site[h] or "", ([], []))
        xs.append(_num(r["ts"]))
        ys.append(y[h])
    for site, (xs, ys) in sorted(by_site.items(), key=lambda kv: kv[0] or ""):
        ax.scatter(xs, ys, s=10, alpha=0.6, color=colour[site], label=label(site or "unknown site"))
    fx = [_num(r["ts"]) for r in findings]
    for x in fx:
        ax.axvline(x, color=FINDING_COLOUR, alpha=0.15, linewidth=0.8)
    if fx:
        ax.scatter(
            fx, [top] * len(fx), marker="D", s=36, color=FINDING_COLOUR, label="finding", zorder=3
        )
    ax.set_yticks(
        [*range(top), top],
        [
            f"{'★ ' if h in first else ''}{label(h)} ({label(host_site[h] or '?')})"
            for h in reversed(lanes)
        ]
        + ["findings"],
    )
    ax.tick_params(axis="y", labelsize=8)
    ax.set_ylim(-0.8, top + 0.8)
    ax.xaxis_date()
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, loc="left", fontsize=11)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    left = len(counts) - len(lanes)
    cap = (
        f"{len(events)} events from {len(counts)} source host(s) and {len(findings)} finding(s)"
        + (f"; the {left} quietest hosts are not drawn" if left > 0 else "")
        + "."
    )
    return _render(fig, cap)


def site_edges(rows: Iterable[Mapping[str, Any]]) -> Counter[tuple[str, str]]:
    """(source site, destination site) -> number of the intrusion's events between them."""
    out: Counter[tuple[str, str]] = Counter()
    for r in rows:
        s, d = r.get("src_site"), r.get("dst_site")
        if r.get("kind") != "finding" and s and d:
            out[(str(s), str(d))] += 1
    return out


def site_map(edges: Mapping[tuple[str, str], int], countries: Mapping[str, str]) -> Chart:
    """Sites placed by rough geography, arrows between them weighted by connection counts.

    ``countries`` maps every known site to its ISO country code; a site's own (intra-site)
    connections are written under its name instead of drawn as a loop.
    """
    title = "Site-to-site map of the intrusion's connections"
    sites = sorted({s for e in edges for s in e})
    if not sites:
        return _empty(title, "No connections between known sites.")
    pos = site_positions({s: countries.get(s, "") for s in sites})
    through: Counter[str] = Counter()
    for (s, d), n in edges.items():
        through[s] += n
        if d != s:
            through[d] += n
    fig = _figure(9, 6.5)
    ax = fig.add_subplot()
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    pad = 6.0
    ax.set_xlim(min(xs) - pad, max(xs) + pad)
    ax.set_ylim(min(ys) - pad, max(ys) + pad)
    ax.set_aspect("equal", adjustable="box")
    ax.set_facecolor("#eef4fa")
    ax.grid(color="white", linewidth=1.0)
    ax.set_xlabel("longitude (approximate)", fontsize=8)
    ax.set_ylabel("latitude (approximate)", fontsize=8)
    cross = {e: n for e, n in edges.items() if e[0] != e[1]}
    top = max(cross.values(), default=1)
    for (s, d), n in sorted(cross.items()):
        width = 0.8 + 5.0 * math.log1p(n) / math.log1p(top)
        arrow = FancyArrowPatch(
            pos[s],
            pos[d],
            arrowstyle="-|>",
            mutation_scale=14,
            connectionstyle="arc3,rad=0.18",
            linewidth=width,
            color=FINDING_COLOUR,
            alpha=0.55,
            shrinkA=14,
            shrinkB=14,
            zorder=2,
        )
        ax.add_patch(arrow)
        mx = (pos[s][0] + pos[d][0]) / 2 + 0.15 * (pos[d][1] - pos[s][1])
        my = (pos[s][1] + pos[d][1]) / 2 - 0.15 * (pos[d][0] - pos[s][0])
        ax.text(
            mx,
            my,
            str(n),
            fontsize=8,
            ha="center",
            va="center",
            zorder=4,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
        )
    big = max(through.values(), default=1)
    for s in sites:
        x, y = pos[s]
        size = 80 + 420 * math.sqrt(through[s] / big)
        ax.scatter([x], [y], s=size, color="#1f4e79", zorder=3, edgecolor="white")
        local = edges.get((s, s), 0)
        text = f"{label(s)}\n({label(countries.get(s, '?'))})" + (
            f"\n{local} within site" if local else ""
        )
        ax.annotate(
            text,
            (x, y),
            xytext=(0, -16),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=8,
            zorder=5,
        )
    ax.set_title(title, loc="left", fontsize=11)
    total = sum(cross.values())
    cap = (
        f"{len(sites)} site(s); {len(cross)} site-to-site direction(s) carrying {total} events "
        "(arrow width grows with the count; positions are rough country/city coordinates)."
    )
    return _render(fig, cap)


def movement_graph(
    scope: Scope, rows: Iterable[Mapping[str, Any]]
) -> tuple[nx.DiGraph[str], Counter[tuple[str, str]]]:
    """Hosts as nodes, credential hops as weighted edges: the scope's paths and the timeline's
    host-to-host events between scoped hosts."""
    hosts = {h.host for h in scope.hosts if not h.routine_only}
    weights: Counter[tuple[str, str]] = Counter()
    for h in scope.hosts:
        for hop in h.path:
            weights[(hop.src, hop.dst)] += 0  # present even when the timeline misses it
    for r in rows:
        s, d = r.get("src"), r.get("dst")
        if r.get("kind") in ("finding", "network_flow") or not s or not d or s == d:
            continue
        if s in hosts and d in hosts:
            weights[(str(s), str(d))] += 1
    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_nodes_from(sorted(hosts))
    for (s, d), n in weights.items():
        g.add_edge(s, d, weight=max(n, 1))
    return g, weights


def lateral_graph(scope: Scope, rows: Iterable[Mapping[str, Any]]) -> Chart:
    """The lateral-movement graph, seeds highlighted: hosts on rings by hop count from the
    intruder's source computers (the inner ring), or a seeded spring layout if there is one ring."""
    title = "Lateral movement: hosts reached and the logon hops between them"
    g, weights = movement_graph(scope, rows)
    if g.number_of_nodes() == 0:
        return _empty(title, "No hosts were reached.")
    info = {h.host: h for h in scope.hosts}
    n = g.number_of_nodes()
    depth = {h.host: (0 if h.seed else max(1, len(h.path))) for h in scope.hosts}
    shells: dict[int, list[str]] = {}
    for h in sorted(g.nodes):
        shells.setdefault(depth.get(h, 1), []).append(h)
    nlist = [shells[k] for k in sorted(shells)]
    if len(nlist) > 1:
        layout = nx.shell_layout(g, nlist=nlist)
    else:
        layout = nx.spring_layout(g, seed=7, k=2.2 / math.sqrt(n), iterations=200)
    pos = {h: (float(p[0]), float(p[1])) for h, p in layout.items()}
    fig = _figure(10, 7.5 if n > 8 else 6)
    ax = fig.add_subplot()
    ax.set_axis_off()
    top = max((d["weight"] for _, _, d in g.edges(data=True)), default=1)
    for s, d, data in g.edges(data=True):
        w = 0.8 + 4.0 * math.log1p(data["weight"]) / math.log1p(top)
        ax.add_patch(
            FancyArrowPatch(
                pos[s],
                pos[d],
                arrowstyle="-|>",
                mutation_scale=12,
                linewidth=w,
                connectionstyle="arc3,rad=0.08",
                color="#555555",
                alpha=0.6,
                shrinkA=10,
                shrinkB=10,
                zorder=1,
            )
        )

    def kind(h: str) -> str:
        r = info.get(h)
        if r is None:
            return "other"
        if r.seed:
            return "seed"
        if r.database:
            return "database"
        return "server" if r.role and r.role != "workstation" else "workstation"

    styles = {
        "seed": ("#d62728", "intruder's source (seed)"),
        "database": ("#9467bd", "database"),
        "server": ("#ff7f0e", "server"),
        "workstation": ("#1f77b4", "workstation"),
        "other": ("#7f7f7f", "other"),
    }
    for k, (c, _) in styles.items():
        nodes = [h for h in g.nodes if kind(h) == k]
        if nodes:
            ax.scatter(
                [pos[h][0] for h in nodes],
                [pos[h][1] for h in nodes],
                s=260,
                color=c,
                edgecolor="black" if k == "seed" else "white",
                linewidth=1.5,
                zorder=2,
            )
    for h in g.nodes:
        site = info[h].site if h in info else None
        ax.annotate(
            f"{label(h)}\n{label(site or '')}",
            pos[h],
            xytext=(0, 11),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
            zorder=3,
        )
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.25, max(xs) + 0.25)
    ax.set_ylim(min(ys) - 0.2, max(ys) + 0.3)
    used = {kind(h) for h in g.nodes}
    ax.legend(
        handles=[Patch(color=c, label=lab) for k, (c, lab) in styles.items() if k in used],
        loc="lower left",
        fontsize=8,
        frameon=False,
    )
    ax.set_title(title, loc="left", fontsize=11)
    cap = (
        f"{n} host(s), {g.number_of_edges()} hop direction(s) carrying "
        f"{sum(weights.values())} logon/ticket/share events; arrow width grows with the count."
    )
    return _render(fig, cap)


GAP, NO_DATA, PARTIAL, FULL = 0, 1, 2, 3
_COVER_COLOURS = ListedColormap(["#d62728", "#d9d9d9", "#a1d99b", "#238b45"])


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def coverage_grid(coverage: Coverage) -> tuple[list[str], list[date], list[list[int]]]:
    """(hosts, days, cells): per host and day GAP (a channel missed it), NO_DATA, PARTIAL (some
    of the host's channels) or FULL (all of them)."""
    by_host: dict[str, list[Any]] = {}
    for c in coverage.channels:
        by_host.setdefault(c.host, []).append(c)
    if not by_host:
        return [], [], []
    firsts = [date.fromisoformat(c.first_day) for c in coverage.channels]
    lasts = [date.fromisoformat(c.last_day) for c in coverage.channels]
    start = coverage.data_start.date() if coverage.data_start else min(firsts)
    end = coverage.data_end.date() if coverage.data_end else max(lasts)
    days = _days(min(start, *firsts), max(end, *lasts))
    site = {c.host: c.site or "" for c in coverage.channels}
    hosts = sorted(by_host, key=lambda h: (site[h], h))
    cells: list[list[int]] = []
    for h in hosts:
        chans = by_host[h]
        have: Counter[date] = Counter()
        missing: set[date] = set()
        for c in chans:
            gone = {date.fromisoformat(d) for d in c.missing_days}
            missing |= gone
            for d in _days(date.fromisoformat(c.first_day), date.fromisoformat(c.last_day)):
                if d not in gone:
                    have[d] += 1
        row = []
        for d in days:
            if d in missing:
                row.append(GAP)
            elif have[d] == 0:
                row.append(NO_DATA)
            else:
                row.append(FULL if have[d] >= len(chans) else PARTIAL)
        cells.append(row)
    return hosts, days, cells


def coverage_chart(coverage: Coverage | None) -> Chart:
    """Hosts × days heatmap of which have log data, gaps in red and suspicious holes crossed."""
    title = "Coverage: which hosts have log data on which days"
    if coverage is None:
        return _empty(title, "No coverage was computed.")
    hosts, days, cells = coverage_grid(coverage)
    if not hosts:
        return _empty(title, "No log data for the hosts in scope.")
    left = max(0, len(hosts) - MAX_ROWS * 2)
    hosts, cells = hosts[: MAX_ROWS * 2], cells[: MAX_ROWS * 2]
    site = {c.host: c.site or "?" for c in coverage.channels}
    fig = _figure(10, 1.8 + 0.22 * len(hosts))
    ax = fig.add_subplot()
    ax.imshow(cells, aspect="auto", cmap=_COVER_COLOURS, vmin=0, vmax=3, interpolation="nearest")
    ax.set_yticks(range(len(hosts)), [f"{label(h)} ({label(site[h])})" for h in hosts], fontsize=7)
    step = max(1, len(days) // 15)
    ax.set_xticks(
        range(0, len(days), step),
        [d.strftime("%m-%d") for d in days[::step]],
        fontsize=7,
        rotation=45,
    )
    ax.set_xticks([x - 0.5 for x in range(len(days) + 1)], minor=True)
    ax.set_yticks([y - 0.5 for y in range(len(hosts) + 1)], minor=True)
    ax.grid(which="minor", color="white", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    row = {h: i for i, h in enumerate(hosts)}
    index = {d: i for i, d in enumerate(days)}
    marked = 0
    for hole in coverage.holes:
        if hole.host not in row or hole.start is None:
            continue
        first = hole.start.date()
        last = (hole.end or hole.start).date()
        for d in _days(first, last):
            if d in index:
                ax.plot(index[d], row[hole.host], marker="x", color="black", markersize=6)
                marked += 1
    handles = [
        Patch(color="#238b45", label="all channels"),
        Patch(color="#a1d99b", label="some channels"),
        Patch(color="#d9d9d9", label="no data"),
        Patch(color="#d62728", label="gap (channel missing the day)"),
        Line2D(
            [], [], marker="x", color="black", linestyle="", label="cleared / record gap / silent"
        ),
    ]
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False
    )
    ax.set_title(title, loc="left", fontsize=11)
    gaps = sum(r.count(GAP) for r in cells)
    cap = (
        f"{len(hosts)} host(s) × {len(days)} day(s) ({days[0]} to {days[-1]}); {gaps} host-day(s) "
        f"with a gap and {len(coverage.holes)} suspicious hole(s)"
        + (f"; {left} more hosts not drawn" if left else "")
        + "."
    )
    return _render(fig, cap)


def as_datetime(v: Any) -> datetime | None:
    """A timeline value as a datetime (Arrow gives datetimes already; strings are parsed)."""
    if v is None or isinstance(v, datetime):
        return v
    return datetime.fromisoformat(str(v))
