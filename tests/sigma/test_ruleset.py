"""The default rule set: the shipped SigmaHQ pin (extracted once, verified, restored when
tampered with), `rules update` from a release zip over real HTTP on loopback, hostile archives
refused, rule selection, and `detect` running the default set without being asked."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import stat
import threading
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ashiato.cli import app
from ashiato.sigma import compile_rules, load_rules
from ashiato.sigma import ruleset as rs
from ashiato.sigma.select import DEFAULT_SELECTION, RuleSelector, Selection, SelectionError
from tests.sigma.conftest import win

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PSEXEC = SHARED / "real" / "deepbluecli" / "metasploit-psexec-native-target-security.evtx"
LOG_CLEARED = "d99b79d2-0a6f-4f46-ad8b-260b6e17f982"  # SigmaHQ "Security Eventlog Cleared"
DRL = "Detection Rule License (DRL) 1.1\n"


@pytest.fixture
def session_cache(user_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The session's compiled-rule cache (tests/sigma gives each test its own otherwise): the
    default set compiles once per test session."""
    monkeypatch.setenv("ASHIATO_CACHE_DIR", str(user_dirs["ASHIATO_CACHE_DIR"]))
    return user_dirs["ASHIATO_CACHE_DIR"]


def rule(
    title: str, level: str = "high", status: str = "test", tags: str = "", rid: str = ""
) -> str:
    return (
        f"title: {title}\n"
        + (f"id: {rid}\n" if rid else "")
        + f"status: {status}\nlevel: {level}\n"
        + (f"tags: [{tags}]\n" if tags else "")
        + "logsource: {product: windows, service: security}\n"
        "detection:\n  sel: {EventID: 4624, TargetUserName: " + title.replace(" ", "") + "}\n"
        "  condition: sel\n"
    )


def make_zip(files: dict[str, bytes | str], symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


RELEASE = {
    "LICENSE": "The rules are released under the " + DRL,
    "rules/windows/builtin/security/a.yml": rule(
        "Alpha", rid="9a0c4c1e-0000-4000-8000-000000000001"
    ),
    "rules/windows/builtin/security/b.yml": rule(
        "Beta", rid="9a0c4c1e-0000-4000-8000-000000000002"
    ),
    "rules/windows/builtin/security/bad.yml": "title: [not a rule\n",
    "rules/linux/x.yml": (
        "title: L\nlogsource: {product: linux}\ndetection: {s: {a: 1}, condition: s}\n"
    ),
    "tools/notes.txt": "not a rule, not a licence: left out",
}


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, bytes]], str]]:
    """An HTTP server on loopback serving {path: body}; /latest redirects to the release."""
    routes: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/releases/download/"):  # like GitHub: to storage
                self.send_response(302)
                self.send_header("Location", "/storage/" + self.path.rsplit("/", 1)[1])
                self.end_headers()
            elif self.path in routes:
                body = routes[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/latest":
                self.send_response(302)
                self.send_header("Location", "/releases/download/r2099-01-01/sigma_all_rules.zip")
                self.end_headers()
            else:
                self.send_error(404)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def _serve(files: dict[str, bytes]) -> str:
        routes.update(files)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield _serve
    server.shutdown()
    server.server_close()


# --- the shipped pin ----------------------------------------------------------------------


def test_shipped_archive_matches_its_manifest() -> None:
    m = rs.shipped_manifest()
    archive = rs.SHIPPED_DIR / m["archive"]
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == m["archive_sha256"]
    assert m["commit"] == "8eaafff1f2845a696050e05e72ba1140ee190698"
    assert m["licence"] == "DRL-1.1" and (rs.SHIPPED_DIR / "LICENSE-sigmahq").is_file()
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert sum(n.endswith(".yml") for n in names) == m["rule_files"] == 2406
    assert "LICENSE" in names and "NOTICE.md" in names
    assert sorted(p.name for p in rs.PACK.glob("*.yml"))  # ashiato's pack is in the package


def test_extraction_is_verified_and_done_once(tmp_path: Path) -> None:
    s, restored = rs.ensure_shipped(tmp_path)
    assert restored == [] and s.shipped and not s.damaged()
    assert len(s.rule_files) == 2406 and (s.root / "LICENSE").is_file()
    stamp = (s.root / rs.MANIFEST).stat().st_mtime_ns
    again, restored = rs.ensure_shipped(tmp_path)
    assert again.root == s.root and restored == []
    assert (s.root / rs.MANIFEST).stat().st_mtime_ns == stamp  # not extracted again
    assert [x.name for x in rs.installed(tmp_path)] == [s.name]


def test_a_tampered_file_is_detected_and_restored(tmp_path: Path) -> None:
    s, _ = rs.ensure_shipped(tmp_path)
    victim = s.rule_files[100]
    original = victim.read_bytes()
    victim.write_bytes(original.replace(b"condition:", b"condition: false and", 1))
    (s.root / s.rule_files[5].relative_to(s.root)).unlink()
    assert len(s.damaged()) == 2
    act = rs.active(tmp_path)
    assert len(act.restored) == 2 and "restored" in act.notices()[0]
    assert victim.read_bytes() == original and not act.ruleset.damaged()


def test_racing_extractions_both_end_fine(tmp_path: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: rs.ensure_shipped(tmp_path)[0], range(4)))
    assert {s.root for s in got} == {got[0].root} and not got[0].damaged()
    assert [p.name for p in rs.sets_dir(tmp_path).iterdir()] == [got[0].name]  # no leftovers


