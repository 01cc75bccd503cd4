"""Find and open inputs: files, directories, globs, zip members, gzip/bz2 streams, and stdin.

An *input* is one stream of records with its own SHA-256 in the manifest: a plain file, or one
member of a zip or tar archive (chain of custody then names ``archive.zip!member``). Compression is
recognised by magic bytes, never by file name, so a renamed ``.gz`` still reads.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import io
import os
import shutil
import sys
import tarfile
import uuid
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from ashiato.errors import IngestError

ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"
BZ2_MAGIC = b"BZh"
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class InputRef:
    """Where one input's bytes are: a file, or a member of a zip archive on disk."""

    path: str  # file on disk
    member: str | None = None  # member name inside the archive at ``path``
    label: str | None = None  # what the manifest records instead of ``path`` (e.g. "<stdin>")
    archive: str = "zip"  # "zip" or "tar" (plain or compressed), when ``member`` is set

    @property
    def display(self) -> str:
        base = self.label or self.path
        return f"{base}!{self.member}" if self.member else base

    @property
    def name(self) -> str:
        """The base name parsers may look at (sniffing by extension is a hint, not a rule)."""
        return Path(self.member or self.path).name


def _is_zip(path: Path, head: bytes) -> bool:
    try:
        return head[:4] == ZIP_MAGIC and zipfile.is_zipfile(path)
    except OSError:
        return False


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(8)
    except OSError:
        return b""


_NOT_ARCHIVES = (b"ElfFile\x00",)
"""Magic numbers of inputs that are never archives (EVTX): no tar header to try to read,
which costs a millisecond a file in a collection of hundreds of small logs."""


def _members(path: Path) -> list[InputRef]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [
                i.filename
                for i in zf.infolist()
                if not i.is_dir()
                and not i.filename.startswith("__MACOSX/")
                and not Path(i.filename).name.startswith(".")
            ]
    except (zipfile.BadZipFile, OSError):
        return [InputRef(str(path))]  # unreadable archive: parsed (and rejected) as a plain file
    return [InputRef(str(path), m) for m in sorted(names)]


def _is_tar(path: Path) -> bool:
    """A tar archive, plain or gzip/bz2/xz-compressed (tarfile reads the header to know)."""
    try:
        return tarfile.is_tarfile(path)
    except (OSError, tarfile.TarError, EOFError, ValueError):
        return False


def _tar_members(path: Path) -> list[InputRef]:
    try:
        with tarfile.open(path, "r:*") as tf:
            names = [
                m.name
                for m in tf.getmembers()
                if m.isfile() and not Path(m.name).name.startswith(".")
            ]
    except (OSError, tarfile.TarError, EOFError, zlib.error):
        return [InputRef(str(path))]
    return [InputRef(str(path), m, archive="tar") for m in sorted(names)]


def _expand(f: Path) -> list[InputRef]:
    head = _head(f)
    if head.startswith(_NOT_ARCHIVES):
        return [InputRef(str(f))]
    if _is_zip(f, head):
        return _members(f)
    if _is_tar(f):
        return _tar_members(f)
    return [InputRef(str(f))]


@dataclass(frozen=True)
class SkippedLink:
    """A symbolic link found among the inputs and not read, and why."""

    path: str
    target: str
    reason: str


@dataclass
class Discovery:
    """The inputs found, in order, and the symbolic links left unread."""

    refs: list[InputRef]
    skipped: list[SkippedLink]


