"""Which real attack files raise a finding of the right kind, with what ``ashiato detect`` runs.

Usage: ``.venv/bin/python bench/real_detection.py [--only SUBSTRING] [--json OUT] [REAL_DIR]`` —
prints Markdown for docs/detection.md. Each file is ingested alone into a temporary store and
detected as ``ashiato detect --infer-sites`` does with defaults (no inventory, no warm-up tricks):
the 17+ behavioural detectors, the own rule pack and the default SigmaHQ set.

In scope (issue 13): the lateral-movement and credential-access EVTX files of ``shared/data/real``
(evtx-to-mitre-attack TA0008/TA0006, hayabusa-sample-evtx-yamato LateralMovement/CredentialAccess,
the deepbluecli psexec, mimikatz and password files). A file's kind is its tactic; a finding is of
the right kind when its ATT&CK techniques belong to that tactic (``LM_TECHNIQUES``,
``CA_TECHNIQUES``) or its Sigma rule carries the tactic's tag. A stricter column says whether a
finding names the file's own technique (from the file or folder name, e.g. ``T1003``).

Also reported: the OTRF lateral-movement and credential-access datasets (zipped JSON, kept out of
the headline because they hold lab background), and every finding on the presumed-benign files of
``evtx-rs-samples-unlabeled`` (false findings).

OTRF lateral-movement datasets carry no per-event label. Their metadata (``adversary_view``)
and README name the lab: the attacker works on WORKSTATION5 (172.18.39.5) as THESHIRE\\pgustavo
and reaches the hosts the transcript names (WORKSTATION6, MORDORDC). An event is labelled
malicious when its account is pgustavo, its source is the attacker host and its destination a
named target, inside the file's time span (the metadata gives no finer time).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

# bench/sigma.py would shadow pySigma's ``sigma`` package: drop this folder from the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import duckdb  # noqa: E402
import yaml  # noqa: E402

from ashiato.detect.registry import DETECTORS  # noqa: E402
from ashiato.detect.runner import detect  # noqa: E402
from ashiato.ingest import ingest  # noqa: E402
from ashiato.sigma.ruleset import default_rule_paths, default_selector  # noqa: E402
from ashiato.store import Store  # noqa: E402

# ATT&CK (enterprise v15) techniques of the two tactics; sub-techniques match by prefix.
LM_TECHNIQUES = ("T1021", "T1210", "T1534", "T1550", "T1563", "T1570", "T1072", "T1080", "T1091")
CA_TECHNIQUES = (
    "T1003", "T1040", "T1056", "T1110", "T1111", "T1187", "T1212", "T1528", "T1539", "T1552",
    "T1555", "T1556", "T1557", "T1558", "T1606", "T1621", "T1649",
)  # fmt: skip
LM, CA = "lateral movement", "credential access"
TACTIC = {LM: ("lateral_movement", LM_TECHNIQUES), CA: ("credential_access", CA_TECHNIQUES)}
SPEC_TECH = {d.SPEC.id: tuple(d.SPEC.techniques) for d in DETECTORS}
ATTACKER_HOST, ATTACKER_IP, ATTACKER_USER = "workstation5", "172.18.39.5", "pgustavo"
LAB_IPS = {"workstation6": "172.18.39.6"}  # MORDORDC: matched by name only
_TECH_IN_NAME = re.compile(r"\b(T\d{4})(?:\.\d{3}|\.x+)?", re.IGNORECASE)


@dataclass
class Case:
    path: Path
    group: str  # "in scope" | "otrf" | "benign"
    kind: str  # LM | CA | "benign"
    technique: str | None = None  # e.g. "T1003", from the path


@dataclass
class Result:
    events: int
    findings: list[dict[str, Any]] = field(default_factory=list)
    right: list[str] = field(default_factory=list)  # detectors of the right kind
    exact: list[str] = field(default_factory=list)  # naming the file's own technique
    techniques: dict[str, list[str]] = field(default_factory=dict)  # right finding -> its ATT&CK
    pr: tuple[int, int, int] | None = None


def _technique(path: Path) -> str | None:
    m = _TECH_IN_NAME.search(str(path))
    return m.group(1).upper() if m else None


def cases(real: Path) -> list[Case]:
    out: list[Case] = []
    mitre = real / "evtx-to-mitre-attack"
    for tactic, kind in (("TA0008-Lateral Movement", LM), ("TA0006-Credential Access", CA)):
        for p in sorted((mitre / tactic).rglob("*.evtx")):
            out.append(Case(p, "in scope", kind, _technique(p.relative_to(mitre))))
    yam = real / "hayabusa-sample-evtx-yamato"
    for folder, kind in (("LateralMovement", LM), ("CredentialAccess", CA)):
        for p in sorted((yam / folder).glob("*.evtx")):
            out.append(Case(p, "in scope", kind, _technique(Path(p.name))))
    for p in sorted((real / "deepbluecli").glob("*.evtx")):
        if "psexec" in p.name:
            out.append(Case(p, "in scope", LM, "T1021"))
        elif "mimikatz" in p.name:
            out.append(Case(p, "in scope", CA, "T1003"))
        elif "password" in p.name:
            out.append(Case(p, "in scope", CA, "T1110"))
    otrf = real / "otrf-security-datasets/atomic/windows"
    for tactic, kind in (("lateral_movement", LM), ("credential_access", CA)):
        for p in sorted((otrf / tactic / "host").iterdir()):
            if p.suffix in (".zip", ".gz"):
                out.append(Case(p, "otrf", kind))
    for p in sorted((real / "evtx-rs-samples-unlabeled").glob("*.evtx")):
        out.append(Case(p, "benign", "benign"))
    return out


@cache
def _rule_tags(path: str) -> tuple[str, ...]:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return ()
    # SigmaHQ now writes tactics with hyphens (attack.lateral-movement), older rules underscores
    return tuple(str(t).lower().replace("-", "_") for t in (doc or {}).get("tags") or ())


def _judge(case: Case, f: dict[str, Any]) -> tuple[bool, bool]:
    """(right tactic, the file's own technique) for one finding."""
    if case.kind not in TACTIC:
        return False, False
    tag, prefixes = TACTIC[case.kind]
    det = str(f["detector"])
    techs = [str(t).upper() for t in (f.get("technique") or SPEC_TECH.get(det, ()))]
    tags: tuple[str, ...] = ()
    if det.startswith("sigma:"):
        tags = _rule_tags(str(json.loads(f.get("details") or "{}").get("file") or ""))
    right = any(t.startswith(prefixes) for t in techs) or f"attack.{tag}" in tags
    exact = bool(case.technique) and any(t.startswith(case.technique or "?") for t in techs)
    return right, exact


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


def run(case: Case, targets: dict[str, set[str]], plan: tuple[Any, Any]) -> Result:
    paths, select = plan
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "s"
        rep = ingest([case.path], root, workers=1)
        store = Store(root)
        res = Result(events=rep.records_stored)
        if not res.events:
            return res
        r = detect(store, None, infer_sites=True, rules=paths, rule_select=select)
        cols = ["detector", "title", "severity", "technique", "details", "evidence"]
        rows = r.findings.select(cols).to_pylist()
        cited: set[str] = set()
        for f in rows:
            right, exact = _judge(case, f)
            det = str(f["detector"])
            label = det if not det.startswith("sigma:") else f"sigma: {f['title']}"
            res.findings.append({"detector": label, "severity": f["severity"]})
            if right:
                res.right.append(label)
                res.techniques[label] = sorted({str(t).upper() for t in f["technique"] or ()})
            if exact:
                res.exact.append(label)
            cited.update(f["evidence"] or ())
        if case.group == "otrf" and case.kind == LM:
            tg = targets.get(case.path.name) or {"workstation6"}
            con = duckdb.connect()
            con.execute(
                f"CREATE VIEW events AS SELECT * FROM read_parquet('{store.layout.events_glob()}',"
                " hive_partitioning=true)"
            )
            mal = _labels(con, tg)
            con.close()
            res.pr = (len(mal), len(cited), len(mal & cited))
    return res


def _names(labels: list[str], n: int = 4) -> str:
    c = Counter(labels)
    top = [f"{k}" + (f" ×{v}" if v > 1 else "") for k, v in c.most_common(n)]
    more = len(c) - len(top)
    return "; ".join(top) + (f"; +{more} more" if more > 0 else "") if top else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "real", nargs="?", type=Path, default=Path(__file__).parents[2] / "shared/data/real"
    )
    ap.add_argument("--only", help="run the files whose path contains this substring")
    ap.add_argument("--json", type=Path, help="also write every file's result as JSON here")
    ap.add_argument("--no-otrf", action="store_true", help="skip the OTRF datasets")
    a = ap.parse_args()
    targets = _targets(a.real)
    act, paths = default_rule_paths()
    plan = (paths, default_selector(act.ruleset, None))
    rows: list[tuple[Case, Result]] = []
    todo = [c for c in cases(a.real) if not a.only or a.only.lower() in str(c.path).lower()]
    if a.no_otrf:
        todo = [c for c in todo if c.group != "otrf"]
    for i, c in enumerate(todo, 1):
        res = run(c, targets, plan)
        rows.append((c, res))
        mark = "ok" if res.right else "--"
        print(
            f"[{i}/{len(todo)}] {mark} {c.path.name}: "
            f"{_names(res.right or [f['detector'] for f in res.findings])}",
            file=sys.stderr,
        )
    if a.json:
        a.json.write_text(
            json.dumps(
                [
                    {
                        "path": str(c.path),
                        "group": c.group,
                        "kind": c.kind,
                        "technique": c.technique,
                        **res.__dict__,
                    }
                    for c, res in rows
                ],
                indent=1,
                default=str,
            )
        )
    for group in ("in scope", "otrf"):
        sel = [(c, r) for c, r in rows if c.group == group]
        if not sel:
            continue
        print(f"\n### {group}\n")
        print("| source | file | kind | events | findings | right kind (tactic) | own technique |")
        print("|---|---|---|---|---|---|---|")
        for c, r in sel:
            src = c.path.relative_to(a.real).parts[0]
            print(
                f"| {src} | {c.path.name} | {c.kind} | {r.events:,} | {len(r.findings)} | "
                f"{'yes: ' + _names(r.right) if r.right else '**no**'} | "
                f"{'yes' if r.exact else ('no' if c.technique else 'n/a')} |"
            )
        for kind in (LM, CA):
            k = [r for c, r in sel if c.kind == kind]
            print(
                f"\n{kind}: {sum(bool(r.right) for r in k)} of {len(k)} files raise a finding "
                "of the right kind"
                f" ({sum(bool(r.exact) for r in k)} name the file's own technique)."
            )
        n = len(sel)
        ok = sum(bool(r.right) for _, r in sel)
        print(
            f"\n**{group}: {ok} of {n} files ({100 * ok / max(n, 1):.0f} %) raise a finding "
            "of the right kind.**"
        )
    ben = [(c, r) for c, r in rows if c.group == "benign"]
    if ben:
        print("\n### presumed benign (evtx-rs-samples-unlabeled): every finding is a false one\n")
        print("| file | events | findings | by severity | detectors |")
        print("|---|---|---|---|---|")
        for c, r in ben:
            sev = Counter(str(f["severity"]) for f in r.findings)
            print(
                f"| {c.path.name} | {r.events:,} | {len(r.findings)} | "
                f"{', '.join(f'{k} {v}' for k, v in sorted(sev.items())) or '-'} | "
                f"{_names([f['detector'] for f in r.findings], 6)} |"
            )
    _coverage(rows, a.real)
    prs = [(c, r.pr) for c, r in rows if r.pr]
    if prs:
        print(
            "\n| OTRF lateral-movement dataset | labelled events | cited | cited and labelled "
            "| precision | recall |"
        )
        print("|---|---|---|---|---|---|")
        tot = [0, 0, 0]
        for c, pr in prs:
            assert pr is not None
            mal, cit, hit = pr
            tot = [tot[0] + mal, tot[1] + cit, tot[2] + hit]
            print(
                f"| {c.path.name} | {mal} | {cit} | {hit} | {_ratio(hit, cit)} "
                f"| {_ratio(hit, mal)} |"
            )
        print(
            f"| **all** | {tot[0]} | {tot[1]} | {tot[2]} | {_ratio(tot[2], tot[1])} "
            f"| {_ratio(tot[2], tot[0])} |"
        )


def _coverage(rows: list[tuple[Case, Result]], real: Path) -> None:
    """ATT&CK technique -> the detectors and rules that caught it -> the in-scope files."""
    by: dict[str, tuple[set[str], set[str]]] = {}
    for c, r in rows:
        if c.group != "in scope":
            continue
        prefixes = TACTIC[c.kind][1]
        for label, techs in r.techniques.items():
            mine = [t for t in techs if t.startswith(prefixes)] or techs or ["(tactic tag only)"]
            for t in mine:
                dets, files = by.setdefault(t, (set(), set()))
                dets.add(label.removeprefix("sigma: "))
                files.add(c.path.name)
    if not by:
        return
    print("\n### Technique coverage (in-scope files)\n")
    print("| technique | detectors and rules that fired | real files that prove it |")
    print("|---|---|---|")
    for t in sorted(by):
        dets, files = by[t]
        print(f"| {t} | {'; '.join(sorted(dets))} | {'; '.join(sorted(files))} |")


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "-"


if __name__ == "__main__":
    main()
