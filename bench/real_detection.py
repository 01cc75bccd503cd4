"""Which real attack files raise a finding of the right kind; event precision/recall on OTRF LM.

Usage: ``.venv/bin/python bench/real_detection.py [REAL_DIR]`` — prints Markdown for
docs/detection.md. Each file is ingested alone into a temporary store and detected twice, with
``infer_sites=True`` and no inventory: once with the default parameters, once with every
``warmup_days`` set to 0 (a single file holds minutes of data, so a 7-day warm-up hides
everything). The expected kind comes from the folder or file name (ATT&CK tactic/technique); the
detectors of that kind are those whose SPEC maps to it (lateral movement or valid accounts: T1021,
T1550, T1570, T1078; password guessing: T1110).

OTRF lateral-movement datasets carry no per-event label. Their metadata (``adversary_view``)
and README name the lab: the attacker works on WORKSTATION5 (172.18.39.5) as THESHIRE\\pgustavo
and reaches the hosts the transcript names (WORKSTATION6, MORDORDC). An event is labelled
malicious when its account is pgustavo, its source is the attacker host and its destination a
named target, inside the file's time span (the metadata gives no finer time).
"""

from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from ashiato.detect.registry import DETECTORS
from ashiato.detect.runner import detect
from ashiato.ingest import ingest
from ashiato.store import Store

REAL = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[2] / "shared/data/real"


def _by_technique(*prefixes: str) -> set[str]:
    """Registered detectors mapped to an ATT&CK technique under one of ``prefixes``."""
    return {d.SPEC.id for d in DETECTORS if any(t.startswith(prefixes) for t in d.SPEC.techniques)}


# Lateral movement and valid-account misuse; password guessing and spraying.
LM = _by_technique("T1021", "T1550", "T1570", "T1078")
SPRAY = _by_technique("T1110")
NO_WARMUP = {
    d.SPEC.id: {"warmup_days": 0}
    for d in DETECTORS
    if "warmup_days" in {p.name for p in d.SPEC.params}
}
ATTACKER_HOST, ATTACKER_IP, ATTACKER_USER = "workstation5", "172.18.39.5", "pgustavo"
LAB_IPS = {"workstation6": "172.18.39.6"}  # MORDORDC: matched by name only


@dataclass
class Case:
    path: Path
    kind: str  # "lateral movement" | "password guessing" | "credential access (other)"
    expected: set[str]


def _kind(name: str) -> tuple[str, set[str]]:
    n = name.lower()
    if re.search(r"t1110|brut|spray|guess|t1110\.003", n):
        return "password guessing", SPRAY
    if re.search(r"ta0008|lateral|psexec|sliver", n):
        return "lateral movement", LM
    return "credential access (other)", set()


def cases(real: Path) -> list[Case]:
    out: list[Case] = []
    mitre = real / "evtx-to-mitre-attack"
    for tactic in ("TA0008-Lateral Movement", "TA0006-Credential Access"):
        for p in sorted((mitre / tactic).rglob("*.evtx")):
            out.append(Case(p, *_kind(str(p.relative_to(mitre)))))
    pat = re.compile(r"psexec|password|guessing|mimikatz|sliver-security")
    for p in sorted((real / "deepbluecli").glob("*.evtx")):
        if pat.search(p.name):
            out.append(Case(p, *_kind(p.name)))
    otrf = real / "otrf-security-datasets/atomic/windows"
    for tactic in ("lateral_movement", "credential_access"):
        for p in sorted((otrf / tactic / "host").iterdir()):
            if p.suffix in (".zip", ".gz"):
                k = _kind(tactic)  # the tactic folder, not the tool (cmd_psexec_lsa_... is CA)
                if "purplesharp" in p.name:  # T1110.003 spray + T1021.006: both kinds count
                    k = ("lateral movement + spray", LM | SPRAY)
                out.append(Case(p, *k))
    return out


def _targets(real: Path) -> dict[str, set[str]]:
    """OTRF dataset file name -> target hosts named in its metadata's attacker transcript."""
    out: dict[str, set[str]] = {}
    for meta in (real / "otrf-security-datasets/atomic/_metadata").glob("*.yaml"):
        doc = yaml.safe_load(meta.read_text()) or {}
        view = str((doc.get("simulation") or {}).get("adversary_view") or "")
        hosts = {h.lower() for h in re.findall(r"\b(WORKSTATION\d+|MORDORDC)\b", view, re.I)}
        if "172.18.39.6" in view:
            hosts.add("workstation6")
        hosts.discard(ATTACKER_HOST)
        for f in doc.get("files") or []:
            out[Path(str(f.get("link", ""))).name] = hosts
    return out


