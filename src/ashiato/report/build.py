"""Assemble the report: pick the incident, investigate it, draw the charts, fill the template.

The CLI's ``ashiato report`` and ``make demo`` call ``write_report``; ``render_html`` is the pure
part (an Investigation and rows in, HTML out) that tests can drive without a store.

Names in the report come from logs the intruder wrote. The template autoescapes every value (no
``|safe`` but on the report's own CSS), and the environment's ``finalize`` and ``join`` first show
control and bidirectional characters escaped (``quote.escape_text``), so a value can neither add
an element nor reorder or hide text; charts are PNG data URIs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ashiato.detect.registry import DETECTORS
from ashiato.errors import StoreError
from ashiato.inventory.model import Inventory
from ashiato.investigate import Investigation, investigate
from ashiato.investigate.scope import HOP_WINDOW
from ashiato.quote import escape_text
from ashiato.report import charts
from ashiato.report.summary import (
    executive_summary,
    human_bytes,
    manifest_rows,
    ts,
)
from ashiato.store import Store
from ashiato.store.atomic import atomic_write_bytes
from ashiato.store.manifest import read_manifest

SECTIONS: tuple[tuple[str, str], ...] = (
    ("executive-summary", "Executive summary"),
    ("findings", "Findings"),
    ("scope", "Scope"),
    ("data-customers", "Data and customers"),
    ("exfiltration", "Exfiltration"),
    ("onset", "Onset"),
    ("actors", "Actors"),
    ("timeline", "Timeline"),
    ("site-map", "Site-to-site map"),
    ("lateral-movement", "Lateral movement"),
    ("coverage-map", "Coverage map"),
    ("methodology", "Methodology"),
    ("evidence-manifest", "Evidence manifest"),
)
"""Every section's element id and title, in order; the ids are stable for links and tests."""

CHART_SECTIONS = ("timeline", "site-map", "lateral-movement", "coverage-map")


@dataclass(frozen=True)
class ReportPaths:
    """What ``write_report`` wrote: the HTML, the PDF if asked for, and the incident reported."""

    html: Path
    pdf: Path | None
    incident_id: str


def _finalize(value: Any) -> Any:
    """Each ``{{ ... }}`` before autoescaping: text with control characters shown escaped;
    markup the template made itself (the CSS, filters' output) and numbers as they are."""
    if value is None or isinstance(value, (Markup, int, float)):
        return value
    return escape_text(value)


def _join(ctx: Any, items: Any, sep: str = "", attribute: str | None = None) -> Any:
    """Jinja's ``join`` over escaped items (its output is markup, which ``finalize`` keeps)."""
    if attribute is not None:
        items = map(jinja2.filters.make_attrgetter(ctx.environment, attribute), items)
    return jinja2.filters.do_join(ctx, [_finalize(v) for v in items], sep)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ashiato.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["join"] = jinja2.pass_eval_context(_join)
    return env


def _css() -> str:
    return (resources.files("ashiato.report") / "templates" / "report.css").read_text("utf-8")


def top_incident(store: Store) -> str:
    """The id of the incident at the top of the queue (highest risk)."""
    rows = store.read_incidents().to_pylist()
    if not rows:
        raise StoreError(f"{store.root}: no incidents (run `ashiato detect --store {store.root}`)")
    return str(max(rows, key=lambda r: (r["risk"] or 0.0, r["incident_id"]))["incident_id"])


def exfil_qualification(inv: Investigation) -> str:
    """The sentence that says what the exfiltration verdict rests on (the coverage behind it)."""
    e = inv.exfiltration
    if e is None:
        return ""
    with_flows = [h.host for h in e.hosts if h.verdict != "unknown"]
    without = [h.host for h in e.hosts if h.verdict == "unknown"]
    start, end = inv.seeds.start, inv.seeds.end
    text = (
        f"Based on flow logs of {len(with_flows)} of the {len(e.hosts)} touched host(s) from "
        f"{ts(start)} to {ts(end)}."
    )
    if without:
        text += (
            f" {len(without)} host(s) have no flow logs for the campaign ({', '.join(without[:8])}"
            f"{'…' if len(without) > 8 else ''}): for them the answer is unknown, not 'no'."
        )
    return text


