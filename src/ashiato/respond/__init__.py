"""Respond to an incident: contain it, replay the containment over history, verify it held,
and notify the customers whose data was touched.

Each CLI verb is one call here: ``contain`` (plan, replay, write the rule files),
``verify_incident`` and ``notify_incident``; the steps underneath (``plan_containment``,
``replay``, ``verify_containment``, ``notify``) take an ``Investigation`` for callers that
already hold one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from ashiato.inventory.model import Inventory
from ashiato.investigate import investigate
from ashiato.investigate.data import Source
from ashiato.respond.history import history_for
from ashiato.respond.model import (
    AccountAction,
    ContainmentPlan,
    Manual,
    NetworkBlock,
    PolicyEntry,
    Replay,
    Verification,
)
from ashiato.respond.notify import Notification, notify
from ashiato.respond.plan import plan_containment, plan_from_history
from ashiato.respond.render import (
    render_ad,
    render_cisco_ios,
    render_nftables,
    render_policy,
    render_windows_firewall,
    write_plan,
)
from ashiato.respond.replay import replay, replay_history
from ashiato.respond.verify import verify_containment
from ashiato.store import Store

__all__ = [
    "AccountAction",
    "Containment",
    "ContainmentPlan",
    "Manual",
    "NetworkBlock",
    "Notification",
    "PolicyEntry",
    "Replay",
    "Verification",
    "contain",
    "notify",
    "notify_incident",
    "plan_containment",
    "render_ad",
    "render_cisco_ios",
    "render_nftables",
    "render_policy",
    "render_windows_firewall",
    "replay",
    "verify_containment",
    "verify_incident",
    "write_plan",
]


@dataclass(frozen=True)
class Containment:
    plan: ContainmentPlan
    replay: Replay
    files: list[Path]


def contain(
    store: str | Path,
    inventory: Inventory,
    incident: str,
    out_dir: str | Path,
    at: datetime | None = None,
) -> Containment:
    """``ashiato contain``: investigate, plan, replay, and write the rule files and the replay.

    The history is read once for planning and replay.
    """
    inv = investigate(store, inventory, "incident", incident)
    source = Source.open(Store(store), inventory)
    try:
        hist = history_for(source, inventory, inv)
    finally:
        source.close()
    plan = plan_from_history(inventory, inv, hist, at)
    rp = replay_history(plan, hist)
    return Containment(plan, rp, write_plan(plan, out_dir, rp))


def verify_incident(
    store: str | Path,
    inventory: Inventory,
    incident: str,
    since: datetime,
    plan: str | Path | None = None,
) -> Verification:
    """``ashiato verify-containment``: the applied plan (``plan.json`` that ``contain`` wrote),
    or one planned afresh with ``since`` as the containment time, checked after ``since``."""
    if plan is not None:
        applied = ContainmentPlan.from_json(orjson.loads(Path(plan).read_bytes()))
    else:
        inv = investigate(store, inventory, "incident", incident)
        applied = plan_containment(store, inventory, inv, at=since)
    return verify_containment(store, inventory, applied, since)


def notify_incident(
    store: str | Path,
    inventory: Inventory,
    incident: str,
    out_dir: str | Path,
    templates: Path | None = None,
    raw: bool = False,
) -> Notification:
    """``ashiato notify``: ``customers.csv`` and a letter per customer in English and Japanese
    (``raw=True``: the CSV's cells as logged, formula prefixes not neutralised)."""
    inv = investigate(store, inventory, "incident", incident)
    return notify(store, inventory, inv, out_dir, templates=templates, raw=raw)