# --- updates ------------------------------------------------------------------------------


def test_update_from_http_installs_validates_and_activates(
    tmp_path: Path, serve: Callable[[dict[str, bytes]], str]
) -> None:
    base = serve({"/storage/sigma_all_rules.zip": make_zip(RELEASE)})
    got = rs.update(f"{base}/latest", tmp_path)
    assert got.name == "sigmahq-r2099-01-01" and got.installed and got.activated
    assert got.rule_files == 4 and got.compiled == 2 and got.skipped == 1  # linux: skipped
    assert len(got.errors) == 1 and "bad.yml" in got.errors[0]
    assert got.licence == "DRL-1.1"
    act = rs.active(tmp_path)
    assert act.ruleset.name == "sigmahq-r2099-01-01" and act.ruleset.pin == "r2099-01-01"
    assert act.ruleset.manifest["url"].endswith(
        "/releases/download/r2099-01-01/sigma_all_rules.zip"
    )
    assert act.ruleset.manifest["source"] == f"{base}/latest"
    assert not (act.ruleset.root / "tools").exists()  # only rules and licence texts
    again = rs.update(f"{base}/latest", tmp_path)
    assert again.already and not again.installed
    assert rs.use("pinned", tmp_path).shipped
    assert rs.active(tmp_path).ruleset.shipped
    names = {s.name for s in rs.installed(tmp_path)}
    assert names == {"sigmahq-r2099-01-01", rs.shipped_manifest()["name"]}
    assert rs.use("sigmahq-r2099-01-01", tmp_path).pin == "r2099-01-01"


def test_update_check_installs_nothing(
    tmp_path: Path, serve: Callable[[dict[str, bytes]], str]
) -> None:
    base = serve({"/r.zip": make_zip(RELEASE)})
    got = rs.update(f"{base}/r.zip", tmp_path, check=True)
    assert not got.installed and got.compiled == 2
    assert rs.installed(tmp_path) == []


def test_update_offline_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(rs.RuleSetError, match=r"cannot fetch .*Offline\?"):
        rs.update(f"http://127.0.0.1:{port}/rules.zip", tmp_path, timeout=5)
    with pytest.raises(rs.RuleSetError, match="only http and https"):
        rs.update("ftp://127.0.0.1/rules.zip", tmp_path)


def test_update_names_a_missing_release(
    tmp_path: Path, serve: Callable[[dict[str, bytes]], str]
) -> None:
    base = serve({})
    with pytest.raises(rs.RuleSetError, match="HTTP 404"):
        rs.update(f"{base}/nothing.zip", tmp_path)
    assert rs.installed(tmp_path) == []


