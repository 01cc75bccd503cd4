"""The ``ashiato`` command: one verb per pipeline stage, each a thin client of the library API."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ashiato.errors import AshiatoError
from ashiato.quote import jsontext, term
from ashiato.store import Store

if TYPE_CHECKING:
    import pyarrow as pa

app = typer.Typer(
    help="ashiato (足跡): catch and investigate intruders who use valid credentials.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
inventory_app = typer.Typer(help="Check and inspect an enterprise inventory.", no_args_is_help=True)
store_app = typer.Typer(help="Inspect an event store: manifest, rejections.", no_args_is_help=True)
app.add_typer(inventory_app, name="inventory")
app.add_typer(store_app, name="store")
rules_app = typer.Typer(help="Check Sigma rule sets against the event store.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
state_app = typer.Typer(
    help="Detection state: the summaries detectors judge new days against.", no_args_is_help=True
)
app.add_typer(state_app, name="state")

console = Console()
err = Console(stderr=True)

StoreOpt = Annotated[Path, typer.Option("--store", "-s", help="Event store directory.")]
RuleLevelOpt = Annotated[
    str | None,
    typer.Option(
        "--rule-level",
        help="Run Sigma rules of this level or above (informational, low, medium, high, "
        "critical; default for the default set: low).",
    ),
]
RuleStatusOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--rule-status",
        help="Run Sigma rules of these statuses (e.g. stable,test; default for the default set: "
        "all but deprecated and unsupported).",
    ),
]
RuleTagOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--rule-tag",
        help="Run Sigma rules with this tag or one under it (attack.t1003 keeps "
        "attack.t1003.001; repeatable: any of them).",
    ),
]
RuleProductOpt = Annotated[
    list[str] | None, typer.Option("--rule-product", help="Sigma logsource product(s) to run.")
]
RuleServiceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--rule-service", help="Sigma logsource service(s) to run (e.g. security,system)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per line on stdout.")]


def _progress(*, auto_refresh: bool = True) -> Progress:
    """A progress bar on stderr; ``auto_refresh=False``: drawn on each update, with no thread."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
        auto_refresh=auto_refresh,
    )


def _fail(exc: AshiatoError) -> NoReturn:
    err.print(f"[bold red]error:[/] {term.markup(exc)}")
    raise typer.Exit(2)


def _store(path: Path) -> Store:
    try:
        return Store(path)
    except AshiatoError as exc:
        _fail(exc)


def _print_json(table: pa.Table) -> None:
    from ashiato.detect.views import json_lines

    for line in json_lines(table):
        sys.stdout.write(line + "\n")


