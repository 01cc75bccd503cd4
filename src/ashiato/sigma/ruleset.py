"""Installed Sigma rule sets: the SigmaHQ pin shipped in the package, newer releases that
``ashiato rules update`` fetches, and which one ``ashiato detect`` runs by default.

A rule set is a directory of rule files under the per-user data directory
(``$ASHIATO_DATA_DIR``, else ``$XDG_DATA_HOME/ashiato``, else ``~/.local/share/ashiato``), in
``rulesets/<name>/``, with a manifest (``ashiato-ruleset.json``: source, release or commit,
licence, the archive's SHA-256 and every file's). The loader and the compiled-rule cache read it
like any rule directory; the cache is keyed by file content, so a set extracted once compiles
once. The shipped pin is a zip inside the package (``rulesets/sigmahq.zip``, made by
``scripts/sigmahq_ruleset.py``), extracted on first use; an updated set keeps its archive
beside its files. Every use checks the files against the manifest: a changed or missing file is
restored from the archive (after checking the archive's own hash) and said so, never run as is.

Installing is atomic (extract into a temporary directory, then rename): two processes racing
both end with one intact copy. Nothing here touches the network except ``fetch`` (called by
``update`` for a URL), and archives are treated as hostile: absolute or ``..`` paths,
symbolic links, special files, duplicate names, encrypted members and absurd sizes are refused
before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ashiato.errors import AshiatoError
from ashiato.sigma.load import RULE_SUFFIXES, rule_files
from ashiato.sigma.select import DEFAULT_SELECTION, RuleSelector, Selection

SHIPPED_DIR = Path(__file__).parent / "rulesets"
"""The package's rule sets: the SigmaHQ pin (zip, manifest, licence) and ashiato's own pack."""
PACK = SHIPPED_DIR / "ashiato"
"""ashiato's own rule pack (credential misuse, lateral movement); runs with the default set."""
SHIPPED_MANIFEST = SHIPPED_DIR / "sigmahq.json"
MANIFEST = "ashiato-ruleset.json"
ARCHIVE = "source.zip"
STATE = "rules.json"
DEFAULT_URL = "https://github.com/SigmaHQ/sigma/releases/latest/download/sigma_all_rules.zip"
"""SigmaHQ's latest release, every rule package in one zip (``ashiato rules update``)."""

