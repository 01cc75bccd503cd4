"""Field names that differ only in case stay apart: ``raw`` keys are case-sensitive, DuckDB's
identifiers are not.

Found by ``bench/sigma_zircolite.py`` on the real EVTX files: SigmaHQ's "New BITS Job Created
Via Bitsadmin" (BITS ``processPath``) matched alone but not next to a Defender rule reading
``ProcessPath`` (the two flattened columns shadowed each other), and "OpenSSH Server Listening
On Socket" (OpenSSH ``payload``) read PowerShell's well-known ``Payload`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ashiato.sigma import compile_rules, load_rules
from ashiato.sigma.fields import field_keys, flat_column, flat_key
from tests.sigma.conftest import matches, win

BITS = "Microsoft-Windows-Bits-Client/Operational"

BITS_RULE = """
title: BITS job by bitsadmin
id: 7f5e3c1a-0000-4000-8000-000000000101
logsource: {product: windows, service: bits-client}
detection:
  selection:
    EventID: 3
    processPath|endswith: '\\bitsadmin.exe'
  condition: selection
"""

MITIGATION_RULE = """
title: Mitigation on ProcessPath
id: 7f5e3c1a-0000-4000-8000-000000000102
logsource: {product: windows, service: security-mitigations}
detection:
  selection:
    EventID: [11, 12]
    ProcessPath|endswith: '\\mpcmdrun.exe'
  condition: selection
"""

SSH_RULE = """
title: sshd listening
id: 7f5e3c1a-0000-4000-8000-000000000103
logsource: {product: windows, service: openssh}
detection:
  selection:
    EventID: 4
    process: sshd
    payload|startswith: 'Server listening on '
  condition: selection
"""


def test_flat_columns_differ_when_the_keys_differ_in_case() -> None:
    a, b = flat_column(flat_key("processPath")), flat_column(flat_key("ProcessPath"))
    assert a.lower() != b.lower()
    assert flat_column(flat_key("processpath")).lower() not in (a.lower(), b.lower())
    assert flat_column("raw.processpath") == '"raw.processpath"'  # all lower case: as it is


def test_a_rule_on_processpath_is_not_shadowed_by_one_on_ProcessPath(  # noqa: N802
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    d = rules_dir({"bits.yml": BITS_RULE, "mitigation.yml": MITIGATION_RULE})
    compiled = compile_rules(load_rules([d]))
    assert not compiled.skipped
    con, table = store_con(
        [
            win(1, 3, BITS, processPath="C:\\Windows\\System32\\bitsadmin.exe"),
            win(2, 3, BITS, processPath="C:\\Windows\\System32\\svchost.exe"),
        ]
    )
    got = matches(con, table, compiled)
    assert got["BITS job by bitsadmin"] == {"e1"}
    assert got["Mitigation on ProcessPath"] == set()


def test_a_field_spelled_unlike_the_well_known_one_reads_the_rules_spelling_first(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    assert field_keys("payload") == ("payload", "Payload")
    assert field_keys("Payload") == ("Payload",)
    compiled = compile_rules(load_rules([rules_dir({"ssh.yml": SSH_RULE})]))
    con, table = store_con(
        [
            win(
                1,
                4,
                "OpenSSH/Operational",
                process="sshd",
                payload="Server listening on :: port 22.",
            ),
            win(2, 4, "OpenSSH/Operational", process="sshd", payload="Accepted password for x"),
        ]
    )
    assert matches(con, table, compiled)["sshd listening"] == {"e1"}


WMI_RULE = """
title: WMI filter registration, SCM provider filtered
id: 7f5e3c1a-0000-4000-8000-000000000104
logsource: {product: windows, service: wmi}
detection:
  registration:
    EventID: 5859
  filter_scmevent:
    Provider: 'SCM Event Provider'
  condition: registration and not filter_scmevent
"""


def test_a_rules_provider_is_the_eventdata_provider_where_ingest_kept_one(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    """SigmaHQ's WMI persistence rule filters on EventData ``Provider``; the System provider is
    ``Provider_Name`` (ingest stores it as ``Provider``, a differing EventData one as
    ``EventData.Provider``). Seen on deepbluecli/wmi-event-filter-persistance.evtx."""
    assert field_keys("Provider") == ("EventData.Provider", "Provider")
    compiled = compile_rules(load_rules([rules_dir({"wmi.yml": WMI_RULE})]))
    wmi = "Microsoft-Windows-WMI-Activity/Operational"
    system = {"Provider": "Microsoft-Windows-WMI-Activity"}
    con, table = store_con(
        [
            win(1, 5859, wmi, **system, **{"EventData.Provider": "SCM Event Provider"}),
            win(2, 5859, wmi, **system, **{"EventData.Provider": "Other Provider"}),
        ]
    )
    assert matches(con, table, compiled)["WMI filter registration, SCM provider filtered"] == {"e2"}
