"""Render a containment plan for the devices that apply it, each rule with why in a comment.

nftables (Linux routers and hosts), Windows Firewall (``New-NetFirewallRule``), Cisco IOS extended
ACLs, Active Directory cmdlets for the accounts, and the policy entries as inventory YAML. Each
renderer is a pure function from the plan to text; ``write_plan`` writes them all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path

import orjson
import yaml

from ashiato.respond.model import ContainmentPlan, NetworkBlock, Replay

FILES = {
    "nftables": "containment.nft",
    "windows_firewall": "windows-firewall.ps1",
    "cisco_ios": "cisco-ios-acl.txt",
    "accounts": "accounts.ps1",
    "policy": "policy.yaml",
}


def _blocks(plan: ContainmentPlan, variant: str | None) -> list[NetworkBlock]:
    v = variant or plan.recommended
    return [b for b in plan.network if v in b.variants]


def _clean(text: str) -> str:
    return " ".join(text.split()).replace('"', "'")


def _why(b: NetworkBlock) -> str:
    ev = ", ".join(b.evidence[:5]) + (
        f" (+{len(b.evidence) - 5} more)" if len(b.evidence) > 5 else ""
    )
    return f"{b.id}: {_clean(b.reason)}. Evidence: {ev or 'none'}"


def _split(addrs: Iterable[str]) -> tuple[list[str], list[str]]:
    v4: list[str] = []
    v6: list[str] = []
    for a in addrs:
        (v6 if ipaddress.ip_network(a, strict=False).version == 6 else v4).append(a)
    return v4, v6


def _header(plan: ContainmentPlan, variant: str | None, c: str) -> list[str]:
    fmt = "%Y-%m-%d %H:%M:%S UTC"
    return [
        f"{c} ashiato containment plan for incident {plan.incident}"
        f" ({variant or plan.recommended})",
        f"{c} onset {plan.onset.strftime(fmt)}, containment time {plan.at.strftime(fmt)}",
        f"{c} Review the replay (replay.txt) before applying: it lists what each rule breaks.",
    ]


def render_nftables(plan: ContainmentPlan, variant: str | None = None) -> str:
    """An nftables table with one drop rule per block (forward and output hooks)."""
    lines = ["#!/usr/sbin/nft -f", *_header(plan, variant, "#"), ""]
    lines += ["table inet ashiato_containment", "delete table inet ashiato_containment", ""]
    lines += ["table inet ashiato_containment {"]
    for hook in ("forward", "output"):
        lines += [
            f"  chain {hook} {{",
            f"    type filter hook {hook} priority -10; policy accept;",
        ]
        for b in _blocks(plan, variant):
            s4, s6 = _split(b.src_cidrs)
            d4, d6 = _split(b.dst_ips)
            lines.append(f"    # {_why(b)}")
            for fam, src, dst in (("ip", s4, d4), ("ip6", s6, d6)):
                if src and dst:
                    lines.append(
                        f"    {fam} saddr {{ {', '.join(src)} }} {fam} daddr {{ {', '.join(dst)} }}"
                        f' counter drop comment "ashiato {plan.incident} {b.id}"'
                    )
        lines += ["  }"]
    lines += ["}", ""]
    return "\n".join(lines)


def render_windows_firewall(plan: ContainmentPlan, variant: str | None = None) -> str:
    """PowerShell: an inbound block on each destination host, an outbound one on each source."""
    lines = [*_header(plan, variant, "#"), f"$group = 'ashiato {plan.incident}'", ""]
    for b in _blocks(plan, variant):
        name = f"ashiato {plan.incident} {b.id}"
        remote_src = ",".join(f"'{a}'" for a in b.src_cidrs)
        remote_dst = ",".join(f"'{a}'" for a in b.dst_ips)
        targets = ",".join(f"'{h}'" for h in b.dst_hosts)
        lines += [
            f"# {_why(b)}",
            f"Invoke-Command -ComputerName {targets} -ScriptBlock {{",
            f"    New-NetFirewallRule -DisplayName '{name} in' -Group $using:group "
            f"-Direction Inbound -Action Block -RemoteAddress {remote_src} "
            f"-Description '{_clean(b.reason)[:900]}'",
            "}",
        ]
        if b.level == "host":
            sources = ",".join(f"'{h}'" for h in b.src_hosts)
            lines += [
                f"Invoke-Command -ComputerName {sources} -ScriptBlock {{",
                f"    New-NetFirewallRule -DisplayName '{name} out' -Group $using:group "
                f"-Direction Outbound -Action Block -RemoteAddress {remote_dst} "
                f"-Description '{_clean(b.reason)[:900]}'",
                "}",
            ]
        lines.append("")
    lines.append(f"# To undo: Remove-NetFirewallRule -Group '{'ashiato ' + plan.incident}'")
    return "\n".join(lines) + "\n"


def _wildcard(net: str) -> str:
    n = ipaddress.ip_network(net, strict=False)
    if n.prefixlen == n.max_prefixlen:
        return f"host {n.network_address}"
    return f"{n.network_address} {n.hostmask}"


def render_cisco_ios(plan: ContainmentPlan, variant: str | None = None) -> str:
    """One IOS extended ACL (IPv4): a deny per source and destination, then permit the rest."""
    name = f"ASHIATO-{plan.incident}".upper()
    lines = [*_header(plan, variant, "!"), f"ip access-list extended {name}"]
    skipped_v6 = False
    for b in _blocks(plan, variant):
        s4, s6 = _split(b.src_cidrs)
        d4, d6 = _split(b.dst_ips)
        skipped_v6 |= bool(s6 or d6)
        lines.append(f" remark {_why(b)[:100]}")
        for s in s4:
            for d in d4:
                lines.append(f" deny ip {_wildcard(s)} {_wildcard(d)} log")
    lines += [" permit ip any any", "!"]
    if skipped_v6:
        lines.append(
            "! IPv6 addresses are in containment.nft; IOS needs a separate ipv6 access-list"
        )
    lines.append(f"! Apply inbound on the source sites' WAN interfaces: ip access-group {name} in")
    return "\n".join(lines) + "\n"


def render_ad(plan: ContainmentPlan) -> str:
    """PowerShell ActiveDirectory cmdlets: disable or reset each account, with why."""
    lines = [*_header(plan, None, "#"), "Import-Module ActiveDirectory", ""]
    for a in plan.accounts:
        ev = ", ".join(a.evidence[:5])
        lines.append(
            f"# {a.id} {a.action} {a.account}: {_clean(a.reason)}. Evidence: {ev or 'none'}"
        )
        if a.action == "disable":
            lines.append(f"Disable-ADAccount -Identity '{a.account}'")
        else:
            lines += [
                f"Set-ADAccountPassword -Identity '{a.account}' -Reset -NewPassword "
                f"(Read-Host -AsSecureString 'New password for {a.account}')",
                "# then end the account's sessions and tickets on every host it reached "
                "(klist purge, logoff) so the old credential is not reused",
            ]
        lines.append("")
    if plan.krbtgt:
        lines += [f"# krbtgt: {_clean(plan.krbtgt)}", ""]
    return "\n".join(lines)


def render_policy(plan: ContainmentPlan) -> str:
    """The tightened entries in the inventory's ``policy.rules`` shape (first match wins, so
    they go before the existing rules)."""
    rules = [
        {
            "name": p.name,
            "from_site": p.from_site,
            "to_site": p.to_site,
            "to_role": p.to_role,
            "accounts": p.accounts,
            "action": p.action,
            "description": p.description,
        }
        for p in plan.policy
    ]
    head = "\n".join(
        [
            *_header(plan, None, "#"),
            "# Derived from the legitimate baseline before the onset: each source site keeps",
            "# what it reached then and is denied the rest. Put these before policy.rules.",
        ]
    )
    body = yaml.safe_dump({"policy": {"rules": rules}}, sort_keys=False, allow_unicode=True)
    return head + "\n" + body


def write_plan(
    plan: ContainmentPlan, out_dir: str | Path, replay: Replay | None = None
) -> list[Path]:
    """Write every rendering, ``plan.json`` and (given) ``replay.json`` and ``replay.txt``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    texts = {
        FILES["nftables"]: render_nftables(plan),
        FILES["windows_firewall"]: render_windows_firewall(plan),
        FILES["cisco_ios"]: render_cisco_ios(plan),
        FILES["accounts"]: render_ad(plan),
        FILES["policy"]: render_policy(plan),
    }
    paths = []
    for name, text in texts.items():
        p = out / name
        p.write_text(text, encoding="utf-8")
        paths.append(p)
    p = out / "plan.json"
    p.write_bytes(orjson.dumps(plan.to_json(), option=orjson.OPT_INDENT_2))
    paths.append(p)
    if replay is not None:
        p = out / "replay.json"
        p.write_bytes(orjson.dumps(replay.to_json(), option=orjson.OPT_INDENT_2))
        paths.append(p)
        p = out / "replay.txt"
        p.write_text(render_replay(replay), encoding="utf-8")
        paths.append(p)
    return paths


def render_replay(replay: Replay) -> str:
    """A plain-text summary of the replay: one line per variant and per rule."""
    lines = [
        f"Replay of the containment plan for {replay.incident} over {replay.events_considered} "
        f"events ({replay.malicious_events} the intrusion's); containment time "
        f"{replay.at:%Y-%m-%d %H:%M:%S} UTC",
        f"Malicious means: {replay.malicious_definition}",
        "",
        "variant: malicious stopped / total, legitimate broken",
    ]
    for v in replay.variants:
        lines.append(
            f"  {v.variant}: {v.malicious_stopped}/{v.malicious_total}, {v.legitimate_broken}"
            f" — {v.explanation}"
        )
    lines += ["", "rule (window): malicious stopped / total, legitimate broken, accounts affected"]
    for r in replay.rules:
        lines.append(
            f"  {r.rule} ({r.window}): {r.malicious_stopped}/{r.malicious_total}, "
            f"{r.legitimate_broken}, {', '.join(r.accounts_affected[:10]) or '-'}"
            + (f" — {r.note}" if r.note else "")
        )
    return "\n".join(lines) + "\n"
