"""Compiled Sigma rules cached on disk, one JSON entry per rule file, so a second run does not
parse and compile the same rules again.

An entry is keyed by the file's content hash and a version key (ashiato's version, pySigma's and
a hash of this package's source files: a change to the pipeline, the field mapping or the
backend invalidates every entry), so editing one rule file recompiles that file only. Entries
are JSON, never pickle (the cache directory may be writable by others), validated field by field
on load: anything unexpected is a miss and the file is compiled afresh.

A run also writes a **bundle** of every entry of its set, keyed by the files' names and ``stat``
(size, modification and change times, inode) and the version key: the next run over the same,
unchanged files reads that one file instead of every rule file and its entry (2,406 SigmaHQ
files: 1.9 s -> 0.4 s on a loaded machine). Any change to a file misses the bundle and falls
back to the per-file entries.

Only files whose rules stand alone are cached: a file holding a correlation, or a rule some
correlation of the set references, is always loaded and compiled with the rules it links to.
Rule-id collisions across files are checked over the whole set on every run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson
import yaml
from sigma.correlations import SigmaCorrelationRule
from sigma.validators.core.metadata import IdentifierCollisionIssue

import ashiato
from ashiato.sigma.compile import (
    CompiledRule,
    CompiledRuleSet,
    RuleMeta,
    Skipped,
    compile_rules,
)
from ashiato.sigma.load import Problem, RuleSet, load_rules, rule_files

CACHE_VERSION = 3
"""Bump when the entry format changes (2: rule status, tags and product)."""
_COLLISION = f"{IdentifierCollisionIssue.description} ({IdentifierCollisionIssue.__name__})"


def default_cache_dir() -> Path:
    """``$ASHIATO_CACHE_DIR``, else ``$XDG_CACHE_HOME/ashiato/sigma`` (``~/.cache/...``)."""
    explicit = os.environ.get("ASHIATO_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ashiato" / "sigma"


COMPILER_MODULES = (
    "backend.py",
    "cache.py",
    "compile.py",
    "fields.py",
    "keywords.py",
    "literals.py",
    "load.py",
    "pipeline.py",
    "prefilter.py",
    "../events.py",
)
"""The modules of ``ashiato.sigma`` whose code decides an entry: loading, the pipeline, the
backend, the entry format (and the event schema the field mapping reads). Running rules
(``run``, ``step``) does not, so editing it keeps the cache; ``tests/sigma/test_cache.py``
checks that every module these import is listed."""


def version_key() -> str:
    """What every entry depends on besides its file: versions and the compiler's code."""
    h = hashlib.sha256()
    h.update(f"{CACHE_VERSION}|{ashiato.__version__}|{metadata.version('pysigma')}".encode())
    for name in COMPILER_MODULES:
        src = Path(__file__).parent / name
        h.update(name.encode() + b"\0" + src.read_bytes())
    return h.hexdigest()


class RuleCache:
    """Per-file entries under ``root``; ``version`` defaults to ``version_key()``."""

    def __init__(self, root: Path, version: str | None = None) -> None:
        self.root = Path(root)
        self.version = version if version is not None else version_key()
        self.hits = 0
        self.misses = 0

    def key(self, content: bytes) -> str:
        return hashlib.sha256(self.version.encode() + b"\0" + content).hexdigest()

    def entry_path(self, content: bytes) -> Path:
        k = self.key(content)
        return self.root / k[:2] / f"{k}.json"

    def get(self, content: bytes, path: str) -> dict[str, Any] | None:
        """The entry for ``content`` with its paths set to ``path``; None for a miss."""
        got = self.get_raw(content, path)
        return None if got is None else got[0]

    def get_raw(self, content: bytes, path: str) -> tuple[dict[str, Any], Any] | None:
        """(entry, its JSON data) for ``content``; None for a miss."""
        try:
            data = orjson.loads(self.entry_path(content).read_bytes())
            return _decode(data, path), data
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None

    def bundle_path(self, key: str) -> Path:
        return self.root / "sets" / key[:2] / f"{key}.json"

    def put(self, content: bytes, entry: dict[str, Any]) -> None:
        """Write atomically; a cache that cannot be written is not an error (just slower)."""
        self._write(self.entry_path(content), entry)

    def _write(self, target: Path, entry: dict[str, Any]) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh)
            Path(tmp).replace(target)
        except OSError:
            Path(tmp).unlink(missing_ok=True)


