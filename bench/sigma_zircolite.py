"""Benchmark: ashiato against Zircolite's pipeline on the real EVTX files, full SigmaHQ Windows set.

Inputs: every ``*.evtx`` (any case) under ``shared/data/real`` (356 files), and the 2,406 rules
of ``shared/data/sigmahq/rules/windows``. Nothing is fetched.

**Baseline: Zircolite's pipeline, reimplemented here from PyPI packages** (Zircolite's own code
is neither copied nor downloaded; what it does was read from its public source):

- EVTX -> JSON: ``evtx`` (pyevtx-rs) ``records_json()``, each record parsed with ``orjson``;
- flattening as Zircolite's ``StreamingEventProcessor``: every leaf of the event's JSON becomes
  one field named by the alphanumeric characters of its last path component, except for the
  paths its field-mapping config renames (``ZIRCO_MAPPINGS``: ``Provider_Name``, ``EventID``
  from ``#text``, ``Execution_ProcessID``...); ``xmlns`` leaves are dropped, and so are null and
  empty values; lists become their ``str``; ``Hash``/``Hashes`` split into ``MD5``, ``SHA1``...;
  a later leaf of the same name overwrites an earlier one (so a 104 event's UserData
  ``Channel`` replaces the System channel, as in Zircolite); ``OriginalLogfile`` names the file
  (here the path under ``shared/data/real``, not only the file name, so that matches can be
  attributed to a file);
- one in-memory SQLite table ``logs`` with Zircolite's connection PRAGMAs, a Python ``regexp``
  function, columns added as they are discovered (``INTEGER`` for integer values, else ``TEXT
  COLLATE NOCASE``), batches of 5,000 rows inserted in transactions, an index on ``EventID``;
  all files in one database (Zircolite's ``--unified-db`` mode: one pass of the rules over
  everything, which is its fastest mode for many small files); Zircolite's channel/event-id
  pre-filter, which is off as soon as one rule names neither (true for this rule set);
- the rules as Zircolite's default ruleset ``rules_windows_merged.json`` is built (its rules
  repository's converter): ``pySigma`` + ``pysigma-backend-sqlite`` (``zircolite`` output format,
  ``timestamp_field=SystemTime``) once with the ``sysmon`` + ``windows-logsources`` pipelines and
  once with ``windows-audit`` + ``windows-logsources``, each with the rules whose logsource that
  profile maps, then merged and de-duplicated by (rule id, SQL); rules with the same SQL are run
  once (Zircolite's loader);
- each rule's SQL run, every row fetched as a dict without its NULL values, and the matches
  written as indented JSON (Zircolite's ``execute_ruleset``); a rule whose SQL fails (a column
  no event has) matches nothing, as in Zircolite.

Timed phases: EVTX->JSON, load (flatten + insert + index), rule conversion (cold) or loading
the converted ruleset's JSON (warm, as Zircolite's pre-converted rulesets are), rule run; and
the whole process (``e2e``, imports included).

**ashiato**, through its CLI in subprocesses: ``ashiato ingest FILES --store S``, then
``ashiato detect --store S --infer-sites --rules RULES`` (with ``--no-default-rules`` when
``detect --help`` offers it, so that exactly the Windows folder runs), cold (a fresh
``ASHIATO_CACHE_DIR``) and warm (the same directory again).

Three alternating rounds, medians; peak RSS of each process (``wait4``'s ``ru_maxrss``: the
largest process of the tree); the 1-minute load average with every measurement; events/s =
records in the EVTX files (as pyevtx reads them) / wall time, the same count for both engines;
the 4-event file ``deepbluecli/new-user-security.evtx`` (ingest, and detect warm; the baseline
warm).

Then, unless ``--no-agreement``: per file and per rule, the matching event counts of both
engines. ashiato's are exact: each file is ingested alone into its own store and the rules run
with the library (``iter_findings``: a rule's findings add up to every event it matched); the
baseline's come from ``OriginalLogfile`` of its matches in the first warm round.
``--write-cases PATH`` writes the (rule, file, count) cases both engines agree on, for
``tests/sigma/test_real_regression.py``.

Usage: ``.venv/bin/python bench/sigma_zircolite.py [--rounds 3] [--json out.json]
[--write-cases tests/sigma/data/real_cases.json] [--no-agreement]``
(needs ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# bench/sigma.py would shadow pySigma's ``sigma`` package: drop this script's folder from the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "data"
REAL = SHARED / "real"
RULES = SHARED / "sigmahq" / "rules" / "windows"
SMALL = REAL / "deepbluecli" / "new-user-security.evtx"
ISSUE_ZIRCOLITE_EPS = 1484.0
"""Zircolite 3.7's events/s on these files, measured on this machine kind (issue 12)."""


def evtx_files(real: Path) -> list[Path]:
    """Every ``*.evtx`` under ``real``, any case, sorted."""
    return sorted(p for p in real.rglob("*") if p.is_file() and p.suffix.lower() == ".evtx")


