"""Zeek parsers under random and mutated input: no exception escapes, read = stored + rejected."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zeek_samples import sample, to_json

from ashiato.ingest import (
    zeek_dce_rpc,
    zeek_kerberos,
    zeek_ntlm,
    zeek_other,
    zeek_rdp,
    zeek_smb_files,
    zeek_smb_mapping,
)
from ashiato.ingest.base import Parser
from conftest import parse_bytes

CASES: list[tuple[Parser, str]] = [
    (zeek_kerberos.PARSER, "kerberos"),
    (zeek_ntlm.PARSER, "ntlm"),
    (zeek_rdp.PARSER, "rdp"),
    (zeek_smb_mapping.PARSER, "smb_mapping"),
    (zeek_smb_files.PARSER, "smb_files"),
    (zeek_dce_rpc.PARSER, "dce_rpc"),
    (zeek_other.PARSER, "dns"),
]


def records(data: bytes) -> int:
    return sum(1 for ln in data.split(b"\n") if ln and not ln.isspace() and not ln.startswith(b"#"))


def check(parser: Parser, data: bytes) -> None:
    table, rej = parse_bytes(parser, data)
    assert table.num_rows + len(rej) == records(data)
    offsets = table.column("source_offset").to_pylist() + [r.offset for r in rej]
    assert len(set(offsets)) == len(offsets)
    assert all(r.reason for r in rej)


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(
                st.binary(max_size=12)
                | st.sampled_from([b"\t", b"\n", b"\\", b"\\x", b"#fields\tts\n", b"{", b"-"])
            )
        else:
            del data[i : i + draw(st.integers(1, 40))]
    return bytes(data)


@pytest.mark.parametrize(("parser", "log"), CASES, ids=[c[1] for c in CASES])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_tsv_and_json(parser: Parser, log: str, data: st.DataObject) -> None:
    base = sample(log) if data.draw(st.booleans()) else to_json(sample(log))
    check(parser, data.draw(mutated(base)))


@pytest.mark.parametrize(("parser", "log"), CASES[:2], ids=[c[1] for c in CASES[:2]])
@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.binary(max_size=80) | st.text(max_size=40).map(str.encode), max_size=8))
def test_random_bytes(parser: Parser, log: str, chunks: list[bytes]) -> None:
    check(parser, b"\n".join(chunks))
    check(parser, sample(log) + b"\n".join(chunks))