def _str_or_none(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    raise TypeError("expected a string or null")


def _strs(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise TypeError("expected a list of strings")
    return tuple(v)


def _list(v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise TypeError("expected a list")
    return v


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError("expected a string")
    return v


def _decode(data: Any, path: str) -> dict[str, Any]:
    """Validate an entry and build its objects (raises on anything unexpected)."""
    if not isinstance(data, dict) or data.get("format") != CACHE_VERSION:
        raise ValueError("not a cache entry of this format")
    rules = []
    for r in data["rules"]:
        m = r["meta"]
        codes = r["codes"]
        if codes is not None and not (
            isinstance(codes, list) and all(type(c) is int for c in codes)
        ):
            raise TypeError("bad codes")
        if not isinstance(r["generate"], bool) or not isinstance(r["seconds"], int | float):
            raise TypeError("bad flags")
        rules.append(
            CompiledRule(
                meta=RuleMeta(
                    key=_str(m["key"]),
                    detector=_str(m["detector"]),
                    title=_str(m["title"]),
                    level=_str(m["level"]),
                    description=_str(m["description"]),
                    techniques=_strs(m["techniques"]),
                    path=path,
                    status=_str_or_none(m["status"]),
                    tags=_strs(m["tags"]),
                    product=_str_or_none(m["product"]),
                ),
                sql=_str(r["sql"]),
                category=_str_or_none(r["category"]),
                fields=_strs(r["fields"]),
                generate=r["generate"],
                seconds=float(r["seconds"]),
                codes=None if codes is None else frozenset(codes),
                keys=_strs(r["keys"]),
                service=_str_or_none(r["service"]),
                needs=tuple(_strs(c) for c in _list(r["needs"])),
                strings=_strs(r["strings"]),
            )
        )
    skipped = [
        Skipped(path, _str_or_none(s["rule_id"]), _str(s["title"]), _str(s["reason"]))
        for s in data["skipped"]
    ]
    problems = [
        Problem(
            path,
            _str_or_none(p["rule_id"]),
            _str(p["message"]),
            level=_str(p["level"]),
            title=_str_or_none(p["title"]),
        )
        for p in data["problems"]
    ]
    ids = _strs(data["ids"])
    names = _strs(data["names"])
    n_rules = data["n_rules"]
    if type(n_rules) is not int:
        raise TypeError("bad n_rules")
    return {
        "rules": rules,
        "skipped": skipped,
        "problems": problems,
        "ids": ids,
        "names": names,
        "n": n_rules,
    }


def _encode(
    rules: list[CompiledRule],
    skipped: list[Skipped],
    problems: list[Problem],
    ids: list[str],
    names: list[str],
    n: int,
) -> dict[str, Any]:
    out_rules = []
    for r in rules:
        d = asdict(r)
        d["meta"].pop("path")
        d["codes"] = None if r.codes is None else sorted(r.codes)
        out_rules.append(d)
    return {
        "format": CACHE_VERSION,
        "rules": out_rules,
        "skipped": [{"rule_id": s.rule_id, "title": s.title, "reason": s.reason} for s in skipped],
        "problems": [
            {"rule_id": p.rule_id, "message": p.message, "level": p.level, "title": p.title}
            for p in problems
        ],
        "ids": ids,
        "names": names,
        "n_rules": n,
    }


def _references(text: bytes) -> set[str]:
    """Rule ids and names that correlations in a file's text reference (cheap pre-scan)."""
    if b"correlation" not in text:
        return set()
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return set()
    refs: set[str] = set()
    for d in docs:
        corr = d.get("correlation") if isinstance(d, dict) else None
        got = corr.get("rules") if isinstance(corr, dict) else None
        if isinstance(got, list):
            refs |= {str(x) for x in got}
        elif isinstance(got, str):
            refs.add(got)
    return refs


def load_compiled(
    paths: Sequence[Path], *, cache_dir: Path | None = None, use_cache: bool = True
) -> CompiledRuleSet:
    """``compile_rules(load_rules(paths))``, reusing cached files' compiled rules.

    ``cache_dir``: default ``default_cache_dir()``; ``use_cache=False`` (or the environment's
    ``ASHIATO_CACHE_DIR=off``) compiles everything and writes nothing."""
    if os.environ.get("ASHIATO_CACHE_DIR", "").lower() in ("off", "none", "0"):
        use_cache = False
    if not use_cache:
        return compile_rules(load_rules(paths))
    t0 = time.perf_counter()
    cache = RuleCache(cache_dir if cache_dir is not None else default_cache_dir())
    files = list(rule_files([Path(p) for p in paths]))
    skey = _stat_key(cache, files)
    known = _bundle(cache, skey, files) if skey is not None else None
    if known is not None:  # the same files as a run that wrote a bundle: no file is read
        hits, fresh = known
        cache.hits, cache.misses = len(hits), len(fresh)
        ruleset = load_rules([files[i] for i in fresh]) if fresh else RuleSet(_empty())
        return _merge(files, hits, ruleset, compile_rules(ruleset), cache, time.perf_counter() - t0)
    contents: dict[int, bytes] = {}
    hits = {}
    raws: dict[int, Any] = {}
    fresh = []
    for i, f in enumerate(files):
        try:
            contents[i] = f.read_bytes()
        except OSError:
            fresh.append(i)  # load_rules reports it
            continue
        got = cache.get_raw(contents[i], str(f))
        if got is None:
            fresh.append(i)
        else:
            hits[i], raws[i] = got
    refs: set[str] = set()
    for i in fresh:
        refs |= _references(contents.get(i, b""))
    for i in [i for i, e in hits.items() if refs & {*e["ids"], *e["names"]}]:
        del hits[i]
        del raws[i]
        fresh.append(i)
    fresh.sort()
    cache.hits, cache.misses = len(hits), len(fresh)
    ruleset = load_rules([files[i] for i in fresh]) if fresh else RuleSet(_empty())
    compiled = compile_rules(ruleset)
    stored = _store_fresh(cache, files, fresh, contents, ruleset, compiled)
    if skey is not None and len(contents) == len(files):
        raws.update(stored)
        cache._write(
            cache.bundle_path(skey),
            {
                "format": CACHE_VERSION,
                "files": [str(f) for f in files],
                "entries": {str(i): raw for i, raw in raws.items()},
                "fresh": [i for i in fresh if i not in stored],
            },
        )
    return _merge(files, hits, ruleset, compiled, cache, time.perf_counter() - t0)


def _stat_key(cache: RuleCache, files: list[Path]) -> str | None:
    """A key for ``files`` as they are now, from their names and ``stat`` (size, modification
    and change times, inode: any write changes the change time, which no tool sets back), so
    that a set of unchanged files is recognised without reading them; None if one is gone."""
    h = hashlib.sha256(cache.version.encode())
    for f in files:
        try:
            st = f.stat()
        except OSError:
            return None
        h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\n".encode())
    return h.hexdigest()


def _bundle(
    cache: RuleCache, key: str, files: list[Path]
) -> tuple[dict[int, dict[str, Any]], list[int]] | None:
    """(cached entries by file index, files to load afresh) from the bundle of a run over the
    same files; None when there is none or it is not valid (then each file is looked up)."""
    try:
        data = orjson.loads(cache.bundle_path(key).read_bytes())
        if data.get("format") != CACHE_VERSION or data.get("files") != [str(f) for f in files]:
            return None
        hits = {int(i): _decode(raw, str(files[int(i)])) for i, raw in data["entries"].items()}
        fresh = sorted(int(i) for i in data["fresh"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None
    if set(hits) & set(fresh) or set(hits) | set(fresh) != set(range(len(files))):
        return None
    return hits, fresh


def _empty() -> Any:
    from sigma.collection import SigmaCollection

    return SigmaCollection([])


def _store_fresh(
    cache: RuleCache,
    files: list[Path],
    fresh: list[int],
    contents: dict[int, bytes],
    ruleset: RuleSet,
    compiled: CompiledRuleSet,
) -> dict[int, Any]:
    """Write an entry for each fresh file whose rules stand alone (see the module docstring);
    return them by file index."""
    stored: dict[int, Any] = {}
    linked: set[str] = set()  # files with a correlation or a rule a correlation references
    by_file: dict[str, list[Any]] = {}
    for rule in ruleset.rules:
        p = ruleset.path_of(rule)
        by_file.setdefault(p, []).append(rule)
        if isinstance(rule, SigmaCorrelationRule):
            linked.add(p)
            linked |= {ruleset.path_of(ref.rule) for ref in rule.rules or []}
    for i in fresh:
        where = str(files[i])
        if i not in contents or where in linked:
            continue
        rules = [r for r in compiled.rules if r.meta.path == where]
        if any(not r.generate for r in rules):
            continue
        own = by_file.get(where, [])
        problems = [
            p for p in ruleset.problems if p.path == where and not p.message.endswith(_COLLISION)
        ]
        ids = sorted({str(r.id) for r in own if r.id is not None})
        names = sorted({r.name for r in own if r.name})
        entry = _encode(
            rules, [s for s in compiled.skipped if s.path == where], problems, ids, names, len(own)
        )
        cache.put(contents[i], entry)
        stored[i] = entry
    return stored


def _merge(
    files: list[Path],
    hits: dict[int, dict[str, Any]],
    ruleset: RuleSet,
    compiled: CompiledRuleSet,
    cache: RuleCache,
    seconds: float,
) -> CompiledRuleSet:
    """Cached and fresh results in file order; id collisions checked over the whole set."""
    order = {str(f): i for i, f in enumerate(files)}
    rules = list(compiled.rules)
    skipped = list(compiled.skipped)
    problems = [p for p in ruleset.problems if not p.message.endswith(_COLLISION)]
    for e in hits.values():
        rules += e["rules"]
        skipped += e["skipped"]
        problems += e["problems"]
    rules.sort(key=lambda r: order.get(r.meta.path, -1))
    skipped.sort(key=lambda s: order.get(s.path, -1))
    problems.sort(key=lambda p: order.get(p.path, -1))
    owners: dict[str, list[tuple[str, str | None]]] = {}
    for rule in ruleset.rules:
        if rule.id is not None:
            owners.setdefault(str(rule.id), []).append((ruleset.path_of(rule), rule.title))
    for i, e in sorted(hits.items()):
        for rid in e["ids"]:
            owners.setdefault(rid, []).append((str(files[i]), None))
    for rid, where in owners.items():
        if len(where) > 1:
            where.sort(key=lambda w: order.get(w[0], -1))
            problems.append(
                Problem(where[0][0], rid, _COLLISION, level="warning", title=where[0][1])
            )
    ruleset.problems = problems
    ruleset.files = len(files)
    ruleset.cached_rules = sum(int(e["n"]) for e in hits.values())
    ruleset.cache_hits, ruleset.cache_misses = cache.hits, cache.misses
    ruleset.seconds = seconds
    return CompiledRuleSet(
        rules=rules, correlations=compiled.correlations, skipped=skipped, ruleset=ruleset
    )