def _rel(path: Path, real: Path) -> str:
    try:
        return str(path.relative_to(real))
    except ValueError:
        return path.name


# -- the baseline: Zircolite's pipeline -------------------------------------------------------

ZIRCO_MAPPINGS = {
    "Event.System.EventID": "EventID",
    "Event.System.EventID.#text": "EventID",
    "Event.System.Provider.#attributes.Name": "Provider_Name",
    "Event.System.Execution.#attributes.ProcessID": "Execution_ProcessID",
    "Event.System.Execution.#attributes.ThreadID": "Execution_ThreadID",
}
"""The EVTX paths whose Zircolite name is not the last path component (the others in its
config map a path to that component, which is the default anyway)."""
ZIRCO_EXCLUDE = ("xmlns",)
ZIRCO_SPLIT = {"Hash": (",", "="), "Hashes": (",", "="), "ConfigurationFileHash": (",", "=")}
TEXT = "TEXT COLLATE NOCASE"
BATCH = 5000
LEVELS = ("critical", "high", "medium", "low", "informational")


def zflatten(event: dict[str, Any], filename: str, types: dict[str, tuple[str, str]]) -> dict:
    """One EVTX JSON event as Zircolite's flat row; ``types``: lower name -> (name, SQL type)."""
    event["OriginalLogfile"] = filename
    out: dict[str, Any] = {}

    def walk(obj: Any, path: tuple[str, ...]) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, (*path, k))
            return
        raw = ".".join(path)
        if any(x in raw for x in ZIRCO_EXCLUDE):
            return
        value = str(obj) if isinstance(obj, list) else obj
        if value is None or value == "":
            return
        key = ZIRCO_MAPPINGS.get(raw)
        if key is None:
            key = "".join(c for c in (path[-1] if path else "") if c.isalnum())
        split = ZIRCO_SPLIT.get(raw) or ZIRCO_SPLIT.get(key)
        if split and isinstance(value, str):
            with contextlib.suppress(ValueError):
                for part in value.split(split[0]):
                    k, v = part.split(split[1])
                    out[k] = v
                    types.setdefault(k.lower(), (k, TEXT))
        out[key] = value
        types.setdefault(key.lower(), (key, "INTEGER" if isinstance(value, int) else TEXT))

    walk(event, ())
    return out


def _system(event: dict[str, Any]) -> tuple[Any, int | None]:
    system = event.get("Event", {}).get("System", {}) if isinstance(event, dict) else {}
    eid = system.get("EventID")
    if isinstance(eid, dict):
        eid = eid.get("#text")
    try:
        code = int(eid) if eid is not None else None
    except (TypeError, ValueError):
        code = None
    return system.get("Channel"), code


def _profiles() -> dict[str, Any]:
    from sigma.pipelines.sysmon import sysmon_pipeline
    from sigma.pipelines.windows import windows_audit_pipeline, windows_logsource_pipeline
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import FieldMappingTransformation

    # Zircolite flattens Defender's "New Value" to NewValue: rules spelling the leaf get it.
    leaves = ProcessingPipeline(
        items=[
            ProcessingItem(
                FieldMappingTransformation(
                    {
                        "EventXML.Address": "Address",
                        "EventXML.Param3": "Param3",
                        "New Value": "NewValue",
                    }
                ),
                identifier="zircolite_leaf_names",
            )
        ]
    )
    return {
        "sysmon": sysmon_pipeline() + windows_logsource_pipeline() + leaves,
        "generic": windows_audit_pipeline() + windows_logsource_pipeline() + leaves,
    }


def _fields(detection: Any) -> Iterator[str]:
    if getattr(detection, "field", None):
        yield detection.field
    for item in getattr(detection, "detection_items", []):
        yield from _fields(item)


