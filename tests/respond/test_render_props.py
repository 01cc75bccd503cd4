"""Property tests: a plan whose every name, reason and piece of evidence is hostile renders files
whose structure no value can change.

Each line of each file is parsed back with the target language's rules: PowerShell lines are
exactly the expected command once their single-quoted literals are taken out (and the literals
are the expected arguments), nftables and IOS lines follow their grammar with addresses only,
the policy YAML loads back to the same data, and nothing anywhere holds a raw control character
or starts a line with an intruder's text.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime

import orjson
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ashiato.quote import netaddr, one_line, powershell
from ashiato.respond.model import (
    AccountAction,
    ContainmentPlan,
    NetworkBlock,
    PolicyEntry,
    Replay,
    RuleReplay,
    VariantReplay,
)
from ashiato.respond.render import (
    DESCRIPTION_MAX,
    render_ad,
    render_cisco_ios,
    render_nftables,
    render_policy,
    render_replay,
    render_windows_firewall,
)
from ashiato.respond.renderable import manual, rendered
from tests.hostile import PAYLOADS, ps_code, ps_single_quoted_tokens, raw_controls

FULL = "full plan"
EXTRA = [
    "o\u2019brien",
    "\u2018quoted\u2019",
    "a;b",
    "x`y",
    "$(Remove-Item C:\\ -Recurse)",
    "line\nbreak",
    "cr\rhere",
    "esc\x1b[2J",
    "nul\x00",
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x")',
    "+1",
    "@SUM(A1)",
    "\u200fright-to-left",
    "b" * 300,
]
REAL = ["adm-tanaka", "svc-sql", "ws-bkk-0042", "fs01.corp.example", "jp-osa-dc01", "o'brien"]
names = st.one_of(
    st.sampled_from(PAYLOADS + EXTRA),
    st.sampled_from(REAL),
    st.text(max_size=30),
    st.text(alphabet="'\u2018\u2019\u201a\u201b`$;#\n\r\x1b\x00 -.=", max_size=12),
)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
nets = st.tuples(st.ip_addresses(v=4), st.integers(8, 32)).map(
    lambda t: str(ipaddress.ip_network(f"{t[0]}/{t[1]}", strict=False))
)
addresses = st.one_of(ipv4, ipv6, nets, names)
LINE_BREAKS = re.compile(r"[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


@st.composite
def blocks(draw: st.DrawFn, n: int) -> NetworkBlock:
    level = draw(st.sampled_from(["host", "site"]))
    return NetworkBlock(
        id=f"{'H' if level == 'host' else 'S'}{n}",
        level=level,
        src_hosts=draw(st.lists(names, max_size=2)) if level == "host" else [],
        src_site=draw(st.none() | names),
        src_cidrs=draw(st.lists(addresses, max_size=3)),
        dst_hosts=draw(st.lists(names, max_size=3)),
        dst_ips=draw(st.lists(addresses, max_size=3)),
        reason=draw(names),
        evidence=draw(st.lists(names, max_size=7)),
        baseline_events=0,
        variants=[FULL],
        outbound_hosts=draw(st.lists(names, max_size=2)) if level == "host" else [],
    )


@st.composite
def actions(draw: st.DrawFn, n: int) -> AccountAction:
    return AccountAction(
        id=f"A{n}",
        account=draw(names),
        action=draw(st.sampled_from(["disable", "reset"])),
        privileged=draw(st.booleans()),
        owner=draw(st.none() | names),
        owner_hosts=draw(st.lists(names, max_size=2)),
        local_hosts=draw(st.lists(names, max_size=2)),
        reason=draw(names),
        evidence=draw(st.lists(names, max_size=3)),
        variants=[FULL],
    )


policy_entries = st.builds(
    PolicyEntry,
    name=names,
    from_site=names,
    to_site=names,
    to_role=names,
    accounts=names,
    action=st.sampled_from(["allow", "deny"]),
    description=names,
)


@st.composite
def plans(draw: st.DrawFn) -> ContainmentPlan:
    nb = draw(st.integers(0, 4))
    na = draw(st.integers(0, 3))
    return ContainmentPlan(
        incident=draw(names),
        at=datetime(2026, 9, 30, tzinfo=UTC),
        onset=datetime(2026, 9, 8, tzinfo=UTC),
        accounts_seen=draw(st.lists(names, max_size=3)),
        network=[draw(blocks(i)) for i in range(1, nb + 1)],
        accounts=[draw(actions(i)) for i in range(1, na + 1)],
        policy=draw(st.lists(policy_entries, max_size=3)),
        krbtgt=draw(st.none() | names),
        skipped=draw(st.lists(names, max_size=3)),
        variants={FULL: "everything"},
    )


def _common(text: str) -> list[str]:
    """What every file must satisfy: no raw control character, no line started by the text
    after a line break in a payload (the classic injection: end the line, start a command)."""
    assert not raw_controls(text), raw_controls(text)
    lines = text.splitlines()
    assert len(lines) == text.count("\n") + (not text.endswith("\n"))  # no other line breaks
    for p in PAYLOADS + EXTRA:
        for after_break in LINE_BREAKS.split(p)[1:]:
            frag = after_break.strip()
            if len(frag) >= 3:
                assert not any(ln.strip().startswith(frag) for ln in lines), frag
    return lines


def _is_comment(line: str, mark: str = "#") -> bool:
    return line.lstrip().startswith(mark + " ") or line.strip() == mark


# --- PowerShell ------------------------------------------------------------------------------

AD_COMMANDS = {
    "Import-Module ActiveDirectory": 0,
    "Disable-ADAccount -Identity ''": 1,
    "Set-ADAccountPassword -Identity '' -Reset -NewPassword (Read-Host -AsSecureString '')": 2,
}


def _ps_lines(text: str) -> list[tuple[str, list[str]]]:
    """(code with literals as '', literals) of each line that is not blank or a comment."""
    out = []
    for line in _common(text):
        if not line.strip() or _is_comment(line):
            assert ps_code(line).strip() == "", line  # a comment is wholly a comment
            continue
        out.append((ps_code(line), ps_single_quoted_tokens(line)))
    return out


def check_accounts(plan: ContainmentPlan, text: str) -> None:
    rendered_accounts = []
    for code, lits in _ps_lines(text):
        assert code in AD_COMMANDS, code
        assert len(lits) == AD_COMMANDS[code]
        if lits:
            rendered_accounts.append(lits[0])
            assert powershell.account_problem(lits[0]) is None
        if len(lits) == 2:
            assert lits[1] == f"New password for {lits[0]}"
    expected = [a.account for a in plan.accounts if powershell.account_problem(a.account) is None]
    assert rendered_accounts == expected
    refused = [m for m in manual(plan) if m.what == "account"]
    assert len(refused) == len(plan.accounts) - len(expected)
    if refused:
        assert "# NOT RENDERED (" in text


FW_INVOKE = "Invoke-Command -ComputerName {} -ScriptBlock {{"
FW_RULE = re.compile(
    r"^    New-NetFirewallRule -DisplayName '' -Group \$using:group "
    r"-Direction (Inbound|Outbound) -Action Block -RemoteAddress (''(?:,'')*) -Description ''$"
)


def check_firewall(plan: ContainmentPlan, text: str) -> None:
    lines = _ps_lines(text)
    assert lines[0] == ("$group = ''", [one_line(f"ashiato {plan.incident}")])
    expect: list[tuple[str, str, list[str], list[str], str]] = []
    for b in plan.network:
        r = rendered(b)
        name = f"ashiato {plan.incident} {b.id}"
        if r.inbound_hosts:
            expect.append((f"{name} in", "Inbound", r.inbound_hosts, r.src, b.reason))
        if r.outbound_hosts:
            expect.append((f"{name} out", "Outbound", r.outbound_hosts, r.dst, b.reason))
    body = lines[1:]
    assert len(body) == 3 * len(expect)
    for i, (display, direction, hosts, remote, reason) in enumerate(expect):
        (invoke, targets), (rule, lits), (end, none) = body[3 * i : 3 * i + 3]
        assert invoke == FW_INVOKE.format(",".join("''" for _ in hosts))
        assert targets == hosts and all(powershell.host_problem(h) is None for h in hosts)
        m = FW_RULE.match(rule)
        assert m and m.group(1) == direction, rule
        name, *addrs, description = lits
        assert name == one_line(display)
        assert addrs == remote and all(ipaddress.ip_network(a) for a in addrs)
        assert description == one_line(reason, DESCRIPTION_MAX)
        assert (end, none) == ("}", [])


# --- nftables and IOS ----------------------------------------------------------------------

ADDR = r"[0-9a-f.:/]+"
NFT = [
    re.compile(p)
    for p in (
        r"^#!/usr/sbin/nft -f$",
        r"^(delete )?table inet ashiato_containment( \{)?$",
        r"^  chain (forward|output) \{$",
        r"^    type filter hook (forward|output) priority -10; policy accept;$",
        rf"^    (ip|ip6) saddr \{{ {ADDR}(, {ADDR})* \}} \1 daddr \{{ {ADDR}(, {ADDR})* \}} "
        r'counter drop comment "[A-Za-z0-9 ._:/-]*"$',
        r"^(  )?\}$",
    )
]


def check_nftables(plan: ContainmentPlan, text: str) -> None:
    rules = 0
    for line in _common(text):
        if not line.strip() or _is_comment(line):
            continue
        assert any(p.match(line) for p in NFT), line
        if " saddr " in line:
            rules += 1
            for a in re.findall(r"\{ ([^}]*) \}", line):
                for x in a.split(", "):
                    assert netaddr.address(x) == x
    assert rules == 2 * sum(len(rendered(b).families()) for b in plan.network)


IOS = [
    re.compile(p)
    for p in (
        r"^! [ -~]*$",
        r"^!$",
        r"^ip access-list extended ASHIATO-[A-Za-z0-9_.-]*$",
        r"^ remark [ -~]{0,100}$",
        r"^ deny ip (host \S+|\S+ \S+) (host \S+|\S+ \S+) log$",
        r"^ permit ip any any$",
    )
]


def check_ios(plan: ContainmentPlan, text: str) -> None:
    lines = _common(text)
    for line in lines:
        assert any(p.match(line) for p in IOS), line
        assert "?" not in line
        if line.startswith(" deny "):
            for a in line.split()[2:-1]:
                if a != "host":
                    assert ipaddress.ip_address(a).version == 4
    denies = sum(len(rendered(b).src4) * len(rendered(b).dst4) for b in plan.network)
    assert sum(ln.startswith(" deny ") for ln in lines) == denies


# --- the rest ------------------------------------------------------------------------------


def check_policy(plan: ContainmentPlan, text: str) -> None:
    for line in _common(text):
        assert _is_comment(line) or re.match(r"^ *(- )?[a-z_]+:( |$)", line), line
    got = yaml.safe_load(text)["policy"]["rules"]
    assert got == [vars(p) for p in plan.policy]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_every_file_keeps_its_structure(plan: ContainmentPlan) -> None:
    check_accounts(plan, render_ad(plan))
    check_firewall(plan, render_windows_firewall(plan))
    check_nftables(plan, render_nftables(plan))
    check_ios(plan, render_cisco_ios(plan))
    check_policy(plan, render_policy(plan))


@settings(max_examples=60, deadline=None)
@given(plans())
def test_plan_json_round_trips_without_raw_controls(plan: ContainmentPlan) -> None:
    from ashiato.quote import jsontext

    text = jsontext.dumpb(plan.to_json(), option=orjson.OPT_INDENT_2).decode()
    _common(text)
    assert ContainmentPlan.from_json(orjson.loads(text)) == plan


@settings(max_examples=60, deadline=None)
@given(st.lists(names, min_size=1, max_size=12))
def test_replay_text_keeps_one_line_per_rule(values: list[str]) -> None:
    v = values * 3
    rp = Replay(
        incident=v[0],
        at=datetime(2026, 9, 30, tzinfo=UTC),
        events_considered=10,
        malicious_events=3,
        rules=[
            RuleReplay(v[i], "network", v[i + 1], 1, 0, 3, v[i : i + 3], [], [], v[i + 2])
            for i in range(len(values))
        ],
        variants=[
            VariantReplay(v[i], v[i + 1], 1, 3, 0, v[:2], [], [], v[i + 2])
            for i in range(len(values))
        ],
        malicious_definition=v[1],
    )
    lines = _common(render_replay(rp))
    assert len(lines) == 5 + len(values) + 2 + len(values)
