"""The output layout and formats that the ingest parsers and the demo depend on."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import orjson
import pytest

from ashiato.inventory import load_inventory
from ashiato.inventory.model import Role
from ashiato.simulate import SimulationSummary, simulate
from ashiato.simulate.zeek import FIELDS, TYPES

EVENT_DATA = {
    "4624": "SubjectUserSid SubjectUserName SubjectDomainName SubjectLogonId TargetUserSid "
    "TargetUserName TargetDomainName TargetLogonId LogonType LogonProcessName "
    "AuthenticationPackageName WorkstationName LogonGuid TransmittedServices LmPackageName "
    "KeyLength ProcessId ProcessName IpAddress IpPort ImpersonationLevel ElevatedToken",
    "4625": "SubjectUserSid SubjectUserName SubjectDomainName SubjectLogonId TargetUserSid "
    "TargetUserName TargetDomainName Status FailureReason SubStatus LogonType LogonProcessName "
    "AuthenticationPackageName WorkstationName TransmittedServices LmPackageName KeyLength "
    "ProcessId ProcessName IpAddress IpPort",
    "4648": "SubjectUserSid SubjectUserName SubjectDomainName SubjectLogonId LogonGuid "
    "TargetUserName TargetDomainName TargetLogonGuid TargetServerName TargetInfo ProcessId "
    "ProcessName IpAddress IpPort",
    "4672": "SubjectUserSid SubjectUserName SubjectDomainName SubjectLogonId PrivilegeList",
    "4768": "TargetUserName TargetDomainName TargetSid ServiceName ServiceSid TicketOptions Status "
    "TicketEncryptionType PreAuthType IpAddress IpPort CertIssuerName CertSerialNumber "
    "CertThumbprint",
    "4769": "TargetUserName TargetDomainName ServiceName ServiceSid TicketOptions "
    "TicketEncryptionType IpAddress IpPort Status LogonGuid TransmittedServices",
    "4771": "TargetUserName TargetSid ServiceName TicketOptions Status PreAuthType IpAddress "
    "IpPort CertIssuerName CertSerialNumber CertThumbprint",
    "5140": "SubjectUserSid SubjectUserName SubjectDomainName SubjectLogonId ObjectType IpAddress "
    "IpPort ShareName ShareLocalPath AccessMask AccessList",
    "5145": "SubjectUserSid SubjectUserName SubjectDomainName SubjectLogonId ObjectType IpAddress "
    "IpPort ShareName ShareLocalPath RelativeTargetName AccessMask AccessList AccessReason",
}
ZEEK_HEAD = [
    "#separator \\x09",
    "#set_separator\t,",
    "#empty_field\t(empty)",
    "#unset_field\t-",
    "#path\tconn",
]


def test_layout(sim: tuple[Path, SimulationSummary]) -> None:
    out, summary = sim
    inv = out / "inventory"
    for name in ("sites.yaml", "policy.yaml", "data.yaml", "assets.csv", "accounts.csv"):
        assert (inv / name).is_file()
    days = [f"2026-09-{d:02d}" for d in range(1, 11)]
    assert sorted(p.name for p in (out / "logs" / "windows").iterdir()) == [
        f"security-{d}.jsonl" for d in days
    ]
    assert sorted(p.name for p in (out / "logs" / "zeek").iterdir()) == [
        f"conn.{d}.log" for d in days
    ]
    assert (out / "ground_truth.jsonl").is_file()
    assert summary.files_written == 5 + 2 * 10 + 1
    assert (inv / "sites.yaml").read_text().startswith("sites:")
    assert (inv / "policy.yaml").read_text().startswith("policy:")
    assert (inv / "assets.csv").read_text().splitlines()[0] == (
        "host,ips,site,role,criticality,data_categories,owner"
    )
    assert (inv / "accounts.csv").read_text().splitlines()[0] == (
        "user,domain,privileged_groups,groups,kind,home_site,owner"
    )


def test_inventory_loads(sim: tuple[Path, SimulationSummary]) -> None:
    out, summary = sim
    inv = load_inventory(out / "inventory")
    assert {s.name for s in inv.sites} == {
        "JP-TKY-HQ",
        "JP-OSA-DC",
        "TH-BKK",
        "ID-JKT",
        "PH-MNL",
        "VN-HCM",
    }
    assert len(inv.assets) == summary.hosts
    assert len(inv.accounts) == summary.accounts
    roles = {a.role for a in inv.assets}
    assert roles == set(Role)
    assert all(a.site == "JP-OSA-DC" for a in inv.assets if a.role == Role.DOMAIN_CONTROLLER)
    assert sum(a.role == Role.WORKSTATION for a in inv.assets) == 60
    groups = {g for a in inv.accounts for g in a.all_groups}
    assert {"Domain Admins", "Helpdesk", "Site Admins", "XSite-Engineering"} <= groups
    assert {"svc-backup", "svc-sccm", "svc-sql", "svc-scan"} <= {a.user for a in inv.accounts}
    assert inv.policy.default == "deny" and inv.policy.intra_site == "allow"
    assert 20 <= len(inv.customers) <= 50
    assert any("CustomerData" in d.shares and d.customers for d in inv.data_stores)
    assert re.fullmatch(r"[a-z]\.[a-z]+\d+", inv.accounts[0].user)


@pytest.mark.parametrize("run", ["sim", "all_run"])
def test_windows_lines_have_the_winlogbeat_shape(request: pytest.FixtureRequest, run: str) -> None:
    out, summary = request.getfixturevalue(run)
    n = 0
    codes: set[str] = set()
    seen: dict[str, int] = {}
    for path in sorted((out / "logs" / "windows").iterdir()):
        day = path.name[len("security-") : -len(".jsonl")]
        last = ""
        for line in path.read_bytes().splitlines():
            ev = orjson.loads(line)
            n += 1
            assert set(ev) == {"@timestamp", "event", "host", "log", "winlog", "ecs", "agent"}
            ts = ev["@timestamp"]
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ts)
            assert ts[:10] == day and ts >= last
            last = ts
            w = ev["winlog"]
            code = w["event_id"]
            codes.add(code)
            assert ev["event"]["code"] == code and ev["event"]["module"] == "security"
            assert ev["host"]["name"] == w["computer_name"]
            assert w["computer_name"].endswith(".corp.example.co.jp")
            assert w["channel"] == "Security" and w["api"] == "wineventlog"
            assert list(w["event_data"]) == EVENT_DATA[code].split(), code
            assert all(isinstance(v, str) for v in w["event_data"].values())
            failed = ev["event"]["outcome"] == "failure"
            assert w["keywords"] == ["Audit Failure" if failed else "Audit Success"]
            assert failed == (
                code in ("4625", "4771") or (code == "4768" and w["event_data"]["Status"] != "0x0")
            )
            host, rid = w["computer_name"], int(w["record_id"])
            assert rid > seen.get(host, 0), "record ids increase per recording computer"
            seen[host] = rid
    assert n == summary.windows_events
    assert run == "sim" or "4771" in codes, "the spray writes Kerberos pre-auth failures"


def test_zeek_files(sim: tuple[Path, SimulationSummary]) -> None:
    out, summary = sim
    n = 0
    uids: set[str] = set()
    for path in sorted((out / "logs" / "zeek").iterdir()):
        day = dt.date.fromisoformat(path.name[5:15])
        lines = path.read_text().splitlines()
        assert lines[:5] == ZEEK_HEAD
        assert lines[5] == f"#open\t{day:%Y-%m-%d}-00-00-00"
        assert lines[6] == "#fields\t" + "\t".join(FIELDS)
        assert lines[7] == "#types\t" + "\t".join(TYPES)
        nxt = day + dt.timedelta(days=1)
        assert lines[-1] == f"#close\t{nxt:%Y-%m-%d}-00-00-00"
        lo = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
        prev = 0.0
        for line in lines[8:-1]:
            cells = line.split("\t")
            assert len(cells) == len(FIELDS)
            assert re.fullmatch(r"\d+\.\d{6}", cells[0])
            ts = float(cells[0])
            assert lo <= ts < lo + 86400 and ts >= prev
            prev = ts
            assert re.fullmatch(r"C[0-9A-Za-z]{17}", cells[1])
            uids.add(cells[1])
            assert cells[6] in ("tcp", "udp") and cells[11] == "SF"
            assert int(cells[9]) >= 0 and int(cells[10]) >= 0
            n += 1
    assert n == summary.zeek_records == len(uids)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="terminals"):
        simulate(tmp_path, terminals=5, days=1)
    with pytest.raises(ValueError, match="scenario"):
        simulate(tmp_path, terminals=60, days=1, scenarios=["nope"])
