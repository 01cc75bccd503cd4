"""Render a containment plan for the devices that apply it, each rule with why in a comment.

nftables (Linux routers and hosts), Windows Firewall (``New-NetFirewallRule``), Cisco IOS extended
ACLs, Active Directory cmdlets for the accounts, and the policy entries as inventory YAML. Each
renderer is a pure function from the plan to text; ``write_plan`` writes them all.

Every value goes through ``ashiato.quote`` for its target: addresses are parsed and re-printed,
PowerShell arguments are single-quoted literals of names that can be Windows hosts or AD accounts,
comments and remarks stay on one line with control characters shown escaped. What cannot be
rendered safely (``respond.renderable``) is listed at the top of each file as comments and never
written into a command; a block without a known address gets a comment saying so, not a rule.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson

from ashiato.quote import jsontext, netaddr, one_line, powershell, yamltext
from ashiato.respond.model import ContainmentPlan, Manual, NetworkBlock, Replay
from ashiato.respond.renderable import (
    FIREWALL_FILES,
    NETWORK_FILES,
    account_problem,
    manual,
    rendered,
)

FILES = {
    "nftables": "containment.nft",
    "windows_firewall": "windows-firewall.ps1",
    "cisco_ios": "cisco-ios-acl.txt",
    "accounts": "accounts.ps1",
    "policy": "policy.yaml",
}
DESCRIPTION_MAX = 900
Comment = Callable[[object], str]


def _blocks(plan: ContainmentPlan, variant: str | None) -> list[NetworkBlock]:
    v = variant or plan.recommended
    return [b for b in plan.network if v in b.variants]


def _evidence(ids: list[str]) -> str:
    more = f" (+{len(ids) - 5} more)" if len(ids) > 5 else ""
    return (", ".join(ids[:5]) + more) or "none"


def _why(b: NetworkBlock) -> str:
    return f"{b.id}: {b.reason}. Evidence: {_evidence(b.evidence)}"


def _header(plan: ContainmentPlan, variant: str | None, comment: Comment) -> list[str]:
    fmt = "%Y-%m-%d %H:%M:%S UTC"
    return [
        comment(
            f"ashiato containment plan for incident {plan.incident} ({variant or plan.recommended})"
        ),
        comment(f"onset {plan.onset.strftime(fmt)}, containment time {plan.at.strftime(fmt)}"),
        comment("Review the replay (replay.txt) before applying: it lists what each rule breaks."),
    ]


def _manual(items: list[Manual], comment: Comment) -> list[str]:
    """The items a file leaves out, as comments (escaped, one line each)."""
    if not items:
        return []
    lines = [
        comment(f"NOT RENDERED ({len(items)}): handle these by hand. Values are shown escaped."),
    ]
    for m in items:
        lines.append(comment(f"  {m.rule} {m.what} {m.value!r}: {m.why}"))
    return [*lines, comment("END OF NOT RENDERED"), ""]


def _network_manual(
    plan: ContainmentPlan, variant: str | None, kinds: frozenset[str]
) -> list[Manual]:
    return [m for m in manual(plan, variant or plan.recommended) if m.what in kinds]


def render_nftables(plan: ContainmentPlan, variant: str | None = None) -> str:
    """An nftables table with one drop rule per block and address family (forward and output
    hooks); only parsed addresses reach a rule, the comment is ``netaddr.nft_comment``."""
    c = netaddr.hash_comment
    lines = ["#!/usr/sbin/nft -f", *_header(plan, variant, c), ""]
    lines += _manual(_network_manual(plan, variant, NETWORK_FILES), c)
    lines += ["table inet ashiato_containment", "delete table inet ashiato_containment", ""]
    lines += ["table inet ashiato_containment {"]
    for hook in ("forward", "output"):
        lines += [
            f"  chain {hook} {{",
            f"    type filter hook {hook} priority -10; policy accept;",
        ]
        for b in _blocks(plan, variant):
            r = rendered(b)
            lines.append("    " + c(_why(b)))
            if not r.families():
                lines.append(
                    "    " + c(f"{b.id}: no rule: no address pair known (see NOT RENDERED)")
                )
            tag = netaddr.nft_comment(f"ashiato {plan.incident} {b.id}")
            for fam, src, dst in r.families():
                lines.append(
                    f"    {fam} saddr {{ {', '.join(src)} }} {fam} daddr {{ {', '.join(dst)} }}"
                    f' counter drop comment "{tag}"'
                )
        lines += ["  }"]
    lines += ["}", ""]
    return "\n".join(lines)


def _invoke(hosts: list[str], rule: list[str]) -> list[str]:
    targets = ",".join(powershell.host(h) for h in hosts)
    return [f"Invoke-Command -ComputerName {targets} -ScriptBlock {{", "    " + " ".join(rule), "}"]


def _firewall_rule(name: str, direction: str, remote: list[str], reason: str) -> list[str]:
    return [
        "New-NetFirewallRule",
        f"-DisplayName {powershell.text_literal(name)}",
        "-Group $using:group",
        f"-Direction {direction}",
        "-Action Block",
        f"-RemoteAddress {powershell.array(remote)}",
        f"-Description {powershell.text_literal(reason, DESCRIPTION_MAX)}",
    ]


def render_windows_firewall(plan: ContainmentPlan, variant: str | None = None) -> str:
    """PowerShell: an inbound block on each destination host, an outbound one on each source
    host the inventory knows; host names and addresses as validated single-quoted literals."""
    c = powershell.comment
    group = powershell.text_literal(f"ashiato {plan.incident}")
    lines = [*_header(plan, variant, c), f"$group = {group}", ""]
    lines += _manual(_network_manual(plan, variant, FIREWALL_FILES), c)
    for b in _blocks(plan, variant):
        r = rendered(b)
        name = f"ashiato {plan.incident} {b.id}"
        lines.append(c(_why(b)))
        if r.inbound_hosts:
            rule = _firewall_rule(f"{name} in", "Inbound", r.src, b.reason)
            lines += _invoke(r.inbound_hosts, rule)
        else:
            lines.append(c(f"{b.id}: no inbound rule: no source address or no valid host name"))
        if r.outbound_hosts:
            rule = _firewall_rule(f"{name} out", "Outbound", r.dst, b.reason)
            lines += _invoke(r.outbound_hosts, rule)
        elif b.level == "host":
            lines.append(
                c(
                    f"{b.id}: no outbound rule: the source is not a host the inventory knows, has "
                    "no valid host name, or no destination address is known"
                )
            )
        lines.append("")
    lines.append(c(f"To undo: Remove-NetFirewallRule -Group {group}"))
    return "\n".join(lines) + "\n"


def render_cisco_ios(plan: ContainmentPlan, variant: str | None = None) -> str:
    """One IOS extended ACL (IPv4): a deny per source and destination, then permit the rest;
    remarks and ``!`` lines in IOS's inert alphabet (``netaddr.ios_remark``)."""
    c = netaddr.ios_comment
    name = netaddr.ios_name(f"ASHIATO-{plan.incident}".upper())
    lines = [*_header(plan, variant, c)]
    lines += [x or "!" for x in _manual(_network_manual(plan, variant, NETWORK_FILES), c)]
    lines.append(f"ip access-list extended {name}")
    skipped_v6 = False
    for b in _blocks(plan, variant):
        r = rendered(b)
        skipped_v6 |= bool(r.src6 or r.dst6)
        lines.append(f" remark {netaddr.ios_remark(_why(b))}")
        if not (r.src4 and r.dst4):
            lines.append(f" remark {netaddr.ios_remark(f'{b.id}: no IPv4 source and destination')}")
        for s in r.src4:
            for d in r.dst4:
                lines.append(f" deny ip {netaddr.ios_wildcard(s)} {netaddr.ios_wildcard(d)} log")
    lines += [" permit ip any any", "!"]
    if skipped_v6:
        lines.append(
            "! IPv6 addresses are in containment.nft; IOS needs a separate ipv6 access-list"
        )
    lines.append(f"! Apply inbound on the source sites' WAN interfaces: ip access-group {name} in")
    return "\n".join(lines) + "\n"