def chart_sections(
    inv: Investigation, rows: Sequence[Mapping[str, Any]], inventory: Inventory
) -> list[dict[str, Any]]:
    """The four chart sections, each with its rendered chart."""
    countries = {s.name: s.country for s in inventory.sites}
    host_sites = {a.host: a.site for a in inventory.assets}
    return [
        {
            "id": "timeline",
            "title": "Timeline",
            "intro": "Every event of the intruder's accounts on the hosts in scope, one lane per "
            "source host, coloured by site; red diamonds and lines mark the findings.",
            "chart": charts.timeline_chart(rows, host_sites, inv.seeds.hosts),
        },
        {
            "id": "site-map",
            "title": "Site-to-site map",
            "intro": "Which offices the intrusion's connections ran between, and how many.",
            "chart": charts.site_map(charts.site_edges(rows), countries),
        },
        {
            "id": "lateral-movement",
            "title": "Lateral-movement graph",
            "intro": "Hosts reached and the logon, ticket and share hops between them; the "
            "intruder's source computers are red.",
            "chart": charts.lateral_graph(inv.scope, rows),
        },
        {
            "id": "coverage-map",
            "title": "Coverage map",
            "intro": "Which of the touched hosts have log data for which days: every 'no "
            "evidence' in this report is limited to the green cells.",
            "chart": charts.coverage_chart(inv.coverage),
        },
    ]


def render_html(
    inv: Investigation,
    inventory: Inventory,
    incident: Mapping[str, Any],
    findings: Sequence[Mapping[str, Any]],
    manifest: Sequence[Mapping[str, Any]],
    *,
    generated: datetime,
    store_root: str = "",
) -> str:
    """The whole report as one HTML string, charts inlined."""
    from ashiato import __version__

    rows = [] if inv.timeline is None else inv.timeline.to_pylist()
    findings = sorted(findings, key=lambda f: (f["first_seen"], f["finding_id"]))
    m_rows, totals = manifest_rows(manifest)
    fired = Counter(str(f["detector"]) for f in findings)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            version=__version__,
            css=_css(),
            incident=incident,
            findings=findings,
            inv=inv,
            summary=executive_summary(inv, incident, findings),
            sections=SECTIONS,
            scope_hosts=sorted(
                inv.scope.hosts,
                key=lambda h: (not h.seed, h.routine_only, h.first_reached or generated, h.host),
            ),
            touched=[h for h in inv.scope.hosts if not h.routine_only],
            routine=[h for h in inv.scope.hosts if h.routine_only],
            customers=sorted({d.customer for d in inv.data}),
            exfil_qualification=exfil_qualification(inv),
            charts=chart_sections(inv, rows, inventory),
            detectors=[d.SPEC for d in DETECTORS],
            fired=fired,
            hop_window=f"{HOP_WINDOW.days} days",
            manifest=m_rows,
            totals=totals,
            generated=ts(generated),
            store_root=store_root,
            ts=ts,
            human_bytes=human_bytes,
        )
    )


def _data_only_fetcher(weasyprint: Any) -> Any:
    """A WeasyPrint URL fetcher that serves ``data:`` URLs and refuses everything else."""
    fetcher_class = getattr(weasyprint, "URLFetcher", None)  # newer WeasyPrint: a class
    if fetcher_class is not None:
        return fetcher_class(allowed_protocols={"data"})

    def fetch(url: str, timeout: int = 10, ssl_context: Any = None) -> Any:  # older: a function
        if not url.startswith("data:"):
            raise ValueError(f"the report fetches nothing: {url}")
        return weasyprint.default_url_fetcher(url, timeout, ssl_context)

    return fetch


def write_pdf(html: str, pdf: Path, base_url: Path | None = None) -> Path:
    """Print the report's HTML to PDF with WeasyPrint (charts are data URIs: nothing fetched)."""
    import weasyprint

    fetcher = _data_only_fetcher(weasyprint)
    doc = weasyprint.HTML(string=html, base_url=str(base_url or pdf.parent), url_fetcher=fetcher)
    atomic_write_bytes(pdf, doc.write_pdf(), pdf.parent)
    return pdf


def write_report(
    store: str | Path | Store,
    inventory: Inventory,
    out_html: Path,
    incident_id: str | None = None,
    pdf: Path | None = None,
    *,
    now: datetime | None = None,
) -> ReportPaths:
    """Write the report on ``incident_id`` (the top incident when None) to ``out_html``, and a
    PDF of it to ``pdf`` if given. ``now`` stamps the report (default: the current UTC time)."""
    st = store if isinstance(store, Store) else Store(store)
    iid = incident_id or top_incident(st)
    incidents = [r for r in st.read_incidents().to_pylist() if r["incident_id"] == iid]
    if not incidents:
        raise StoreError(f"{st.root}: no incident {iid} (see `ashiato incidents --json`)")
    inv = investigate(st, inventory, "incident", iid)
    wanted = set(inv.seeds.finding_ids) | set(incidents[0]["finding_ids"] or [])
    findings = [f for f in st.read_findings().to_pylist() if f["finding_id"] in wanted]
    html = render_html(
        inv,
        inventory,
        incidents[0],
        findings,
        read_manifest(st.layout).to_pylist(),
        generated=now or datetime.now(UTC),
        store_root=str(st.root),
    )
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_html, html.encode("utf-8"), out_html.parent)
    if pdf is not None:
        pdf = Path(pdf)
        pdf.parent.mkdir(parents=True, exist_ok=True)
        write_pdf(html, pdf)
    return ReportPaths(out_html, pdf, iid)