def convert_ruleset(rules: Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The rules as Zircolite's merged Windows ruleset (see the module docstring)."""
    from copy import deepcopy

    from sigma.backends.sqlite import sqliteBackend
    from sigma.collection import SigmaCollection
    from sigma.processing.conditions import LogsourceCondition
    from sigma.rule import SigmaRule

    paths = sorted(str(p) for p in rules.rglob("*") if p.suffix in (".yml", ".yaml"))
    parsed = [
        r
        for r in SigmaCollection.load_ruleset(paths, collect_errors=True).rules
        if isinstance(r, SigmaRule) and not r.errors
    ]
    stats = {"files": len(paths), "parsed": len(parsed)}
    out: dict[str, list[dict[str, Any]]] = {}
    for profile, pipeline in _profiles().items():
        conditions = [
            c for item in pipeline.items for c in item.rule_conditions
            if isinstance(c, LogsourceCondition)
        ]  # fmt: skip

        def applicable(rule: SigmaRule, conditions: list[Any] = conditions) -> bool:
            ls = rule.logsource
            if ls.product != "windows":
                return False
            if any("Channel" in set(_fields(d)) for d in rule.detection.detections.values()):
                return True
            if ls.category is None and ls.service is None:
                return True
            return any(c.match(rule) for c in conditions)

        backend = sqliteBackend(
            pipeline, timestamp_field="SystemTime", timestamp_format="iso", event_id_field="row_id"
        )
        backend.init_processing_pipeline("zircolite")
        entries: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
        failed = 0
        for rule in deepcopy(parsed):
            if not applicable(rule):
                continue
            try:
                converted = backend.convert_rule(rule, "zircolite")
            except Exception:
                failed += 1
                continue
            for entry in converted:
                entries.setdefault((entry["id"], tuple(entry["rule"])), entry)
        out[profile] = list(entries.values())
        stats[f"{profile}_rules"] = len(out[profile])
        stats[f"{profile}_failed"] = failed
    merged: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
    for entry in [*out["generic"], *out["sysmon"]]:
        merged.setdefault((entry["id"], tuple(entry["rule"])), entry)
    ruleset = sorted(
        merged.values(), key=lambda e: (LEVELS.index(e.get("level") or "low"), e["id"])
    )
    stats["merged"] = len(ruleset)
    return ruleset, stats


def _connect() -> sqlite3.Connection:
    import re

    con = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    for pragma, value in (
        ("journal_mode", "OFF"), ("synchronous", "OFF"), ("cache_size", "-128000"),
        ("locking_mode", "EXCLUSIVE"), ("temp_store", "MEMORY"), ("mmap_size", "268435456"),
        ("page_size", "4096"), ("threads", "4"),
    ):  # fmt: skip
        con.execute(f"PRAGMA {pragma} = {value};")
    con.row_factory = sqlite3.Row

    def udf_regex(pattern: str, value: Any) -> int:
        if value is None:
            return 0
        return 1 if re.search(pattern, value) else 0

    con.create_function("regexp", 2, udf_regex)
    con.execute("CREATE TABLE logs ( row_id INTEGER PRIMARY KEY AUTOINCREMENT )")
    return con


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, int) and abs(value) > 9223372036854775807:
        return str(value)
    return value


def _insert(con: sqlite3.Connection, batch: list[dict], types: dict, known: set[str]) -> None:
    cols = tuple(sorted({k for row in batch for k in row}))
    for col in cols:
        if col.lower() not in known:
            with contextlib.suppress(sqlite3.Error):
                sql_type = types.get(col.lower(), (col, TEXT))[1]
                con.execute(f'ALTER TABLE logs ADD COLUMN "{col}" {sql_type}')
                known.add(col.lower())
    names = ", ".join(f'"{c}"' for c in cols)
    stmt = f"INSERT INTO logs ({names}) VALUES ({', '.join('?' * len(cols))})"
    # Zircolite stores an integer past SQLite's range as text.
    rows = [tuple(_sqlite_value(row.get(c)) for c in cols) for row in batch]
    con.execute("BEGIN TRANSACTION")
    try:
        con.executemany(stmt, rows)
        con.execute("COMMIT")
    except sqlite3.Error:
        con.execute("ROLLBACK")
        raise


