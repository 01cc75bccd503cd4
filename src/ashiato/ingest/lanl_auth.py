"""LANL cyber1 ``auth.txt``: one authentication event per line, mapped block-wise at CSV speed.

Line shape (no header): ``time,source user@domain,destination user@domain,source computer,
destination computer,authentication type,logon type,authentication orientation,success/failure``;
``?`` means unknown. The account authenticated is the destination user; the source user is kept in
``raw``. See ``lanl`` for the block reader that keeps line numbers and rejections exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from ashiato.ingest import lanl
from ashiato.ingest.base import ParseContext, ParsedBatch

NAME = "lanl_auth"
COLUMNS = (
    "time",
    "src_user",
    "dst_user",
    "src_computer",
    "dst_computer",
    "auth_type",
    "logon_type",
    "orientation",
    "outcome",
)

ORIENTATIONS = ("LogOn", "LogOff", "TGT", "TGS", "AuthMap")
_KIND_SUCCESS = ("logon", "logoff", "kerberos_tgt", "kerberos_service", "other")
_KIND_FAILURE = ("logon_failure", "logoff", "kerberos_tgt", "kerberos_service", "other")
RESULTS = ("Success", "Fail")

LOGON_TYPES: dict[str, int] = {
    "Interactive": 2,
    "Network": 3,
    "Batch": 4,
    "Service": 5,
    "Unlock": 7,
    "NetworkCleartext": 8,
    "NewCredentials": 9,
    "RemoteInteractive": 10,
    "CachedInteractive": 11,
}
"""LANL logon type names → Windows logon type numbers; others (and ``?``) → null."""


def _check(f: list[str]) -> bool:
    return (
        len(f) == 9 and f[0].isdigit() and f[7] in ORIENTATIONS and f[8] in RESULTS and "@" in f[2]
    )


class LanlAuthParser:
    """LANL cyber1 auth.txt (CSV, 9 fields, relative seconds)."""

    name = NAME
    description = "LANL cyber1 auth.txt: time,src user,dst user,src,dst,auth type,logon type,..."

    def sniff(self, head: bytes, name: str) -> bool:
        return lanl.sniff_lines(head, _check)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[ParsedBatch]:
        epoch = lanl.epoch_us(ctx)
        for batch, lines, rejections in lanl.blocks(stream, COLUMNS):
            c = batch.column
            t = c(0)
            t_ok = lanl.digits(t)
            ts = pc.add(pc.multiply(lanl.to_int(t, t_ok), 1_000_000), epoch)
            o_idx = pc.index_in(c(7), value_set=pa.array(ORIENTATIONS))
            r_idx = pc.index_in(c(8), value_set=pa.array(RESULTS))
            keep, glines, rej = lanl.finish(
                batch,
                lines,
                [
                    (pc.invert(t_ok), "non-numeric time"),
                    (pc.less(ts, ctx.min_ts_us), "implausible timestamp in time: before 1990"),
                    (
                        pc.greater(ts, ctx.max_ts_us),
                        "implausible timestamp in time: more than 2 days in the future",
                    ),
                    (pc.is_null(o_idx), "unknown authentication orientation"),
                    (pc.is_null(r_idx), "success/failure is neither Success nor Fail"),
                ],
                rejections,
            )
            good = batch
            if keep is not None:
                good = batch.filter(keep)
                ts, o_idx, r_idx = ts.filter(keep), o_idx.filter(keep), r_idx.filter(keep)
            g = good.column
            user, domain = lanl.split_account(g(2))
            lt_idx = pc.index_in(g(6), value_set=pa.array(list(LOGON_TYPES)))
            cols = {
                "ts": pc.cast(ts, pa.timestamp("us", tz="UTC")),
                "kind": pc.take(
                    pa.array(_KIND_SUCCESS + _KIND_FAILURE),
                    pc.add(o_idx, pc.multiply(r_idx, len(ORIENTATIONS))),
                ),
                "outcome": pc.take(pa.array(["success", "failure"]), r_idx),
                "user": user,
                "domain": domain,
                "logon_type": pc.take(pa.array(list(LOGON_TYPES.values()), pa.int32()), lt_idx),
                "auth_package": lanl.nullify(g(5)),
                "src_host": lanl.host(g(3)),
                "dst_host": lanl.host(g(4)),
                "raw": lanl.raw_map(
                    good.num_rows,
                    [("source_user", g(1), None), ("logon_type", g(6), None)],
                ),
            }
            yield from lanl.emit(lanl.assemble(cols, glines, NAME, ctx), rej)


PARSER = LanlAuthParser()
