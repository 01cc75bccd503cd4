"""SigmaHQ rules on real EVTX files: the matching events each rule must find in each file.

SigmaHQ keeps regression cases (each rule's expected matches on a sample log); this is the same
idea built from ``shared/data/real``: ``data/real_cases.json`` lists (rule, file, count) triples
on which ashiato and Zircolite's pipeline (pySigma -> SQLite, reimplemented in
``bench/sigma_zircolite.py``) agree, plus the few where they differ and the events were read to
see which is right (those carry a ``note``). ``bench/sigma_zircolite.py --write-cases`` writes
the file; the files are a small set chosen to make as many rules fire as possible.

Each file is ingested alone into its own store and all the rules having a case run over it
together (as ``detect`` runs them), so a rule that breaks only next to another one shows too.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from ashiato.ingest import ingest
from ashiato.sigma import compile_rules, load_rules
from ashiato.sigma.run import iter_findings
from ashiato.sigma.step import prefilter_rules, present_codes, relation
from ashiato.store import Store

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
DATA = json.loads((Path(__file__).parent / "data" / "real_cases.json").read_text())
CASES: list[dict[str, object]] = DATA["cases"]
REAL = SHARED / "real"
RULES = SHARED / "sigmahq" / "rules" / "windows"
MIN_CASES = 280
"""Cases cannot silently disappear: rewriting the file with fewer fails here."""
MIN_RULES = 200

pytestmark = pytest.mark.skipif(
    not (REAL.exists() and RULES.exists()), reason="shared/data/real or sigmahq is not there"
)


@pytest.fixture(scope="module")
def counts(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], int]:
    """(rule id, file) -> matching events, every case's file ingested alone."""
    compiled = compile_rules(load_rules(sorted({RULES / str(c["rule_file"]) for c in CASES})))
    assert not compiled.skipped, compiled.skipped[:3]
    tmp = tmp_path_factory.mktemp("real-regression")
    out: dict[tuple[str, str], int] = defaultdict(int)
    for i, name in enumerate(sorted({str(c["file"]) for c in CASES})):
        store = tmp / f"s{i}"
        ingest([REAL / name], store, workers=1)
        st = Store(store)
        con = st.connect()
        try:
            table = relation(st.events(con))
            running = prefilter_rules(compiled, present_codes(con.con, table))
            for f in iter_findings(con.con, running, table=table):
                out[(str(f.details["rule"]), name)] += f.evidence_count
        finally:
            con.disconnect()
    return dict(out)


def test_the_cases_are_all_there() -> None:
    assert len(CASES) >= MIN_CASES
    assert len({c["rule"] for c in CASES}) >= MIN_RULES
    assert len({(c["rule"], c["file"]) for c in CASES}) == len(CASES)
    for c in CASES:
        assert (RULES / str(c["rule_file"])).is_file(), c
        assert (REAL / str(c["file"])).is_file(), c
        assert int(str(c["count"])) > 0, c


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{str(c['rule'])[:8]}-{Path(str(c['file'])).stem[:40]}" for c in CASES]
)
def test_rule_finds_the_expected_events(
    case: dict[str, object], counts: dict[tuple[str, str], int]
) -> None:
    got = counts.get((str(case["rule"]), str(case["file"])), 0)
    assert got == case["count"], case.get("note", "both engines agreed on this count")