@inventory_app.command("check")
def inventory_check(directory: Path) -> None:
    """Validate an inventory directory; errors name the file and line."""
    from ashiato.inventory import load_inventory

    try:
        inv = load_inventory(directory)
    except AshiatoError as exc:
        _fail(exc)
    t = Table(title=f"Inventory {term.markup(directory)}")
    t.add_column("section")
    t.add_column("count", justify="right")
    for name in ("sites", "assets", "accounts", "data_stores", "customers"):
        t.add_row(name, str(len(getattr(inv, name))))
    t.add_row("policy rules", str(len(inv.policy.rules)))
    t.add_row("privileged accounts", str(sum(a.privileged for a in inv.accounts)))
    console.print(t)
    console.print("[green]inventory is valid[/]")


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Output directory.")],
    terminals: Annotated[int, typer.Option(help="Number of workstations.")] = 1500,
    days: Annotated[int, typer.Option(help="Days of logs.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 7,
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")] = "2026-09-01",
    scenario: Annotated[
        list[str] | None,
        typer.Option(help="Attack scenario to plant (repeatable; 'all' for every one)."),
    ] = None,
) -> None:
    """Build a simulated enterprise: inventory, raw logs and ground truth."""
    from ashiato.simulate import SCENARIOS
    from ashiato.simulate import simulate as run

    chosen = tuple(scenario) if scenario else None
    known = set(SCENARIOS) | {"all"}
    if chosen and not set(chosen) <= known:
        err.print(
            f"[bold red]error:[/] unknown scenario(s) {sorted(set(chosen) - known)}; "
            f"known: {', '.join(sorted(known))}"
        )
        raise typer.Exit(2)
    extra: dict[str, Any] = {"scenarios": chosen} if chosen else {}

    with _progress() as bar:
        task = bar.add_task("simulate", total=days * 24, info="")

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, info=f"{done // 24} days")

        summary = run(
            out,
            terminals=terminals,
            days=days,
            seed=seed,
            start=date.fromisoformat(start),
            progress=tick,
            **extra,
        )
    console.print(summary)


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, directories, globs, or - (stdin).")],
    store: StoreOpt,
    fmt: Annotated[str | None, typer.Option("--format", help="Force a parser.")] = None,
    workers: Annotated[int, typer.Option(help="Parallel worker processes.")] = 2,
    strict: Annotated[bool, typer.Option(help="Exit non-zero if any record is rejected.")] = False,
    tz: Annotated[
        str | None, typer.Option(help="IANA time zone of sources whose times carry none.")
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(help="Parser option KEY=VALUE (repeatable), e.g. lanl.epoch=2015-01-01."),
    ] = None,
    follow_symlinks: Annotated[
        bool,
        typer.Option(help="Read symbolic links that lead out of the directories or globs given."),
    ] = False,
) -> None:
    """Parse logs into the event store; every record is stored, rejected with a reason, or
    counted as a duplicate of one the store already holds.

    PATHS are files, directories, globs, zip archives, gzip/bz2 files, or - for standard input.
    Exits 1 if any input could not be stored (named on stderr, with why; run again once fixed:
    nothing is stored twice), or with --strict if any record was rejected. Prints the manifest
    chain head: keep it, and check the store later with `store verify --expect-head`.
    """
    from ashiato.ingest import ingest as run
    from ashiato.ingest.base import skip_pandas_probe

    skip_pandas_probe()  # this process and its workers convert no pandas object

    opts: dict[str, str] = {}
    for o in option or []:
        key, sep, value = o.partition("=")
        if not sep or not key:
            err.print(f"[bold red]error:[/] --option {o!r}: expected KEY=VALUE")
            raise typer.Exit(2)
        opts[key] = value
    started = drawn = time.perf_counter()
    # No refresh thread: with none, the workers fork from this process at no cost. The bar is
    # drawn on updates instead, ten times a second at most.
    with _progress(auto_refresh=False) as bar:
        task = bar.add_task("ingest", total=None, info="")

        def tick(u: Any) -> None:
            nonlocal drawn
            now = time.perf_counter()
            rate = u.records / max(now - started, 1e-6)
            draw = now - drawn >= 0.1 or u.files_done == u.files_total
            if draw:
                drawn = now
            bar.update(
                task,
                completed=u.files_done,
                total=u.files_total,
                info=f"{u.records:,} records ({rate:,.0f}/s), {u.rejections:,} rejected",
                refresh=draw,
            )

        try:
            report = run(
                [str(p) for p in paths],
                store,
                fmt=fmt,
                workers=workers,
                progress=tick,
                tz=tz,
                options=opts,
                follow_symlinks=follow_symlinks,
            )
        except AshiatoError as exc:
            _fail(exc)
    console.print(report)
    for f in report.files:
        if f.status == "skipped":
            why = term.markup(f.reason)
            err.print(f"[yellow]skipped:[/] {term.markup(f.path)} ({why})", soft_wrap=True)
    if report.failures:
        for f in report.failures:
            why = term.markup(f.status)
            err.print(f"[bold red]not stored:[/] {term.markup(f.path)}: {why}", soft_wrap=True)
        err.print(
            f"[bold red]{len(report.failures)} input(s) could not be stored[/]; "
            "ingest them again once the cause is fixed (nothing is stored twice)",
            soft_wrap=True,
        )
        raise typer.Exit(1)
    if strict and report.records_rejected:
        err.print(f"[red]--strict: {report.records_rejected} record(s) rejected[/]")
        raise typer.Exit(1)


