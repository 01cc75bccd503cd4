"""Sigma field names that sources spell differently resolve to where ingest stores them.

``Provider_Name`` reads the stored ``Provider``; a Defender rule's ``ThreatName`` reads Defender's
``Threat Name``; a 104 rule's ``Channel`` reads the cleared log (``EventData.Channel``) while the
logsource still tests the System channel. Real events from ``shared/data/real`` where there are
some (fields no event carries: ``test_dead_fields``, ``test_sigmahq_fields``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ashiato.detect.runner import detect
from ashiato.ingest import ingest
from ashiato.sigma.fields import field_keys, sql_field
from tests.sigma.conftest import compile_text, matches, win

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
REAL = SHARED / "real"
SIGMAHQ = SHARED / "sigmahq"
LOG_CLEARED_1102 = REAL / "deepbluecli" / "metasploit-psexec-native-target-security.evtx"
DEFENDER_1116 = (
    REAL
    / "evtx-attack-samples"
    / "AutomatedTestingTools"
    / "WinDefender_Events_1117_1116_AtomicRedTeam.evtx"
)
SECURITY_LOG_CLEARED = (
    SIGMAHQ / "rules" / "windows" / "builtin" / "security" / "win_security_audit_log_cleared.yml"
)

needs_real = pytest.mark.skipif(
    not (LOG_CLEARED_1102.exists() and SECURITY_LOG_CLEARED.exists()),
    reason="shared/data/real or shared/data/sigmahq is not there",
)


def _findings(sample: Path, rules: Path, tmp_path: Path) -> list[dict[str, Any]]:
    store = tmp_path / "store"
    report = ingest([sample], store, workers=1)
    assert report.records_stored > 0
    return list(detect(store, None, detectors=[], rules=[rules]).findings.to_pylist())


def test_field_keys_try_the_sigma_name_then_its_aliases() -> None:
    assert field_keys("Provider_Name") == ("Provider_Name", "Provider")
    # a spelling that is not the well-known one is tried first, as written (map keys are
    # case-sensitive: OpenSSH writes ``payload``, PowerShell ``Payload``)
    assert field_keys("provider_name") == ("provider_name", "Provider_Name", "Provider")
    assert field_keys("payload") == ("payload", "Payload")
    assert field_keys("Channel") == ("EventData.Channel", "Channel")
    assert field_keys("ThreatName", service="windefend") == ("ThreatName", "Threat Name")
    assert field_keys("Feature_Name", service="windefend") == ("Feature_Name", "Feature Name")
    # Security's ProcessName has no spaced twin: only Defender rules look one up
    assert field_keys("ProcessName", service="security") == ("ProcessName",)
    assert field_keys("ProcessName", service="windefend") == ("ProcessName", "Process Name")
    assert field_keys("Image", "process_creation") == ("Image", "NewProcessName")
    assert sql_field("Provider_Name") == "COALESCE(raw['Provider_Name'], raw['Provider'])"
    assert sql_field("TargetUserName") == "raw['TargetUserName']"


@needs_real
def test_sigmahq_security_log_cleared_fires_on_the_real_1102(tmp_path: Path) -> None:
    """Issue 12: SigmaHQ's rule tests ``Provider_Name``; the EVTX record stores ``Provider``."""
    findings = _findings(LOG_CLEARED_1102, SECURITY_LOG_CLEARED, tmp_path)
    mine = [f for f in findings if f["detector"] == "sigma:d99b79d2-0a6f-4f46-ad8b-260b6e17f982"]
    assert mine, "Security Eventlog Cleared did not fire on the real 1102 event"
    assert sum(f["evidence_count"] for f in mine) == 1


DEFENDER_RULE = """
title: Defender Threat With Spaced Field Names
id: 7f5e3c1a-0000-4000-8000-000000000012
level: high
logsource: {product: windows, service: windefend}
detection:
  selection:
    EventID: 1116
    ThreatName|contains: 'Powersploit'
    ProcessName|endswith: '\\powershell.exe'
    SeverityName: 'Severe'
  condition: selection
"""


@pytest.mark.skipif(not DEFENDER_1116.exists(), reason="shared/data/real is not there")
def test_defender_rule_reads_defenders_spaced_names_on_a_real_1116(tmp_path: Path) -> None:
    rule = tmp_path / "defender.yml"
    rule.write_text(DEFENDER_RULE)
    findings = _findings(DEFENDER_1116, rule, tmp_path)
    mine = [f for f in findings if f["detector"] == "sigma:7f5e3c1a-0000-4000-8000-000000000012"]
    assert mine, "ThreatName/ProcessName/SeverityName did not read Defender's spaced names"
    # six 1116 events, all found in powershell.exe; one names PowerSploit (and is Severe)
    assert sum(f["evidence_count"] for f in mine) == 1


CLEARED = """
title: System Log Cleared Elsewhere
id: 00000000-0000-0000-0000-000000000104
level: medium
logsource: {product: windows, service: system}
detection:
  selection:
    EventID: 104
    Provider_Name: 'Microsoft-Windows-Eventlog'
  covered:
    Channel: ['Security', 'System']
  condition: selection and not covered
"""


def test_channel_in_a_104_rule_is_the_cleared_log_and_the_logsource_the_system_channel(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    """SigmaHQ's 104 rules filter on the cleared log's name (UserData ``Channel``), which ingest
    keeps as ``EventData.Channel`` where it differs from the System channel."""
    provider = "Microsoft-Windows-Eventlog"
    rows = [
        # Application cleared: the rule's Channel reads EventData.Channel
        win(1, 104, "System", Provider=provider, **{"EventData.Channel": "Application"}),
        # System cleared (same as the System channel: ingest keeps one key): covered
        win(2, 104, "System", Provider=provider),
        # Security cleared: covered
        win(3, 104, "System", Provider=provider, **{"EventData.Channel": "Security"}),
        # another provider
        win(4, 104, "System", Provider="Other", **{"EventData.Channel": "Application"}),
        # not the System log: the logsource reads the System channel, not EventData.Channel
        win(5, 104, "Application", Provider=provider, **{"EventData.Channel": "System"}),
    ]
    compiled = compile_text(rules_dir, CLEARED)
    con, table = store_con(rows)
    assert matches(con, table, compiled) == {"System Log Cleared Elsewhere": {"e1"}}