def _labels(con: duckdb.DuckDBPyConnection, targets: set[str]) -> set[str]:
    dst = " OR ".join(f"lower(dst_host) LIKE '{t}%'" for t in sorted(targets)) or "false"
    ips = [LAB_IPS[t] for t in targets if t in LAB_IPS]
    dst_ip = f"OR dst_ip::VARCHAR IN ({', '.join(repr(i) for i in ips)})" if ips else ""
    rows = con.sql(
        f"""SELECT event_id FROM events WHERE lower("user") = '{ATTACKER_USER}'
            AND (lower(src_host) LIKE '{ATTACKER_HOST}%' OR src_ip::VARCHAR = '{ATTACKER_IP}')
            AND ({dst} {dst_ip})"""
    ).fetchall()
    return {r[0] for r in rows}


def run(case: Case, targets: dict[str, set[str]]) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "s"
        rep = ingest([case.path], root, workers=1)
        store = Store(root)
        n = rep.records_stored
        fired: dict[str, set[str]] = {}
        cited: set[str] = set()
        for mode, params in (("default", None), ("no warm-up", NO_WARMUP)):
            r = detect(store, None, infer_sites=True, params=params) if n else None
            dets = r.findings.column("detector").to_pylist() if r else []
            fired[mode] = set(dets)
            if r and mode == "no warm-up":
                cited = {e for ev in r.findings.column("evidence").to_pylist() for e in ev}
        pr: tuple[int, int, int] | None = None
        name = case.path.name
        if "otrf" in str(case.path) and "lateral_movement" in str(case.path) and n:
            tg = targets.get(name) or {"workstation6"}
            con = duckdb.connect()
            con.execute(
                f"CREATE VIEW events AS SELECT * FROM read_parquet('{store.layout.events_glob()}',"
                " hive_partitioning=true)"
            )
            mal = _labels(con, tg)
            con.close()
            pr = (len(mal), len(cited), len(mal & cited))
    return {"events": n, "fired": fired, "pr": pr}


def main() -> None:
    targets = _targets(REAL)
    rows = []
    for c in cases(REAL):
        res = run(c, targets)
        rows.append((c, res))
        print(f"... {c.path.name}: {res['fired']}", file=sys.stderr)
    print("| source | file | kind | events | fired (defaults) | fired (no warm-up) | right kind |")
    print("|---|---|---|---|---|---|---|")
    right = {"default": 0, "no warm-up": 0}
    scoped = 0
    for c, res in rows:
        fired = res["fired"]
        assert isinstance(fired, dict)
        ok = {m: bool(fired[m] & c.expected) for m in fired}
        if c.expected:
            scoped += 1
            for m, good in ok.items():
                right[m] += good
        verdict = (
            "n/a (no detector for it)"
            if not c.expected
            else "yes"
            if ok["default"]
            else "yes, without warm-up"
            if ok["no warm-up"]
            else "**no**"
        )
        src = c.path.relative_to(REAL).parts[0]
        print(
            f"| {src} | {c.path.name} | {c.kind} | {res['events']:,} | "
            f"{', '.join(sorted(fired['default'])) or '-'} | "
            f"{', '.join(sorted(fired['no warm-up'])) or '-'} | {verdict} |"
        )
    print()
    print(
        f"Right kind: {right['default']} of {scoped} in-scope files with default parameters, "
        f"{right['no warm-up']} of {scoped} without warm-up."
    )
    print()
    print(
        "| OTRF lateral-movement dataset | labelled events | cited | cited and labelled "
        "| precision | recall |"
    )
    print("|---|---|---|---|---|---|")
    tot = [0, 0, 0]
    for c, res in rows:
        pr = res["pr"]
        if not isinstance(pr, tuple):
            continue
        mal, cit, hit = pr
        tot = [tot[0] + mal, tot[1] + cit, tot[2] + hit]
        print(
            f"| {c.path.name} | {mal} | {cit} | {hit} | {_ratio(hit, cit)} | {_ratio(hit, mal)} |"
        )
    print(
        f"| **all** | {tot[0]} | {tot[1]} | {tot[2]} | {_ratio(tot[2], tot[1])} | "
        f"{_ratio(tot[2], tot[0])} |"
    )


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "-"


if __name__ == "__main__":
    main()
