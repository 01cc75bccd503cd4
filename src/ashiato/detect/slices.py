"""How a run's days are cut into slices: runs of consecutive days, bounded in days and bytes.

A slice's events are read once for every detector judging it, and each slice costs each
detector a few statements whatever its size, so fewer, larger slices make a batch run faster;
a slice's events are also one temp table, so its size bounds a run's memory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date


def slice_days() -> int:
    """The most days a ``multi_day`` detector judges in one slice (``ASHIATO_SLICE_DAYS``,
    default 7): fewer, larger queries for a batch run; a late day re-judges at most the slice
    that held it; a slice's events are one temp table, so its size bounds memory."""
    try:
        return max(1, int(os.environ.get("ASHIATO_SLICE_DAYS", "7")))
    except ValueError:
        return 7


SLICE_BYTES = 160 * 2**20
"""A slice grows by a day only while its event files stay within this many bytes
(``ASHIATO_SLICE_BYTES``): a week of a 1,500-terminal estate is one slice, while a day of a
29,000-terminal one (1.5 M events, about 110 MiB) is a slice of its own. A slice's events are
one temp table and its joins run under the connection's memory limit: larger slices spill."""


def slice_bytes() -> int:
    try:
        return max(1, int(os.environ.get("ASHIATO_SLICE_BYTES", str(SLICE_BYTES))))
    except ValueError:
        return SLICE_BYTES


def day_slices(
    days: Sequence[str], size: int, weight: Mapping[str, int] | None = None, most: int = 0
) -> list[tuple[str, ...]]:
    """``days`` (sorted) in runs of at most ``size`` consecutive calendar days and, given
    ``weight`` per day, at most ``most`` of it (a day heavier than that alone)."""
    out: list[list[str]] = []
    total = 0
    for d in days:
        w = weight.get(d, 0) if weight is not None else 0
        if (
            out
            and (date.fromisoformat(d) - date.fromisoformat(out[-1][0])).days < size
            and (weight is None or total + w <= most)
        ):
            out[-1].append(d)
            total += w
        else:
            out.append([d])
            total = w
    return [tuple(x) for x in out]
