"""The report's words: an executive summary in plain language and the tables behind each answer.

Everything here is computed from an ``Investigation``, the incident row, its findings and the
evidence manifest; no I/O, so it is tested on its own and the template only lays it out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ashiato.investigate.model import Investigation


def ts(v: datetime | None) -> str:
    """A time as the report writes it (UTC, minutes)."""
    return v.strftime("%Y-%m-%d %H:%M UTC") if v else "unknown"


def day(v: datetime | None) -> str:
    return v.strftime("%Y-%m-%d") if v else "unknown"


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def listing(items: Sequence[str], most: int = 6) -> str:
    """``a, b and c`` (with "and N more" past ``most``)."""
    xs = list(items)
    if not xs:
        return "none"
    if len(xs) > most:
        return ", ".join(xs[:most]) + f" and {len(xs) - most} more"
    return xs[0] if len(xs) == 1 else ", ".join(xs[:-1]) + " and " + xs[-1]


@dataclass(frozen=True)
class Point:
    """One line of the executive summary: the question and its plain answer."""

    question: str
    answer: str
    tone: str = "info"  # "bad" | "warn" | "ok" | "info": colours the line


@dataclass
class Summary:
    headline: str
    points: list[Point] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)


def detector_title(detector_id: str) -> str:
    """A detector's title for plain readers (its id when unknown, e.g. a Sigma rule)."""
    from ashiato.detect.registry import by_id

    try:
        return by_id(detector_id).SPEC.title.lower()
    except KeyError:
        return detector_id


def offices(inv: Investigation) -> tuple[list[str], list[str]]:
    """(sites the intruder came from, sites reached) of the investigation."""
    seeds = set(inv.seeds.hosts)
    src = sorted({h.site for h in inv.scope.hosts if h.host in seeds and h.site})
    reached = sorted(
        {h.site for h in inv.scope.hosts if h.site and not h.routine_only and h.host not in seeds}
    )
    return src, reached


def executive_summary(
    inv: Investigation, incident: Mapping[str, Any], findings: Sequence[Mapping[str, Any]]
) -> Summary:
    """What happened, since when, where, which data and customers, did anything leave, how many
    actors, and what to do now: each in one plain sentence with its numbers."""
    s = inv.seeds
    touched = [h for h in inv.scope.hosts if not h.routine_only]
    src_sites, reached_sites = offices(inv)
    accounts = s.accounts or [a.account for a in inv.scope.accounts if a.seed]
    servers = [h for h in touched if h.role and h.role != "workstation"]
    headline = (
        f"{'Account' if len(accounts) == 1 else 'Accounts'} {listing(accounts)} "
        f"{'was' if len(accounts) == 1 else 'were'} used from {plural(len(s.hosts), 'computer')} "
        f"in {listing(src_sites) if src_sites else 'unknown offices'} to reach "
        f"{plural(len(touched) - len(s.hosts), 'other host')}"
        f"{' in ' + listing(reached_sites) if reached_sites else ''}."
    )
    out = Summary(headline)
    detectors = sorted({detector_title(str(f["detector"])) for f in findings})
    strongest = max(findings, key=lambda f: float(f.get("score") or 0.0), default=None)
    first = min((f["first_seen"] for f in findings), default=s.start)
    last = max((f["last_seen"] for f in findings), default=s.end)
    out.points.append(
        Point(
            "What happened",
            f"{plural(len(findings), 'finding')} from {plural(len(detectors), 'detector')} "
            f"({listing(detectors, 4)}) between {ts(first)} and {ts(last)}"
            + (f"; the strongest: {strongest['title']}" if strongest else "")
            + f". {plural(len(touched), 'host')} touched, {plural(len(servers), 'server')} among"
            f" them; {plural(len(inv.scope.edge_event_ids), 'logon, ticket or share event')} "
            "attributed to the intruder.",
            "bad",
        )
    )
    o = inv.onset
    if o is not None and o.earliest is not None:
        bound = (
            " The logs begin that same day, so it may have started earlier."
            if o.coverage_start and o.earliest.date() <= o.coverage_start.date()
            else f" The logs begin on {day(o.coverage_start)}, "
            f"{plural((o.earliest - o.coverage_start).days, 'day')} earlier, and show nothing "
            "before."
            if o.coverage_start
            else " When the logs begin is unknown."
        )
        span = (s.end - o.earliest).days if s.end else 0
        out.points.append(
            Point(
                "Since when",
                f"Since {ts(o.earliest)} ({o.confidence} confidence), about "
                f"{plural(span, 'day')} of activity up to {ts(s.end)}.{bound}",
                "warn",
            )
        )
    else:
        out.points.append(Point("Since when", "No onset could be established.", "warn"))
    out.points.append(
        Point(
            "Which offices",
            f"Came from {listing(src_sites)}; reached {listing(reached_sites)}.",
            "warn",
        )
    )
    customers = sorted({f"{d.customer_name} ({d.customer})" for d in inv.data})
    stores = sorted({d.data_store for d in inv.data})
    cats = sorted({c for d in inv.data for c in d.data_categories})
    out.points.append(
        Point(
            "Which data and customers",
            (
                f"{plural(len(stores), 'data store')} ({listing(stores, 3)}) holding "
                f"{listing(cats)} of {plural(len(customers), 'customer')}: {listing(customers)}."
            )
            if customers
            else "No inventoried customer data store was opened by the intruder.",
            "bad" if customers else "ok",
        )
    )
    e = inv.exfiltration
    if e is not None:
        ev = [h for h in e.hosts if h.verdict == "evidence of exfiltration"]
        unknown = [h for h in e.hosts if h.verdict == "unknown"]
        if ev:
            sent = sum(h.bytes_out for h in ev)
            dests = sorted({d for h in ev for d in h.destinations})
            text = (
                f"Yes, evidence of exfiltration: {human_bytes(sent)} sent to external "
                f"address(es) {listing(dests, 3)} from {listing([h.host for h in ev])}."
            )
        elif unknown:
            text = (
                f"Unknown: no flow logs for {listing([h.host for h in unknown])} over the "
                "campaign, so 'no evidence' cannot be claimed."
            )
        else:
            text = (
                f"No evidence: {plural(len(e.hosts), 'touched host')} with flow logs show no "
                "outbound volume above their baseline and peers."
            )
        if ev and unknown:
            text += f" {plural(len(unknown), 'host')} without flow logs could not be checked."
        out.points.append(
            Point("Did anything leave", text, "bad" if ev else ("warn" if unknown else "ok"))
        )
    a = inv.actors
    if a is not None:
        n = len(a.campaigns)
        why = (
            "the sessions share credentials"
            if n == 1 and a.merges
            else "their credentials, hop chains and habits differ"
        )
        out.points.append(
            Point(
                "One actor or several",
                f"{'One actor' if n == 1 else f'{n} separate campaigns'} across "
                f"{plural(len(a.sessions), 'source host')}: {why}.",
                "info",
            )
        )
    out.actions = recommended_actions(inv, src_sites)
    return out