@pytest.mark.parametrize(
    ("files", "links", "why"),
    [
        ({"../evil.yml": rule("E")}, {}, "not a plain relative path"),
        ({"rules/../../evil.yml": rule("E")}, {}, "not a plain relative path"),
        ({"/etc/evil.yml": rule("E")}, {}, "not a plain relative path"),
        ({"C:/evil.yml": rule("E")}, {}, "not a plain relative path"),
        ({"rules\\..\\evil.yml": rule("E")}, {}, "not a plain relative path"),
        ({"ok.yml": rule("E")}, {"link.yml": "/etc/passwd"}, "symbolic link"),
        ({"big.yml": b"#" * (rs.MAX_FILE_BYTES + 1)}, {}, "too large"),
        ({"a.yml": rule("E"), "A.yml": rule("F")}, {}, "named twice"),
        ({"readme.txt": "no rules"}, {}, "no rule files"),
        ({"a.yml": rule("E"), "a.yml/b.yml": rule("F")}, {}, "cannot extract"),
    ],
)
def test_hostile_archives_are_refused(
    tmp_path: Path, files: dict[str, bytes | str], links: dict[str, str], why: str
) -> None:
    z = tmp_path / "in.zip"
    z.write_bytes(make_zip(files, links))
    data = tmp_path / "data"
    with pytest.raises(rs.RuleSetError, match=why):
        rs.update(str(z), data)
    assert rs.installed(data) == [] and not (tmp_path / "evil.yml").exists()
    assert [p.name for p in rs.sets_dir(data).iterdir()] == []  # no temporary left


def test_not_a_zip_is_refused(tmp_path: Path) -> None:
    z = tmp_path / "in.zip"
    z.write_text("<html>rate limited</html>")
    with pytest.raises(rs.RuleSetError, match="not a readable zip"):
        rs.update(str(z), tmp_path / "data")


def test_a_tampered_update_is_restored_or_refused(tmp_path: Path) -> None:
    z = tmp_path / "rel.zip"
    z.write_bytes(make_zip(RELEASE))
    got = rs.update(str(z), tmp_path / "d")
    s = rs.active(tmp_path / "d").ruleset
    assert s.name == got.name
    victim = s.root / "rules/windows/builtin/security/a.yml"
    victim.write_text(rule("Evil"))
    assert rs.active(tmp_path / "d").restored == ["rules/windows/builtin/security/a.yml"]
    assert "Alpha" in victim.read_text()
    victim.write_text(rule("Evil"))
    (s.root / rs.ARCHIVE).write_bytes(b"gone")
    with pytest.raises(rs.RuleSetError, match="archive is gone or changed"):
        rs.active(tmp_path / "d")
    with pytest.raises(rs.RuleSetError, match="no rule set 'nope'"):
        rs.use("nope", tmp_path / "d")


# --- selection ----------------------------------------------------------------------------

CORR = """\
title: Base low
id: 5b0a0000-0000-4000-8000-00000000000b
name: base_low
status: test
level: low
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
---
title: Burst of failures
id: 5b0a0000-0000-4000-8000-00000000000c
status: test
level: high
tags: [attack.t1110.003]
correlation:
  type: event_count
  rules: [base_low]
  group-by: [TargetUserName]
  timespan: 10m
  condition: {gte: 3}
"""


@pytest.fixture
def mixed(rules_dir: Callable[..., Path]) -> Path:
    return rules_dir(
        {
            "info.yml": rule("Info", level="informational", tags="attack.t1003"),
            "low.yml": rule("Low", level="low", status="stable", tags="attack.t10030"),
            "med.yml": rule("Med", level="medium", status="experimental", tags="attack.t1003.001"),
            "high.yml": rule("High", level="high", status="deprecated", tags="attack.T1021"),
            "nolevel.yml": rule("Nolevel").replace("level: high\n", ""),
            "corr.yml": CORR,
        }
    )


