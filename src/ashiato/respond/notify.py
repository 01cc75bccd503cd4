"""Customer notification: who was affected, what data, which systems, when, with the evidence.

``customers.csv`` lists every customer whose data store the intruder touched (one row per
customer); one letter per customer and language is drafted from editable Jinja2 templates
(``templates/letter.<lang>.txt.j2`` in this package, or a directory given as ``templates``).

Host, account, share and path names in a letter come from logs the intruder wrote: every value a
template prints passes ``quote.escape_text`` (the environment's ``finalize``), so none can start a
line of its own or carry ESC; the CSV neutralises formula cells (``quote.spreadsheet``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from ashiato.inventory.model import Inventory
from ashiato.investigate.data import Source
from ashiato.investigate.model import DataAccess, Investigation
from ashiato.quote import escape_text, spreadsheet
from ashiato.store import Store

CSV_COLUMNS = (
    "customer_id",
    "name",
    "country",
    "contact",
    "data_stores",
    "data_categories",
    "systems",
    "first_access_utc",
    "last_access_utc",
    "evidence_events",
    "exfiltration_verdict",
)
SAMPLES = 5
"""Evidence events quoted per data store in a letter."""

EXFIL_EN = {
    "evidence of exfiltration": "Our network logs show data being sent from affected systems to "
    "an outside address; we must assume that your data may have left our network.",
    "no evidence": "Our network logs for the affected systems show no unusual transfer to "
    "outside addresses during the incident.",
    "unknown": "We cannot tell: network logs are missing for some affected systems or periods, "
    "so we cannot rule out that data left our network.",
}
EXFIL_JA = {
    "evidence of exfiltration": "影響を受けたシステムから外部のアドレスへデータが送信された記録が"
    "あります。お客様の情報が社外に持ち出された可能性があるものとして対応しております。",
    "no evidence": "影響を受けたシステムの通信記録には、調査期間中に外部への不審な送信は"
    "見られませんでした。",
    "unknown": "一部のシステムまたは期間の通信記録が欠けているため、外部への持ち出しの有無を"
    "判断できません。持ち出しの可能性を否定できない状況です。",
}
CATEGORY_JA = {
    "customer-pii": "お客様の個人情報",
    "pii": "個人情報",
    "financial": "財務情報",
    "finance": "財務情報",
    "payment": "決済情報",
    "contracts": "契約情報",
    "design": "設計情報",
    "hr": "人事情報",
}


@dataclass(frozen=True)
class CustomerNotice:
    """One affected customer: the rows of the CSV and the context of their letters."""

    customer_id: str
    name: str
    country: str
    contact: str
    accesses: list[DataAccess]
    exfiltration: str

    @property
    def first(self) -> datetime:
        return min(a.first_access for a in self.accesses)

    @property
    def last(self) -> datetime:
        return max(a.last_access for a in self.accesses)

    @property
    def event_ids(self) -> list[str]:
        return sorted({e for a in self.accesses for e in a.event_ids})

    def row(self) -> dict[str, str]:
        return {
            "customer_id": self.customer_id,
            "name": self.name,
            "country": self.country,
            "contact": self.contact,
            "data_stores": "; ".join(a.data_store for a in self.accesses),
            "data_categories": "; ".join(
                sorted({c for a in self.accesses for c in a.data_categories})
            ),
            "systems": "; ".join(sorted({a.host for a in self.accesses})),
            "first_access_utc": _iso(self.first),
            "last_access_utc": _iso(self.last),
            "evidence_events": str(len(self.event_ids)),
            "exfiltration_verdict": self.exfiltration,
        }


@dataclass(frozen=True)
class Notification:
    customers: list[CustomerNotice]
    csv: Path
    letters: dict[tuple[str, str], Path]  # (customer id, lang) -> letter


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(ts: datetime | None) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "-"


def _jst(ts: datetime | None) -> str:
    if ts is None:
        return "-"
    t = ts.astimezone(ZoneInfo("Asia/Tokyo"))
    return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}（日本時間）"


def affected_customers(inventory: Inventory, investigation: Investigation) -> list[CustomerNotice]:
    """One notice per customer whose data store the investigation found touched."""
    info = {c.id: c for c in inventory.customers}
    verdict = investigation.exfiltration.verdict if investigation.exfiltration else "unknown"
    by: dict[str, list[DataAccess]] = {}
    for d in investigation.data:
        by.setdefault(d.customer, []).append(d)
    out = []
    for cid in sorted(by):
        c = info.get(cid)
        out.append(
            CustomerNotice(
                customer_id=cid,
                name=c.name if c else by[cid][0].customer_name,
                country=c.country if c else "",
                contact=c.contact if c else "",
                accesses=sorted(by[cid], key=lambda a: (a.first_access, a.data_store)),
                exfiltration=verdict,
            )
        )
    return out


def _finalize(value: Any) -> Any:
    """Every ``{{ ... }}`` of a letter as one line of text: newlines, ESC, NUL and
    bidirectional marks shown escaped (``None`` prints as nothing)."""
    return escape_text(value)


def _environment(templates: Path | None) -> jinja2.Environment:
    loader: jinja2.BaseLoader
    if templates is not None:
        loader = jinja2.FileSystemLoader(str(templates))
    else:
        loader = jinja2.FileSystemLoader(str(files("ashiato.respond") / "templates"))
    env = jinja2.Environment(
        loader=loader,
        autoescape=False,  # plain-text letters: values are escaped as text instead
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["utc"] = _utc
    env.filters["jst"] = _jst
    env.filters["category_ja"] = lambda c: CATEGORY_JA.get(c, c)
    return env


def _samples(store: str | Path | Store, inventory: Inventory, ids: list[str]) -> dict[str, Any]:
    """The evidence events quoted in letters, by id."""
    if not ids:
        return {}
    source = Source.open(store if isinstance(store, Store) else Store(store), inventory)
    try:
        e = source.events
        t = e.filter(e.event_id.isin(sorted(set(ids)))).mutate(
            src=e.src_asset.coalesce(e.src_host, e.src_ip),
            dst=e.dst_asset.coalesce(e.dst_host, e.log_host),
        )
        rows = source.execute(
            t.select("event_id", "ts", "kind", "user", "src", "dst", "share", "path")
        ).to_pylist()
    finally:
        source.close()
    return {r["event_id"]: r for r in rows}


def notify(
    store: str | Path | Store,
    inventory: Inventory,
    investigation: Investigation,
    out_dir: str | Path,
    lang: tuple[str, ...] = ("en", "ja"),
    templates: Path | None = None,
    sender: str = "[Company name, contact point]",
    today: datetime | None = None,
    raw: bool = False,
) -> Notification:
    """Write ``customers.csv`` and ``letters/<customer>.<lang>.txt`` for each affected customer.

    ``raw=True`` writes the CSV's values as they are, formula prefixes and all (for tools, not
    spreadsheets); letters are always escaped.
    """
    out = Path(out_dir)
    (out / "letters").mkdir(parents=True, exist_ok=True)
    notices = affected_customers(inventory, investigation)
    csv_path = spreadsheet.write_rows(
        out / "customers.csv", CSV_COLUMNS, (n.row() for n in notices), raw=raw
    )
    wanted = [i for n in notices for a in n.accesses for i in a.event_ids[:SAMPLES]]
    events = _samples(store, inventory, wanted)
    env = _environment(templates)
    exfil = investigation.exfiltration
    verdict = exfil.verdict if exfil else "unknown"
    onset = (
        investigation.onset.earliest
        if investigation.onset and investigation.onset.earliest
        else investigation.seeds.start
    )
    letters: dict[tuple[str, str], Path] = {}
    for n in notices:
        stores = [
            {
                "name": a.data_store,
                "host": a.host,
                "categories": a.data_categories,
                "first": a.first_access,
                "last": a.last_access,
                "events": len(a.event_ids),
                "samples": [events[i] for i in a.event_ids[:SAMPLES] if i in events],
            }
            for a in n.accesses
        ]
        ctx = {
            "customer": {
                "id": n.customer_id,
                "name": n.name,
                "country": n.country,
                "contact": n.contact,
            },
            "stores": stores,
            "incident": investigation.seeds.id,
            "onset": onset,
            "first": n.first,
            "last": n.last,
            "events": len(n.event_ids),
            "exfiltration": verdict,
            "exfiltration_text": EXFIL_EN.get(verdict, verdict),
            "exfiltration_text_ja": EXFIL_JA.get(verdict, verdict),
            "sender": sender,
            "today": (today or datetime.now(UTC)).strftime("%Y-%m-%d"),
        }
        for lg in lang:
            text = env.get_template(f"letter.{lg}.txt.j2").render(**ctx)
            p = out / "letters" / f"{n.customer_id}.{lg}.txt"
            p.write_text(text, encoding="utf-8")
            letters[(n.customer_id, lg)] = p
    return Notification(notices, csv_path, letters)
