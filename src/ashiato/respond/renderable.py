"""What of a containment plan can be written into a command, and what must be done by hand.

The rule files run with an administrator's rights, and the names and addresses in a plan come
from logs the intruder wrote. A renderer therefore writes into a command only what
``ashiato.quote`` accepts: addresses that parse (re-printed from their parsed form), host names
that can be Windows host names, account names that can be AD logon names. Everything else is a
``Manual`` item: listed in the plan (``plan.manual``) and, as escaped comments, in each script, and
never rendered. The replay uses the same lists (``Rendered``), so it credits a rule only with what
its rendered form stops.
"""

from __future__ import annotations

from dataclasses import dataclass

from ashiato.quote import Unsafe, netaddr, powershell
from ashiato.respond.model import AccountAction, ContainmentPlan, Manual, NetworkBlock

NETWORK_FILES = frozenset({"address", "no address"})
"""Manual items that concern the address-only renderers (nftables, IOS)."""
FIREWALL_FILES = NETWORK_FILES | {"host"}
"""... and the Windows Firewall script, which also names hosts."""


@dataclass(frozen=True)
class Rendered:
    """One network block as every renderer writes it: validated addresses and host names.

    ``inbound_hosts`` get an inbound rule (from ``src``) and only when ``src`` is not empty;
    ``outbound_hosts`` an outbound one (to ``dst``) and only when ``dst`` is not empty.
    """

    src4: list[str]
    src6: list[str]
    dst4: list[str]
    dst6: list[str]
    inbound_hosts: list[str]
    outbound_hosts: list[str]
    manual: list[Manual]

    @property
    def src(self) -> list[str]:
        return [*self.src4, *self.src6]

    @property
    def dst(self) -> list[str]:
        return [*self.dst4, *self.dst6]

    def families(self) -> list[tuple[str, list[str], list[str]]]:
        """(nftables family, sources, destinations) for each family with both sides known."""
        pairs = [("ip", self.src4, self.dst4), ("ip6", self.src6, self.dst6)]
        return [(f, s, d) for f, s, d in pairs if s and d]


def _addresses(
    rule: str, values: list[str], side: str
) -> tuple[list[str], list[str], list[Manual]]:
    v4: list[str] = []
    v6: list[str] = []
    refused: list[Manual] = []
    for v in values:
        try:
            n = netaddr.network(v)
        except Unsafe:
            refused.append(Manual(rule, "address", v, f"{side} value is not an IP address"))
            continue
        out = v6 if n.version == 6 else v4
        if (a := netaddr.address(v)) not in out:
            out.append(a)
    return v4, v6, refused


def _hosts(rule: str, hosts: list[str], role: str) -> tuple[list[str], list[Manual]]:
    ok: list[str] = []
    refused: list[Manual] = []
    for h in hosts:
        why = powershell.host_problem(h)
        if why is None:
            ok.append(h)
        else:
            refused.append(
                Manual(rule, "host", h, f"cannot be a Windows host name ({why}): no {role} rule")
            )
    return ok, refused


def rendered(b: NetworkBlock) -> Rendered:
    """What the renderers write for ``b`` and what they leave for manual handling."""
    s4, s6, bad_src = _addresses(b.id, b.src_cidrs, "source")
    d4, d6, bad_dst = _addresses(b.id, b.dst_ips, "destination")
    inbound, bad_in = _hosts(b.id, b.dst_hosts, "inbound")
    outbound, bad_out = _hosts(b.id, b.outbound_hosts, "outbound")
    manual = [*bad_src, *bad_dst, *bad_in, *bad_out]
    src = b.src_site if b.level == "site" and b.src_site else ", ".join(b.src_hosts)
    if not (s4 or s6):
        manual.append(
            Manual(
                b.id,
                "no address",
                src,
                "no address is known for the source: no network rule and no inbound rule can "
                "match it; find its address (DHCP leases, switch ports, EDR) and block it by hand",
            )
        )
    if not (d4 or d6):
        manual.append(
            Manual(
                b.id,
                "no address",
                ", ".join(b.dst_hosts),
                "no address is known for the destinations: no network rule and no outbound rule",
            )
        )
    return Rendered(
        s4, s6, d4, d6, inbound if s4 or s6 else [], outbound if d4 or d6 else [], manual
    )


def account_problem(a: AccountAction) -> str | None:
    """Why ``a``'s account cannot be written into an AD cmdlet, or None if it can."""
    return powershell.account_problem(a.account)


def manual(plan: ContainmentPlan, variant: str | None = None) -> list[Manual]:
    """Every part of ``plan`` (or of one variant) that the rule files leave for manual handling."""
    out: list[Manual] = []
    for b in plan.network:
        if variant is None or variant in b.variants:
            out += rendered(b).manual
    for a in plan.accounts:
        if (variant is None or variant in a.variants) and (why := account_problem(a)):
            out.append(
                Manual(a.id, "account", a.account, f"cannot be an AD logon name ({why}): no cmdlet")
            )
    return out