def render_ad(plan: ContainmentPlan) -> str:
    """PowerShell ActiveDirectory cmdlets: disable or reset each account, with why. A name that
    cannot be an AD logon name is not written into a cmdlet: it is listed for manual handling."""
    c = powershell.comment
    refused = [m for m in manual(plan) if m.what == "account"]
    lines = [*_header(plan, None, c), *_manual(refused, c), "Import-Module ActiveDirectory", ""]
    for a in plan.accounts:
        lines.append(
            c(f"{a.id} {a.action} {a.account}: {a.reason}. Evidence: {_evidence(a.evidence)}")
        )
        why = account_problem(a)
        if why is not None:
            lines.append(c(f"{a.id}: NOT RENDERED: the name cannot be an AD logon name ({why})"))
        elif a.action == "disable":
            lines.append(f"Disable-ADAccount -Identity {powershell.account(a.account)}")
        else:
            prompt = powershell.literal(f"New password for {a.account}")
            lines += [
                f"Set-ADAccountPassword -Identity {powershell.account(a.account)} -Reset "
                f"-NewPassword (Read-Host -AsSecureString {prompt})",
                c(
                    "then end the account's sessions and tickets on every host it reached "
                    "(klist purge, logoff) so the old credential is not reused"
                ),
            ]
        lines.append("")
    if plan.krbtgt:
        lines += [c(f"krbtgt: {plan.krbtgt}"), ""]
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
            *_header(plan, None, netaddr.hash_comment),
            "# Derived from the legitimate baseline before the onset: each source site keeps",
            "# what it reached then and is denied the rest. Put these before policy.rules.",
        ]
    )
    return head + "\n" + yamltext.dump({"policy": {"rules": rules}})


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
    p.write_bytes(jsontext.dumpb(plan.to_json(), option=orjson.OPT_INDENT_2))
    paths.append(p)
    if replay is not None:
        p = out / "replay.json"
        p.write_bytes(jsontext.dumpb(replay.to_json(), option=orjson.OPT_INDENT_2))
        paths.append(p)
        p = out / "replay.txt"
        p.write_text(render_replay(replay), encoding="utf-8")
        paths.append(p)
    return paths


