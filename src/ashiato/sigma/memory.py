"""How much memory the Sigma pass lets DuckDB use: a start from the machine, raised when a
statement runs out.

DuckDB spills most operators to disk under its ``memory_limit``, but not all of them at every
width: the pass flattens hundreds of ``raw`` keys into one wide table, and how much a wide sort
or list aggregate needs depends on the store, not only on its size (a 5,792-event lab dataset
failed under a fixed 64 MB where a 14,000-event one passed). So a fixed limit either fails on
some stores or wastes memory on all. The pass starts from a share of the machine's memory
(cgroup limits included) and, when a statement runs out, raises the limit and runs that
statement again (statements are idempotent: a failed one is rolled back), up to a cap of what
the machine can spare; only past the cap does the error reach the user.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

MIB = 1 << 20
MIN_START = 64 * MIB
MAX_START = 1024 * MIB
MIN_CAP = 256 * MIB
RAISE_FACTOR = 4
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def machine_memory() -> int:
    """Physical memory, or the cgroup's limit where it is lower (containers, CI runners)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in _CGROUP_LIMITS:
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return total


def available_memory() -> int:
    """``MemAvailable`` of /proc/meminfo (memory the kernel can hand out without swapping)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return machine_memory()


def budget(total: int | None = None, available: int | None = None) -> tuple[int, int]:
    """(start, cap) in bytes: start 1/64 of the machine (64 MiB to 1 GiB: 384 MiB on a 24 GiB
    machine), cap a quarter of it or half of what is available now, whichever is lower (never
    below 256 MiB)."""
    total = machine_memory() if total is None else total
    available = min(total, available_memory() if available is None else available)
    cap = max(MIN_CAP, min(total // 4, available // 2))
    start = min(cap, max(MIN_START, min(MAX_START, total // 64)))
    return start, cap


def parse_size(text: str) -> int:
    """``64MB``, ``1.5 GiB``, ``512KB`` -> bytes (DuckDB's units: KB/MB/GB are 1000-based,
    KiB/MiB/GiB 1024-based; a bare number is bytes)."""
    units = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
    units |= {"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
    s = text.strip().lower().replace(" ", "")
    num = s.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = s[len(num) :] or "b"
    try:
        value = float(num)
    except ValueError:
        value = -1.0
    if unit not in units or value < 0:
        raise ValueError(f"not a memory size: {text!r}")
    return int(value * units[unit])


@dataclass
class MemoryBudget:
    """A DuckDB connection's memory limit for one pass, raised on demand (``execute``)."""

    con: Any
    limit: int
    cap: int
    raised: list[str] = field(default_factory=list)  # why each raise happened
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def apply(self) -> None:
        self.con.execute(f"SET memory_limit = '{self.limit}B'")

    def execute(self, sql: str) -> Any:
        """``con.execute(sql)``; when DuckDB runs out of memory, the limit is raised
        (``RAISE_FACTOR`` times, up to ``cap``) and the statement run again."""
        return self.execute_on(self.con, sql)

    def execute_on(self, cursor: Any, sql: str) -> Any:
        """``execute`` on a cursor of the connection (the limit is the database's); safe from
        several threads at once."""
        return self.retry(lambda: cursor.execute(sql))

    def retry(self, work: Callable[[], T]) -> T:
        """``work()``, run again from the start under a raised limit while DuckDB runs out of
        memory (``work`` must be repeatable: a statement, a read that keeps no state)."""
        import duckdb

        while True:
            seen = self.limit
            try:
                return work()
            except duckdb.OutOfMemoryException as exc:
                with self._lock:
                    if self.limit == seen:  # not raised meanwhile by another thread
                        if self.limit >= self.cap:
                            raise
                        self.limit = min(self.cap, self.limit * RAISE_FACTOR)
                        self.raised.append(str(exc).split("\n", maxsplit=1)[0][:200])
                        self.apply()

    def sql(self, sql: str) -> Any:
        """A lazy relation, for small reads (retried by nobody: read tables, not plans)."""
        return self.con.sql(sql)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)