def recommended_actions(inv: Investigation, src_sites: Sequence[str]) -> list[str]:
    """What to do now, in order: contain, reset, check the gaps, notify."""
    acts: list[str] = []
    if inv.seeds.hosts:
        acts.append(
            f"Isolate the source computers {listing(inv.seeds.hosts)} and block their traffic "
            f"from {listing(list(src_sites))} to the reached servers "
            "(ashiato contain writes the rules and replays them against history first)."
        )
    accounts = sorted({a.account for a in inv.scope.accounts})
    if accounts:
        acts.append(
            f"Disable or reset {listing(accounts)}, and the Kerberos tickets issued to "
            f"{'it' if len(accounts) == 1 else 'them'}; review privileged group membership."
        )
    if inv.exfiltration and any(
        h.verdict == "evidence of exfiltration" for h in inv.exfiltration.hosts
    ):
        dests = sorted(
            {d for h in inv.exfiltration.hosts for d in h.destinations if h.destinations}
        )
        acts.append(f"Block the external destinations {listing(dests, 4)} at the perimeter.")
    if inv.coverage and (inv.coverage.holes or _gaps(inv)):
        acts.append(
            "Collect the missing logs (see the coverage map) before concluding on the hosts with "
            "gaps or holes."
        )
    if inv.data:
        acts.append(
            f"Prepare notifications for {plural(len({d.customer for d in inv.data}), 'customer')}"
            " (ashiato notify drafts the letters); keep this report with its evidence manifest."
        )
    acts.append(
        "After containment, run ashiato verify-containment to confirm no activity by the "
        "blocked sources or the reset credentials."
    )
    return acts


def _gaps(inv: Investigation) -> int:
    return sum(len(c.missing_days) for c in inv.coverage.channels) if inv.coverage else 0


def manifest_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Manifest rows sorted by path, and totals (files, bytes, read, stored, rejected)."""
    out = sorted((dict(r) for r in rows), key=lambda r: str(r.get("path")))
    totals = {
        "files": len(out),
        "size": sum(int(r.get("size") or 0) for r in out),
        "read": sum(int(r.get("records_read") or 0) for r in out),
        "stored": sum(int(r.get("records_stored") or 0) for r in out),
        "rejected": sum(int(r.get("records_rejected") or 0) for r in out),
    }
    return out, totals


def timeline_counts(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """Events per kind in the timeline, most frequent first."""
    return Counter(str(r.get("kind")) for r in rows).most_common()
