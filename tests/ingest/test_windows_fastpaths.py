"""The Windows parsers' fast paths give what the plain paths gave: add_system, the site caches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from ashiato.ingest import evtx, nxlog_json, windows
from ashiato.ingest.base import ParseContext

CTX = ParseContext(sha256="0" * 64, path="x", now=datetime(2026, 1, 1, tzinfo=UTC))


def _add_system_reference(raw: dict[str, Any], system: tuple[Any, ...]) -> dict[str, Any]:
    """The plain loop add_system unrolls: same keys, same values, same order."""
    for key, val in zip(windows.SYSTEM_KEYS, system, strict=True):
        old = raw.get(key)
        if old is None or old == val:
            raw[key] = val
        elif val is not None:
            raw["EventData." + key] = old
            raw[key] = val
    return raw


_VALUES = st.sampled_from([None, "a", "b"])


@given(
    present=st.dictionaries(st.sampled_from([*windows.SYSTEM_KEYS, "TargetUserName"]), _VALUES),
    system=st.tuples(*[_VALUES] * len(windows.SYSTEM_KEYS)),
)
def test_add_system_matches_the_plain_loop(
    present: dict[str, Any], system: tuple[Any, ...]
) -> None:
    got = windows.add_system(dict(present), system)
    want = _add_system_reference(dict(present), system)
    assert list(got.items()) == list(want.items())


def _evtx_json(channel: Any, computer: Any, code: int = 4624, **data: Any) -> str:
    system = {
        "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
        "EventID": code,
        "TimeCreated": {"#attributes": {"SystemTime": "2024-05-01T10:00:00.123456Z"}},
        "EventRecordID": 7,
        "Channel": channel,
        "Computer": computer,
    }
    return orjson.dumps({"Event": {"System": system, "EventData": data}}).decode()


def test_evtx_site_cache_gives_the_uncached_rows() -> None:
    sites: dict[Any, evtx.Site] = {}
    records = [
        _evtx_json("Security", "DC01.corp.example", TargetUserName="Bob", LogonType=3),
        _evtx_json("Security", "WS02.corp.example", TargetUserName="Eve", LogonType=10),
        _evtx_json({"#text": "Security"}, "DC01.corp.example", TargetUserName="Ann"),  # unhashable
        _evtx_json("Security", "DC01.corp.example", TargetUserName="Bob", LogonType=3),
    ]
    for _ in range(2):  # second round: every hashable site from the cache
        for i, data in enumerate(records):
            row, raw = evtx.map_record(data, None, i + 1, CTX, sites)
            fresh, fresh_raw = evtx.map_record(data, None, i + 1, CTX, {})
            assert row == fresh
            assert list(raw.items()) == list(fresh_raw.items())  # type: ignore[union-attr]
    assert len(sites) == 2
    assert row[5] == "bob" and row[23] == "dc01"  # user, log_host


def test_evtx_site_cache_stays_bounded() -> None:
    sites: dict[Any, evtx.Site] = {}
    for i in range(evtx._MAX_SITES + 10):
        evtx.map_record(_evtx_json("Security", f"host{i}"), None, i + 1, CTX, sites)
    assert len(sites) <= evtx._MAX_SITES


def test_nxlog_site_cache_gives_the_uncached_rows() -> None:
    def line(host: Any) -> dict[str, Any]:
        return {
            "EventID": 4624,
            "Channel": "Security",
            "Hostname": host,
            "SourceName": "Microsoft-Windows-Security-Auditing",
            "EventTime": "2024-05-01 10:00:00",
            "TimeCreated": "2024-05-01T10:00:00Z",
            "TargetUserName": "Bob",
            "LogonType": 3,
            "Message": "dropped",
        }

    sites: dict[Any, nxlog_json.Site] = {}
    for host in ("DC01.corp", {"name": "DC01"}, "DC01.corp"):
        row, raw = nxlog_json.map_event(line(host), 1, CTX, None, sites)
        fresh, fresh_raw = nxlog_json.map_event(line(host), 1, CTX, None, {})
        assert row == fresh
        assert list(raw.items()) == list(fresh_raw.items())  # type: ignore[union-attr]
        assert "Message" not in raw  # type: ignore[operator]
    assert raw["EventData.TimeCreated"] == "2024-05-01T10:00:00Z"  # type: ignore[index]
    assert raw["TimeCreated"] == "2024-05-01 10:00:00"  # type: ignore[index]
    assert len(sites) == 1
