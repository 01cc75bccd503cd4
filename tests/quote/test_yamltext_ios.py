"""Property tests for the YAML documents and the IOS names and comment lines."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from ashiato.quote import netaddr, yamltext
from tests.hostile import PAYLOADS, raw_controls

yaml_special = st.text(alphabet="'\"\n\r#:-{}[]&*!|>%@`")
hostile = st.one_of(st.sampled_from(PAYLOADS), st.text(), yaml_special)
keys = st.sampled_from(["name", "from_site", "accounts", "description", "rules"])
documents = st.recursive(
    st.one_of(hostile, st.integers(), st.booleans(), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


@given(st.dictionaries(keys, documents, max_size=4))
def test_yaml_round_trips_and_keeps_values_on_their_lines(data: dict[str, object]) -> None:
    """Keys are the renderer's own; values are anything: each scalar takes exactly one line."""
    text = yamltext.dump(data)
    assert yaml.safe_load(text) == data
    assert not raw_controls(text)
    assert text.isascii()
    assert len(text.splitlines()) == _scalars(data) or not data


def _scalars(v: object) -> int:
    """Lines a block-style document of ``v`` takes: one per scalar and per nested container."""
    if isinstance(v, dict):
        return sum(1 if not _nested(x) else 1 + _scalars(x) for x in v.values()) or 1
    if isinstance(v, list):
        return sum(1 if not _nested(x) else _scalars(x) for x in v) or 1
    return 1


def _nested(v: object) -> bool:
    return isinstance(v, dict | list) and bool(v)


@given(hostile)
def test_ios_names_and_comments_are_inert(value: str) -> None:
    name = netaddr.ios_name(value)
    assert name and len(name) <= netaddr.IOS_NAME_MAX
    assert all(c.isascii() and (c.isalnum() or c in "_.-") for c in name)
    line = netaddr.ios_comment(value)
    assert line.startswith("! ") and len(line.splitlines()) == 1
    assert "?" not in line and all(" " <= c <= "~" for c in line)
