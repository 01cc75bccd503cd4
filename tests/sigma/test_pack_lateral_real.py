"""The pack's lateral-movement and Kerberos rules (issue 13) on the real captures behind them.

Each real EVTX file of ``shared/data/real`` listed in ``CASES`` is ingested alone into its own
store and the pack's ``lm_*`` / ``kerb_*`` rules (only those, not the SigmaHQ set) run over it;
the listed rule must fire. The presumed-benign ``evtx-rs-samples-unlabeled`` files must raise
none of them. Skipped where ``shared/data/real`` is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ashiato.detect.runner import detect
from ashiato.ingest import ingest
from ashiato.sigma import load_rules

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT.parent / "shared" / "data" / "real"
PACK = ROOT / "src" / "ashiato" / "sigma" / "rulesets" / "ashiato"
RULES = sorted(p for p in PACK.glob("*.yml") if p.name.startswith(("lm_", "kerb_")))

_E = "evtx-to-mitre-attack"
_LM = f"{_E}/TA0008-Lateral Movement"
_CA = f"{_E}/TA0006-Credential Access"
_HB = "hayabusa-sample-evtx-yamato"
CASES: dict[str, str] = {
    f"{_LM}/T1021.002-SMB Windows Admin Shares/ID4688-Network share manipulation via "
    "commandline.evtx": "lm_net_share_command",
    f"{_LM}/T1021.002-SMB Windows Admin Shares/ID5142-5143-Mimispool print share created and "
    "modified.evtx": "lm_share_created_or_modified",
    f"{_LM}/T1021.003-Distributed Component Object Model (DCOM)/ID4103,4104-DCOMexec native via "
    "PowerShell.evtx": "lm_dcom_remote_activation_powershell",
    f"{_LM}/T1021.004-Remote Service SSH/ID4103-4104-OpenSSH server install.evtx": (
        "lm_openssh_server_install_powershell"
    ),
    f"{_LM}/T1021.006-Windows Remote Management/ID4656-WS Management listener "
    "enumeration.evtx": "lm_winrm_listener_access_by_user",
    f"{_HB}/LateralMovement/T1210_Zerologon_WindowsDefaultLogging.evtx": (
        "lm_zerologon_anonymous_computer_change"
    ),
    f"{_HB}/LateralMovement/T1210_Zerologon_WindowsExtraLogging.evtx": (
        "lm_zerologon_anonymous_computer_change"
    ),
    "deepbluecli/metasploit-psexec-pwshpayload.evtx": "lm_rubysmb_default_workstation_logon",
    f"{_CA}/T1110.xxx-Brut force/ID4771-Kerberos brutforce with valid user.evtx": (
        "kerb_preauth_bruteforce_per_account"
    ),
    f"{_CA}/T1110.xxx-Brut force/ID 4776,4625-AccountRestore local bruteforce.evtx": (
        "kerb_local_logon_failure_burst_per_process"
    ),
    f"{_CA}/T1558-Steal or Forge Kerberos Tickets/ID4624-Success login with Golden "
    "ticket.evtx": "kerb_builtin_admin_sid_other_name",
    f"{_CA}/T1558-Steal or Forge Kerberos Tickets/ID4769-Golden ticket issued.evtx": (
        "kerb_service_ticket_lowercase_realm"
    ),
    f"{_CA}/T1558-Steal or Forge Kerberos Tickets/ID4768-Kerberos AS-REP Roasting.evtx": (
        "kerb_asrep_roasting"
    ),
    f"{_HB}/CredentialAccess/T1558.004_StealOrForgeKerberosTicketsAS-REP-Roasting_"
    "Security.evtx": "kerb_asrep_roasting",
    "evtx-attack-samples/Privilege Escalation/samaccount_spoofing_CVE-2021-42287_CVE-2021-42278_"
    "DC_securitylogs.evtx": "kerb_machine_account_renamed_without_dollar",
    "deepbluecli/metasploit-sysmon.evtx": "lm_wmi_dcom_child_process_sysmon",
    f"{_E}/EVTX_full_APT_attack_steps/ID47x,4661-4662,5136,4688,4697-SAM the admin "
    "(CVE-2021-42287).evtx": "kerb_logon_lowercase_domain",
    f"{_LM}/T1021.002-SMB Windows Admin Shares/ID4688,4697,5140-5145 PSexec remote execution + "
    "admin share.evtx": "lm_service_installed_after_admin_share_write",
    f"{_LM}/T1021.003-Distributed Component Object Model (DCOM)/ID4688,4674-DCOMexec process "
    "spawned.evtx": "lm_dcom_office_mmc_launched_after_network_logon",
    f"{_E}/EVTX_full_APT_attack_steps/ID4688,5140,5145-WMIexec execution via SMB (GLOBAL).evtx": (
        "lm_wmi_child_process_after_network_logon"
    ),
}
BENIGN = sorted((REAL / "evtx-rs-samples-unlabeled").glob("*.evtx"))

pytestmark = pytest.mark.skipif(not REAL.exists(), reason="shared/data/real is not there")


@pytest.fixture(scope="module")
def rule_names() -> dict[str, str]:
    """Finding detector (``sigma:<id>``) -> rule file stem, for the rules under test."""
    out: dict[str, str] = {}
    for path in RULES:
        for top in load_rules([path]).collection.get_output_rules():
            out[f"sigma:{top.id}"] = path.stem
    return out


def _fired(path: Path, tmp: Path, names: dict[str, str]) -> dict[str, int]:
    store = tmp / "store"
    ingest([path], store, workers=1)
    result = detect(store, None, detectors=[], rules=RULES)
    out: dict[str, int] = {}
    for f in result.findings.to_pylist():
        stem = names.get(str(f["detector"]))
        if stem is not None:
            out[stem] = out.get(stem, 0) + int(f["evidence_count"])
    return out


def test_every_case_names_a_rule_of_the_pack() -> None:
    stems = {p.stem for p in RULES}
    assert set(CASES.values()) <= stems
    for name in CASES:
        assert (REAL / name).is_file(), name


@pytest.mark.parametrize("name", sorted(CASES), ids=lambda n: Path(n).stem[:48])
def test_rule_fires_on_its_real_capture(
    name: str, tmp_path: Path, rule_names: dict[str, str]
) -> None:
    fired = _fired(REAL / name, tmp_path, rule_names)
    assert CASES[name] in fired, fired


@pytest.mark.parametrize("path", BENIGN, ids=lambda p: p.stem)
def test_no_rule_fires_on_presumed_benign_files(
    path: Path, tmp_path: Path, rule_names: dict[str, str]
) -> None:
    assert _fired(path, tmp_path, rule_names) == {}