def zircolite_run(files: list[str], real: str, rules: str, ruleset_json: str, out: str) -> dict:
    """The baseline over ``files``; converts the rules into ``ruleset_json`` unless it exists
    (cold), else loads it (warm). Returns timings and matches per rule and file."""
    import orjson
    from evtx import PyEvtxParser

    res: dict[str, Any] = {}
    t0 = time.perf_counter()
    if Path(ruleset_json).exists():
        ruleset = orjson.loads(Path(ruleset_json).read_bytes())
        res["mode"], res["convert_s"] = "warm", 0.0
        res["ruleset_load_s"] = time.perf_counter() - t0
    else:
        ruleset, res["convert_stats"] = convert_ruleset(Path(rules))
        Path(ruleset_json).write_bytes(orjson.dumps(ruleset))
        res["mode"], res["ruleset_load_s"] = "cold", 0.0
        res["convert_s"] = time.perf_counter() - t0
    # Zircolite's event filter: on only if every (non-correlation) rule names a channel or id.
    channels = {c for r in ruleset for c in r.get("channel") or []}
    eventids = {int(e) for r in ruleset for e in r.get("eventid") or [] if str(e).isdigit()}
    unfiltered = sum(1 for r in ruleset if not (r.get("channel") or r.get("eventid")))
    filtering = bool(channels and eventids and unfiltered == 0)
    res["event_filter"] = filtering
    lowered = {c.lower() for c in channels}

    con = _connect()
    types: dict[str, tuple[str, str]] = {}
    known = {"row_id"}
    records = loaded = skipped = 0
    parse_s = load_s = 0.0
    file_errors: list[str] = []
    for f in files:
        name = _rel(Path(f), Path(real))
        t = time.perf_counter()
        events = []
        try:
            for rec in PyEvtxParser(f).records_json():
                try:
                    events.append(orjson.loads(rec["data"]))
                except Exception:
                    continue
        except Exception as exc:
            file_errors.append(f"{name}: {exc}")
        parse_s += time.perf_counter() - t
        records += len(events)
        t = time.perf_counter()
        batch: list[dict] = []
        try:
            for ev in events:
                if filtering:
                    ch, eid = _system(ev)
                    if (
                        ch is not None
                        and eid is not None
                        and (
                            (ch not in channels and str(ch).lower() not in lowered)
                            or eid not in eventids
                        )
                    ):
                        skipped += 1
                        continue
                batch.append(zflatten(ev, name, types))
                if len(batch) >= BATCH:
                    _insert(con, batch, types, known)
                    loaded += len(batch)
                    batch = []
            if batch:
                _insert(con, batch, types, known)
                loaded += len(batch)
        except (sqlite3.Error, OverflowError) as exc:  # Zircolite logs the file's error, goes on
            file_errors.append(f"{name}: {exc}")
        load_s += time.perf_counter() - t
    t = time.perf_counter()
    con.execute('CREATE INDEX "idx_eventid" ON "logs" ("eventid");')
    load_s += time.perf_counter() - t
    res.update(
        records=records, loaded=loaded, filtered_out=skipped, file_errors=file_errors,
        parse_s=parse_s, load_s=load_s, columns=len(known),
    )  # fmt: skip

    # Run: Zircolite de-duplicates by SQL (the first rule keeps it) and runs rule by rule.
    t = time.perf_counter()
    ids_by_sql: dict[tuple[str, ...], list[str]] = defaultdict(list)
    unique: list[dict[str, Any]] = []
    for r in ruleset:
        key = tuple(r["rule"])
        if key not in ids_by_sql:
            unique.append(r)
        ids_by_sql[key].append(r["id"])
    counts: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    errors: dict[str, str] = {}
    cur = con.cursor()
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("[")
        first = True
        for rule in unique:
            matches: list[dict[str, Any]] = []
            for q in rule["rule"]:
                try:
                    rows = cur.execute(q).fetchall()
                except sqlite3.Error as exc:  # Zircolite logs it (debug) and goes on
                    errors[rule["id"]] = str(exc)
                    continue
                if rows:
                    keys = rows[0].keys()
                    matches += [{k: row[k] for k in keys if row[k] is not None} for row in rows]
            if not matches:
                continue
            for m in matches:
                for rid in ids_by_sql[tuple(rule["rule"])]:
                    counts[rid][m.get("OriginalLogfile", "?")].add(m["row_id"])
            result = {
                "title": rule.get("title"), "id": rule.get("id"),
                "description": rule.get("description"), "sigmafile": rule.get("filename", ""),
                "sigma": rule["rule"], "rule_level": rule.get("level"), "tags": rule.get("tags"),
                "count": len(matches), "matches": matches,
            }  # fmt: skip
            fh.write("" if first else ",\n")
            first = False
            fh.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        fh.write("]")
    res["run_s"] = time.perf_counter() - t
    res.update(rules=len(ruleset), rules_run=len(unique), rule_errors=len(errors), errors=errors)
    res["counts"] = {rid: {f: len(ids) for f, ids in per.items()} for rid, per in counts.items()}
    return res


# -- ashiato, exact per file (for the agreement) ----------------------------------------------


def ashiato_per_file(files: list[str], real: str, rules: str, cache_dir: str) -> dict:
    """Matched events per rule and file, exactly: each file ingested alone and the rules run over
    it. Only the rules that fire on a store of all the files are run per file (a single-event
    rule that matches in one file also matches in the union), which makes it minutes, not tens.
    """
    from ashiato.ingest import ingest
    from ashiato.sigma.cache import load_compiled
    from ashiato.sigma.compile import CompiledRuleSet
    from ashiato.sigma.run import iter_findings
    from ashiato.sigma.step import prefilter_rules, present_codes, relation
    from ashiato.store import Store

    compiled = load_compiled([Path(rules)], cache_dir=Path(cache_dir))
    corr = {c.meta.key for c in compiled.correlations}

    def run(store: Path, rs: CompiledRuleSet) -> dict[str, int]:
        st = Store(store)
        con = st.connect()
        table = relation(st.events(con))
        per: dict[str, int] = defaultdict(int)
        for fnd in iter_findings(
            con.con, prefilter_rules(rs, present_codes(con.con, table)), table=table
        ):
            key = fnd.details["rule"]
            per[key] += 1 if key in corr else fnd.evidence_count
        with contextlib.suppress(Exception):
            con.con.close()
        return per

    counts: dict[str, dict[str, int]] = defaultdict(dict)
    records: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ingest([Path(f) for f in files], Path(tmp) / "all", workers=1)
        union = run(Path(tmp) / "all", compiled)
        fired = CompiledRuleSet(
            rules=[r for r in compiled.rules if r.meta.key in union],
            correlations=compiled.correlations,
            skipped=compiled.skipped,
            ruleset=compiled.ruleset,
        )
        for i, f in enumerate(files):
            name = _rel(Path(f), Path(real))
            store = Path(tmp) / f"s{i}"
            rep = ingest([Path(f)], store, workers=1)
            records[name] = rep.records_stored
            if rep.records_stored:
                for key, n in run(store, fired).items():
                    counts[key][name] = n
            shutil.rmtree(store, ignore_errors=True)
    return {"counts": counts, "records": records, "union": union}


