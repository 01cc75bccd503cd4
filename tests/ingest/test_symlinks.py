"""Symbolic links that leave the input tree are not followed unless asked, and never silently."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.ingest.ingest_samples import bulk_ecs, bulk_zeek

from ashiato.ingest import ingest
from ashiato.ingest.inputs import discover_inputs

ASHIATO = str(Path(sys.executable).with_name("ashiato"))


def _tree(tmp_path: Path) -> Path:
    """tree/: a log, a link inside itself, links out of itself (file, directory), a broken link."""
    tree = tmp_path / "tree"
    outside = tmp_path / "outside"
    tree.mkdir()
    outside.mkdir()
    (tree / "security.json").write_bytes(bulk_ecs(30, seed=1))
    (outside / "secret.log").write_bytes(bulk_zeek(20, seed=2))
    (tree / "again.json").symlink_to(tree / "security.json")  # inside: read (once)
    (tree / "escape.log").symlink_to(outside / "secret.log")
    (tree / "escape-dir").symlink_to(outside)
    (tree / "broken.log").symlink_to(tmp_path / "nowhere")
    return tree


def test_links_out_of_the_tree_are_skipped_and_reported(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    report = ingest([tree], tmp_path / "store", workers=1)
    assert sorted((f.status, Path(f.path).name) for f in report.files) == [
        ("ingested", "security.json"),
        ("skipped", "broken.log"),
        ("skipped", "escape-dir"),
        ("skipped", "escape.log"),
    ]
    assert report.count("skipped") == 3
    assert report.records_read == 30  # the secret was not read
    why = {Path(f.path).name: f.reason for f in report.files if f.status == "skipped"}
    assert why["escape.log"] == (
        "symlink to a path outside the input tree (--follow-symlinks to read it): "
        f"{tmp_path / 'outside' / 'secret.log'}"
    )
    assert why["broken.log"] is not None and why["broken.log"].startswith("broken symlink")


def test_follow_symlinks_reads_them(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    found = discover_inputs([tree], follow_symlinks=True)
    assert sorted(Path(r.path).name for r in found.refs) == ["secret.log", "security.json"]
    assert [Path(s.path).name for s in found.skipped] == ["broken.log"]
    report = ingest([tree], tmp_path / "store", workers=1, follow_symlinks=True)
    assert report.records_read == 50 and report.count("skipped") == 1


def test_a_glob_is_its_own_tree_and_a_named_link_is_read(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    found = discover_inputs([str(tree / "*.log")])
    assert found.refs == []
    assert sorted(Path(s.path).name for s in found.skipped) == ["broken.log", "escape.log"]
    named = discover_inputs([tree / "escape.log"])  # given by name: the user asked for it
    assert [Path(r.path).name for r in named.refs] == ["secret.log"] and not named.skipped


def test_a_link_cycle_ends(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    (tmp_path / "outside" / "back").symlink_to(tree)  # outside/back -> tree: a loop when followed
    found = discover_inputs([tree], follow_symlinks=True)
    assert sorted(Path(r.path).name for r in found.refs) == ["secret.log", "security.json"]


def test_the_cli_says_what_it_skipped(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    run = subprocess.run(
        [ASHIATO, "ingest", str(tree), "--store", str(tmp_path / "s"), "--workers", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert f"skipped: {tree / 'escape.log'} (symlink to a path outside" in run.stderr
    follow = subprocess.run(
        [ASHIATO, "ingest", str(tree), "--store", str(tmp_path / "s2"), "--follow-symlinks"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert follow.returncode == 0 and "escape.log" not in follow.stderr
