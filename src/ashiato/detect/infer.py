"""Infer a site map from the addresses in the events, for logs that arrive without an inventory.

Real incident data rarely comes with a CMDB. Grouping private addresses into subnets (a /16 by
default: the usual size of one office's allocation) gives detectors sites to compare, so that
"this account came from a network it never came from" and "this hop crossed networks" mean
something. The inferred inventory has no assets, accounts or policy: it only names networks.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable

import ibis
import pyarrow as pa

from ashiato.inventory.model import Inventory, Policy, Site

RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
"""Enterprise networks (``is_private`` would also take documentation and test ranges)."""


def infer_inventory(
    events: ibis.Table, execute: Callable[[ibis.Expr], pa.Table], prefix: int = 16
) -> Inventory:
    """Sites named after the private IPv4 subnets (``/prefix``) seen as sources or destinations."""
    counts: Counter[ipaddress.IPv4Network] = Counter()
    # sources and destinations in one query (one compile, one scan)
    ips = events.select(ip=events.src_ip).union(events.select(ip=events.dst_ip), distinct=False)
    got = execute(ips.group_by("ip").aggregate(n=ips.count()))
    for ip, n in zip(got["ip"].to_pylist(), got["n"].to_pylist(), strict=True):
        try:
            addr = ipaddress.ip_address(ip) if ip else None
        except ValueError:
            continue
        if isinstance(addr, ipaddress.IPv4Address) and any(addr in n for n in RFC1918):
            counts[ipaddress.IPv4Network(f"{addr}/{prefix}", strict=False)] += n
    sites = [
        Site(
            name=f"NET-{net}",
            country="ZZ",  # ISO 3166 "unknown": the subnet says nothing of where it is
            timezone="UTC",
            cidrs=[net],
            description=f"inferred from {n:,} events' addresses",
        )
        for net, n in sorted(counts.items())
    ]
    # Nothing is known about what may reach what: allow all, so no policy break is invented.
    return Inventory(sites=sites, policy=Policy(default="allow"))
