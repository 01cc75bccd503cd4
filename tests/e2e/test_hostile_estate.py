"""Issue 11's acceptance test: an intruder whose names are hostile cannot make any artefact run,
hide or spoof anything, and is still caught.

A small simulated estate has the planted campaign's account, source workstations and shares (and
the campaign's file paths) rewritten in the raw Winlogbeat logs and the inventory with payloads:
quotes (typographic ones too), ``;``, ``$()``, backticks, newlines, CR, ESC, NUL, ``<script>``,
formula prefixes, a 300-character name and bidirectional marks. The real ``ashiato`` command then
runs ingest, detect, incidents, findings, investigate (timeline CSV and JSON lines), contain,
notify and report, and every artefact and every terminal output is checked against its language:
PowerShell code holds no payload outside single-quoted literals, nftables and IOS none outside
comments, no CSV cell is a formula, no text carries a raw control or bidirectional character or
lets a payload start a line, and the report's HTML holds the payloads as text only.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from ashiato.quote.spreadsheet import is_formula
from tests.hostile import ISSUE_11, ps_code, raw_controls

pytestmark = pytest.mark.slow

ASHIATO = str(Path(sys.executable).with_name("ashiato"))
C1 = "c1-valid-admin-th-id-ph"
MARK = "pwned"
"""Every payload carries this word: code outside literals and comments must never hold it."""

ACCOUNT = ISSUE_11
HOSTS = [
    "ws<script>alert(1)</script>$(calc)`calc`[bold]PWNED-H0[/]",
    "+cmd|\u2018 /C calc\u2019!A0;\r\nPWNED-H1 \u202eexe",
    ("@SUM(1+1)\x00\x1b]0;PWNED-H2\x07" + "w" * 300)[:300],
]
"""The campaign's source workstations, in the order ground truth lists them."""
SHARES = {
    "CustomerData": "-2+3+cmd|' /C calc'!A0 PWNED-S0\u2019$(x)",
    "C$": '=HYPERLINK("http://x/")PWNED-S1\u200f\t#>',
}
PATHS = [
    "=cmd|' /C calc'!A0 PWNED-P0.xlsx",
    "@SUM(1)PWNED-P1.xlsx",
    "x\nPWNED-P2\r.xlsx",
    "\u202eslx.PWNED-P3.exe",
    "`calc`$(calc)PWNED-P4.xlsx",
    "a" * 300 + "PWNED-P5",
]
"""File names given, in turn, to the campaign's share-object events (5145)."""
PAYLOADS = [ACCOUNT, *HOSTS, *SHARES.values(), *PATHS]


@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Hostile:
    root: Path
    runs: dict[str, Run] = field(default_factory=dict)
    incident: str | None = None
    investigation: dict[str, Any] = field(default_factory=dict)

    def run(self, *args: str) -> Run:
        """Run ``ashiato args``; its output is checked later under the verb's name (with
        ``--json`` if given: ``investigate --json``)."""
        name = " ".join([args[0], *(a for a in args if a == "--json")])
        env = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
        env.pop("FORCE_COLOR", None)
        p = subprocess.run(
            [ASHIATO, *args], check=False, capture_output=True, text=True, env=env, timeout=600
        )
        self.runs[name] = Run(list(args), p.returncode, p.stdout, p.stderr)
        return self.runs[name]

    def artefacts(self) -> Iterator[Path]:
        """Every file the pipeline wrote for people or tools (not the store's own files)."""
        for sub in ("timeline", "containment", "letters", "report"):
            yield from sorted(p for p in (self.root / sub).rglob("*") if p.is_file())


# -- rewriting the estate ------------------------------------------------------------------------


def _json_inner(s: str) -> str:
    return json.dumps(s)[1:-1]


def hostile_names(campaign: dict[str, Any]) -> dict[str, str]:
    """The campaign's account and source workstations -> their payloads."""
    return {
        campaign["accounts"][0]: ACCOUNT,
        **dict(zip(campaign["src_hosts"], HOSTS, strict=True)),
    }


