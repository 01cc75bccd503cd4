"""Which fields a Sigma rule tests that no event in a store carries: silently dead rules, shown.

A field reads one or more ``raw`` keys (``fields.field_keys``); a key no event has reads NULL,
which never matches. A rule that needs such a field compiles, runs and never fires, and nothing
says why. ``ashiato rules check --store S`` lists those fields per rule (``dead_fields``), so a
mapping gap (``Provider_Name`` once) or a log source the collection lacks is visible.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sigma.rule import SigmaRule

from ashiato.sigma.compile import CompiledRule, detection_fields
from ashiato.sigma.fields import COLUMN_FIELDS, field_keys
from ashiato.sigma.load import rule_key
from ashiato.store import Store


def stored_keys(con: Any, table: str) -> frozenset[str]:
    """Every ``raw`` key of any event of ``table`` (a DuckDB FROM item), from DuckDB ``con``."""
    rows = con.execute(f"SELECT DISTINCT unnest(map_keys(raw)) FROM {table}").fetchall()
    return frozenset(str(r[0]) for r in rows if r[0] is not None)


def store_keys(store: Store) -> frozenset[str]:
    """Every ``raw`` key of any event in ``store``."""
    from ashiato.sigma.step import relation

    if not store.has_events():
        return frozenset()
    con = store.connect()
    try:
        return stored_keys(con.con, relation(store.events(con)))
    finally:
        con.disconnect()


def missing_fields(
    fields: Iterable[str],
    keys: Collection[str],
    category: str | None = None,
    service: str | None = None,
) -> list[str]:
    """The ``fields`` (of a rule with logsource ``category``/``service``) that read only keys
    absent from ``keys``; normalised columns (``EventID``) are always there."""
    return [
        f
        for f in fields
        if f not in COLUMN_FIELDS and not any(k in keys for k in field_keys(f, category, service))
    ]


def dead_fields(
    rules: Iterable[CompiledRule | SigmaRule], keys: Collection[str]
) -> dict[str, list[str]]:
    """Rule key -> the fields it tests that no event carries (``keys``: ``store_keys``); rules
    with none are left out. Takes compiled rules, or parsed ones (no compile needed)."""
    out: dict[str, list[str]] = {}
    for rule in rules:
        if isinstance(rule, CompiledRule):
            key, fields = rule.meta.key, rule.fields
            category, service = rule.category, rule.service
        else:
            key, fields = rule_key(rule) or "untitled", tuple(detection_fields(rule))
            category, service = rule.logsource.category, rule.logsource.service
        missing = missing_fields(fields, keys, category, service)
        if missing:
            out[key] = missing
    return out
