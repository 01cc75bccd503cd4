"""Score a detect run against ground truth: was each campaign caught, how soon, at what noise.

Ground truth (``ground_truth.jsonl``) names campaigns and their malicious records by the identity
the *source* gave them (recording host + Windows record id, or Zeek uid), so evaluation does not
depend on how ashiato numbered events; the store maps those identities to event ids. Nothing here
knows a scenario by name: any campaign id the truth file declares is scored from its records (a
campaign without a start takes its first malicious event's time; one without hosts, the hosts of
its malicious records).

Per campaign, next to the queue rank of its incident (the highest-ranked one holding one of its
findings), the incident's **purity**: the share of that incident's findings that are the
campaign's (cite at least one of its malicious records). An incident that buries the campaign in
unrelated findings, or that is mostly another story with the campaign merged in, scores low.
Beside it, how many incidents hold the campaign's findings (**split**): grouping that buys purity
by cutting one intrusion into many incidents shows there, and in the share of its findings that
the top incident holds (**held**).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from ashiato.errors import AshiatoError
from ashiato.evaluate_lanl import LanlScores, lanl_scores, test_start
from ashiato.quote.term import markup, text
from ashiato.store import Store
from ashiato.store.tables import spill_dir


@dataclass(frozen=True)
class CampaignScore:
    id: str
    name: str
    detected: bool
    delay_seconds: float | None  # first flagged malicious event minus the campaign's first event
    host_recall: float  # share of the campaign's hosts named by a true finding
    events: int  # malicious events of this campaign found in the store
    events_flagged: int  # of those, cited as evidence by some finding
    start: str
    first_detection: str | None
    true_findings: int
    queue_rank: int | None  # 1-based rank of the highest incident holding one of its findings
    incident_id: str | None
    purity: float | None = None  # share of that incident's findings that are the campaign's
    incident_findings: int | None = None  # how many findings that incident holds
    split: int | None = None  # how many incidents hold the campaign's findings
    held: float | None = None  # share of the campaign's findings in that (top) incident


@dataclass(frozen=True)
class Evaluation:
    campaigns: list[CampaignScore]
    findings: int
    true_findings: int
    incidents: int
    true_incidents: int
    days: float
    false_findings_per_day: float
    false_incidents_per_day: float
    event_precision: float
    event_recall: float
    truth_events: int
    truth_events_missing: int  # truth records not found in the store (not ingested)
    top_incident_is_true: bool
    ranking: LanlScores | None = None  # LANL redteam.txt only: AUC, AP, precision at 80% recall
    per_detector: dict[str, list[int]] = field(default_factory=dict)
    """Detector id -> [findings citing a malicious event, all findings]."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        t = Table(title="Campaigns against ground truth")
        for col in (
            "campaign",
            "detected",
            "delay",
            "queue rank",
            "purity",
            "split (held)",
            "host recall",
            "events flagged",
        ):
            t.add_column(col)
        for c in self.campaigns:
            delay = "-" if c.delay_seconds is None else _human(c.delay_seconds)
            t.add_row(
                text(c.id),
                "[green]yes[/]" if c.detected else "[red]no[/]",
                delay,
                "-" if c.queue_rank is None else f"#{c.queue_rank} of {self.incidents}",
                "-" if c.purity is None else f"{c.purity:.0%} of {c.incident_findings}",
                "-" if c.split is None else f"{c.split} ({c.held:.0%})",
                f"{c.host_recall:.0%}",
                f"{c.events_flagged}/{c.events}",
            )
        yield t
        m = Table(title="Noise and accuracy", show_header=False)
        m.add_column("metric")
        m.add_column("value", justify="right")
        m.add_row("days of data", f"{self.days:g}")
        m.add_row("findings (true)", f"{self.findings} ({self.true_findings})")
        m.add_row("incidents (true)", f"{self.incidents} ({self.true_incidents})")
        m.add_row("top incident is the campaign", "yes" if self.top_incident_is_true else "no")
        m.add_row("false incidents per day", f"{self.false_incidents_per_day:.2f}")
        m.add_row("false findings per day", f"{self.false_findings_per_day:.2f}")
        m.add_row("event precision", f"{self.event_precision:.3f}")
        m.add_row("event recall", f"{self.event_recall:.3f}")
        for det, (true, total) in self.per_detector.items():
            m.add_row(text(f"  {det} (true / all)"), f"{true} / {total}")
        if self.truth_events_missing:
            m.add_row("truth events not in store", str(self.truth_events_missing))
        yield m
        for c in self.campaigns:
            if c.detected and c.delay_seconds is not None and c.purity is not None:
                yield Text.from_markup(
                    f"[bold]Planted campaign {markup(c.id)} is #{c.queue_rank} in the queue "
                    f"({markup(c.incident_id)}, {c.purity:.0%} of its {c.incident_findings} "
                    f"findings the campaign's), flagged {_human(c.delay_seconds)} after its "
                    f"first event.[/]"
                )
            else:
                yield Text.from_markup(f"[bold red]Planted campaign {markup(c.id)} was missed.[/]")
        yield Text.from_markup(
            f"[bold]{self.false_incidents_per_day:.2f} false incidents a day.[/]"
        )
        if self.ranking is not None:
            yield self.ranking


