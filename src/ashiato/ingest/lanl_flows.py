"""LANL cyber1 ``flows.txt``: one network flow per line, mapped block-wise at CSV speed.

Line shape (no header): ``time,duration,source computer,source port,destination computer,
destination port,protocol,packet count,byte count``. Hosts are computer names, not IPs. Ports
LANL anonymised (``N443``) stay null with their text in ``raw``; the byte count is the flow's total
(both directions), stored as ``bytes_out`` because LANL gives no split.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.ingest import lanl
from ashiato.ingest.base import ParseContext, ParsedBatch

NAME = "lanl_flows"
COLUMNS = (
    "time",
    "duration",
    "src_computer",
    "src_port",
    "dst_computer",
    "dst_port",
    "protocol",
    "packets",
    "bytes",
)
PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp"}
"""IP protocol number → name; other numbers are kept as their text."""


def _port_text(s: str) -> bool:
    return s.isdigit() or (s[:1] == "N" and s[1:].isdigit())


def _check(f: list[str]) -> bool:
    return (
        len(f) == 9
        and all(f[i].isdigit() for i in (0, 1, 6, 7, 8))
        and _port_text(f[3])
        and _port_text(f[5])
        and bool(f[2])
        and bool(f[4])
    )


def _port(arr: pa.Array) -> tuple[pa.Array, pa.Array, lanl.Mask]:
    """(port or null, out-of-range mask, mask of rows whose port text is not a number)."""
    ok = lanl.digits(arr, 5)
    n = lanl.to_int(arr, ok)
    bad = pc.and_(ok, pc.greater(n, 65535))
    port = pc.if_else(pc.and_(ok, pc.greater(n, 0)), n, pa.scalar(None, pa.int64()))
    text = ~np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)
    return port, bad, text


class LanlFlowsParser:
    """LANL cyber1 flows.txt (CSV, 9 numeric-ish fields, relative seconds)."""

    name = NAME
    description = "LANL cyber1 flows.txt: time,duration,src,src port,dst,dst port,proto,pkts,bytes"

    def sniff(self, head: bytes, name: str) -> bool:
        return lanl.sniff_lines(head, _check)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[ParsedBatch]:
        epoch = lanl.epoch_us(ctx)
        for batch, lines, rejections in lanl.blocks(stream, COLUMNS):
            c = batch.column
            oks = {i: lanl.digits(c(i), 18 if i == 8 else 12) for i in (0, 1, 6, 7, 8)}
            ts = pc.add(pc.multiply(lanl.to_int(c(0), oks[0]), 1_000_000), epoch)
            sp, sp_bad, sp_text = _port(c(3))
            dp, dp_bad, dp_text = _port(c(5))
            keep, glines, rej = lanl.finish(
                batch,
                lines,
                [
                    (pc.invert(oks[0]), "non-numeric time"),
                    (pc.less(ts, ctx.min_ts_us), "implausible timestamp in time: before 1990"),
                    (
                        pc.greater(ts, ctx.max_ts_us),
                        "implausible timestamp in time: more than 2 days in the future",
                    ),
                    (pc.invert(oks[1]), "non-numeric duration"),
                    (pc.invert(oks[6]), "non-numeric protocol"),
                    (pc.invert(oks[7]), "non-numeric packet count"),
                    (pc.invert(oks[8]), "non-numeric byte count"),
                    (sp_bad, "port out of range in source port"),
                    (dp_bad, "port out of range in destination port"),
                ],
                rejections,
            )
            good = batch
            if keep is not None:
                good = batch.filter(keep)
                ts, sp, dp = ts.filter(keep), sp.filter(keep), dp.filter(keep)
                k = np.asarray(keep.to_numpy(zero_copy_only=False), dtype=bool)
                sp_text, dp_text = sp_text[k], dp_text[k]
            g = good.column
            proto = g(6)
            idx = pc.index_in(proto, value_set=pa.array(list(PROTOCOLS)))
            cols = {
                "ts": pc.cast(ts, pa.timestamp("us", tz="UTC")),
                "kind": "network_flow",
                "outcome": "unknown",
                "src_host": lanl.host(g(2)),
                "src_port": sp,
                "dst_host": lanl.host(g(4)),
                "dst_port": dp,
                "protocol": pc.if_else(
                    pc.is_null(idx), proto, pc.take(pa.array(list(PROTOCOLS.values())), idx)
                ),
                "bytes_out": lanl.to_int(g(8), pa.scalar(True)),
                "duration_s": pc.cast(lanl.to_int(g(1), pa.scalar(True)), pa.float64()),
                "raw": lanl.raw_map(
                    good.num_rows,
                    [
                        ("packet_count", g(7), None),
                        ("src_port", g(3), sp_text),
                        ("dst_port", g(5), dp_text),
                    ],
                ),
            }
            yield from lanl.emit(lanl.assemble(cols, glines, NAME, ctx), rej)


PARSER = LanlFlowsParser()