def render_replay(replay: Replay) -> str:
    """A plain-text summary of the replay: one line per variant and per rule, every value on
    its line (``quote.one_line``)."""
    q = one_line
    lines = [
        f"Replay of the containment plan for {q(replay.incident)} over "
        f"{replay.events_considered} events ({replay.malicious_events} the intrusion's); "
        f"containment time {replay.at:%Y-%m-%d %H:%M:%S} UTC",
        f"Malicious means: {q(replay.malicious_definition)}",
        "A rule is credited only with what its rendered form stops (the addresses, hosts and "
        "accounts written into the rule files).",
        "",
        "variant: malicious stopped / total, legitimate broken",
    ]
    for v in replay.variants:
        lines.append(
            f"  {q(v.variant)}: {v.malicious_stopped}/{v.malicious_total}, {v.legitimate_broken}"
            f" — {q(v.explanation)}"
        )
    lines += ["", "rule (window): malicious stopped / total, legitimate broken, accounts affected"]
    for r in replay.rules:
        lines.append(
            f"  {q(r.rule)} ({q(r.window)}): {r.malicious_stopped}/{r.malicious_total}, "
            f"{r.legitimate_broken}, {q(', '.join(r.accounts_affected[:10])) or '-'}"
            + (f" — {q(r.note)}" if r.note else "")
        )
    return "\n".join(lines) + "\n"