@app.command()
def detect(
    store: StoreOpt,
    inventory: Annotated[
        Path | None, typer.Option(help="Inventory directory (detectors needing it are skipped).")
    ] = None,
    detector: Annotated[
        list[str] | None, typer.Option(help="Run only these detector ids (repeatable).")
    ] = None,
    no_detectors: Annotated[
        bool,
        typer.Option(
            "--no-detectors",
            help="Run Sigma rules only, no behavioural detector (a triage sweep, as with "
            "Zircolite or Chainsaw).",
        ),
    ] = False,
    limit: Annotated[int, typer.Option(help="Incidents to print.")] = 10,
    infer_sites: Annotated[
        bool, typer.Option(help="Without an inventory, infer sites from /16 subnets.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            help="Continuous mode: judge data against the stored history and list the findings "
            "new or changed since this ISO-8601 time (e.g. the last run's)."
        ),
    ] = None,
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", help="Sigma rule file or directory to run too (repeatable)."),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Compile --rules and the detectors' queries afresh; neither read nor write "
            "the caches.",
        ),
    ] = False,
    no_default_rules: Annotated[
        bool,
        typer.Option(
            "--no-default-rules",
            help="Do not run the default Sigma rule set (the active SigmaHQ set and ashiato's "
            "pack; see `ashiato rules list`).",
        ),
    ] = False,
    rule_level: RuleLevelOpt = None,
    rule_status: RuleStatusOpt = None,
    rule_tag: RuleTagOpt = None,
    rule_product: RuleProductOpt = None,
    rule_service: RuleServiceOpt = None,
) -> None:
    """Run the detectors and the default Sigma rule set over the store and print the ranked
    incident queue. --rules adds one's own rules; --rule-* options choose which rules run."""
    from ashiato.detect.runner import detect as run
    from ashiato.detect.views import IncidentQueue, render_detect_report
    from ashiato.inventory import load_inventory

    if no_cache:
        os.environ["ASHIATO_CACHE_DIR"] = "off"  # read by ashiato.sigma.cache and detect.sqlcache
    plan = _rule_plan(
        not no_default_rules,
        rules or [],
        rule_level,
        rule_status,
        rule_tag,
        rule_product,
        rule_service,
    )
    try:
        inv = load_inventory(inventory) if inventory else None
        with console.status("detecting") as status:
            rep = run(
                store,
                inv,
                detectors=[] if no_detectors else detector,
                progress=status.update,
                infer_sites=infer_sites,
                since=_parse_since(since),
                rules=plan.paths,
                rule_select=plan.select,
            )
    except AshiatoError as exc:
        _fail(exc)
    console.print(render_detect_report(rep))
    for line in plan.lines():
        console.print(term.text(line))
    if rep.new_findings is not None:
        from ashiato.detect.views import FindingList

        console.print(
            f"{rep.new_findings.num_rows} finding(s) new or changed since {term.markup(since)}"
        )
        console.print(FindingList(rep.new_findings, limit=limit))
        return
    console.print(IncidentQueue(rep.incidents, limit=limit))