def _start(declared: str | None, first_malicious: datetime | None) -> datetime:
    """When a campaign began: as its truth header says, else its first malicious record."""
    if declared:
        return datetime.fromisoformat(declared.replace("Z", "+00:00"))
    return first_malicious or datetime.fromtimestamp(0, UTC)


def _human(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _load_truth(path: Path) -> tuple[list[dict[str, Any]], pa.Table]:
    campaigns: list[dict[str, Any]] = []
    keys: dict[str, list[Any]] = {"campaign": [], "source": [], "log_host": [], "record_id": []}
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise AshiatoError(f"{path}: cannot read ground truth: {exc}") from exc
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise AshiatoError(f"{path}:{n}: not JSON: {exc}") from exc
            if obj.get("type") == "campaign":
                campaigns.append(obj)
            elif obj.get("type") == "event":
                keys["campaign"].append(obj["campaign"])
                keys["source"].append(obj.get("source"))
                keys["log_host"].append((obj.get("log_host") or "").lower())
                keys["record_id"].append(str(obj["record_id"]))
    return campaigns, pa.table(keys)


def _is_jsonl(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    return line.lstrip().startswith(b"{")
    except OSError as exc:
        raise AshiatoError(f"{path}: cannot read ground truth: {exc}") from exc
    return True


def _load_redteam(path: Path, epoch: str) -> tuple[list[dict[str, Any]], pa.Table]:
    """LANL ``redteam.txt`` as one campaign whose events are matched by time, user and hosts."""
    from ashiato.ingest.lanl_redteam import read_redteam

    labels = read_redteam(path, epoch)
    hosts = sorted({h for lab in labels for h in (lab["src_host"], lab["dst_host"]) if h})
    start = min((lab["ts"] for lab in labels), default=None)
    campaign = {
        "id": "lanl-redteam",
        "name": "LANL red team (redteam.txt)",
        "hosts": hosts,
        "start": start.isoformat() if start else "1970-01-01T00:00:00+00:00",
    }
    cols = ("ts", "user", "src_host", "dst_host")
    table = pa.table({c: [lab[c] for lab in labels] for c in cols})
    return [campaign], table


_REDTEAM_MATCH = """CREATE TEMP TABLE mal AS
    SELECT DISTINCT 'lanl-redteam' AS campaign, e.event_id, e.ts, e.src_host, e.dst_host,
           e.log_host FROM labels l JOIN events e
      ON e.ts = l.ts AND e.src_host = l.src_host AND e.dst_host = l.dst_host
     AND (e."user" = l."user"
          OR lower(split_part(e.raw['source_user'], '@', 1)) = l."user")"""

_TRUTH_MATCH = """CREATE TEMP TABLE mal AS
    SELECT t.campaign, e.event_id, e.ts, e.src_host, e.dst_host, e.log_host
      FROM truth t JOIN events e
      ON e.record_id = t.record_id
     AND (CASE WHEN t.source = 'zeek' THEN e.log_host IS NULL
               ELSE coalesce(e.log_host, '') = t.log_host END)"""


def evaluate(
    store: str | Path | Store,
    truth: str | Path,
    *,
    epoch: str | None = None,
    test_from_day: float | None = None,
) -> Evaluation:
    """Compare the store's findings and incidents with ``truth``.

    ``truth`` is the simulator's ``ground_truth.jsonl`` or LANL's ``redteam.txt`` (whose times
    count from ``epoch``, the same epoch given to ingest; default the LANL parser's). For LANL,
    every auth event is also ranked by its findings' scores (``evaluate_lanl``); events in the
    first ``test_from_day`` days only trained the baselines and are left out of that ranking.
    """
    st = store if isinstance(store, Store) else Store(store)
    findings = st.read_findings()
    incidents = st.read_incidents()
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{spill_dir().as_posix()}'")
    path = Path(truth)
    if _is_jsonl(path):
        campaigns, truth_keys = _load_truth(path)
        con.register("truth", truth_keys)
        match = _TRUTH_MATCH
    else:
        from ashiato.ingest.lanl import DEFAULT_EPOCH

        campaigns, labels = _load_redteam(path, epoch or DEFAULT_EPOCH)
        con.register("labels", labels)
        truth_keys = labels
        match = _REDTEAM_MATCH
    con.register("findings", findings)
    con.register("incidents", incidents)
    con.execute(
        f"CREATE TEMP VIEW events AS SELECT event_id, ts, log_host, record_id, source, "
        f'src_host, dst_host, "user", raw '
        f"FROM read_parquet('{st.layout.events_glob()}', hive_partitioning=true)"
        if st.has_events()
        else "CREATE TEMP VIEW events AS SELECT NULL::VARCHAR event_id, NULL::TIMESTAMPTZ ts, "
        "NULL::VARCHAR log_host, NULL::VARCHAR record_id, NULL::VARCHAR source, "
        'NULL::VARCHAR src_host, NULL::VARCHAR dst_host, NULL::VARCHAR "user", '
        "NULL::MAP(VARCHAR, VARCHAR) raw WHERE false"
    )
    # Truth records -> store events: Windows by (recording host, record id); Zeek by uid;
    # LANL labels by time, hosts and account.
    con.execute(match)
    con.execute(
        """CREATE TEMP TABLE cited AS
        SELECT DISTINCT f.finding_id, unnest(f.evidence) AS event_id FROM findings f"""
    )
    cited_total = con.sql("SELECT count(DISTINCT event_id) FROM cited").fetchall()[0][0]
    mal_total = con.sql("SELECT count(DISTINCT event_id) FROM mal").fetchall()[0][0]
    hit = con.sql(
        "SELECT count(DISTINCT c.event_id) FROM cited c JOIN mal m USING (event_id)"
    ).fetchall()[0][0]
    true_f = {
        r[0]
        for r in con.sql(
            "SELECT DISTINCT c.finding_id FROM cited c JOIN mal m USING (event_id)"
        ).fetchall()
    }
    fids = findings.column("finding_id").to_pylist()
    hosts_of = dict(zip(fids, findings.column("entities").to_pylist(), strict=True))
    inc_ids = incidents.column("incident_id").to_pylist()
    inc_findings = [set(x) for x in incidents.column("finding_ids").to_pylist()]
    scores = []
    for c in campaigns:
        cid = c["id"]
        rows = con.execute(
            """SELECT count(DISTINCT m.event_id),
                      count(DISTINCT CASE WHEN c.event_id IS NOT NULL THEN m.event_id END),
                      min(CASE WHEN c.event_id IS NOT NULL THEN m.ts END),
                      list(DISTINCT c.finding_id) FILTER (WHERE c.finding_id IS NOT NULL),
                      min(m.ts),
                      list(DISTINCT lower(h)) FILTER (WHERE h IS NOT NULL)
               FROM (SELECT campaign, event_id, ts,
                            unnest([src_host, dst_host, log_host]) AS h FROM mal) m
               LEFT JOIN cited c USING (event_id) WHERE m.campaign = ?""",
            [cid],
        ).fetchall()[0]
        n_events, n_flagged, first_flag, f_ids, first_mal, mal_hosts = rows
        f_ids = f_ids or []
        start = _start(c.get("start"), first_mal)
        named = {h for f in f_ids for h in (hosts_of[f] or {}).get("hosts") or []}
        named |= {a for f in f_ids for a in (hosts_of[f] or {}).get("ips") or []}
        chosts = {h.lower() for h in (c.get("hosts") or mal_hosts or []) if h}
        rank = next((i for i, fs in enumerate(inc_findings) if fs & set(f_ids)), None)
        inc = inc_findings[rank] if rank is not None else set()
        scores.append(
            CampaignScore(
                id=cid,
                name=c.get("name", cid),
                detected=bool(n_flagged),
                delay_seconds=(first_flag - start).total_seconds() if first_flag else None,
                host_recall=round(len(chosts & named) / len(chosts), 4) if chosts else 0.0,
                events=int(n_events),
                events_flagged=int(n_flagged),
                start=start.isoformat(),
                first_detection=first_flag.isoformat() if first_flag else None,
                true_findings=len(f_ids),
                queue_rank=None if rank is None else rank + 1,
                incident_id=None if rank is None else inc_ids[rank],
                purity=round(len(inc & set(f_ids)) / len(inc), 4) if inc else None,
                incident_findings=len(inc) if rank is not None else None,
                split=sum(1 for fs in inc_findings if fs & set(f_ids)) if f_ids else None,
                held=round(len(inc & set(f_ids)) / len(f_ids), 4) if f_ids else None,
            )
        )
    inc_true = [bool(set(ids) & true_f) for ids in incidents.column("finding_ids").to_pylist()]
    span = con.sql("SELECT min(ts), max(ts) FROM events").fetchall()[0]
    days = max((span[1] - span[0]).total_seconds() / 86400, 1.0) if span[0] else 1.0
    n_true_inc = sum(inc_true)
    per_detector: dict[str, list[int]] = {}
    for fid, det in zip(fids, findings.column("detector").to_pylist(), strict=True):
        counts = per_detector.setdefault(det, [0, 0])
        counts[0] += fid in true_f
        counts[1] += 1
    ranked = None if _is_jsonl(path) else lanl_scores(con, test_start(con, test_from_day))
    con.close()
    return Evaluation(
        campaigns=scores,
        findings=len(fids),
        true_findings=len(true_f),
        incidents=incidents.num_rows,
        true_incidents=n_true_inc,
        days=round(days, 2),
        false_findings_per_day=round((len(fids) - len(true_f)) / days, 3),
        false_incidents_per_day=round((incidents.num_rows - n_true_inc) / days, 3),
        event_precision=round(hit / cited_total, 4) if cited_total else 0.0,
        event_recall=round(hit / mal_total, 4) if mal_total else 0.0,
        truth_events=truth_keys.num_rows,
        truth_events_missing=max(0, truth_keys.num_rows - int(mal_total)),
        top_incident_is_true=bool(inc_true and inc_true[0]),
        ranking=ranked,
        per_detector=dict(sorted(per_detector.items())),
    )


def evaluation_json(ev: Evaluation) -> str:
    return json.dumps(ev.to_json(), default=str)