MAX_ARCHIVE_BYTES = 64 << 20
MAX_TOTAL_BYTES = 256 << 20
MAX_FILE_BYTES = 4 << 20
MAX_FILES = 20_000
_KEPT_TEXT = re.compile(r"^(LICEN[CS]E|NOTICE|README|COPYING)[^/]*$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class RuleSetError(AshiatoError):
    """A rule set cannot be installed, found or trusted; the message says which and why."""


def data_dir() -> Path:
    """``$ASHIATO_DATA_DIR``, else ``$XDG_DATA_HOME/ashiato``, else ``~/.local/share/ashiato``."""
    explicit = os.environ.get("ASHIATO_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ashiato"


def shipped_manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SHIPPED_MANIFEST.read_text(encoding="utf-8"))
    return data


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class InstalledSet:
    """One installed rule set: its directory and manifest."""

    name: str
    root: Path
    manifest: dict[str, Any]

    @property
    def shipped(self) -> bool:
        return bool(self.manifest.get("shipped"))

    @property
    def rule_files(self) -> list[Path]:
        """The set's rule files, as its manifest lists them (a file added since is ignored)."""
        return [self.root / p for p in sorted(self.manifest["files"]) if p.endswith(RULE_SUFFIXES)]

    @property
    def pin(self) -> str:
        """Release tag, else commit, else archive hash: what identifies the rules."""
        m = self.manifest
        if m.get("release"):
            return str(m["release"])
        if m.get("commit"):
            return f"commit {str(m['commit'])[:12]}"
        return f"archive {str(m.get('archive_sha256', '?'))[:12]}"

    def describe(self) -> str:
        m = self.manifest
        when = f", {m['date']}" if m.get("date") else ""
        how = "shipped with ashiato" if self.shipped else f"installed {m.get('installed', '?')}"
        return (
            f"{self.name} ({m.get('title', 'Sigma rules')}, {self.pin}{when}, "
            f"{len(self.rule_files)} rule files, licence {m.get('licence', 'unknown')}; {how})"
        )

    def damaged(self) -> list[str]:
        """Files missing or not as the manifest says (empty: intact)."""
        bad = []
        for rel, digest in sorted(self.manifest["files"].items()):
            try:
                if _sha256(self.root / rel) != digest:
                    bad.append(rel)
            except OSError:
                bad.append(rel)
        return bad


def sets_dir(data: Path | None = None) -> Path:
    return (data or data_dir()) / "rulesets"


def _read_set(root: Path) -> InstalledSet | None:
    try:
        m = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(m, dict) or not isinstance(m.get("files"), dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in m["files"].items()):
        return None
    return InstalledSet(root.name, root, m)


def installed(data: Path | None = None) -> list[InstalledSet]:
    """Every installed rule set, by name (the shipped pin only once extracted)."""
    root = sets_dir(data)
    if not root.is_dir():
        return []
    found = (_read_set(d) for d in sorted(root.iterdir()) if d.is_dir() and _NAME.match(d.name))
    return [s for s in found if s is not None]


# --- archives ----------------------------------------------------------------------------


def _members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The members to extract (rule files and licence texts), after refusing the whole
    archive if any member is hostile (see the module docstring)."""
    infos = zf.infolist()
    if len(infos) > MAX_FILES:
        raise RuleSetError(f"archive has {len(infos)} members (at most {MAX_FILES})")
    seen: set[str] = set()
    total = 0
    kept = []
    for info in infos:
        name = info.filename
        mode = (info.external_attr >> 16) & 0o170000
        parts = name.rstrip("/").split("/")
        if (
            "\0" in name
            or "\\" in name
            or name.startswith("/")
            or re.match(r"^[A-Za-z]:", name)
            or any(p in ("", ".", "..") for p in parts)
        ):
            raise RuleSetError(f"archive member {name!r}: not a plain relative path")
        if mode == stat.S_IFLNK:
            raise RuleSetError(f"archive member {name!r}: a symbolic link")
        if mode not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise RuleSetError(f"archive member {name!r}: not a regular file")
        if info.flag_bits & 0x1:
            raise RuleSetError(f"archive member {name!r}: encrypted")
        if name.lower() in seen:
            raise RuleSetError(f"archive member {name!r}: named twice")
        seen.add(name.lower())
        if info.is_dir():
            continue
        if info.file_size > MAX_FILE_BYTES:
            raise RuleSetError(f"archive member {name!r}: {info.file_size:,} bytes (too large)")
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise RuleSetError(f"archive expands past {MAX_TOTAL_BYTES >> 20} MiB")
        if name.endswith(RULE_SUFFIXES) or (len(parts) <= 2 and _KEPT_TEXT.match(parts[-1])):
            kept.append(info)
    return kept


def _extract(archive: Path, dest: Path) -> dict[str, str]:
    """Extract ``archive``'s rule files and licence texts into ``dest``; {path: sha256}."""
    if archive.stat().st_size > MAX_ARCHIVE_BYTES:
        raise RuleSetError(f"{archive}: larger than {MAX_ARCHIVE_BYTES >> 20} MiB")
    try:
        with zipfile.ZipFile(archive) as zf:
            files: dict[str, str] = {}
            for info in _members(zf):
                target = dest / info.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                h = hashlib.sha256()
                n = 0
                with zf.open(info) as src, target.open("xb") as out:
                    for block in iter(lambda: src.read(1 << 16), b""):
                        n += len(block)
                        if n > info.file_size:
                            raise RuleSetError(f"archive member {info.filename!r}: grows")
                        h.update(block)
                        out.write(block)
                files[info.filename] = h.hexdigest()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise RuleSetError(f"{archive}: not a readable zip archive ({exc})") from exc
    except OSError as exc:  # e.g. a file and a directory of one name, a full disk
        raise RuleSetError(f"{archive}: cannot extract ({exc})") from exc
    if not any(p.endswith(RULE_SUFFIXES) for p in files):
        raise RuleSetError(f"{archive}: no rule files (.yml, .yaml) in it")
    return files


def _install(
    archive: Path, name: str, meta: dict[str, Any], data: Path | None, *, keep_archive: bool
) -> InstalledSet:
    """Extract ``archive`` as set ``name`` atomically; an intact set of that name that another
    process installed meanwhile is kept, a damaged one replaced."""
    if not _NAME.match(name):
        raise RuleSetError(f"not a rule set name: {name!r} (letters, digits, . _ -)")
    root = sets_dir(data)
    root.mkdir(parents=True, exist_ok=True)
    final = root / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        files = _extract(archive, tmp)
        manifest = {**meta, "name": name, "files": files}
        if keep_archive:
            shutil.copyfile(archive, tmp / ARCHIVE)
            manifest["archive"] = ARCHIVE
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        for _ in range(5):
            try:
                tmp.rename(final)
                return InstalledSet(name, final, manifest)
            except OSError:
                there = _read_set(final)
                if (
                    there is not None
                    and there.manifest.get("archive_sha256") == meta.get("archive_sha256")
                    and not there.damaged()
                ):
                    return there  # another process won the race
                trash = root / f".trash-{name}-{uuid.uuid4().hex[:8]}"
                try:
                    final.rename(trash)
                except OSError:
                    continue
                shutil.rmtree(trash, ignore_errors=True)
        raise RuleSetError(f"cannot install rule set {name} in {root}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- the shipped pin, the active set ------------------------------------------------------


def ensure_shipped(data: Path | None = None) -> tuple[InstalledSet, list[str]]:
    """The shipped pin, extracted (first use) or restored (damaged) from the package's
    archive; returns it and the files that had to be restored."""
    m = shipped_manifest()
    here = _read_set(sets_dir(data) / m["name"])
    if here is not None and here.manifest.get("archive_sha256") == m["archive_sha256"]:
        bad = here.damaged()
        if not bad:
            return here, []
    else:
        bad = []
    archive = SHIPPED_DIR / m["archive"]
    if _sha256(archive) != m["archive_sha256"]:
        raise RuleSetError(
            f"{archive}: does not match its manifest's SHA-256: the ashiato package is damaged; "
            "reinstall it"
        )
    meta = {k: v for k, v in m.items() if k not in ("archive", "files")}
    meta.update(shipped=True, installed=_now())
    return _install(archive, m["name"], meta, data, keep_archive=False), bad


def _restore(s: InstalledSet, data: Path | None) -> tuple[InstalledSet, list[str]]:
    """``s`` if intact; else re-extracted from its kept archive (checked first)."""
    bad = s.damaged()
    if not bad:
        return s, []
    archive = s.root / ARCHIVE
    try:
        ok = _sha256(archive) == s.manifest.get("archive_sha256")
    except OSError:
        ok = False
    if not ok:
        raise RuleSetError(
            f"rule set {s.name}: {len(bad)} file(s) changed or missing ({', '.join(bad[:3])}) "
            f"and its archive is gone or changed too; run `ashiato rules update` again or "
            f"`ashiato rules use pinned`"
        )
    with tempfile.TemporaryDirectory(dir=sets_dir(data)) as t:
        copy = Path(t) / ARCHIVE
        shutil.copyfile(archive, copy)
        meta = {k: v for k, v in s.manifest.items() if k not in ("files", "archive")}
        return _install(copy, s.name, meta, data, keep_archive=True), bad


def _state(data: Path | None) -> dict[str, Any]:
    try:
        got = json.loads(((data or data_dir()) / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return got if isinstance(got, dict) else {}


def _write_state(data: Path | None, state: dict[str, Any]) -> None:
    root = data or data_dir()
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state, fh)
    Path(tmp).replace(root / STATE)


@dataclass(frozen=True)
class ActiveSet:
    """The set ``detect`` runs by default, and what had to be done to trust it."""

    ruleset: InstalledSet
    restored: list[str] = field(default_factory=list)  # files restored from the archive
    fallback: str | None = None  # why the shipped pin runs instead of the chosen set
    given_again: int = 0  # rule files left out because one's own rules hold the same

    def notices(self) -> list[str]:
        out = []
        if self.restored:
            some = ", ".join(self.restored[:3]) + (", ..." if len(self.restored) > 3 else "")
            out.append(
                f"rule set {self.ruleset.name}: {len(self.restored)} file(s) differed from its "
                f"manifest ({some}); restored from its archive"
            )
        if self.fallback:
            out.append(self.fallback)
        if self.given_again:
            out.append(
                f"{self.given_again} rule file(s) of {self.ruleset.name} are also among --rules "
                "(the same content): they run from there, once, in full"
            )
        return out


def active(data: Path | None = None) -> ActiveSet:
    """The active set (``ashiato rules use``), intact; the shipped pin when none was chosen or
    the chosen one is no longer installed."""
    name = _state(data).get("active")
    pinned = shipped_manifest()["name"]
    if isinstance(name, str) and name not in (pinned, "pinned"):
        chosen = _read_set(sets_dir(data) / name) if _NAME.match(name) else None
        if chosen is not None:
            s, bad = _restore(chosen, data)
            return ActiveSet(s, bad)
        s, bad = ensure_shipped(data)
        why = f"rule set {name!r} is not installed; running the shipped pin {s.name}"
        return ActiveSet(s, bad, why)
    s, bad = ensure_shipped(data)
    return ActiveSet(s, bad)


def use(name: str, data: Path | None = None) -> InstalledSet:
    """Make ``name`` the active set (``pinned``: the shipped pin)."""
    pinned = shipped_manifest()["name"]
    if name in ("pinned", pinned):
        s, _ = ensure_shipped(data)
    else:
        found = _read_set(sets_dir(data) / name) if _NAME.match(name) else None
        if found is None:
            known = ", ".join(x.name for x in installed(data)) or "none"
            raise RuleSetError(f"no rule set {name!r} installed (installed: {known}; or pinned)")
        s, _ = _restore(found, data)
    _write_state(data, {**_state(data), "active": s.name})
    return s


def default_rule_paths(
    data: Path | None = None, given: Sequence[Path] = ()
) -> tuple[ActiveSet, list[Path]]:
    """What ``ashiato detect`` runs by default: the active set's rule files and the pack.

    Files whose content is also among one's own rules ``given`` (e.g. ``--rules`` naming a
    SigmaHQ checkout) are left out: they run once, from there (see ``ActiveSet.given_again``)."""
    act = active(data)
    files = act.ruleset.rule_files
    if given:
        mine = {_sha256(f) for f in rule_files([Path(p) for p in given]) if f.is_file()}
        listed = act.ruleset.manifest["files"]
        files = [f for f in files if listed[f.relative_to(act.ruleset.root).as_posix()] not in mine]
        act = replace(act, given_again=len(act.ruleset.rule_files) - len(files))
    return act, [*files, PACK]


# --- updates ------------------------------------------------------------------------------


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Remembers every URL a download was redirected through (GitHub's ``latest`` link goes
    through the release's own URL, which names its tag, to a storage host's)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        self.urls.append(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(url: str, dest: Path, timeout: float = 30.0) -> list[str]:
    """Download ``url`` (http or https) to ``dest``, at most ``MAX_ARCHIVE_BYTES``; returns
    ``url`` and every URL it was redirected to, in order."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise RuleSetError(f"{url}: only http and https URLs are fetched")
    from ashiato import __version__

    req = urllib.request.Request(url, headers={"User-Agent": f"ashiato/{__version__}"})
    redirects = _Redirects()
    opener = urllib.request.build_opener(redirects)
    try:
        with opener.open(req, timeout=timeout) as resp, dest.open("wb") as out:
            n = 0
            while block := resp.read(1 << 16):
                n += len(block)
                if n > MAX_ARCHIVE_BYTES:
                    raise RuleSetError(f"{url}: larger than {MAX_ARCHIVE_BYTES >> 20} MiB")
                out.write(block)
    except urllib.error.HTTPError as exc:
        raise RuleSetError(f"cannot fetch {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        why = getattr(exc, "reason", None) or exc
        raise RuleSetError(
            f"cannot fetch {url}: {why}. Offline? The active rule set stays; "
            "`ashiato rules update --from FILE.zip` installs a release downloaded elsewhere"
        ) from exc
    return [url, *redirects.urls]


@dataclass
class UpdateResult:
    name: str
    source: str
    archive_sha256: str
    rule_files: int
    compiled: int  # rules and correlations that compile
    skipped: int
    errors: list[str]  # rule files that do not load, with why
    installed: bool  # False with --check, or when it was already installed
    already: bool = False
    licence: str = "unknown"
    activated: bool = False

    def lines(self) -> Iterator[str]:
        verb = (
            "already installed"
            if self.already
            else "installed"
            if self.installed
            else "checked (not installed)"
        )
        yield f"{self.name}: {verb} from {self.source}" + (
            "; now the active rule set" if self.activated else ""
        )
        yield (
            f"{self.rule_files} rule file(s): {self.compiled} rule(s) compile, {self.skipped} "
            f"cannot run here, {len(self.errors)} problem(s); licence {self.licence}; "
            f"archive sha256 {self.archive_sha256}"
        )
        yield from (f"problem: {e}" for e in self.errors[:20])
        if len(self.errors) > 20:
            yield f"... and {len(self.errors) - 20} more (`ashiato rules check` lists them)"


def _release(urls: list[str]) -> tuple[str, str] | None:
    """(tag, URL) of the first GitHub-style release download URL among ``urls``."""
    for u in urls:
        m = re.search(r"/releases/download/([A-Za-z0-9][A-Za-z0-9._-]*)/", u)
        if m:
            return m.group(1), u
    return None


def _name_for(release: tuple[str, str] | None, archive: Path, sha: str) -> str:
    if release:
        return f"sigmahq-{release[0]}"[:64]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", archive.stem).strip("-.") or "rules"
    return f"{stem[:48]}-{sha[:8]}"


def _licence(root: Path, files: dict[str, str]) -> str:
    for rel in sorted(files, key=len):
        if _KEPT_TEXT.match(rel.split("/")[-1]) and rel.split("/")[-1].upper().startswith("LICEN"):
            text = (root / rel).read_text(encoding="utf-8", errors="replace")
            if "Detection Rule License" in text or "DRL" in text:
                return "DRL-1.1" if "1.1" in text else "DRL"
            return f"see {rel}"
    return "unknown"


def update(
    source: str | None = None,
    data: Path | None = None,
    *,
    check: bool = False,
    name: str | None = None,
    timeout: float = 30.0,
    activate: bool = True,
) -> UpdateResult:
    """Install the rules of a SigmaHQ release zip (``source``: a URL, default ``DEFAULT_URL``,
    or a local zip), validate them (every file loads and compiles, or is reported), record
    its manifest and make it the active set. ``check``: fetch and validate only."""
    from ashiato.sigma.cache import load_compiled

    src = source or DEFAULT_URL
    root = sets_dir(data)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".update.", dir=root) as t:
        work = Path(t)
        if "://" in src:
            archive = work / (Path(urllib.parse.urlsplit(src).path).name or "rules.zip")
            urls = fetch(src, archive, timeout)
        else:
            archive = Path(src)
            if not archive.is_file():
                raise RuleSetError(f"{src}: no such file (a SigmaHQ release zip, or a URL)")
            urls = [str(archive.resolve())]
        release = _release(urls)
        sha = _sha256(archive)
        same = [s for s in installed(data) if s.manifest.get("archive_sha256") == sha]
        set_name = name or (same[0].name if same else _name_for(release, archive, sha))
        files = _extract(archive, work / "x")
        compiled = load_compiled(
            [work / "x" / p for p in sorted(files) if p.endswith(RULE_SUFFIXES)]
        )
        rs = compiled.ruleset
        assert rs is not None
        errors = [
            str(p).replace(str(work / "x") + "/", "") for p in rs.problems if p.level == "error"
        ]
        n_ok = len(compiled.rules) + len(compiled.correlations)
        result = UpdateResult(
            name=set_name,
            source=src,
            archive_sha256=sha,
            rule_files=sum(p.endswith(RULE_SUFFIXES) for p in files),
            compiled=n_ok,
            skipped=len(compiled.skipped),
            errors=errors,
            installed=False,
            licence=_licence(work / "x", files),
        )
        if n_ok == 0:
            raise RuleSetError(f"{src}: not one rule of it compiles; not installed")
        if check:
            return result
        if same and not name:
            result.already = True
        else:
            meta = {
                "title": "SigmaHQ rules" if "sigmahq" in set_name.lower() else "Sigma rules",
                "source": src,
                "url": release[1] if release else urls[-1],
                "release": release[0] if release else None,
                "licence": result.licence,
                "archive_sha256": sha,
                "installed": _now(),
                "validated": {"compiled": n_ok, "skipped": result.skipped, "errors": len(errors)},
            }
            _install(archive, set_name, meta, data, keep_archive=True)
            result.installed = True
        if activate:
            use(set_name, data)
            result.activated = True
        return result


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def default_selector(
    default: InstalledSet | None, selection: Selection | None
) -> RuleSelector | None:
    """The selection ``detect`` and ``rules check`` apply. Options given (``selection``) narrow
    every rule that runs, one's own included (criteria not given keep ``DEFAULT_SELECTION``'s);
    without any, ``DEFAULT_SELECTION`` narrows the default set (``default``, with the pack) and
    one's own ``--rules`` run in full. The default set's rules that cannot run are summarised."""
    if default is None and selection is None:
        return None
    names = {str(p) for p in default.rule_files} if default is not None else set()
    pack = str(PACK) + os.sep

    def in_default(path: str) -> bool:
        return default is not None and (path in names or path.startswith(pack))

    if selection is not None:
        return RuleSelector(selection, None, in_default)
    return RuleSelector(DEFAULT_SELECTION, in_default, in_default)
