"""Resolve hosts, IPs and accounts to sites, roles and privilege at query time.

Events store what the log said (names, addresses); what a host *is* comes from the inventory here,
so fixing the inventory fixes history. The engine hands us the distinct endpoints (thousands, not
millions), we resolve them in Python and hand back small Arrow tables to join against.
"""

from __future__ import annotations

import bisect
import fnmatch
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa

from ashiato.inventory.model import Inventory

ENDPOINT = pa.schema(
    [
        pa.field("host", pa.string()),
        pa.field("ip", pa.string()),
        pa.field("site", pa.string()),
        pa.field("role", pa.string()),
        pa.field("asset", pa.string()),
        pa.field("country", pa.string()),
        pa.field("timezone", pa.string()),
    ]
)
"""One row per distinct (host, ip) pair seen in events, with what the inventory says about it."""

ACCOUNT = pa.schema(
    [
        pa.field("user", pa.string()),
        pa.field("privileged", pa.bool_()),
        pa.field("account_kind", pa.string()),
        pa.field("home_site", pa.string()),
        pa.field("groups", pa.list_(pa.string())),
        pa.field("owner", pa.string()),
    ]
)


@dataclass(frozen=True)
class Endpoint:
    site: str | None
    role: str | None
    asset: str | None


class Resolver:
    """Looks hosts and IPs up: asset by name, then by IP, then site by CIDR or host pattern."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._by_host = {a.host: a for a in inventory.assets}
        self._by_ip = {str(ip): a for a in inventory.assets for ip in a.ips}
        nets: list[tuple[int, int, int, str]] = []  # (start, end, -prefixlen, site)
        for s in inventory.sites:
            for net in s.cidrs:
                nets.append(
                    (int(net.network_address), int(net.broadcast_address), -net.prefixlen, s.name)
                )
        nets.sort()
        self._nets = nets
        self._starts = [n[0] for n in nets]
        self._patterns = [(p, s.name) for s in inventory.sites for p in s.host_patterns]

    def site_of_ip(self, ip: str | None) -> str | None:
        """The most specific site whose CIDRs contain ``ip``."""
        if not ip:
            return None
        try:
            value = int(ipaddress.ip_address(ip))
        except ValueError:
            return None
        best: tuple[int, str] | None = None
        idx = bisect.bisect_right(self._starts, value)
        for start, end, neg_prefix, site in self._nets[:idx]:
            if start <= value <= end and (best is None or neg_prefix < best[0]):
                best = (neg_prefix, site)
        return best[1] if best else None

    def site_of_host(self, host: str | None) -> str | None:
        if not host:
            return None
        for pattern, site in self._patterns:
            if fnmatch.fnmatchcase(host, pattern):
                return site
        return None

    def endpoint(self, host: str | None, ip: str | None) -> Endpoint:
        asset = self._by_host.get(host) if host else None
        if asset is None and ip:
            asset = self._by_ip.get(ip)
        if asset is not None:
            return Endpoint(asset.site, asset.role.value, asset.host)
        return Endpoint(self.site_of_ip(ip) or self.site_of_host(host), None, None)

    def endpoints_table(self, pairs: Iterable[tuple[str | None, str | None]]) -> pa.Table:
        """Resolve distinct (host, ip) pairs into an ENDPOINT table."""
        rows: dict[str, list[str | None]] = {f.name: [] for f in ENDPOINT}
        for host, ip in pairs:
            ep = self.endpoint(host, ip)
            site = self.inventory.site(ep.site) if ep.site else None
            rows["host"].append(host)
            rows["ip"].append(ip)
            rows["site"].append(ep.site)
            rows["role"].append(ep.role)
            rows["asset"].append(ep.asset)
            rows["country"].append(site.country if site else None)
            rows["timezone"].append(site.timezone if site else None)
        return pa.table(rows, schema=ENDPOINT)

    def accounts_table(self) -> pa.Table:
        """One row per inventory account: privilege, kind, home site, groups."""
        accs = self.inventory.accounts
        return pa.table(
            {
                "user": [a.user for a in accs],
                "privileged": [a.privileged for a in accs],
                "account_kind": [a.kind.value for a in accs],
                "home_site": [a.home_site for a in accs],
                "groups": [a.all_groups for a in accs],
                "owner": [a.owner.lower() if a.owner else None for a in accs],
            },
            schema=ACCOUNT,
        )
