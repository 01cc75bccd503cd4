"""LANL cyber1 ``redteam.txt`` labels: which auth events were the red team's. Not events.

Line shape: ``time,user@domain,source computer,destination computer``. ``ashiato evaluate`` matches
a label to ``lanl_auth`` events with ``matches``: same ``ts`` (epoch + time seconds, the same epoch
as the ingest), same ``src_host`` and ``dst_host``, and the label's user equal to the event's
``user`` (destination account) or to the user part of its raw ``source_user``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from ashiato.errors import IngestError
from ashiato.ingest.inputs import InputRef, open_input
from ashiato.ingest.lanl import DEFAULT_EPOCH


def _open(path: Path) -> BinaryIO:
    return open_input(InputRef(str(path)))


def _account(text: str) -> tuple[str | None, str | None]:
    user, _, dom = text.partition("@")
    return (user.lower() or None, dom.upper() or None)


def read_redteam(path: str | Path, epoch: str | datetime = DEFAULT_EPOCH) -> list[dict[str, Any]]:
    """Labels as dicts: ts (aware UTC datetime), user, domain, src_host, dst_host, line.

    Raises IngestError naming the file and line for a line that is not a label.
    """
    p = Path(path)
    t0 = epoch if isinstance(epoch, datetime) else datetime.fromisoformat(epoch)
    if t0.tzinfo is None:
        t0 = t0.replace(tzinfo=UTC)
    out: list[dict[str, Any]] = []
    with _open(p) as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            f = line.split(",")
            if len(f) != 4 or not f[0].isdigit():
                raise IngestError(f"{p}:{lineno}: not a red-team label: {line[:80]!r}")
            user, dom = _account(f[1])
            out.append(
                {
                    "ts": t0 + timedelta(seconds=int(f[0])),
                    "user": user,
                    "domain": dom,
                    "src_host": f[2].lower() or None,
                    "dst_host": f[3].lower() or None,
                    "line": lineno,
                }
            )
    return out


def matches(label: dict[str, Any], event: dict[str, Any]) -> bool:
    """True if an ACCESS_EVENT row (as a dict) is the auth event ``label`` marks."""
    if (event.get("ts"), event.get("src_host"), event.get("dst_host")) != (
        label["ts"],
        label["src_host"],
        label["dst_host"],
    ):
        return False
    raw = dict(event.get("raw") or {})
    src_user = _account(str(raw.get("source_user", "")))[0]
    return label["user"] in (event.get("user"), src_user)
