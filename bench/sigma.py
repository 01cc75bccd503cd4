"""Benchmark Sigma: ashiato's engine against Zircolite's approach (pySigma -> SQLite), same rules.

Inputs, generated in a temporary directory:
- ``--rules`` single-event Sigma rules (default 1,000): our pack's twelve plain rules, variants of
  them (each with one more ``not`` filter on the subject account), and synthetic rules over the
  common Windows Security fields (TargetUserName, IpAddress, LogonType, WorkstationName,
  ServiceName, ShareName, ProcessName, NewProcessName, CommandLine...) using equality,
  wildcards, contains/startswith/endswith, ``all``, ``re``, ``cidr``, ``windash``,
  ``base64offset``, ``exists``, ``fieldref``, ``gte``, ``null``, ``cased``, keywords, value lists
  and AND/OR/NOT; plus the pack's five correlation files (with their base rules) as they are.
- ``--events`` Windows events (default 1,000,000) from ``gen.windows_mix`` (Winlogbeat ECS JSON
  lines), ingested with ``ashiato.ingest`` into a temporary store.

Measured, each in a fresh process (peak RSS = the process's VmHWM), with the load average:
- ashiato: load + compile the rules (pySigma, our DuckDB backend), then ``iter_findings`` over
  the store: every finding, with evidence ids, streamed (counted, not held). Matches per rule:
  the events behind the rule's findings (one finding per actor, actors past
  ``run.MAX_FINDINGS_PER_RULE`` folded into one), or the correlation matches.
- Zircolite's approach: the same JSON lines flattened into one in-memory SQLite table ``logs``
  (one ``TEXT COLLATE NOCASE`` column per EventData/System field, an index on EventID, a Python
  ``regexp`` function), as Zircolite builds it; loading is timed apart. The same rules compiled
  with ``pysigma-backend-sqlite`` (with a pipeline that adds the logsource's ``Channel``
  condition, as ashiato's does) and run one by one, every result row fetched; correlations run
  through the backend's correlation plans (``execute_plan``).

Then the matches per rule are compared and every rule whose counts differ is listed.

Usage: ``.venv/bin/python bench/sigma.py [--events 1000000] [--rules 1000] [--seed 1]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import gen  # noqa: E402

PACK = HERE.parent / "rules" / "ashiato"

# -- rules ---------------------------------------------------------------------------------------

Detection = dict[str, Any]
_TOKENS = (
    "whoami",
    "-enc",
    "ADMIN$",
    "shadows",
    "comsvcs",
    "/dest:",
    "Domain Admins",
    "MiniDump",
    "net use",
    "WHOAMI",
    "Netsvcs",
    "ping",
    "tool.exe",
)
_EXES = ("\\cmd.exe", "\\powershell.exe", "\\net.exe", "\\tscon.exe", "\\rundll32.exe",
         "\\WmiPrvSE.exe", "\\EXCEL.EXE", "\\mmc.exe", "\\schtasks.exe", "\\CMD.EXE")  # fmt: skip
_CIDRS = ("10.20.0.0/16", "192.168.2.0/24", "172.16.8.0/21", "10.3.0.0/20", "10.1.128.0/17")
_ADMINS = ("adm-sato", "adm-suzuki", "adm-tanaka", "adm-ito", "adm-kato")
_BAD_IPS = ["-", "127.0.0.1", "::1"]


def _user(rnd: random.Random) -> str:
    return f"user{rnd.randrange(gen.WIN_USERS)}"


def _t_eq_user(rnd: random.Random) -> Detection:
    users = [_user(rnd) for _ in range(rnd.choice((1, 1, 3, 10)))]
    return {
        "selection": {"EventID": rnd.choice((4624, 4625, 4648, 4769)), "TargetUserName": users},
        "condition": "selection",
    }


def _t_logon_types(rnd: random.Random) -> Detection:
    return {
        "selection": {
            "EventID": rnd.choice((4624, 4625, [4624, 4625])),
            "LogonType": sorted(rnd.sample((2, 3, 5, 7, 9, 10, 11), rnd.choice((1, 2, 3)))),
            "AuthenticationPackageName": rnd.choice(("NTLM", "Kerberos", "Negotiate")),
        },
        "filter": {"IpAddress": _BAD_IPS},
        "condition": "selection and not filter",
    }


def _t_workstation(rnd: random.Random) -> Detection:
    return {
        "selection": {
            "EventID": 4624,
            "WorkstationName": f"WS{rnd.randrange(20):02d}*",
            "LogonType": rnd.choice((3, 10)),
        },
        "condition": "selection",
    }


def _t_ip_prefix(rnd: random.Random) -> Detection:
    prefix = rnd.choice(("10.20.", "192.168.", "172.16.", "10.3."))
    return {
        "selection": {
            "EventID": rnd.choice((4624, 4625, 5140, 5145, 4648)),
            "IpAddress|startswith": f"{prefix}{rnd.randrange(256)}.",
        },
        "condition": "selection",
    }


def _t_cidr(rnd: random.Random) -> Detection:
    return {
        "selection": {
            "EventID": rnd.choice((4624, 4625, 5140)),
            "IpAddress|cidr": rnd.choice(_CIDRS),
        },
        "filter": {"TargetUserName|endswith": "$"},
        "condition": "selection and not filter",
    }


def _t_cmd_contains(rnd: random.Random) -> Detection:
    return {
        "selection": {"EventID": 4688, "CommandLine|contains": rnd.choice(_TOKENS)},
        "filter": {"SubjectUserName": _user(rnd)},
        "condition": "selection and not filter",
    }


def _t_cmd_all(rnd: random.Random) -> Detection:
    return {
        "selection": {
            "EventID": 4688,
            "CommandLine|contains|all": rnd.sample(_TOKENS[:9], 2),
        },
        "condition": "selection",
    }


def _t_process(rnd: random.Random) -> Detection:
    return {
        "selection": {
            "EventID": 4688,
            "NewProcessName|endswith": rnd.sample(_EXES, rnd.choice((1, 2, 3))),
        },
        "selection_parent": {"ParentProcessName|endswith": rnd.sample(_EXES, 2)},
        "condition": "selection and selection_parent",
    }


def _t_regex(rnd: random.Random) -> Detection:
    field, pattern = rnd.choice(
        (
            ("TargetUserName", "^adm-(sato|ito)$"),
            ("TargetUserName", f"^user{rnd.randrange(10)}[0-9]$"),
            ("CommandLine", "\\\\\\\\127\\.0\\.0\\.1\\\\(ADMIN|C)\\$"),
            ("CommandLine", "(?i)powershell.*-enc"),
            ("IpAddress", "^10\\.(1|2)\\.[0-9]+\\.1[0-9]$"),
            ("ServiceName", "^[A-Z]+\\$$"),
        )
    )
    return {"selection": {f"{field}|re": pattern}, "condition": "selection"}


def _t_kerberos(rnd: random.Random) -> Detection:
    return {
        "selection": {
            "EventID": rnd.choice((4768, 4769)),
            "ServiceName|startswith": rnd.choice(("MSSQL", "svc_", "krb", "HTTP", "JP-")),
            "TicketEncryptionType": rnd.choice(("0x17", "0x11", ["0x17", "0x11"])),
            "Status": "0x0",
        },
        "condition": "selection",
    }


def _t_share(rnd: random.Random) -> Detection:
    return {
        "selection": {
            "EventID": rnd.choice((5140, 5145, [5140, 5145])),
            "ShareName|endswith": rnd.sample(
                ("\\ADMIN$", "\\C$", "\\IPC$", "\\SYSVOL", "\\Data"), 2
            ),
        },
        "filter": {"SubjectUserName|endswith": "$"},
        "condition": "selection and not filter",
    }


def _t_pipe(rnd: random.Random) -> Detection:
    return {
        "selection": {
            "EventID": 5145,
            "RelativeTargetName": rnd.sample(("svcctl", "atsvc", "samr", "lsarpc", "winreg"), 2),
        },
        "filter_local": {"IpAddress": _BAD_IPS},
        "condition": "selection and not filter_local",
    }


def _t_or(rnd: random.Random) -> Detection:
    return {
        "selection_tscon": {"EventID": 4688, "NewProcessName|endswith": rnd.choice(_EXES)},
        "selection_explicit": {
            "EventID": 4648,
            "TargetServerName|startswith": f"jp-osa-fs{rnd.randrange(20):02d}",
        },
        "condition": "1 of selection_*",
    }


def _t_process_name(rnd: random.Random) -> Detection:
    return {
        "selection": {
            "EventID": rnd.choice(([4624, 4648], 4625)),
            "ProcessName|endswith": rnd.choice(("\\lsass.exe", "\\svchost.exe", "\\cmd.exe")),
        },
        "condition": "selection",
    }


def _t_any_code(rnd: random.Random) -> Detection:
    """No EventID: every event of the channel is a candidate."""
    return {
        "selection": {
            "TargetUserName|startswith": rnd.choice(_ADMINS),
            "IpAddress|startswith": rnd.choice(("192.168.", "172.16.")),
        },
        "condition": "selection",
    }


def _t_windash(rnd: random.Random) -> Detection:
    return {
        "selection": {
            "EventID": 4688,
            "CommandLine|windash|contains": rnd.choice((" -nop ", " /c ", " -w ", " /all ")),
        },
        "condition": "selection",
    }


def _t_base64(rnd: random.Random) -> Detection:
    return {
        "selection": {"EventID": 4688, "CommandLine|base64offset|contains": "IEX"},
        "condition": "selection",
    }


def _t_exists(rnd: random.Random) -> Detection:
    return {
        "selection": {"EventID": [4624, 4625], "SubStatus|exists": rnd.choice((True, False))},
        "condition": "selection",
    }


def _t_fieldref(rnd: random.Random) -> Detection:
    return {
        "selection": {
            "EventID": rnd.choice((4624, 4648)),
            "SubjectUserName|fieldref": "TargetUserName",
        },
        "condition": "selection",
    }


def _t_gte(rnd: random.Random) -> Detection:
    return {
        "selection": {"EventID": 4624, "LogonType|gte": rnd.choice((5, 10))},
        "condition": "selection",
    }


def _t_null(rnd: random.Random) -> Detection:
    return {
        "selection": {"EventID": 4624, "WorkstationName": None, "LogonType": 3},
        "condition": "selection",
    }


def _t_cased(rnd: random.Random) -> Detection:
    return {
        "selection": {
            "EventID": 4688,
            "CommandLine|contains|cased": rnd.choice(("ADMIN$", "admin$")),
        },
        "condition": "selection",
    }


def _t_keywords(rnd: random.Random) -> Detection:
    return {"keywords": [rnd.choice(("PSEXESVC", "comsvcs"))], "condition": "keywords"}


TEMPLATES: tuple[tuple[Callable[[random.Random], Detection], int], ...] = (
    (_t_eq_user, 90), (_t_logon_types, 70), (_t_workstation, 40), (_t_ip_prefix, 80),
    (_t_cidr, 50), (_t_cmd_contains, 90), (_t_cmd_all, 40), (_t_process, 70), (_t_regex, 40),
    (_t_kerberos, 60), (_t_share, 60), (_t_pipe, 40), (_t_or, 40), (_t_process_name, 30),
    (_t_any_code, 40), (_t_windash, 10), (_t_base64, 3), (_t_exists, 6), (_t_fieldref, 6),
    (_t_gte, 6), (_t_null, 3), (_t_cased, 6), (_t_keywords, 4),
)  # fmt: skip


def _rule(rnd: random.Random, title: str, detection: Detection, service: str) -> dict[str, Any]:
    return {
        "title": title,
        "id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
        "status": "experimental",
        "author": "ashiato bench",
        "logsource": {"product": "windows", "service": service},
        "detection": detection,
        "level": rnd.choice(("low", "medium", "high")),
    }


def write_rules(out: Path, n: int, seed: int) -> dict[str, str]:
    """Write ``n`` single-event rules and the pack's correlation files; return id -> kind."""
    rnd = random.Random(seed)
    out.mkdir(parents=True)
    kinds: dict[str, str] = {}
    plain: list[dict[str, Any]] = []
    for pack_file in sorted(PACK.glob("*.yml")):
        docs = list(yaml.safe_load_all(pack_file.read_text()))
        if any("correlation" in d for d in docs):
            shutil.copy(pack_file, out / pack_file.name)
            for d in docs:
                kinds[str(d["id"])] = "pack correlation" if "correlation" in d else "pack base"
        else:
            plain.append(docs[0])
    rules: list[tuple[str, dict[str, Any]]] = [("pack", d) for d in plain]
    variants = max(0, min(7, (n - len(plain)) // max(1, len(plain) * 8)))
    for d in plain:
        for k in range(variants):
            v = yaml.safe_load(yaml.safe_dump(d))
            v["id"] = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
            v["title"] = f"{d['title']} (variant {k})"
            det = v["detection"]
            det[f"filter_bench_{k}"] = {"SubjectUserName|startswith": f"user{rnd.randrange(10)}"}
            det["condition"] = f"({det['condition']}) and not filter_bench_{k}"
            rules.append(("pack variant", v))
    funcs = [f for f, _ in TEMPLATES]
    weights = [w for _, w in TEMPLATES]
    i = 0
    while len(rules) < n:
        f = rnd.choices(funcs, weights)[0]
        name = f.__name__.removeprefix("_t_")
        rules.append((f"synthetic {name}", _rule(rnd, f"bench {i} {name}", f(rnd), "security")))
        i += 1
    for j, (kind, r) in enumerate(rules[:n]):
        kinds[str(r["id"])] = kind
        (out / f"r{j:04d}.yml").write_text(yaml.safe_dump(r, sort_keys=False))
    return kinds


# -- measured processes ---------------------------------------------------------------------------

_HWM = 'int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024'

INGEST = f"""
import json, re, sys, time
from ashiato.ingest import ingest
src, store = json.loads(sys.argv[1])
t = time.perf_counter()
r = ingest([src], store, workers=1)
print(json.dumps({{"records": r.records_read, "rejected": r.records_rejected,
                  "wall_s": time.perf_counter() - t, "peak_rss_mib": {_HWM}}}))
"""

ASHIATO = f"""
import json, re, sys, time
from collections import Counter
from ashiato.sigma import compile_rules, load_rules
from ashiato.sigma.run import iter_findings
from ashiato.sigma.step import relation
from ashiato.store import Store
rules, store = json.loads(sys.argv[1])
t = time.perf_counter()
compiled = compile_rules(load_rules([rules]))
compile_s = time.perf_counter() - t
st = Store(store)
con = st.connect()
events = st.events(con)
t = time.perf_counter()
counts = Counter()
corr = {{c.meta.key for c in compiled.correlations}}
n_found = 0
for f in iter_findings(con.con, compiled, table=relation(events)):  # streamed, not held
    n_found += 1
    key = f.details["rule"]
    counts[key] += 1 if key in corr else f.evidence_count
run_s = time.perf_counter() - t
ran = [r.meta.key for r in compiled.rules if r.generate]
ran += [c.meta.key for c in compiled.correlations if c.generate]
print(json.dumps({{"compile_s": compile_s, "run_s": run_s, "peak_rss_mib": {_HWM},
                  "findings": n_found, "ran": ran, "counts": counts,
                  "skipped": {{s.rule_id: s.reason for s in compiled.skipped}}}}))
"""

SQLITE = f"""
import json, re, sqlite3, sys, time
import orjson
from sigma.backends.sqlite import sqliteBackend
from sigma.backends.sqlite.runtime import execute_plan
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.pipelines.common import windows_logsource_mapping
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import AddConditionTransformation
from sigma.rule import SigmaRule
src, rules = json.loads(sys.argv[1])
SYSTEM = (("channel", "Channel"), ("computer_name", "Computer"), ("event_id", "EventID"),
          ("provider_name", "Provider"), ("record_id", "EventRecordID"))

def flat(line):
    o = orjson.loads(line)
    w = o["winlog"]
    row = {{k: str(v) for k, v in w.get("event_data", {{}}).items()}}
    for key, name in SYSTEM:
        row[name] = str(w[key])
    row["TimeCreated"] = o["@timestamp"]
    return row

def udf_regex(pattern, value):
    if value is None:
        return 0
    return 1 if re.search(pattern, value) else 0

# Load: Zircolite flattens every event, makes one NOCASE text column per field, inserts, indexes.
t = time.perf_counter()
fields = {{}}
with open(src, "rb") as fh:
    for line in fh:
        for k in flat(line):
            fields.setdefault(k, None)
cols = list(fields)
con = sqlite3.connect(":memory:")
con.create_function("regexp", 2, udf_regex, deterministic=True)
con.execute("CREATE TABLE logs (row_id INTEGER PRIMARY KEY AUTOINCREMENT, "
            + ", ".join(f"`{{c}}` TEXT COLLATE NOCASE" for c in cols) + ")")
ins = (f"INSERT INTO logs ({{', '.join('`' + c + '`' for c in cols)}}) "
       f"VALUES ({{', '.join('?' * len(cols))}})")
with open(src, "rb") as fh:
    batch = []
    for line in fh:
        r = flat(line)
        batch.append(tuple(r.get(c) for c in cols))
        if len(batch) >= 50000:
            con.executemany(ins, batch)
            batch = []
    con.executemany(ins, batch)
con.execute("CREATE INDEX idx_eventid ON logs(EventID)")
con.commit()
load_s = time.perf_counter() - t
load_rss = {_HWM}

# Compile: pySigma's SQLite backend, the logsource's Channel added as ashiato's pipeline does.
t = time.perf_counter()
def channel(c):
    return AddConditionTransformation({{"Channel": [c] if isinstance(c, str) else list(c)}})
items = [ProcessingItem(identifier=f"channel_{{s}}", transformation=channel(c),
                        rule_conditions=[LogsourceCondition(service=s)])
         for s, c in windows_logsource_mapping.items()]
backend = sqliteBackend(ProcessingPipeline(items=items), table="logs",
                        timestamp_field="TimeCreated")
collection = SigmaCollection.load_ruleset([rules], collect_errors=True)
collection.resolve_rule_references()
plain, corrs, skipped = [], [], {{}}
# Detection rules first (a correlation needs its base rules' conversion state), then correlations.
for rule in sorted(collection.rules, key=lambda r: isinstance(r, SigmaCorrelationRule)):
    rid = str(rule.id)
    if rule.errors:
        skipped[rid] = "; ".join(str(e) for e in rule.errors)
        continue
    try:
        if isinstance(rule, SigmaCorrelationRule):
            q = backend.convert_correlation_rule(rule)
            if rule._output:
                corrs.append((rid, backend._correlation_plans[id(rule)]))
        elif isinstance(rule, SigmaRule):
            q = backend.convert_rule(rule)
            if not rule._output:
                continue
            if len(q) != 1:
                skipped[rid] = f"{{len(q)}} queries"
            else:
                plain.append((rid, q[0]))
    except Exception as exc:
        skipped[rid] = f"{{type(exc).__name__}}: {{exc}}"
compile_s = time.perf_counter() - t

# Run: rule by rule, every result row fetched (Zircolite turns each into a JSON match).
t = time.perf_counter()
counts = {{}}
for rid, q in plain:
    try:
        counts[rid] = sum(1 for _ in con.execute(q))
    except sqlite3.Error as exc:
        skipped[rid] = f"sqlite: {{exc}}"
for rid, plan in corrs:
    try:
        rows, _ = execute_plan(con, plan, include_events=False)
        counts[rid] = len(rows)
    except Exception as exc:
        skipped[rid] = f"correlation: {{type(exc).__name__}}: {{exc}}"
run_s = time.perf_counter() - t
print(json.dumps({{"load_s": load_s, "load_rss_mib": load_rss, "compile_s": compile_s,
                  "run_s": run_s, "peak_rss_mib": {_HWM}, "columns": len(cols),
                  "ran": list(counts), "counts": counts, "skipped": skipped}}))
"""


def _run(script: str, arg: object) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", script, json.dumps(arg)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"benchmark process failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["load_avg"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return result


# -- report ---------------------------------------------------------------------------------------


def _why(kind: str, a: int | None, s: int | None, skip_a: str | None, skip_s: str | None) -> str:
    """A first explanation of a count difference, from the rule's template (checked by hand)."""
    if skip_a:
        return f"skipped by ashiato: {skip_a}"
    if skip_s:
        return f"skipped on SQLite: {skip_s[:160]}"
    reasons = {
        "synthetic gte": "`|gte` on a TEXT column: SQLite compares the number as text "
        "('5' >= '10'), ashiato casts to a number",
        "synthetic null": "`field: null`: SQLite tests IS NULL, ashiato also counts an empty "
        "string as null (WorkstationName is often '')",
        "synthetic cased": "`|cased`: SQLite GLOB and DuckDB LIKE differ on this value",
        "synthetic cidr": "pysigma-backend-sqlite bug: a CIDR that expands to several prefixes "
        "is emitted as a bare `a OR b OR ...` inside the AND (no parentheses), so SQLite also "
        "counts events of other EventIDs, and filtered ones, in those networks",
        "synthetic regex": "`|re`: Python `re` (Zircolite's UDF) against RE2 in DuckDB",
        "pack correlation": "correlation windowing differs (see docs/sigma.md)",
    }
    return reasons.get(kind, "unexplained: see the rule")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rules", type=int, default=1000, help="single-event rules to generate")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="keep the generated rules in this directory")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        rules_dir = a.keep or t / "rules"
        if rules_dir.exists():
            shutil.rmtree(rules_dir)
        kinds = write_rules(rules_dir, a.rules, a.seed)
        src = t / "events.jsonl"
        t0 = time.perf_counter()
        gen.windows_mix(src, a.events, seed=a.seed)
        gen_s = time.perf_counter() - t0
        ing = _run(INGEST, [str(src), str(t / "store")])
        ash = _run(ASHIATO, [str(rules_dir), str(t / "store")])
        sql = _run(SQLITE, [str(src), str(rules_dir)])
    if a.json:
        a.json.write_text(json.dumps({"ingest": ing, "ashiato": ash, "sqlite": sql}, indent=1))
    report(a, kinds, gen_s, ing, ash, sql)


def report(
    a: argparse.Namespace,
    kinds: dict[str, str],
    gen_s: float,
    ing: dict[str, Any],
    ash: dict[str, Any],
    sql: dict[str, Any],
) -> None:
    n_corr = sum(1 for k in kinds.values() if k == "pack correlation")
    print(
        f"{a.events:,} events (`gen.windows_mix`, generated in {gen_s:.1f} s), "
        f"{a.rules:,} single-event rules + {n_corr} correlations of the pack "
        f"(with their base rules); ashiato ran {len(ash['ran'])}, SQLite ran {len(sql['ran'])}."
    )
    print()
    a_total = ash["compile_s"] + ash["run_s"]
    s_total = sql["compile_s"] + sql["run_s"]
    print("| engine | step | wall s | peak RSS MiB | load avg (1/5/15 min) |")
    print("|---|---|---|---|---|")
    print(
        f"| ashiato | ingest (`ashiato.ingest`, 1 worker) | {ing['wall_s']:.1f} | "
        f"{ing['peak_rss_mib']:.0f} | {ing['load_avg']} |"
    )
    print(
        f"| ashiato | compile {len(ash['ran'])} rules | {ash['compile_s']:.1f} | | "
        f"{ash['load_avg']} |"
    )
    print(
        f"| ashiato | run (findings with evidence) | {ash['run_s']:.1f} | "
        f"{ash['peak_rss_mib']:.0f} | {ash['load_avg']} |"
    )
    print(
        f"| SQLite (Zircolite's approach) | load into `:memory:` ({sql['columns']} columns) | "
        f"{sql['load_s']:.1f} | {sql['load_rss_mib']:.0f} | {sql['load_avg']} |"
    )
    print(
        f"| SQLite (Zircolite's approach) | compile {len(sql['ran'])} rules | "
        f"{sql['compile_s']:.1f} | | {sql['load_avg']} |"
    )
    print(
        f"| SQLite (Zircolite's approach) | run, rule by rule | {sql['run_s']:.1f} | "
        f"{sql['peak_rss_mib']:.0f} | {sql['load_avg']} |"
    )
    print()
    print("| ratio (SQLite / ashiato) | value |")
    print("|---|---|")
    print(f"| run time | {sql['run_s'] / ash['run_s']:.1f}× |")
    print(f"| compile + run time | {s_total / a_total:.1f}× |")
    print(f"| load + compile + run (SQLite load vs ashiato ingest) | "
          f"{(s_total + sql['load_s']) / (a_total + ing['wall_s']):.1f}× |")  # fmt: skip
    print(f"| peak RSS | {sql['peak_rss_mib'] / ash['peak_rss_mib']:.2f}× |")
    # -- matches per rule
    ids = sorted(set(ash["ran"]) | set(sql["ran"]) | set(ash["skipped"]) | set(sql["skipped"]))
    ids = [i for i in ids if i in kinds and kinds[i] != "pack base"]
    same = 0
    diffs: list[tuple[str, str, int | None, int | None, str]] = []
    for rid in ids:
        av = ash["counts"].get(rid, 0) if rid in ash["ran"] else None
        sv = sql["counts"].get(rid, 0) if rid in sql["ran"] else None
        if av == sv:
            same += 1
            continue
        why = _why(kinds[rid], av, sv, ash["skipped"].get(rid), sql["skipped"].get(rid))
        diffs.append((rid, kinds[rid], av, sv, why))
    hits = sum(1 for r in ids if ash["counts"].get(r, 0) > 0)
    print()
    print(
        f"Matches per rule: {len(ids)} rules compared, {same} identical "
        f"({hits} of them with at least one match on ashiato's side), {len(diffs)} differ."
    )
    print()
    if diffs:
        print("| rule id | kind | ashiato | SQLite | why |")
        print("|---|---|---|---|---|")
        for rid, kind, av, sv, why in diffs:
            fa = "skipped" if av is None else f"{av:,}"
            fs = "skipped" if sv is None else f"{sv:,}"
            print(f"| `{rid[:8]}` | {kind} | {fa} | {fs} | {why} |")


if __name__ == "__main__":
    main()
