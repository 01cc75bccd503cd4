"""The ashiato rule pack (rules/ashiato): each rule fires on its positive sample, not its negative.

Every rule file has ``samples/<file stem>/positive.jsonl`` and ``negative.jsonl`` (Winlogbeat/ECS
JSON lines). Each sample is ingested into a fresh store and detection runs with that rule alone.
The positive must give findings from the file's one output rule (``sigma:<id>``) whose evidence is
exactly the positive lines listed in ``EVIDENCE``; the negative, a near miss with the same event
ids, must give none. Correlation positives sit exactly at their threshold, so that any windowing
(first qualifying window, every window, merged windows) names the same events.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "ashiato.sigma", reason="the Sigma engine (ashiato.sigma, issue 5) is not there yet"
)

from ashiato.detect.runner import detect
from ashiato.ingest import ingest
from ashiato.sigma import load_rules
from ashiato.store import Store

PACK = Path(__file__).resolve().parents[2] / "rules" / "ashiato"
SAMPLES = PACK / "samples"

EVIDENCE: dict[str, list[int]] = {
    # single-event rules: the matching lines (other lines are context that must not match)
    "admin_share_remote_access": [2, 3],  # 5140 + 5145 on ADMIN$ (line 1: the 4624 before)
    "event_log_cleared": [1, 2],  # Security 1102 + System 104
    "explicit_credentials_remote_host": [1],
    "kerberos_rc4_service_ticket": [1, 2],
    "new_credentials_logon_seclogo": [1],
    "ntlm_network_logon_null_session_key": [1],
    "privileged_group_member_added": [1, 2],  # 4732 Administrators + 4728 Domain Admins
    "rdp_session_hijack_tscon": [1],
    "remote_exec_named_pipe": [1, 2],  # svcctl + atsvc
    "service_install_remote_exec_security": [1, 2],
    "service_install_remote_exec_system": [1, 2],
    "wmi_dcom_remote_child_process": [1, 2],  # WmiPrvSE -> cmd, mmc -> cmd
    # correlations: every base-rule event of the firing group
    "mr_explicit_credentials_fanout": [1, 2, 3, 4, 5],  # 5 distinct servers
    "mr_failures_then_success_same_source": list(range(1, 12)),  # 10 failures, then success
    "mr_logon_failure_burst_per_source": list(range(1, 21)),  # 20 failures in 200 s
    "mr_password_spray_per_source": list(range(1, 11)),  # 10 accounts in 200 s
    "mr_scheduled_task_created_over_network": [1, 2],  # 4624 type 3, then 4698, same logon id
    # credential access (issue 13)
    "ca_dcsync_rights_granted": [1],
    "ca_diskshadow_script_mode": [1],  # line 2: VSSVC started by services.exe
    "ca_exchange_dcsync_group_member_added": [1, 2, 3],
    "ca_lsass_memory_read_by_user_process": [1, 2],  # 4663 Taskmgr read + 4656 procdump
    "ca_sensitive_privilege_from_user_path": [1, 2],  # 4673 SeTcb by mimikatz + 4703 SeDebug
    "ca_spooler_pipe_remote_coercion": [2],  # line 1: the 4624 before
    "ca_task_manager_elevated": [2],  # line 1: the same Task Manager with a limited token
    "ca_wdigest_enabled_command_line": [1, 2],  # reg add + Set-ItemProperty
    "ca_wdigest_logon_credential_enabled": [2],  # line 1: Sysmon 12 key creation
    "ca_mssql_failed_logon_burst": [1, 2, 3, 4, 5],  # 4 x 33205 + 1 x 18456
    "ca_openssh_failed_password_burst": [2, 3, 4, 5, 6],  # 1: closed, 7: disconnecting
    "ca_openssh_logon_failure_burst_security": [1, 2, 3, 4, 5],
    "ca_sam_user_full_access_burst": list(range(1, 11)),  # 10 distinct users
    "ca_browser_credential_file_read_locally": [1, 2],  # Chrome Login Data + logins.json
    "ca_credential_files_read_over_admin_share": [2, 3, 4],  # line 1: a Desktop listing
    "ca_dpapi_backup_key_pipe_remote": [2],  # line 1: the 4624 before
    "ca_lsass_silent_process_exit_dump": [1],
    "ca_lsa_secret_accessed_by_user": [1, 2],  # BCKUPKEY read by a user + anonymous set
    # lateral movement and Kerberos (issue 13)
    "lm_dcom_mshta_embedding": [1, 2],  # Sysmon 1 + 4688
    "lm_dcom_remote_activation_powershell": [1, 2],  # MMC20 by ProgID, ShellWindows by CLSID
    "lm_net_share_command": [1, 2],  # net share + net1 share (line 3: net use)
    "lm_openssh_server_install_powershell": [1],
    "lm_rubysmb_default_workstation_logon": [1, 2],  # 4624 + 4776
    "lm_share_created_or_modified": [1, 2],  # 5142 + 5143
    "lm_winrm_listener_access_by_user": [1],
    "lm_zerologon_anonymous_computer_change": [1, 2],  # 4742 + 4724 by ANONYMOUS LOGON
    "lm_dcom_lateral_object_activation_denied": [1, 2],  # 10016 MMC20 + ShellBrowserWindow
    "lm_wmi_dcom_child_process_sysmon": [1, 2],  # WmiPrvSE -> cmd, mmc -> cmd (Sysmon 1)
    "lm_null_session_pipe_or_access_enabled": [1, 2],  # NullSessionPipes + RestrictNullSessAccess
    "lm_rdp_session_from_loopback": [1, 2, 3],  # LSM 21 + 25, RCM 1149, from loopback
    "lm_rdp_inbound_session": [1, 2],  # RemoteConnectionManager 1149 + LocalSessionManager 21
    "lm_winrm_shell_created": [1],
    "lm_wmi_remote_process_create_powershell": [1, 2],  # Invoke-WmiMethod, [wmiclass]\\host
    "kerb_machine_account_renamed_without_dollar": [1],  # NEWPC01$ -> JP-TKY-DC01 (not back)
    "kerb_rc4_tgt_request": [1],
    "kerb_logon_lowercase_domain": [1],
    "lm_zerologon_netlogon_vulnerable_channel": [1, 2],  # 5829 + 5827
    "kerb_asrep_roasting": [1],
    "kerb_builtin_admin_sid_other_name": [1],
    "kerb_service_ticket_lowercase_realm": [1],
    "kerb_local_logon_failure_burst_per_process": list(range(1, 11)),  # 10 in 45 s
    "kerb_ntlm_validation_bruteforce_per_account": list(range(1, 11)),  # 10 in 180 s
    "kerb_preauth_bruteforce_per_account": list(range(1, 11)),  # 10 in 270 s
    "kerb_preauth_spray_per_source": list(range(1, 11)),  # 10 accounts in 180 s
    "lm_zerologon_netlogon_failure_burst": [1, 2, 3, 4, 5],  # 5 NETLOGON 5805 in 40 s
    "lm_service_installed_after_admin_share_write": [1, 2],  # 5145 ADMIN$ write, then 7045
    "lm_wmi_child_process_after_network_logon": [1, 2],  # 4624 type 3, then WmiPrvSE child
    "lm_dcom_office_mmc_launched_after_network_logon": [1, 2],  # 4624 type 3, then Excel -Embedding
    "lm_scheduled_task_updated_over_network": [1, 2],  # 4624 type 3, then 4702, same logon id
}

RULE_FILES = sorted(PACK.glob("*.yml"))


def test_every_rule_has_samples_and_expected_evidence() -> None:
    stems = {p.stem for p in RULE_FILES}
    assert stems == set(EVIDENCE)
    assert {d.name for d in SAMPLES.iterdir() if d.is_dir()} == stems
    for stem in stems:
        for kind in ("positive", "negative"):
            assert (SAMPLES / stem / f"{kind}.jsonl").stat().st_size > 0, (stem, kind)


def test_pack_loads_cleanly_and_carries_its_metadata() -> None:
    ruleset = load_rules([PACK])
    assert [str(p) for p in ruleset.problems] == []
    ids = [str(r.id) for r in ruleset.rules]
    assert len(ids) == len(set(ids)), "rule ids must be unique across the pack"
    for path in RULE_FILES:
        (top,) = _output_rules(path)
        where = f"{path.name} [{top.id}]"
        assert top.license == "Apache-2.0", where
        assert top.author == "ashiato", where
        assert str(top.status) == "experimental", where
        assert top.level is not None, where
        assert top.falsepositives, where
        assert top.description, where
        assert any(str(t).startswith("attack.t") for t in top.tags), where


@pytest.mark.parametrize("rule", RULE_FILES, ids=lambda p: p.stem)
def test_rule_fires_on_its_positive_sample(rule: Path, tmp_path: Path) -> None:
    top_id, other_ids = _ids(rule)
    findings, lines = _detect(rule, SAMPLES / rule.stem / "positive.jsonl", tmp_path)
    mine = [f for f in findings if f["detector"] == f"sigma:{top_id}"]
    assert mine, f"{rule.name} did not fire on its positive sample"
    assert not [f for f in findings if f["detector"] in {f"sigma:{i}" for i in other_ids}], (
        "base rules of a correlation are not findings of their own (generate: false)"
    )
    evidence = {lines[e] for f in mine for e in f["evidence"]}
    assert sorted(evidence) == EVIDENCE[rule.stem]
    assert sum(f["evidence_count"] for f in mine) == len(EVIDENCE[rule.stem])


@pytest.mark.parametrize("rule", RULE_FILES, ids=lambda p: p.stem)
def test_rule_is_silent_on_its_negative_sample(rule: Path, tmp_path: Path) -> None:
    top_id, other_ids = _ids(rule)
    findings, _ = _detect(rule, SAMPLES / rule.stem / "negative.jsonl", tmp_path)
    pack = {f"sigma:{i}" for i in (top_id, *other_ids)}
    assert [f["reason"] for f in findings if f["detector"] in pack] == []


def _output_rules(path: Path) -> list[Any]:
    return list(load_rules([path]).collection.get_output_rules())


def _ids(path: Path) -> tuple[str, list[str]]:
    ruleset = load_rules([path])
    (top,) = ruleset.collection.get_output_rules()
    return str(top.id), [str(r.id) for r in ruleset.rules if r is not top]


def _detect(
    rule: Path, sample: Path, tmp_path: Path
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Ingest ``sample`` into a fresh store and detect with ``rule`` alone.

    Returns the findings and a map from event id to the line of the sample it came from.
    """
    if "rules" not in inspect.signature(detect).parameters:
        pytest.skip("ashiato.detect.runner.detect has no rules= parameter yet (issue 5)")
    store = tmp_path / "store"
    report = ingest([sample], store, workers=1)
    assert report.records_rejected == 0, report.rejection_reasons
    with sample.open() as fh:
        assert report.records_stored == sum(1 for _ in fh)
    result = detect(store, None, detectors=[], rules=[rule])
    st = Store(store)
    con = st.connect()
    try:
        events = con.to_pyarrow(st.events(con).select("event_id", "source_offset"))
    finally:
        con.disconnect()
    lines = dict(
        zip(events["event_id"].to_pylist(), events["source_offset"].to_pylist(), strict=True)
    )
    return result.findings.to_pylist(), lines