def _parse_since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        _fail(AshiatoError(f"--since: not an ISO-8601 time: {text!r}"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class _RulePlan:
    """Which Sigma rules a command runs: the default set (unless turned off), one's own, and
    the selection; ``lines`` says so for the output."""

    def __init__(self, default: Any, paths: list[Path], select: Any) -> None:
        self.default = default  # ruleset.ActiveSet | None
        self.paths = paths
        self.select = select  # select.RuleSelector | None

    def lines(self) -> list[str]:
        out = []
        if self.default is not None:
            out += [f"note: {n}" for n in self.default.notices()]
            line = f"default Sigma rule set: {self.default.ruleset.describe()} + ashiato's pack"
            if self.select is not None:
                st = self.select.stats
                line += (
                    f"; selection ({self.select.selection.describe()}): {st.selected:,} of "
                    f"{st.considered:,} rule(s) selected"
                    + (f", {st.bases_kept} kept for correlations" if st.bases_kept else "")
                )
            out.append(line + " (--no-default-rules: off; `ashiato rules list`: the sets)")
        elif self.select is not None:
            st = self.select.stats
            out.append(
                f"Sigma selection ({self.select.selection.describe()}): {st.selected:,} of "
                f"{st.considered:,} rule(s) selected"
            )
        return out


def _rule_plan(
    default: bool,
    own: list[Path],
    level: str | None,
    status: list[str] | None,
    tags: list[str] | None,
    product: list[str] | None,
    service: list[str] | None,
) -> _RulePlan:
    from ashiato.sigma.ruleset import PACK, default_rule_paths, default_selector
    from ashiato.sigma.select import DEFAULT_SELECTION, Selection

    try:
        explicit = (
            Selection.parse(
                level,
                status or (),
                tags or (),
                product or (),
                service or (),
                base=DEFAULT_SELECTION,
            )
            if level or status or tags or product or service
            else None
        )
        act, paths = default_rule_paths(given=own) if default else (None, [])
    except AshiatoError as exc:
        _fail(exc)
    select = default_selector(act.ruleset if act else None, explicit)
    if act is not None:  # the pack runs already: `--rules rules/ashiato` must not run it twice
        own = [p for p in own if p.resolve() != PACK.resolve()]
    return _RulePlan(act, [*paths, *own], select)


@app.command()
def findings(
    store: StoreOpt,
    as_json: JsonOpt = False,
    limit: Annotated[int, typer.Option(help="Findings to print (table view).")] = 20,
) -> None:
    """Print the findings of the last detect run."""
    from ashiato.detect.views import FindingList

    table = _store(store).read_findings()
    if as_json:
        _print_json(table)
    else:
        console.print(FindingList(table, limit=limit))


@app.command()
def incidents(
    store: StoreOpt,
    as_json: JsonOpt = False,
    limit: Annotated[int, typer.Option(help="Incidents to print (table view).")] = 20,
) -> None:
    """Print the incident queue of the last detect run, highest risk first."""
    from ashiato.detect.views import IncidentQueue

    table = _store(store).read_incidents()
    if as_json:
        _print_json(table.rename_columns(["id", *table.column_names[1:]]))
    else:
        console.print(IncidentQueue(table, limit=limit))


@app.command()
def entities(
    store: StoreOpt,
    as_json: JsonOpt = False,
    limit: Annotated[int, typer.Option(help="Entities to print (table view).")] = 20,
) -> None:
    """Accounts and hosts ranked by the suspicion their findings gathered (decaying)."""
    table = _store(store).read_entity_risk()
    if as_json:
        _print_json(table)
        return
    t = Table(title=f"Entity risk ({table.num_rows} accounts and hosts)")
    for c in ("risk", "type", "entity", "findings", "detectors", "last seen (UTC)"):
        t.add_column(c, justify="right" if c in ("risk", "findings") else "left")
    for r in table.slice(0, limit).to_pylist():
        t.add_row(
            f"{r['risk']:.0f}",
            term.text(r["entity_type"]),
            term.text(r["entity"]),
            str(r["n_findings"]),
            term.text(", ".join(r["detectors"])),
            r["last_seen"].strftime("%Y-%m-%d %H:%M"),
        )
    console.print(t)


@app.command()
def investigate(
    kind: Annotated[
        str, typer.Argument(help="What to investigate: incident, account, host or site.")
    ],
    id: Annotated[str, typer.Argument(help="Its id (incident ids as `ashiato incidents --json`).")],
    store: StoreOpt,
    inventory: Annotated[Path, typer.Option(help="Inventory directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    timeline: Annotated[
        Path | None, typer.Option(help="Also write the timeline here (.jsonl or .csv).")
    ] = None,
    raw_csv: Annotated[
        bool,
        typer.Option(
            "--raw-csv",
            help="Write CSV values as logged: no leading ' on formula-like cells, controls raw.",
        ),
    ] = False,
) -> None:
    """Scope, timeline, data and customers, coverage, exfiltration, onset and actors."""
    from ashiato.inventory import load_inventory
    from ashiato.investigate import investigate as run
    from ashiato.investigate import write_csv, write_jsonl

    if kind not in ("incident", "account", "host", "site"):
        _fail(AshiatoError(f"unknown kind {kind!r}: use incident, account, host or site"))
    try:
        with console.status(f"investigating {kind} {id}"):
            inv = run(_store(store), load_inventory(inventory), kind, id)  # type: ignore[arg-type]
    except AshiatoError as exc:
        _fail(exc)
    if timeline is not None and inv.timeline is not None:
        if timeline.suffix.lower() == ".csv":
            written = write_csv(inv.timeline, timeline, raw=raw_csv)
        else:
            written = write_jsonl(inv.timeline, timeline)
        err.print(f"timeline: {term.markup(written)} ({inv.timeline.num_rows} rows)")
    if as_json:
        sys.stdout.write(json.dumps(inv.to_json(), default=str) + "\n")
    else:
        console.print(inv)


@app.command()
def report(
    store: StoreOpt,
    inventory: Annotated[Path, typer.Option(help="Inventory directory.")],
    out: Annotated[Path, typer.Option("--out", help="The report's HTML file to write.")],
    incident: Annotated[
        str | None, typer.Option(help="Incident id (default: the top of the queue).")
    ] = None,
    pdf: Annotated[Path | None, typer.Option(help="Also write a PDF of the report here.")] = None,
) -> None:
    """Write the incident report: one self-contained HTML file (and a PDF) with charts."""
    from ashiato.inventory import load_inventory
    from ashiato.report import write_report

    try:
        with console.status("writing the report"):
            paths = write_report(_store(store), load_inventory(inventory), out, incident, pdf=pdf)
    except AshiatoError as exc:
        _fail(exc)
    console.print(
        f"report for incident {term.markup(paths.incident_id)}: {term.markup(paths.html)}"
    )
    if paths.pdf is not None:
        console.print(f"PDF: {term.markup(paths.pdf)}")


InventoryReq = Annotated[Path, typer.Option(help="Inventory directory.")]
IncidentOpt = Annotated[str, typer.Option(help="Incident id (as `ashiato incidents --json`).")]


@app.command()
def contain(
    store: StoreOpt,
    inventory: InventoryReq,
    incident: IncidentOpt,
    out: Annotated[Path, typer.Option("--out", help="Directory for the rule files and replay.")],
    at: Annotated[
        str | None, typer.Option(help="Containment time, ISO-8601 (default: end of the data).")
    ] = None,
) -> None:
    """Plan containment (nftables, Windows Firewall, Cisco IOS, AD) and replay it over history."""
    from ashiato.inventory import load_inventory
    from ashiato.respond import contain as run

    try:
        with console.status(f"planning containment of {incident}"):
            _store(store)
            done = run(store, load_inventory(inventory), incident, out, _parse_since(at))
    except AshiatoError as exc:
        _fail(exc)
    console.print(done.plan)
    console.print(done.replay)
    for f in done.files:
        console.print(f"wrote {term.markup(f)}")


@app.command("verify-containment")
def verify_containment(
    store: StoreOpt,
    inventory: InventoryReq,
    incident: IncidentOpt,
    since: Annotated[str, typer.Option(help="When containment was applied, ISO-8601.")],
    plan: Annotated[
        Path | None, typer.Option(help="The plan.json `ashiato contain` wrote (else re-planned).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Any activity by blocked sources or reset credentials since T, with the coverage behind it."""
    from ashiato.inventory import load_inventory
    from ashiato.respond import verify_incident

    when = _parse_since(since)
    assert when is not None
    try:
        with console.status("verifying containment"):
            _store(store)
            v = verify_incident(store, load_inventory(inventory), incident, when, plan)
    except AshiatoError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(v.to_json(), default=str) + "\n")
    else:
        console.print(v)


@app.command()
def notify(
    store: StoreOpt,
    inventory: InventoryReq,
    incident: IncidentOpt,
    out: Annotated[Path, typer.Option("--out", help="Directory for customers.csv and letters.")],
    templates: Annotated[
        Path | None, typer.Option(help="Directory of letter templates to use instead.")
    ] = None,
    raw_csv: Annotated[
        bool,
        typer.Option(
            "--raw-csv",
            help="Write customers.csv values as they are: no leading ' on formula-like cells.",
        ),
    ] = False,
) -> None:
    """Per affected customer: customers.csv and a letter draft in English and Japanese."""
    from ashiato.inventory import load_inventory
    from ashiato.respond import notify_incident

    try:
        with console.status("drafting notifications"):
            _store(store)
            n = notify_incident(
                store, load_inventory(inventory), incident, out, templates, raw=raw_csv
            )
    except AshiatoError as exc:
        _fail(exc)
    console.print(f"{len(n.customers)} customer(s) affected: {term.markup(n.csv)}")
    for (cust, lang), path in sorted(n.letters.items()):
        console.print(term.text(f"  {cust} [{lang}] {path}"))


@app.command()
def evaluate(
    store: StoreOpt,
    truth: Annotated[
        Path, typer.Option(help="ground_truth.jsonl from `ashiato simulate`, or LANL redteam.txt.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    epoch: Annotated[
        str | None, typer.Option(help="LANL time zero (the lanl.epoch given to ingest).")
    ] = None,
    test_from_day: Annotated[
        float | None,
        typer.Option(help="LANL: rank only events this many days after the data start."),
    ] = None,
) -> None:
    """Score the last detect run against ground truth (LANL: also AUC, AP, precision@80%)."""
    from ashiato.evaluate import evaluate as run
    from ashiato.evaluate import evaluation_json

    try:
        ev = run(store, truth, epoch=epoch, test_from_day=test_from_day)
    except AshiatoError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(evaluation_json(ev) + "\n")
    else:
        console.print(ev)


@state_app.command("show")
def state_show(store: StoreOpt, as_json: JsonOpt = False) -> None:
    """Each stateful detector's state: up to which day, its tables' rows, its size on disk."""
    from dataclasses import asdict

    from ashiato.detect.state import summaries

    st = _store(store)
    rows = summaries(st.layout)
    events = sum(f.stat().st_size for f in st.layout.events_dir.glob("day=*/*.parquet"))
    if as_json:
        for r in rows:
            sys.stdout.write(jsontext.dumps({**asdict(r), "store_event_bytes": events}) + "\n")
        return
    t = Table(title=f"Detection state ({len(rows)} detectors)")
    for c in ("detector", "to day", "days", "tables (rows)", "finding days", "size"):
        t.add_column(c, justify="right" if c in ("days", "finding days", "size") else "left")
    for r in rows:
        t.add_row(
            term.text(r.detector),
            r.watermark or "-",
            str(r.days),
            term.text(", ".join(f"{k} {v:,}" for k, v in r.tables.items())),
            str(r.parts),
            f"{r.bytes / 1e6:,.1f} MB",
        )
    console.print(t)
    total = sum(r.bytes for r in rows)
    share = (
        f" ({100 * total / events:.1f} % of the events' {events / 1e6:,.1f} MB)" if events else ""
    )
    console.print(f"state: {total / 1e6:,.1f} MB{share}")


@state_app.command("rebuild")
def state_rebuild(
    store: StoreOpt,
    inventory: Annotated[
        Path | None, typer.Option(help="Inventory directory (detectors needing it are skipped).")
    ] = None,
    detector: Annotated[
        list[str] | None, typer.Option(help="Rebuild only these detector ids (repeatable).")
    ] = None,
) -> None:
    """Fold every day again from nothing for the stateful detectors (or those named); the next
    `ashiato detect` merges what they found without judging a day again."""
    from ashiato.detect.fold import rebuild
    from ashiato.detect.registry import DETECTORS
    from ashiato.inventory import load_inventory

    known = {d.SPEC.id: d for d in DETECTORS}
    unknown = sorted(set(detector or []) - set(known))
    if unknown:
        _fail(AshiatoError(f"unknown detector(s) {unknown}; known: {sorted(known)}"))
    chosen = [known[d] for d in detector] if detector else list(DETECTORS)
    try:
        inv = load_inventory(inventory) if inventory else None
        with console.status("rebuilding") as status:
            done = rebuild(_store(store), inv, chosen, progress=status.update)
    except AshiatoError as exc:
        _fail(exc)
    for r in done:
        console.print(
            term.text(
                f"{r.detector}: {r.days_judged} day(s) folded, to {r.watermark or '-'}, "
                f"{len(r.findings)} finding(s), {r.seconds:.1f} s"
            )
        )


@store_app.command("manifest")
def store_manifest(store: StoreOpt, as_json: JsonOpt = False) -> None:
    """List every input file ingested, with its hash and counts (chain of custody)."""
    from ashiato.store.manifest import read_manifest

    m = read_manifest(_store(store).layout)
    if as_json:
        _print_json(m)
        return
    t = Table(title=f"Evidence manifest ({m.num_rows} files)")
    counts = ("read", "stored", "rejected", "duplicate")
    for c in ("path", "sha256", "parser", *counts):
        t.add_column(c, justify="right" if c in counts else "left")
    for r in sorted(m.to_pylist(), key=lambda r: r["path"]):
        t.add_row(
            term.text(Path(r["path"]).name),
            r["sha256"][:16],
            term.text(r["parser"]),
            f"{r['records_read']:,}",
            f"{r['records_stored']:,}",
            f"{r['records_rejected']:,}",
            f"{r['records_duplicate']:,}",
        )
    console.print(t)
    from ashiato.store.chain import head

    top = head(_store(store).layout)
    console.print(f"chain head: {top[1]} (link {top[0]})" if top else "no manifest chain")


@store_app.command("rejects")
def store_rejects(
    store: StoreOpt, as_json: JsonOpt = False, limit: Annotated[int, typer.Option()] = 50
) -> None:
    """List rejected records: file, line, parser and why."""
    from ashiato.store.manifest import read_rejects

    r = read_rejects(_store(store).layout)
    if as_json:
        _print_json(r)
        return
    t = Table(title=f"Rejected records ({r.num_rows})")
    for c in ("file", "line", "parser", "reason"):
        t.add_column(c)
    for row in r.slice(0, limit).to_pylist():
        t.add_row(
            term.text(Path(row["path"]).name),
            str(row["source_offset"]),
            term.text(row["parser"]),
            term.text(row["reason"]),
        )
    console.print(t)


@store_app.command("verify")
def store_verify(
    store: StoreOpt,
    expect_head: Annotated[
        str | None,
        typer.Option(help="A chain head printed by an earlier ingest: fail unless still there."),
    ] = None,
) -> None:
    """Re-hash the originals still present and every store file against the manifest, and check
    the manifest as a whole against its hash chain (a removed or edited row fails).

    A chain cut back to an earlier link, together with the newest inputs, is consistent in
    itself: pass the head an ingest printed (--expect-head) to catch that too.
    """
    from ashiato.store.verify import verify

    layout = _store(store).layout
    with _progress() as bar:
        task = bar.add_task("verify", total=None, info="")
        report = verify(
            layout,
            lambda done, total: bar.update(task, completed=done, total=total),
            expect_head=expect_head,
        )
    console.print(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def suppress(
    store: StoreOpt,
    by: Annotated[str, typer.Option(help="Who sets the verdict.")],
    why: Annotated[str, typer.Option(help="Why: what makes this benign or expected.")],
    finding: Annotated[str | None, typer.Option(help="Suppress this finding id.")] = None,
    incident: Annotated[str | None, typer.Option(help="Suppress every finding of it.")] = None,
    account: Annotated[str | None, typer.Option(help="Suppress findings naming it.")] = None,
    source: Annotated[str | None, typer.Option(help="Suppress findings from this host/IP.")] = None,
    site: Annotated[str | None, typer.Option(help="Suppress findings involving this site.")] = None,
    detector: Annotated[str, typer.Option(help="Limit to one detector id ('*': all).")] = "*",
    verdict: Annotated[str, typer.Option(help="false_positive or expected.")] = "false_positive",
) -> None:
    """Record an analyst verdict; the next detect run applies it (see `ashiato suppressions`)."""
    from ashiato.detect import suppress as sup

    st = _store(store)
    if verdict not in ("false_positive", "expected"):
        _fail(AshiatoError(f"--verdict must be false_positive or expected, not {verdict!r}"))
    targets: list[tuple[str, str, str]] = []  # (detector, scope, value)
    findings_t = st.read_findings().to_pylist()
    by_id = {f["finding_id"]: f for f in findings_t}
    if finding:
        if finding not in by_id:
            _fail(AshiatoError(f"no finding {finding} in {store} (see `ashiato findings`)"))
        targets.append((by_id[finding]["detector"], "finding", finding))
    if incident:
        rows = [r for r in st.read_incidents().to_pylist() if r["incident_id"] == incident]
        if not rows:
            _fail(AshiatoError(f"no incident {incident} in {store} (see `ashiato incidents`)"))
        for fid in rows[0]["finding_ids"]:
            targets.append((by_id[fid]["detector"] if fid in by_id else "*", "finding", fid))
    for scope, value in (("account", account), ("source", source), ("site", site)):
        if value:
            targets.append((detector, scope, value))
    if not targets:
        _fail(
            AshiatoError(
                "name what to suppress: --finding, --incident, --account, --source or --site"
            )
        )
    for det, scope, value in targets:
        try:
            s = sup.add(
                st.layout,
                detector=det,
                scope=scope,  # type: ignore[arg-type]
                value=value,
                verdict=verdict,  # type: ignore[arg-type]
                by=by,
                why=why,
            )
        except AshiatoError as exc:
            _fail(exc)
        console.print(
            term.text(f"{s.id}: {s.verdict} for {s.detector} where {s.scope} = {s.value}")
        )


@app.command()
def suppressions(store: StoreOpt, as_json: JsonOpt = False) -> None:
    """List the analyst verdicts that detect applies, with who set them and why."""
    from dataclasses import asdict

    from ashiato.detect import suppress as sup

    items = sup.load(_store(store).layout)
    if as_json:
        for s in items:
            sys.stdout.write(jsontext.dumps(asdict(s)) + "\n")
        return
    t = Table(title=f"Suppressions ({len(items)})")
    for c in ("id", "detector", "match", "verdict", "by", "why", "set (UTC)"):
        t.add_column(c)
    for s in items:
        cells = (s.id, s.detector, f"{s.scope} = {s.value}", s.verdict, s.by, s.why, s.created[:16])
        t.add_row(*(term.text(c) for c in cells))
    console.print(t)


@app.command()
def detectors() -> None:
    """List the registered detectors."""
    from ashiato.detect.registry import DETECTORS

    t = Table(title="Detectors")
    for c in ("id", "severity", "ATT&CK", "needs inventory", "description"):
        t.add_column(c)
    for d in DETECTORS:
        s = d.SPEC
        t.add_row(
            s.id,
            s.severity,
            ", ".join(s.techniques),
            "yes" if s.requires_inventory else "no",
            s.description,
        )
    console.print(t)


@rules_app.command("check")
def rules_check(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Sigma rule files or directories (default: the default rule set)."),
    ] = None,
    as_json: JsonOpt = False,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store", "-s", help="Also list, per rule, the fields no event of this store carries."
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Compile afresh; neither read nor write the cache.")
    ] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            help="Compiled-rule cache (default $ASHIATO_CACHE_DIR, else "
            "$XDG_CACHE_HOME/ashiato/sigma)."
        ),
    ] = None,
    rule_level: RuleLevelOpt = None,
    rule_status: RuleStatusOpt = None,
    rule_tag: RuleTagOpt = None,
    rule_product: RuleProductOpt = None,
    rule_service: RuleServiceOpt = None,
) -> None:
    """Load and compile Sigma rules; print what compiles, what is skipped and why.

    Without PATHS, the default rule set that `detect` runs (the active set and ashiato's pack,
    with the default selection). With --store, also the rules that test a field no stored event
    carries: they cannot match there (a log source the store lacks, or a field name ashiato does
    not map)."""
    from ashiato.sigma.report import coverage, render_coverage

    plan = _rule_plan(
        not paths, paths or [], rule_level, rule_status, rule_tag, rule_product, rule_service
    )
    if plan.select is not None:
        plan.select.summarize = None  # list every skipped rule here
    report = coverage(
        plan.paths,
        Store(store) if store is not None else None,
        use_cache=not no_cache,
        cache_dir=cache_dir,
        select=plan.select,
    )
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        console.print(render_coverage(report))
        for line in plan.lines():
            console.print(term.text(line))
    if report["errors"]:
        raise typer.Exit(1)


@rules_app.command("list")
def rules_list(as_json: JsonOpt = False) -> None:
    """The installed rule sets (the shipped SigmaHQ pin is always one), which is active."""
    from ashiato.sigma import ruleset

    try:
        ruleset.ensure_shipped()  # the pin is always there to go back to
        act = ruleset.active()
    except AshiatoError as exc:
        _fail(exc)
    sets = ruleset.installed()
    if as_json:
        for s in sets:
            row = {k: v for k, v in s.manifest.items() if k != "files"}
            row.update(name=s.name, active=s.name == act.ruleset.name, rule_files=len(s.rule_files))
            sys.stdout.write(jsontext.dumps(row) + "\n")
        return
    t = Table(title=f"Sigma rule sets in {term.markup(ruleset.sets_dir())}")
    for c in ("", "name", "rules from", "pin", "date", "rule files", "licence", "installed"):
        t.add_column(c, justify="right" if c == "rule files" else "left")
    for s in sets:
        m = s.manifest
        t.add_row(
            "active" if s.name == act.ruleset.name else "",
            term.text(s.name),
            term.text(m.get("source", "?")),
            term.text(s.pin),
            term.text(m.get("date") or ""),
            f"{len(s.rule_files):,}",
            term.text(m.get("licence", "unknown")),
            "shipped" if s.shipped else term.text(m.get("installed", "?")),
        )
    console.print(t)
    for n in act.notices():
        err.print(term.text(f"note: {n}", style="yellow"))
    console.print(
        f"ashiato's own pack ({term.markup(ruleset.PACK)}) runs with the active set; "
        "`ashiato rules use NAME` switches, `ashiato rules update` installs a newer release"
    )


@rules_app.command("use")
def rules_use(
    name: Annotated[str, typer.Argument(help="An installed set (`rules list`), or pinned.")],
) -> None:
    """Make an installed rule set the one `detect` runs by default (pinned: the shipped one)."""
    from ashiato.sigma import ruleset

    try:
        s = ruleset.use(name)
    except AshiatoError as exc:
        _fail(exc)
    console.print(term.text(f"active rule set: {s.describe()}"))


@rules_app.command("update")
def rules_update(
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="A SigmaHQ release zip: URL (http/https) or local file (default: the latest "
            "SigmaHQ release, every rule package).",
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Fetch and validate only; install nothing.")
    ] = False,
    name: Annotated[str | None, typer.Option(help="Name of the installed set.")] = None,
    timeout: Annotated[float, typer.Option(help="Network timeout, seconds.")] = 30.0,
) -> None:
    """Install a newer SigmaHQ rule release, validated, and make it the active set.

    Every rule file must load and compile or is reported; archives with absolute or `..`
    paths, links or absurd sizes are refused. The shipped pin stays installed
    (`ashiato rules use pinned` goes back to it)."""
    from ashiato.sigma import ruleset

    try:
        with console.status("fetching and validating rules"):
            result = ruleset.update(source, check=check, name=name, timeout=timeout)
    except AshiatoError as exc:
        _fail(exc)
    for line in result.lines():
        console.print(term.text(line))


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Working directory for the demo.")] = Path("demo-out"),
    terminals: Annotated[int, typer.Option()] = 1500,
    days: Annotated[int, typer.Option()] = 30,
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Simulate an enterprise, ingest, detect, score against ground truth, report the top one."""
    t0 = time.perf_counter()
    sim = out / "enterprise"
    store = out / "store"
    console.rule("1. simulate")
    simulate(out=sim, terminals=terminals, days=days, seed=seed, start="2026-09-01", scenario=None)
    console.rule("2. ingest")
    ingest(
        paths=[str(sim / "logs")],
        store=store,
        fmt=None,
        workers=2,
        strict=False,
        tz=None,
        option=None,
    )
    console.rule("3. detect")
    detect(
        store=store,
        inventory=sim / "inventory",
        detector=None,
        limit=10,
        infer_sites=False,
        rules=None,
        no_cache=False,
        no_default_rules=False,
    )
    console.rule("4. evaluate")
    evaluate(store=store, truth=sim / "ground_truth.jsonl", as_json=False, epoch=None)
    console.rule("5. report on the top incident")
    report(
        store=store, inventory=sim / "inventory", out=out / "report.html", incident=None, pdf=None
    )
    console.print(f"[bold]demo finished in {time.perf_counter() - t0:.0f} s[/]")


def main() -> None:
    app()