class _Walker:
    """Collects files under one input tree; links leaving it are followed only when asked.

    A link whose target lies outside the tree the user named (a directory, or a glob's fixed
    prefix) could make the ingest read anything the account can read, so it is skipped and
    reported unless ``follow`` is set. Links within the tree are read through their targets (a
    linked directory inside it is walked once, under its own path); a broken link is reported.
    """

    def __init__(self, root: Path, exclude: Path | None, follow: bool, skipped: list[SkippedLink]):
        self.root = root.resolve()
        self.exclude = exclude
        self.follow = follow
        self.skipped = skipped

    def _leaves(self, link: Path) -> Path | None:
        """The link's target if following it is allowed; None (and reported) otherwise."""
        target = link.resolve()
        if not target.exists():
            self.skipped.append(SkippedLink(str(link), str(target), "broken symlink"))
            return None
        if target.is_relative_to(self.root) or self.follow:
            return target
        reason = "symlink to a path outside the input tree (--follow-symlinks to read it)"
        self.skipped.append(SkippedLink(str(link), str(target), reason))
        return None

    def file(self, f: Path) -> Path | None:
        if f.is_symlink():
            target = self._leaves(f)
            return target if target is not None and target.is_file() else None
        return f.resolve() if f.is_file() else None

    def entry(self, p: Path) -> list[Path]:
        """The files of one glob match: a file, a directory, or a link to either."""
        target = self._leaves(p) if p.is_symlink() else p
        if target is None:
            return []
        if target.is_dir():
            return self.walk(target)
        return [target.resolve()] if target.is_file() else []

    def walk(self, p: Path) -> list[Path]:
        out: list[Path] = []
        seen_dirs = {p.resolve()}
        for root, dirs, files in os.walk(p, followlinks=True):
            keep = []
            for d in sorted(dirs):
                full = Path(root) / d
                if d.startswith(".") or full.resolve() == self.exclude:
                    continue
                if full.is_symlink():
                    target = self._leaves(full)
                    if target is None or target.is_relative_to(self.root) or target in seen_dirs:
                        continue  # a link inside the tree: its directory is walked anyway
                    seen_dirs.add(target)
                else:
                    seen_dirs.add(full.resolve())
                keep.append(d)
            dirs[:] = keep
            for name in sorted(files):
                if not name.startswith("."):
                    f = self.file(Path(root) / name)
                    if f is not None:
                        out.append(f)
        return out