def rewrite_logs(logs: Path, campaign: dict[str, Any], records: set[tuple[str, str]]) -> None:
    """Give the campaign's account, workstations, shares and file paths their payloads.

    Names stand in the JSON as ``"name"``, ``"name@realm"``, ``"name.dns.suffix"`` or
    ``"NAME$"`` (lower or upper case); shares as ``...\\Share"``.
    """
    account = campaign["accounts"][0]
    subs = [
        (f'"{case}{end}', f'"{_json_inner(new)}{end}')
        for old, new in hostile_names(campaign).items()
        for case in {old, old.upper()}
        for end in '".$@'
    ]
    subs += [(f'\\\\{old}"', f'\\\\{_json_inner(new)}"') for old, new in SHARES.items()]
    k = 0
    for f in sorted((logs / "windows").glob("*.jsonl")):
        lines = f.read_text("utf-8").splitlines()
        for i, line in enumerate(lines):
            if '"5145"' not in line or f'"{account}"' not in line:
                continue
            rec = orjson.loads(line)
            w = rec["winlog"]
            data = w["event_data"]
            if (w["computer_name"].split(".")[0], str(w["record_id"])) in records:
                folder = data["RelativeTargetName"].rpartition("\\")[0]
                data["RelativeTargetName"] = f"{folder}\\{PATHS[k % len(PATHS)]}"
                lines[i] = orjson.dumps(rec).decode()
                k += 1
        text = "\n".join(lines) + "\n"
        for old, new in subs:
            text = text.replace(old, new)
        f.write_text(text, "utf-8")
    assert k >= len(PATHS), f"only {k} share-object events of the campaign to rewrite"


def rewrite_inventory(inventory: Path, campaign: dict[str, Any]) -> None:
    """The same names in accounts.csv and assets.csv, the shares in data.yaml."""
    names = hostile_names(campaign)
    for name in ("accounts.csv", "assets.csv"):
        p = inventory / name
        rows = list(csv.reader(io.StringIO(p.read_text("utf-8"), newline="")))
        buf = io.StringIO()
        csv.writer(buf).writerows([[names.get(c, c) for c in r] for r in rows])
        p.write_text(buf.getvalue(), "utf-8", newline="")
    p = inventory / "data.yaml"
    doc = yaml.safe_load(p.read_text("utf-8"))
    for store in doc["data_stores"]:
        store["shares"] = [SHARES.get(s, s) for s in store.get("shares") or []]
    p.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), "utf-8")


# -- the pipeline, once for the module ---------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    from ashiato.simulate import simulate

    root = tmp_path_factory.mktemp("hostile")
    sim = root / "sim"
    simulate(sim, terminals=60, days=14, seed=11)
    truth = [orjson.loads(x) for x in (sim / "ground_truth.jsonl").read_bytes().splitlines()]
    campaign = next(t for t in truth if t["type"] == "campaign" and t["id"] == C1)
    assert len(campaign["src_hosts"]) == len(HOSTS)
    records = {
        (t["log_host"], str(t["record_id"]))
        for t in truth
        if t["type"] == "event" and t["campaign"] == C1 and t["source"] == "windows"
    }
    rewrite_logs(sim / "logs", campaign, records)
    rewrite_inventory(sim / "inventory", campaign)

    h = Hostile(root)
    store, inv = str(root / "store"), str(sim / "inventory")
    h.run("ingest", str(sim / "logs"), "--store", store, "--workers", "2")
    h.run("detect", "--store", store, "--inventory", inv)
    for verb in ("incidents", "findings", "entities"):
        h.run(verb, "--store", store)
    listed = h.run("incidents", "--store", store, "--json").stdout.splitlines()
    accounts = [(json.loads(x).get("entities") or {}).get("accounts", []) for x in listed]
    mine = [json.loads(x) for x, a in zip(listed, accounts, strict=True) if ACCOUNT.lower() in a]
    if not mine:
        return h
    common = ("--store", store, "--inventory", inv)
    # The campaign's three offices may be three incidents (one credential, days apart, links
    # nothing: see detect/incidents.py): the artefacts are made for the one whose investigation
    # names the most payloads, so that each payload goes through each artefact.
    h.incident = max(mine, key=lambda i: (_payloads_named(i["id"], common), i["risk"]))["id"]
    (root / "timeline").mkdir()
    i = ("incident", h.incident, *common)
    h.run("investigate", *i, "--timeline", str(root / "timeline/tl.csv"))
    j = h.run("investigate", *i, "--json", "--timeline", str(root / "timeline/tl.jsonl"))
    if j.returncode == 0:
        h.investigation = json.loads(j.stdout)
    respond = (*common, "--incident", h.incident)
    h.run("contain", *respond, "--out", str(root / "containment"))
    h.run("notify", *respond, "--out", str(root / "letters"))
    report = root / "report"
    h.run("report", *respond, "--out", str(report / "report.html"), "--pdf", str(report / "x.pdf"))
    return h


