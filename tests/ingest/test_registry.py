"""Every registered parser: unique name, documented, follows the protocol, sniffs only its own."""

from __future__ import annotations

import inspect

import pytest
from ingest_samples import EXAMPLE_LINE, ZEEK_HEADER, zeek_line

from ashiato.ingest.base import Parser
from ashiato.ingest.registry import PARSERS, detect, get_parser

SAMPLES = {"ecs_json": EXAMPLE_LINE + b"\n", "zeek_conn": (ZEEK_HEADER + zeek_line()).encode()}


def test_names_unique_and_sampled() -> None:
    names = [p.name for p in PARSERS]
    assert len(names) == len(set(names))
    assert set(names) == set(SAMPLES)


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.name)
def test_parser_contract(parser: Parser) -> None:
    assert isinstance(parser, Parser)
    assert parser.description
    assert inspect.getdoc(type(parser))
    assert inspect.getdoc(inspect.getmodule(type(parser)))
    assert get_parser(parser.name) is parser
    for name, head in SAMPLES.items():
        assert parser.sniff(head, "f") == (name == parser.name)
    found = detect(SAMPLES[parser.name], "f")
    assert found is parser