def _glob_root(pattern: str) -> Path:
    """The directory a glob pattern cannot leave: its path up to the first wildcard."""
    fixed: list[str] = []
    for part in Path(pattern).parts:
        if _GLOB_CHARS & set(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path()


def discover(
    paths: Sequence[str | Path], exclude: Path | None = None, stdin_dir: Path | None = None
) -> list[InputRef]:
    """The inputs ``paths`` name (``discover_inputs``), without the links it skips."""
    return discover_inputs(paths, exclude, stdin_dir).refs


def discover_inputs(
    paths: Sequence[str | Path],
    exclude: Path | None = None,
    stdin_dir: Path | None = None,
    *,
    follow_symlinks: bool = False,
) -> Discovery:
    """Inputs in order: files as given, directories walked, globs expanded, zips opened.

    ``-`` reads standard input once into ``stdin_dir`` (so that it can be hashed and re-read by a
    worker). Nothing under ``exclude`` (the store) is taken. A path given by name is read even if
    it is a link; inside a directory or glob, links whose target leaves it are skipped and listed
    unless ``follow_symlinks``. A path that matches nothing raises IngestError naming it.
    """
    files: list[Path] = []
    refs: list[InputRef] = []
    skipped: list[SkippedLink] = []
    for given in paths:
        s = str(given)
        p = Path(s)
        if s == "-":
            refs.append(_spool_stdin(stdin_dir))
            continue
        if p.is_file():
            files.append(p.resolve())
        elif p.is_dir():
            files.extend(_Walker(p, exclude, follow_symlinks, skipped).walk(p))
        elif _GLOB_CHARS & set(s):
            matched = sorted(glob.glob(s, recursive=True))  # noqa: PTH207 - shell-style pattern
            if not matched:
                raise IngestError(f"no input matches {s}")
            walker = _Walker(_glob_root(s), exclude, follow_symlinks, skipped)
            for m in matched:
                files.extend(walker.entry(Path(m)))
        else:
            raise IngestError(f"input not found: {given}")
    seen: set[Path] = set()
    for f in files:
        if f in seen or (exclude is not None and f.is_relative_to(exclude)):
            continue
        seen.add(f)
        refs.extend(_expand(f))
    return Discovery(refs, skipped)


def ref_from_display(display: str) -> InputRef | None:
    """The input a manifest path names (``file``, ``archive!member``); None for ``<stdin>``."""
    if display == "<stdin>":
        return None
    path, sep, member = display.partition("!")
    if sep and Path(path).is_file():
        zipped = _is_zip(Path(path), _head(Path(path)))
        return InputRef(path, member, archive="zip" if zipped else "tar")
    return InputRef(display)


def _spool_stdin(directory: Path | None) -> InputRef:
    if directory is None:
        raise IngestError("reading standard input needs a store to spool it into")
    directory.mkdir(parents=True, exist_ok=True)
    dest = directory / f"stdin-{uuid.uuid4().hex}"
    with dest.open("wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    return InputRef(str(dest), label="<stdin>")


def _raw_open(ref: InputRef) -> BinaryIO:
    if ref.member is None:
        return Path(ref.path).open("rb")
    # the archive stays open as long as the member stream: close both together
    if ref.archive == "tar":
        tf = tarfile.open(ref.path, "r:*")  # noqa: SIM115 - closed with the member stream
        member = tf.extractfile(ref.member)
        if member is None:
            tf.close()
            raise OSError(f"{ref.display}: not a regular file in the archive")
        return _Closing(member, tf)
    zf = zipfile.ZipFile(ref.path)
    return _Closing(zf.open(ref.member), zf)


class _Closing(io.BufferedReader):
    def __init__(self, stream: IO[bytes], owner: zipfile.ZipFile | tarfile.TarFile) -> None:
        super().__init__(stream)  # type: ignore[arg-type]
        self._owner = owner

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._owner.close()


class _OwnsRaw:
    """Close the stream underneath too (GzipFile and BZ2File leave a passed file object open)."""

    _raw: BinaryIO

    def close(self) -> None:
        try:
            super().close()  # type: ignore[misc]
        finally:
            self._raw.close()


class _GzipOwning(_OwnsRaw, gzip.GzipFile):
    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        super().__init__(fileobj=raw, mode="rb")


class _Bz2Owning(_OwnsRaw, bz2.BZ2File):
    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        super().__init__(raw, "rb")


def open_input(ref: InputRef) -> BinaryIO:
    """Open an input for reading, decompressing gzip or bz2 (recognised by magic bytes)."""
    raw = _raw_open(ref)
    magic = raw.peek(3)[:3] if isinstance(raw, io.BufferedReader) else b""
    if magic[:2] == GZIP_MAGIC:
        return _GzipOwning(raw)  # type: ignore[return-value]
    if magic == BZ2_MAGIC:
        return _Bz2Owning(raw)  # type: ignore[return-value]
    return raw


def hash_input(ref: InputRef, chunk: int = 1 << 20) -> tuple[str, int]:
    """Streamed SHA-256 and size of an input's stored bytes (a zip member's, uncompressed).

    A zip member that cannot be read to its end (bad CRC, damaged deflate stream) is hashed over
    the bytes that could be read: its parse then records the damage as a rejection.
    """
    h = hashlib.sha256()
    size = 0
    with _raw_open(ref) as fh:
        try:
            while block := fh.read(chunk):
                h.update(block)
                size += len(block)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error):
            h.update(b"\0damaged")  # never equal to an intact copy's hash
    return h.hexdigest(), size


def read_head(ref: InputRef, size: int) -> tuple[bytes, str | None]:
    """The first ``size`` bytes of an input, decompressed, and what went wrong reading them.

    A damaged input gives as much as could be read, and the problem in words.
    """
    parts: list[bytes] = []
    got = 0
    problem = None
    try:
        with open_input(ref) as fh:
            read = getattr(fh, "read1", fh.read)
            kind = compression_of(fh)
            try:
                while got < size and (block := read(size - got)):
                    parts.append(block)
                    got += len(block)
            except EOFError:
                problem = f"truncated {kind} stream"
            except (OSError, zipfile.BadZipFile, zlib.error, ValueError) as exc:
                problem = f"corrupt {kind} stream: {exc}"
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        problem = f"cannot open: {exc}"
    return b"".join(parts), problem


def compression_of(stream: BinaryIO) -> str:
    """A word for error messages: what kind of stream this is."""
    if isinstance(stream, gzip.GzipFile):
        return "gzip"
    if isinstance(stream, bz2.BZ2File):
        return "bz2"
    if isinstance(stream, _Closing):
        return "archive member"
    return "input"
