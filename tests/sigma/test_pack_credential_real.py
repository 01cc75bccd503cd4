"""The pack's credential-access rules (``ca_*.yml``, issue 13) on real EVTX captures.

Each real attack file of ``shared/data/real`` listed in ``FIRES`` is ingested alone into its own
store and detection runs with the ``ca_*`` rules only (no detector, no SigmaHQ rule, so the test
stays fast): the named rule must fire on it. The presumed-benign files of
``evtx-rs-samples-unlabeled`` must raise no finding from any ``ca_*`` rule. Skipped where
``shared/data/real`` is absent, as ``test_real_regression.py`` is.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ashiato.detect.runner import detect
from ashiato.ingest import ingest
from ashiato.sigma import load_rules

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT.parent / "shared" / "data" / "real"
PACK = ROOT / "src" / "ashiato" / "sigma" / "rulesets" / "ashiato"
CA_RULES = sorted(PACK.glob("ca_*.yml"))
T1003 = "evtx-to-mitre-attack/TA0006-Credential Access/T1003-Credential dumping"
T1110 = "evtx-to-mitre-attack/TA0006-Credential Access/T1110.xxx-Brut force"
T1557 = "evtx-to-mitre-attack/TA0006-Credential Access/T1557-Man in the middle"

FIRES: dict[str, str] = {
    f"{T1003}/ID1-12-13-Wdigest authentication activation.evtx": (
        "ca_wdigest_logon_credential_enabled"
    ),
    f"{T1003}/ID4661-4658 Mimikatz sekurlsa password dump SAM.evtx": (
        "ca_sam_user_full_access_burst"
    ),
    f"{T1003}/ID4663-Task Manager used to dump LSASS process.evtx": (
        "ca_lsass_memory_read_by_user_process"
    ),
    f"{T1003}/ID4688-Diskshadow abuse.evtx": "ca_diskshadow_script_mode",
    f"{T1003}/ID4688-Task Manager access indicator for potential LSASS dump.evtx": (
        "ca_task_manager_elevated"
    ),
    f"{T1003}/ID4756-Exchange critical group change (DCsync).evtx": (
        "ca_exchange_dcsync_group_member_added"
    ),
    f"{T1110}/ID33205-SQL Server failed login because only Windows auth.evtx": (
        "ca_mssql_failed_logon_burst"
    ),
    f"{T1110}/ID33205-SQL Server failed login with SA wrong password.evtx": (
        "ca_mssql_failed_logon_burst"
    ),
    f"{T1110}/ID33205-SQL Server failed login with non existing accounts.evtx": (
        "ca_mssql_failed_logon_burst"
    ),
    f"{T1110}/ID18456-SQL Server failed login because only Windows auth.evtx": (
        "ca_mssql_failed_logon_burst"
    ),
    f"{T1110}/ID4-OpenSSH brutforce with non existing users (sshd logs).evtx": (
        "ca_openssh_failed_password_burst"
    ),
    f"{T1110}/ID4-OpenSSH brutforce with valid users.evtx": "ca_openssh_failed_password_burst",
    f"{T1110}/ID4625-OpenSSH brutforce with non existing users.evtx": (
        "ca_openssh_logon_failure_burst_security"
    ),
    f"{T1110}/ID4625-OpenSSH brutforce with valid users.evtx": (
        "ca_openssh_logon_failure_burst_security"
    ),
    f"{T1557}/ID5145-Print spooler bug abuse.evtx": "ca_spooler_pipe_remote_coercion",
    "evtx-to-mitre-attack/TA0006-Credential Access/T1555-Credentials from Password Stores/"
    "ID5145-user file-credentials-browser dump via network share.evtx": (
        "ca_credential_files_read_over_admin_share"
    ),
    "deepbluecli/mimikatz-privesc-hashdump.evtx": "ca_sensitive_privilege_from_user_path",
    f"{T1003}/ID4656-4663-4658 Mimikatz sekurlsa password dump.evtx": (
        "ca_lsass_memory_read_by_user_process"
    ),
    "deepbluecli/sliver-security.evtx": "ca_lsass_memory_read_by_user_process",
    # captures of the same techniques from another source (not written against)
    "evtx-attack-samples/Privilege Escalation/win10_4703_SeDebugPrivilege_enabled.evtx": (
        "ca_sensitive_privilege_from_user_path"
    ),
    "evtx-attack-samples/Persistence/DACL_DCSync_Right_Powerview_ Add-DomainObjectAcl.evtx": (
        "ca_dcsync_rights_granted"
    ),
}

pytestmark = pytest.mark.skipif(not REAL.exists(), reason="shared/data/real is not there")


@pytest.fixture(scope="module")
def rule_ids() -> dict[str, str]:
    """``sigma:<id>`` -> rule file stem, for every output rule of the ``ca_*`` files."""
    out: dict[str, str] = {}
    for path in CA_RULES:
        ruleset = load_rules([path])
        assert [str(p) for p in ruleset.problems] == []
        (top,) = ruleset.collection.get_output_rules()
        out[f"sigma:{top.id}"] = path.stem
    return out


def _fired(path: Path, tmp_path: Path, rule_ids: dict[str, str]) -> Counter[str]:
    store = tmp_path / "store"
    ingest([path], store, workers=1)
    result = detect(store, None, detectors=[], rules=CA_RULES)
    return Counter(
        rule_ids[f["detector"]] for f in result.findings.to_pylist() if f["detector"] in rule_ids
    )


def test_every_fires_entry_names_a_ca_rule() -> None:
    assert set(FIRES.values()) <= {p.stem for p in CA_RULES}


@pytest.mark.parametrize("name", sorted(FIRES), ids=lambda n: Path(n).stem[:60])
def test_rule_fires_on_real_capture(name: str, tmp_path: Path, rule_ids: dict[str, str]) -> None:
    path = REAL / name
    if not path.exists():
        pytest.skip(f"{name} is not in shared/data/real")
    fired = _fired(path, tmp_path, rule_ids)
    assert FIRES[name] in fired, (name, dict(fired))


BENIGN = sorted((REAL / "evtx-rs-samples-unlabeled").glob("*.evtx"))


@pytest.mark.parametrize("path", BENIGN, ids=lambda p: p.stem)
def test_no_ca_rule_fires_on_presumed_benign_file(
    path: Path, tmp_path: Path, rule_ids: dict[str, str]
) -> None:
    assert _fired(path, tmp_path, rule_ids) == Counter()