def titles(selector: RuleSelector, d: Path) -> list[str]:
    got = selector(compile_rules(load_rules([d])))
    return sorted(r.meta.title for r in [*got.rules, *got.correlations])


def test_selection_by_level_status_and_tag(mixed: Path) -> None:
    def pick(**kw: Any) -> list[str]:
        return titles(RuleSelector(Selection.parse(**kw)), mixed)

    assert pick(level="medium") == ["Base low", "Burst of failures", "High", "Med", "Nolevel"]
    assert pick(status=["stable,experimental"]) == ["Low", "Med"]
    assert pick(tags=["attack.t1003"]) == ["Info", "Med"]  # not attack.t10030
    assert pick(tags=["ATTACK.t1021", "attack.t1110"]) == ["Base low", "Burst of failures", "High"]
    assert pick(level="high", status=["test"]) == [
        "Base low",
        "Burst of failures",
    ]  # no level: medium
    assert pick(service=["system"]) == []
    with pytest.raises(SelectionError, match="unknown rule level"):
        Selection.parse(level="severe")
    with pytest.raises(SelectionError, match="unknown rule status"):
        Selection.parse(status=["retired"])


def test_default_selection_drops_informational_and_retired(mixed: Path) -> None:
    sel = RuleSelector(DEFAULT_SELECTION)
    assert titles(sel, mixed) == ["Base low", "Burst of failures", "Low", "Med", "Nolevel"]
    assert sel.stats.considered == 7 and sel.stats.selected == 5


def test_a_kept_correlation_keeps_its_base_rule_and_fires(
    mixed: Path, store_con: Callable[..., Any]
) -> None:
    sel = RuleSelector(Selection.parse(level="high"))
    got = sel(compile_rules(load_rules([mixed])))
    assert [c.meta.title for c in got.correlations] == ["Burst of failures"]
    assert "Base low" in [r.meta.title for r in got.rules] and sel.stats.bases_kept == 1
    rows = [win(i, 4625, minute=i, TargetUserName="bob") for i in range(4)]
    con, table = store_con(rows)
    from ashiato.sigma.run import run_rules

    found = run_rules(con, got, table=table)
    assert [f.detector for f in found] == ["sigma:5b0a0000-0000-4000-8000-00000000000c"]


def test_scope_limits_the_selection(mixed: Path, rules_dir: Callable[..., Path]) -> None:
    inside = {str(mixed / "info.yml"), str(mixed / "high.yml")}
    sel = RuleSelector(DEFAULT_SELECTION, lambda p: p in inside)
    assert "Info" not in titles(sel, mixed) and "High" not in titles(sel, mixed)
    assert "Low" in titles(sel, mixed) and sel.stats.considered == 2


# --- the CLI ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def psexec_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not PSEXEC.exists():
        pytest.skip("shared/data/real is not there")
    from ashiato.ingest import ingest

    store = tmp_path_factory.mktemp("psexec") / "store"
    ingest([str(PSEXEC)], store, workers=1)
    return store


def test_detect_runs_the_default_set_without_being_asked(
    psexec_store: Path, session_cache: Path
) -> None:
    runner = CliRunner()
    got = runner.invoke(app, ["detect", "--store", str(psexec_store), "--infer-sites"])
    assert got.exit_code == 0, got.output
    out = " ".join(got.output.split())
    assert "default Sigma rule set: sigmahq-8eaafff1" in out and "commit 8eaafff1f284" in out
    assert "selection (level >= low, status not deprecated/unsupported)" in out
    assert "selected" in out and "not run" in out
    from ashiato.store import Store

    detectors = {f["detector"] for f in Store(psexec_store).read_findings().to_pylist()}
    assert f"sigma:{LOG_CLEARED}" in detectors
    off = runner.invoke(
        app, ["detect", "--store", str(psexec_store), "--infer-sites", "--no-default-rules"]
    )
    assert off.exit_code == 0 and "default Sigma rule set" not in off.output
    detectors = {f["detector"] for f in Store(psexec_store).read_findings().to_pylist()}
    assert not any(d.startswith("sigma:") for d in detectors)
    high = runner.invoke(app, ["detect", "--store", str(psexec_store), "--rule-level", "critical"])
    assert high.exit_code == 0, high.output
    detectors = {f["detector"] for f in Store(psexec_store).read_findings().to_pylist()}
    assert f"sigma:{LOG_CLEARED}" not in detectors  # a high rule, not critical


