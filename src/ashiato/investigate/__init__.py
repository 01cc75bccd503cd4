"""Investigate an incident, account, host or site: scope, timeline, data, coverage, exfiltration,
onset and actors, each answer with the event ids behind it.

``investigate(store, inventory, "incident", "I-...")`` is the one call the CLI, the web app and the
report make; each step is also a pure function over small Arrow tables in its own module.
"""

from __future__ import annotations

from pathlib import Path

from ashiato.inventory.model import Inventory
from ashiato.investigate.actors import cluster, sessions
from ashiato.investigate.coverage import coverage_map
from ashiato.investigate.customers import data_accessed
from ashiato.investigate.data import Source
from ashiato.investigate.exfil import exfiltration
from ashiato.investigate.model import Investigation
from ashiato.investigate.onset import find_onset
from ashiato.investigate.scope import blast_radius
from ashiato.investigate.seeds import Kind, seeds_for
from ashiato.investigate.timeline import build_timeline, scoped_events, write_csv, write_jsonl
from ashiato.store import Store

__all__ = ["Investigation", "Kind", "investigate", "write_csv", "write_jsonl"]


def investigate(
    store: str | Path | Store,
    inventory: Inventory,
    kind: Kind,
    id: str,
) -> Investigation:
    """Answer the incident's questions for ``kind`` ``id``.

    ``kind`` is incident (ids as ``ashiato incidents --json`` prints them), account, host or
    site; the result renders in Rich and serialises with ``to_json()``.
    """
    source = Source.open(store if isinstance(store, Store) else Store(store), inventory)
    try:
        seeds, edges, flagged = seeds_for(source, kind, id)
        assets = {a.host: a for a in inventory.assets}
        roles: dict[str, tuple[str | None, str | None]] = {
            h: (a.site, a.role.value) for h, a in assets.items()
        }
        scope = blast_radius(edges, seeds, flagged=flagged, roles=roles)
        wanted = set(seeds.finding_ids)
        findings = [
            f for f in source.store.read_findings().to_pylist() if f["finding_id"] in wanted
        ]
        tz = {s.name: s.timezone for s in inventory.sites}
        timeline = build_timeline(scoped_events(source, scope), findings, tz)
        touched = scope.touched_hosts
        coverage = coverage_map(source, touched)
        exfil = exfiltration(source, touched, seeds.start, seeds.end, coverage)
        sites = {h: roles.get(h, (None, None))[0] for h in set(edges.column("src").to_pylist())}
        onset = find_onset(
            edges,
            seeds,
            source_sites={s for h in seeds.hosts if (s := sites.get(h))},
            homes={a.user: a.home_site for a in inventory.accounts},
            findings=findings,
            flagged=flagged,
            coverage=coverage,
        )
        actors = cluster(sessions(edges, scope.edge_event_ids, seeds.hosts, sites))
        return Investigation(
            seeds=seeds,
            scope=scope,
            timeline=timeline,
            data=data_accessed(edges, scope.edge_event_ids, inventory),
            coverage=coverage,
            exfiltration=exfil,
            onset=onset,
            actors=actors,
        )
    finally:
        source.close()
