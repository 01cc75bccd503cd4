"""Winlogbeat 6 and older: the same event parts at top level (event_id, log_name, event_data)."""

from __future__ import annotations

import orjson

from ashiato.ingest import ecs_json
from ashiato.ingest.registry import detect

LEGACY = {
    "@timestamp": "2019-05-18T20:42:59.034Z",
    "beat": {"version": "6.7.0"},
    "event_id": 4624,
    "log_name": "Security",
    "source_name": "Microsoft-Windows-Security-Auditing",
    "computer_name": "WORKSTATION5.theshire.local",
    "record_number": "318722",
    "event_data": {
        "TargetUserName": "pgustavo",
        "TargetDomainName": "THESHIRE",
        "LogonType": "3",
        "IpAddress": "172.18.39.5",
        "AuthenticationPackageName": "Kerberos",
    },
}


def test_legacy_shape_is_sniffed_and_mapped(parse) -> None:  # type: ignore[no-untyped-def]
    data = orjson.dumps(LEGACY) + b"\n"
    assert detect(data, "x.json") is ecs_json.PARSER
    table, rejects = parse(ecs_json.PARSER, data)
    assert not rejects
    row = table.to_pylist()[0]
    assert (row["kind"], row["user"], row["domain"], row["logon_type"]) == (
        "logon",
        "pgustavo",
        "THESHIRE",
        3,
    )
    assert (row["src_ip"], row["dst_host"], row["record_id"]) == (
        "172.18.39.5",
        "workstation5",
        "318722",
    )
    assert dict(row["raw"])["Channel"] == "Security"
