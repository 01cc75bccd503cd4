"""Zeek conn.log (TSV) writer: the exact header Zeek writes, one file per UTC day, Zeek-style uids.

Flows are produced by the behaviour modules as plain tuples (:data:`Flow`); this module turns a
sorted hour of them into lines and assigns each a unique, deterministic ``C`` + 17 base62 uid.
"""

from __future__ import annotations

import datetime as dt
from typing import TextIO

import numpy as np

#: (t_us, orig_h, orig_p, resp_h, resp_p, proto, service, duration_us, orig_bytes, resp_bytes,
#:  conn_state, local_resp, history, orig_pkts, resp_pkts, campaign index or -1)
Flow = tuple[int, str, int, str, int, str, str, int, int, int, str, bool, str, int, int, int]

FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
]
TYPES = [
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "string",
    "interval",
    "count",
    "count",
    "string",
    "bool",
    "bool",
    "count",
    "string",
    "count",
    "count",
    "count",
    "count",
    "set[string]",
]
_ALPHABET = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)


def _stamp(day: dt.date) -> str:
    return f"{day:%Y-%m-%d}-00-00-00"


def write_header(fh: TextIO, day: dt.date) -> None:
    """Write Zeek's conn.log header for the file that holds ``day`` (UTC)."""
    fh.write(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
        f"#path\tconn\n#open\t{_stamp(day)}\n#fields\t" + "\t".join(FIELDS) + "\n"
        "#types\t" + "\t".join(TYPES) + "\n"
    )


def write_footer(fh: TextIO, day: dt.date) -> None:
    """Close the day's file the way Zeek does when it rotates."""
    fh.write(f"#close\t{_stamp(day + dt.timedelta(days=1))}\n")


def make_uids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` Zeek-style connection uids: 'C' followed by 17 base62 characters."""
    if n == 0:
        return []
    raw = _ALPHABET[rng.integers(0, 62, size=(n, 17))].tobytes().decode("ascii")
    return ["C" + raw[i * 17 : i * 17 + 17] for i in range(n)]


_LINE = "%d.%06d\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\t%d\t%d\t%s\tT\t%s\t0\t%s\t%d\t%d\t%d\t%d\t-"


def format_flows(flows: list[Flow], uids: list[str], epoch_s: int) -> list[str]:
    """Lines for one sorted hour of flows; ``epoch_s`` is the simulation start in Unix seconds."""
    out = []
    for f, uid in zip(flows, uids, strict=True):
        t, src, sp, dst, dp, proto, svc, dur, ob, rb, state, lr, hist, opk, rpk, _m = f
        sec, us = divmod(t, 1_000_000)
        d = f"{dur // 1_000_000}.{dur % 1_000_000:06d}" if dur >= 0 else "-"
        out.append(
            _LINE
            % (
                epoch_s + sec,
                us,
                uid,
                src,
                sp,
                dst,
                dp,
                proto,
                svc,
                d,
                ob,
                rb,
                state,
                "T" if lr else "F",
                hist,
                opk,
                ob + 40 * opk,
                rpk,
                rb + 40 * rpk,
            )
        )
    return out