def test_detect_no_detectors_runs_the_rules_alone(psexec_store: Path, session_cache: Path) -> None:
    got = CliRunner().invoke(
        app, ["detect", "--store", str(psexec_store), "--infer-sites", "--no-detectors"]
    )
    assert got.exit_code == 0, got.output
    from ashiato.store import Store

    detectors = {f["detector"] for f in Store(psexec_store).read_findings().to_pylist()}
    assert f"sigma:{LOG_CLEARED}" in detectors
    assert all(d.startswith("sigma:") for d in detectors)
    assert "policy_violation" not in got.output  # no behavioural detector row


def test_rules_check_the_default_set_and_list_use(session_cache: Path) -> None:
    runner = CliRunner()
    got = runner.invoke(app, ["rules", "check", "--json", "--rule-level", "high"])
    assert got.exit_code == 0, got.output
    report = json.loads(got.stdout)
    assert report["files"] == 2406 + len(list(rs.PACK.glob("*.yml")))
    assert 1000 < report["selected"] < report["selected_of"]
    listed = runner.invoke(app, ["rules", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(x) for x in listed.stdout.splitlines()]
    assert [(r["name"], r["active"], r["rule_files"]) for r in rows] == [
        ("sigmahq-8eaafff1", True, 2406)
    ]
    bad = runner.invoke(app, ["rules", "use", "nope"])
    assert bad.exit_code == 2 and "no rule set" in bad.output
    ok = runner.invoke(app, ["rules", "use", "pinned"])
    assert ok.exit_code == 0 and "sigmahq-8eaafff1" in ok.output


def test_rules_update_cli_from_a_local_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASHIATO_DATA_DIR", str(tmp_path / "data"))
    z = tmp_path / "sigma_all_rules.zip"
    z.write_bytes(make_zip(RELEASE))
    got = CliRunner().invoke(app, ["rules", "update", "--from", str(z), "--check"])
    assert got.exit_code == 0, got.output
    assert "checked (not installed)" in got.output and "2 rule(s) compile" in got.output
    hostile = tmp_path / "h.zip"
    hostile.write_bytes(make_zip({"../x.yml": rule("X")}))
    bad = CliRunner().invoke(app, ["rules", "update", "--from", str(hostile)])
    assert bad.exit_code == 2 and "not a plain relative path" in bad.output


def test_the_pack_given_again_runs_once(session_cache: Path, tmp_path: Path) -> None:
    from ashiato.cli import _rule_plan

    pack = Path(__file__).resolve().parents[2] / "rules" / "ashiato"  # the old path: a link
    mine = tmp_path / "mine.yml"
    mine.write_text(rule("Mine"))
    plan = _rule_plan(True, [pack, mine], None, None, None, None, None)
    assert [p for p in plan.paths if p.resolve() == rs.PACK.resolve()] == [rs.PACK]
    assert plan.paths[-1] == mine and len(plan.paths) == 2406 + 2
    alone = _rule_plan(False, [pack], None, None, None, None, None)
    assert alone.paths == [pack] and alone.select is None  # as before: no selection


def test_default_files_given_again_run_once_from_there(tmp_path: Path) -> None:
    s, _ = rs.ensure_shipped(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    for f in s.rule_files[:3]:
        (mine / f.name).write_bytes(f.read_bytes())
    act, paths = rs.default_rule_paths(tmp_path, given=[mine])
    assert act.given_again == 3 and len(paths) == 2406 - 3 + 1
    assert not set(s.rule_files[:3]) & set(paths)
    assert "3 rule file(s) of sigmahq-8eaafff1 are also among --rules" in act.notices()[0]
