"""Every registered parser: unique name, documented, follows the protocol, sniffs only its own."""

from __future__ import annotations

import gzip
import inspect
from pathlib import Path

import orjson
import pytest
from ingest_samples import EXAMPLE_LINE, ZEEK_HEADER, zeek_line
from test_nxlog_json import LOGON
from zeek_samples import sample

from ashiato.ingest.base import Parser
from ashiato.ingest.registry import PARSERS, detect, get_parser

SAMPLES = {"ecs_json": EXAMPLE_LINE + b"\n", "zeek_conn": (ZEEK_HEADER + zeek_line()).encode()}
SAMPLES.update(
    {
        f"zeek_{log}": sample(log)
        for log in ("kerberos", "ntlm", "rdp", "smb_mapping", "smb_files", "dce_rpc")
    }
)
SAMPLES["zeek_other"] = sample("dns")
_DATA = Path(__file__).parent / "data"
SAMPLES.update(
    {
        "lanl_auth": (_DATA / "lanl/auth.txt").read_bytes(),
        "lanl_flows": (_DATA / "lanl/flows.txt").read_bytes(),
        "lanl_proc": (_DATA / "lanl/proc.txt").read_bytes(),
        "syslog_auth": (_DATA / "syslog/auth.log").read_bytes(),
        "journald": b'{"__REALTIME_TIMESTAMP":"1788876191000000","_HOSTNAME":"web01",'
        b'"SYSLOG_IDENTIFIER":"sshd",'
        b'"MESSAGE":"Accepted password for bob from 10.0.0.5 port 2 ssh2"}\n',
    }
)
SAMPLES["evtx"] = gzip.decompress((_DATA / "evtx/security-one-chunk.evtx.gz").read_bytes())
SAMPLES["nxlog_json"] = orjson.dumps(LOGON) + b"\n"
NEVER_SNIFFED = {"mapped"}  # used only when named with --format


def test_names_unique_and_sampled() -> None:
    names = [p.name for p in PARSERS]
    assert len(names) == len(set(names))
    assert set(names) == set(SAMPLES) | NEVER_SNIFFED


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.name)
def test_parser_contract(parser: Parser) -> None:
    assert isinstance(parser, Parser)
    assert parser.description
    assert inspect.getdoc(type(parser))
    assert inspect.getdoc(inspect.getmodule(type(parser)))
    assert get_parser(parser.name) is parser
    for name, head in SAMPLES.items():
        assert parser.sniff(head, "f") == (name == parser.name), name
    if parser.name not in NEVER_SNIFFED:
        assert detect(SAMPLES[parser.name], "f") is parser