def _payloads_named(incident: str, common: tuple[str, ...]) -> int:
    """How many payloads the incident's investigation (JSON) names."""
    p = subprocess.run(
        [ASHIATO, "investigate", "incident", incident, *common, "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seen = "\n".join(_strings(json.loads(p.stdout))).lower() if p.returncode == 0 else ""
    return sum(x.lower() in seen for x in PAYLOADS)


# -- the checks ----------------------------------------------------------------------------------


def _strings(v: Any) -> Iterator[str]:
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from _strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from _strings(x)


def test_the_intrusion_is_still_caught_under_its_hostile_names(hostile: Hostile) -> None:
    assert hostile.runs["detect"].returncode == 0, hostile.runs["detect"].stderr
    assert hostile.incident, "no incident names the hostile account"
    seen = "\n".join(_strings(hostile.investigation)).lower()
    missing = [p for p in PAYLOADS if p.lower() not in seen]
    assert not missing, f"payloads not in the incident's investigation: {missing}"


STEPS = [
    "ingest",
    "detect",
    "incidents",
    "incidents --json",
    "findings",
    "entities",
    "investigate",
    "investigate --json",
    "contain",
    "notify",
    "report",
]


@pytest.mark.parametrize("step", STEPS)
def test_each_step_succeeds_and_prints_no_raw_control(hostile: Hostile, step: str) -> None:
    assert step in hostile.runs, f"{step} did not run (no incident for the hostile account?)"
    r = hostile.runs[step]
    assert r.returncode == 0, f"ashiato {' '.join(r.args)}:\n{r.stdout}\n{r.stderr}"
    for stream in (r.stdout, r.stderr):
        assert not raw_controls(stream), raw_controls(stream)[:5]
        _no_line_started_by_a_payload(stream, step)


def _continuations() -> list[str]:
    """What follows a line break inside a payload: no output line may start with it."""
    out = []
    for p in PAYLOADS:
        for part in re.split(r"[\r\n]", p)[1:]:
            if part.strip():
                out.append(part.strip().lower()[:12])
    return out


def _no_line_started_by_a_payload(text: str, where: str) -> None:
    starts = _continuations()
    for n, line in enumerate(text.splitlines(), 1):
        low = line.strip(" \t-・│|#!").lower()
        bad = [s for s in starts if low.startswith(s)]
        assert not bad, f"{where}:{n} starts with a payload's continuation: {line!r}"


def test_every_text_artefact_is_one_line_per_value_without_raw_controls(hostile: Hostile) -> None:
    files = [p for p in hostile.artefacts() if p.suffix not in (".png", ".pdf")]
    assert {p.suffix for p in files} >= {".csv", ".jsonl", ".ps1", ".txt", ".html"}, files
    problems = []
    for p in files:
        text = p.read_text("utf-8")
        if p.suffix == ".csv":
            text = text.replace("\r\n", "\n")
        bad = raw_controls(text)
        if bad:
            problems.append(f"{p.relative_to(hostile.root)}: {sorted(set(bad))}")
        try:
            _no_line_started_by_a_payload(text, str(p.relative_to(hostile.root)))
        except AssertionError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)


def test_no_csv_cell_is_a_formula(hostile: Hostile) -> None:
    csvs = [p for p in hostile.artefacts() if p.suffix == ".csv"]
    assert {p.name for p in csvs} >= {"tl.csv", "customers.csv"}
    cells = 0
    for p in csvs:
        with p.open(encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh):
                for c in row:
                    cells += 1
                    assert not is_formula(c), f"{p.name}: {c!r}"
    text = (hostile.root / "timeline/tl.csv").read_text("utf-8").lower()
    assert "'" + ACCOUNT.lower().split("\n")[0] in text  # the account is there, neutralised


def test_powershell_holds_payloads_only_in_literals_and_comments(hostile: Hostile) -> None:
    scripts = sorted((hostile.root / "containment").glob("*.ps1"))
    assert scripts
    problems = []
    for p in scripts:
        for n, line in enumerate(p.read_text("utf-8").splitlines(), 1):
            try:
                code = ps_code(line)
            except AssertionError as exc:
                problems.append(f"{p.name}:{n}: {exc}")
                continue
            if MARK in code.lower() or "<#" in code:
                problems.append(f"{p.name}:{n}: payload in code: {line!r}")
    assert not problems, "\n".join(problems)


def test_nftables_and_ios_hold_no_payload_outside_comments(hostile: Hostile) -> None:
    problems = []
    nft = hostile.root / "containment/containment.nft"
    for n, line in enumerate(nft.read_text("utf-8").splitlines(), 1):
        code = re.sub(r'comment "[^"\n]*"', "", line.split("#", 1)[0])
        if MARK in code.lower():
            problems.append(f"{nft.name}:{n}: {line!r}")
    ios = hostile.root / "containment/cisco-ios-acl.txt"
    for n, line in enumerate(ios.read_text("utf-8").splitlines(), 1):
        body = line.strip()
        if body.startswith("!"):
            continue
        if body.startswith("remark "):
            if "?" in body or not body.isascii() or not body.isprintable():
                problems.append(f"{ios.name}:{n}: unsafe remark {line!r}")
        elif MARK in body.lower():
            problems.append(f"{ios.name}:{n}: {line!r}")
    assert not problems, "\n".join(problems)


def test_json_artefacts_parse_and_keep_the_exact_values(hostile: Hostile) -> None:
    for p in hostile.artefacts():
        if p.suffix == ".json":
            json.loads(p.read_text("utf-8"))
        elif p.suffix == ".jsonl":
            rows = [json.loads(x) for x in p.read_text("utf-8").splitlines()]
            assert any(r.get("user") == ACCOUNT.lower() for r in rows), p.name


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_report_holds_the_payloads_as_text_only(hostile: Hostile) -> None:
    html = (hostile.root / "report/report.html").read_text("utf-8")
    parsed = _Elements()
    parsed.feed(html)
    parsed.close()
    tags = [t for t, _ in parsed.tags]
    assert tags.count("script") == 0, "ashiato's report has no script of its own"
    assert tags.count("style") == 1
    handlers = [(t, a) for t, attrs in parsed.tags for a, _ in attrs if a.startswith("on")]
    assert not handlers
    text = "".join(parsed.text).lower()
    assert "<script>alert(1)</script>" in text  # the host name, shown as text
    assert ACCOUNT.lower().split("\n")[0] in text
    assert (hostile.root / "report/x.pdf").read_bytes()[:5] == b"%PDF-"
