"""LANL cyber1 ``proc.txt``: process start and end events, mapped block-wise at CSV speed.

Line shape (no header): ``time,user@domain,computer,process name,start/end``. ``Start`` is a
``process_start`` on that computer; ``End`` is kept as kind "other" (raw ``start_end`` says which).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from ashiato.ingest import lanl
from ashiato.ingest.base import ParseContext, ParsedBatch

NAME = "lanl_proc"
COLUMNS = ("time", "user", "computer", "process", "start_end")


def _check(f: list[str]) -> bool:
    return len(f) == 5 and f[0].isdigit() and "@" in f[1] and f[4] in ("Start", "End")


class LanlProcParser:
    """LANL cyber1 proc.txt (CSV, 5 fields ending Start/End, relative seconds)."""

    name = NAME
    description = "LANL cyber1 proc.txt: time,user@domain,computer,process name,Start|End"

    def sniff(self, head: bytes, name: str) -> bool:
        return lanl.sniff_lines(head, _check)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[ParsedBatch]:
        epoch = lanl.epoch_us(ctx)
        for batch, lines, rejections in lanl.blocks(stream, COLUMNS):
            c = batch.column
            t_ok = lanl.digits(c(0))
            ts = pc.add(pc.multiply(lanl.to_int(c(0), t_ok), 1_000_000), epoch)
            e_idx = pc.index_in(c(4), value_set=pa.array(["Start", "End"]))
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
                    (pc.is_null(e_idx), "start/end is neither Start nor End"),
                ],
                rejections,
            )
            good = batch
            if keep is not None:
                good = batch.filter(keep)
                ts, e_idx = ts.filter(keep), e_idx.filter(keep)
            g = good.column
            user, domain = lanl.split_account(g(1))
            computer = lanl.host(g(2))
            cols = {
                "ts": pc.cast(ts, pa.timestamp("us", tz="UTC")),
                "kind": pc.take(pa.array(["process_start", "other"]), e_idx),
                "outcome": "unknown",
                "user": user,
                "domain": domain,
                "dst_host": computer,
                "log_host": computer,
                "process": lanl.nullify(g(3)),
                "raw": lanl.raw_map(good.num_rows, [("start_end", g(4), None)]),
            }
            yield from lanl.emit(lanl.assemble(cols, glines, NAME, ctx), rej)


PARSER = LanlProcParser()