# -- measured processes -------------------------------------------------------------------------


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def measure(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd``; wall seconds, peak RSS (MiB, largest process of its tree), output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        load = _load()
        t = time.perf_counter()
        # A wide terminal: Rich would otherwise cut detect's lines (and --help's option names).
        full = {**os.environ, "COLUMNS": "250", **(env or {})}
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=full)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]}... failed ({proc.returncode}):\n{stderr[-3000:]}")
    return {"wall_s": wall, "rss_mib": usage.ru_maxrss / 1024, "load": load,
            "stdout": stdout, "stderr": stderr}  # fmt: skip


def _phase(name: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    m = measure([sys.executable, str(Path(__file__).resolve()), "--phase", name, *args], env)
    m.update(json.loads(m.pop("stdout").strip().splitlines()[-1]))
    return m


def ashiato_cli() -> list[str]:
    exe = Path(sys.executable).parent / "ashiato"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ashiato"]


def detect_cmd(store: Path, rules: Path, sigma_only: bool = False) -> list[str]:
    """``detect`` over ``rules`` only: ``--no-default-rules`` where detect has it;
    ``sigma_only``: ``--no-detectors`` too (no behavioural detector, as Zircolite runs)."""
    cmd = [*ashiato_cli(), "detect", "--store", str(store), "--infer-sites", "--rules", str(rules)]
    if sigma_only:
        cmd.append("--no-detectors")
    helptext = subprocess.run(
        [*ashiato_cli(), "detect", "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "250"},
    ).stdout
    if "--no-default-rules" in helptext:
        cmd.append("--no-default-rules")
    return cmd


def _sigma_line(stdout: str) -> str:
    line = next((ln for ln in stdout.splitlines() if "ran:" in ln), "")
    return " ".join(line.replace("│", " ").split())


def one_round(
    k: int, files: list[Path], tmp: Path, rules: Path, ashiato_first: bool, real: Path = REAL
) -> dict[str, Any]:
    store, cache = tmp / f"store{k}", tmp / f"cache{k}"
    zjson = tmp / f"ruleset{k}.json"
    listfile = tmp / "files.json"
    res: dict[str, Any] = {}

    def ash() -> None:
        res["ingest"] = measure([*ashiato_cli(), "ingest", *map(str, files), "--store", str(store)])
        env = {"ASHIATO_CACHE_DIR": str(cache)}
        res["detect_cold"] = measure(detect_cmd(store, rules), env)
        res["detect_warm"] = measure(detect_cmd(store, rules), env)
        res["detect_sigma_warm"] = measure(detect_cmd(store, rules, sigma_only=True), env)

    def zirc() -> None:
        args = (str(listfile), str(real), str(rules), str(zjson), str(tmp / f"out{k}.json"))
        res["zircolite_cold"] = _phase("zircolite", *args)
        res["zircolite_warm"] = _phase("zircolite", *args)

    for step in (ash, zirc) if ashiato_first else (zirc, ash):
        step()
    shutil.rmtree(store, ignore_errors=True)
    return res


def small_round(k: int, tmp: Path, rules: Path, cache: Path, zjson: Path) -> dict[str, Any]:
    store = tmp / f"small{k}"
    listfile = tmp / "small.json"
    listfile.write_text(json.dumps([str(SMALL)]))
    res = {
        "ingest": measure([*ashiato_cli(), "ingest", str(SMALL), "--store", str(store)]),
        "detect_warm": measure(detect_cmd(store, rules), {"ASHIATO_CACHE_DIR": str(cache)}),
        "detect_sigma_warm": measure(
            detect_cmd(store, rules, sigma_only=True), {"ASHIATO_CACHE_DIR": str(cache)}
        ),
        "zircolite_warm": _phase(
            "zircolite", str(listfile), str(REAL), str(rules), str(zjson), str(tmp / "sout.json")
        ),
    }
    shutil.rmtree(store, ignore_errors=True)
    return res


# -- report -------------------------------------------------------------------------------------


def _med(rounds: list[dict], *path: str) -> float:
    vals = []
    for r in rounds:
        v: Any = r
        for p in path:
            v = v[p]
        vals.append(float(v))
    return statistics.median(vals)


def _loads(rounds: list[dict], step: str) -> str:
    return "/".join(r[step]["load"] for r in rounds)


def report(rounds: list[dict], small: list[dict], n_files: int) -> dict[str, Any]:
    events = int(rounds[0]["zircolite_warm"]["records"])
    rows: list[tuple[str, str, float, float, str]] = []

    def row(engine: str, step: str, key: str, field: str = "wall_s") -> float:
        wall, rss = _med(rounds, key, field), _med(rounds, key, "rss_mib")
        rows.append((engine, step, wall, rss, _loads(rounds, key)))
        return wall

    ing = row("ashiato", "`ingest` (CLI, 2 workers)", "ingest")
    dcold = row("ashiato", "`detect --rules` cold (fresh rule cache)", "detect_cold")
    dwarm = row("ashiato", "`detect --rules` warm", "detect_warm")
    dsig = row("ashiato", "`detect --rules --no-detectors` warm (Sigma only)", "detect_sigma_warm")
    zc = row("Zircolite's pipeline", "whole run, cold (rules converted)", "zircolite_cold")
    zw = row("Zircolite's pipeline", "whole run, warm (converted ruleset loaded)", "zircolite_warm")
    ph = {
        p: _med(rounds, "zircolite_warm", p)
        for p in ("parse_s", "load_s", "ruleset_load_s", "run_s")
    }
    conv = _med(rounds, "zircolite_cold", "convert_s")
    a_cold, a_warm, a_sig = ing + dcold, ing + dwarm, ing + dsig
    print(
        f"{n_files} EVTX files, {events:,} records (as pyevtx reads them; the same count for "
        f"both engines); rules: {RULES.relative_to(SHARED.parent)} "
        f"({rounds[0]['zircolite_cold'].get('convert_stats', {}).get('files', '?')} files). "
        f"Medians of {len(rounds)} alternating rounds; load = 1-minute load average at each start."
    )
    print()
    print("| engine | step | wall s | peak RSS MiB | load avg (per round) |")
    print("|---|---|---|---|---|")
    for engine, step, wall, rss, load in rows:
        print(f"| {engine} | {step} | {wall:.1f} | {rss:.0f} | {load} |")
    print()
    print(
        f"Zircolite's pipeline, phases (warm medians): EVTX->JSON {ph['parse_s']:.1f} s, load "
        f"(flatten + insert + index) {ph['load_s']:.1f} s, ruleset JSON {ph['ruleset_load_s']:.2f}"
        f" s, rule run {ph['run_s']:.1f} s; cold conversion {conv:.1f} s "
        f"({rounds[0]['zircolite_cold'].get('convert_stats')}); "
        f"{rounds[0]['zircolite_warm']['rules']} rules, {rounds[0]['zircolite_warm']['rules_run']}"
        f" distinct SQL, {rounds[0]['zircolite_warm']['rule_errors']} failed in SQLite; "
        f"{rounds[0]['zircolite_warm']['columns']} columns; event filter "
        f"{'on' if rounds[0]['zircolite_warm']['event_filter'] else 'off'}."
    )
    print(
        "ashiato detect's sigma line (warm, round 1): "
        + _sigma_line(rounds[0]["detect_warm"]["stdout"])
    )
    print()
    print(
        "| end to end | wall s | events/s | vs the baseline measured here "
        "| vs Zircolite 3.7's 1,484 events/s (issue) |"
    )
    print("|---|---|---|---|---|")
    for label, wall, base in (
        ("ashiato cold (ingest + detect, fresh rule cache)", a_cold, zc),
        ("ashiato warm (ingest + detect, cached rules)", a_warm, zw),
        ("ashiato warm, Sigma only (ingest + detect --no-detectors)", a_sig, zw),
        ("Zircolite's pipeline cold (conversion included)", zc, zc),
        ("Zircolite's pipeline warm (pre-converted ruleset)", zw, zw),
    ):
        eps = events / wall
        print(
            f"| {label} | {wall:.1f} | {eps:,.0f} | {base / wall:.2f}× "
            f"| {eps / ISSUE_ZIRCOLITE_EPS:.2f}× |"
        )
    print()
    print(f"The 4-event file ({SMALL.relative_to(REAL)}), medians of {len(small)}:")
    print()
    print("| step | wall s | peak RSS MiB | load avg |")
    print("|---|---|---|---|")
    for label, key in (
        ("ashiato `ingest`", "ingest"),
        ("ashiato `detect --rules` warm", "detect_warm"),
        ("ashiato `detect --rules --no-detectors` warm", "detect_sigma_warm"),
        ("Zircolite's pipeline warm (whole run)", "zircolite_warm"),
    ):
        print(
            f"| {label} | {_med(small, key, 'wall_s'):.2f} | "
            f"{_med(small, key, 'rss_mib'):.0f} | {_loads(small, key)} |"
        )
    s_total = _med(small, "ingest", "wall_s") + _med(small, "detect_warm", "wall_s")
    print(f"| ashiato ingest + detect warm | {s_total:.2f} | | |")
    s_sig = _med(small, "ingest", "wall_s") + _med(small, "detect_sigma_warm", "wall_s")
    print(f"| ashiato ingest + detect --no-detectors warm | {s_sig:.2f} | | |")
    return {"events": events, "ashiato_cold_s": a_cold, "ashiato_warm_s": a_warm,
            "ashiato_sigma_only_warm_s": a_sig,
            "zircolite_cold_s": zc, "zircolite_warm_s": zw}  # fmt: skip


KEYWORDS = (
    "field-less keywords: pysigma-backend-sqlite cannot convert them; ashiato searches all of "
    "an event's values"
)
INITIATED = (
    "`Initiated: 'true'`: the EVTX JSON holds a boolean, which Zircolite's flattening stores as "
    "INTEGER 1, and the SQL compares the text 'true'"
)
NO_COLUMN = (
    "no event has the column `{}`: SQLite rejects the rule's SQL and Zircolite drops the rule "
    "silently; ashiato reads a missing field as NULL (the rule tests it in an OR or a `not`)"
)
DATA = (
    "`Data`: Zircolite names an event's unnamed EventData `<Data>` values `text` (the str of a "
    "list), so no `Data` column exists and the SQL fails; ashiato keeps them as `Data`"
)
CAUSES: dict[str, tuple[str, str]] = {
    "06d71506": ("ashiato", KEYWORDS),
    "0b7889b4": ("ashiato", KEYWORDS),
    "08249dc0": ("ashiato", INITIATED),
    "0dba975d": ("ashiato", INITIATED),
    "c7e91a02": ("ashiato", INITIATED),
    "cdc8da7d": ("ashiato", INITIATED),
    "ed74fe75": ("ashiato", INITIATED),
    "100ef69e": (
        "ashiato",
        "a 104 'log cleared' event: Zircolite's flattening lets UserData's `Channel` (the "
        "cleared log) overwrite the System channel, so the logsource's `Channel='System'` fails",
    ),
    "4f84b697": ("ashiato", NO_COLUMN.format("NewName")),
    "5bed80b6": ("ashiato", NO_COLUMN.format("FilterOrigin")),
    "5594e67a": ("ashiato", DATA),
    "c7c8aa1c": ("ashiato", DATA),
    "d08dd86f": ("ashiato", DATA),
    "e6e88853": ("ashiato", DATA),
}
"""Why the engines differ on a rule, and which one is right, checked by reading the events
(rule id prefix -> (the right engine, the cause)). Listed in docs/sigma.md."""


def agreement(
    zc: dict[str, dict[str, int]], ac: dict[str, dict[str, int]], titles: dict[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Print files flagged, rules firing in one engine only, and each (rule, file) that
    differs with its cause; return the (rule, file, count) cases both agree on, and those that
    differ."""
    zf = {f for per in zc.values() for f in per}
    af = {f for per in ac.values() for f in per}
    print()
    print(
        f"Files flagged: ashiato {len(af)}, Zircolite's pipeline {len(zf)}, both {len(af & zf)}; "
        f"rules firing: ashiato {len(ac)}, Zircolite's pipeline {len(zc)}, "
        f"both {len(set(ac) & set(zc))}."
    )
    cases, diffs = [], []
    for rid in sorted(set(zc) | set(ac)):
        for f in sorted(set(zc.get(rid, {})) | set(ac.get(rid, {}))):
            a, z = ac.get(rid, {}).get(f, 0), zc.get(rid, {}).get(f, 0)
            if a == z:
                cases.append({"rule": rid, "file": f, "count": a})
            else:
                diffs.append({"rule": rid, "file": f, "ashiato": a, "zircolite": z})
    print(
        f"(rule, file) pairs with a match: {len(cases) + len(diffs)}, "
        f"equal counts {len(cases)}, differ {len(diffs)}."
    )
    print()
    print("| rule | title | file | ashiato | Zircolite's pipeline | right | why |")
    print("|---|---|---|---|---|---|---|")
    for d in diffs:
        right, why = CAUSES.get(d["rule"][:8], ("?", "not explained yet: read the events"))
        title = titles.get(d["rule"], "(not converted for SQLite)")
        print(
            f"| `{d['rule'][:8]}` | {title} | {d['file']} | {d['ashiato']} | {d['zircolite']} "
            f"| {right} | {why} |"
        )
    return cases, diffs


def rule_files(rules: Path) -> dict[str, str]:
    """Rule id -> its file, relative to ``rules``."""
    import re

    out: dict[str, str] = {}
    for p in sorted(rules.rglob("*.yml")):
        m = re.search(r"^id:\s*['\"]?([0-9a-fA-F-]{36})", p.read_text(errors="replace"), re.M)
        if m:
            out.setdefault(m.group(1), str(p.relative_to(rules)))
    return out


def regression_cases(
    cases: list[dict[str, Any]],
    diffs: list[dict[str, Any]],
    records: dict[str, int],
    rules: Path,
    *,
    max_files: int = 40,
    max_records: int = 1500,
) -> dict[str, Any]:
    """The cases for ``tests/sigma/test_real_regression.py``: files of at most ``max_records``
    records chosen greedily for the rules they make fire (at most ``max_files``), and every
    case on those files: the counts both engines agree on, plus the differing ones whose events
    were read (``CAUSES``: ashiato's count, with the cause as a note)."""
    verified = [
        {"rule": d["rule"], "file": d["file"], "count": d["ashiato"],
         "note": CAUSES[d["rule"][:8]][1]}
        for d in diffs
        if CAUSES.get(d["rule"][:8], ("",))[0] == "ashiato"
    ]  # fmt: skip
    pool = [
        c for c in [*cases, *verified] if c["count"] and records.get(c["file"], 0) <= max_records
    ]
    by_file: dict[str, set[str]] = defaultdict(set)
    for c in pool:
        by_file[c["file"]].add(c["rule"])
    chosen: list[str] = sorted({v["file"] for v in verified if v["file"] in by_file})
    covered = {r for f in chosen for r in by_file[f]}
    while len(chosen) < max_files:
        gain = {f: len(rs - covered) for f, rs in by_file.items() if f not in chosen}
        best = max(gain, key=lambda f: (gain[f], -records.get(f, 0), f), default=None)
        if best is None or gain[best] == 0:
            break
        chosen.append(best)
        covered |= by_file[best]
    paths = rule_files(rules)
    keep = sorted(
        (c for c in pool if c["file"] in chosen and c["rule"] in paths),
        key=lambda c: (c["file"], c["rule"]),
    )
    return {
        "about": "Expected matching events per (SigmaHQ rule, real EVTX file): the counts "
        "ashiato and Zircolite's pipeline agree on, plus differing ones checked by reading the "
        "events (with a note). Written by bench/sigma_zircolite.py --write-cases.",
        "rules": "shared/data/sigmahq/rules/windows",
        "files": "shared/data/real",
        "cases": [{**c, "rule_file": paths[c["rule"]]} for c in keep],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--small-rounds", type=int, default=3)
    ap.add_argument("--real", type=Path, default=REAL)
    ap.add_argument("--rules", type=Path, default=RULES)
    ap.add_argument("--json", type=Path, help="also write every measurement here")
    ap.add_argument("--write-cases", type=Path, help="write the agreed (rule, file) counts here")
    ap.add_argument("--no-agreement", action="store_true")
    ap.add_argument("--from-json", type=Path, help="print the report of a --json file again")
    a = ap.parse_args()
    if a.phase == "zircolite":
        listfile, real, rules, zjson, out = a.args
        res = zircolite_run(json.loads(Path(listfile).read_text()), real, rules, zjson, out)
        print(json.dumps(res))
        return
    if a.phase == "agree":
        listfile, real, rules, cache = a.args
        print(
            json.dumps(ashiato_per_file(json.loads(Path(listfile).read_text()), real, rules, cache))
        )
        return
    try:
        import sigma.backends.sqlite
        import sigma.pipelines.sysmon
        import sigma.pipelines.windows  # noqa: F401
    except ImportError as exc:
        raise SystemExit(f"{exc}: run `.venv/bin/pip install -e '.[bench]'` first") from exc
    if a.from_json:
        saved = json.loads(a.from_json.read_text())
    else:
        saved = measure_all(a)
        if a.json:
            a.json.write_text(json.dumps(saved, indent=1, default=str))
    rounds, small, agree = saved["rounds"], saved["small"], saved["agreement"]
    report(rounds, small, saved["files"])
    if agree:
        print(f"\nagreement pass: {agree['wall_s']:.0f} s, load {agree['load']}")
        zc = rounds[0]["zircolite_warm"]["counts"]
        cases, diffs = agreement(zc, agree["counts"], saved["titles"])
        if a.write_cases:
            out = regression_cases(cases, diffs, agree["records"], a.rules)
            a.write_cases.parent.mkdir(parents=True, exist_ok=True)
            a.write_cases.write_text(json.dumps(out, indent=1) + "\n")
            files = {c["file"] for c in out["cases"]}
            print(f"\nwrote {len(out['cases'])} cases over {len(files)} files to {a.write_cases}")


def measure_all(a: argparse.Namespace) -> dict[str, Any]:
    """Every measurement (rounds, the small file, the agreement pass), as saved by ``--json``."""
    files = evtx_files(a.real)
    print(f"started {time.strftime('%Y-%m-%d %H:%M:%S')}, load {os.getloadavg()}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        (tmp / "files.json").write_text(json.dumps([str(f) for f in files]))
        rounds = []
        for k in range(a.rounds):
            rounds.append(one_round(k, files, tmp, a.rules, k % 2 == 0, a.real))
            print(f"round {k + 1} done, load {os.getloadavg()}", file=sys.stderr)
        small = [
            small_round(k, tmp, a.rules, tmp / "cache0", tmp / "ruleset0.json")
            for k in range(a.small_rounds)
        ]
        agree: dict[str, Any] = {}
        if not a.no_agreement:
            args = (str(tmp / "files.json"), str(a.real), str(a.rules), str(tmp / "cache0"))
            agree = _phase("agree", *args)
        titles: dict[str, str] = {}
        for r in json.loads((tmp / "ruleset0.json").read_text()):
            titles.setdefault(r["id"], r["title"])
    return {"files": len(files), "rounds": rounds, "small": small, "agreement": agree,
            "titles": titles}  # fmt: skip


if __name__ == "__main__":
    main()
