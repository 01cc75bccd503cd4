"""nftables and Cisco IOS: only validated addresses reach a rule; comments and remarks are inert.

Neither language has a string literal worth trusting with an intruder's text (IOS even acts on a
``?`` typed into a pasted ``remark``), so rules carry addresses that ``ipaddress`` parsed and
re-printed, and comments keep a conservative alphabet.
"""

from __future__ import annotations

import ipaddress
import re

from ashiato.quote.text import Unsafe, escape_text, one_line

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_NFT_COMMENT = re.compile(r"[^A-Za-z0-9 ._:/-]")
_IOS_REMARK = re.compile(r"[^ -~]|\?")
_IOS_NAME = re.compile(r"[^A-Za-z0-9_.-]")
IOS_REMARK_MAX = 100
IOS_NAME_MAX = 64


def network(value: str) -> Network:
    """A parsed address or CIDR; ``Unsafe`` if ``value`` is neither."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError as exc:
        raise Unsafe(f"not an IP address or network: {escape_text(value)!r}") from exc


def address(value: str) -> str:
    """``value`` re-printed from its parsed form (``10.0.0.1``, ``10.0.0.0/24``, ``fe80::1``)."""
    n = network(value)
    return str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n)


def split_families(values: list[str]) -> tuple[list[str], list[str]]:
    """Validated IPv4 and IPv6 addresses; ``Unsafe`` if any is not an address."""
    v4: list[str] = []
    v6: list[str] = []
    for v in values:
        (v6 if network(v).version == 6 else v4).append(address(v))
    return v4, v6


def ios_wildcard(value: str) -> str:
    """An IOS ACL operand: ``host A.B.C.D`` or ``NETWORK WILDCARD`` (IPv4 only)."""
    n = network(value)
    if n.version != 4:
        raise Unsafe(f"IOS extended ACLs take IPv4 only: {value}")
    if n.prefixlen == n.max_prefixlen:
        return f"host {n.network_address}"
    return f"{n.network_address} {n.hostmask}"


def nft_comment(value: object) -> str:
    """The text of an nftables ``comment "..."`` (at most 128 bytes, no quotes)."""
    return _NFT_COMMENT.sub("_", one_line(value))[:128]


def ios_remark(value: object) -> str:
    """The text of an IOS ``remark``: printable ASCII without ``?``, at most 100 characters."""
    return _IOS_REMARK.sub("_", one_line(value))[:IOS_REMARK_MAX]


def ios_comment(value: object) -> str:
    """A ``!`` comment line of an IOS configuration: the ``remark`` alphabet, not cut."""
    return "! " + _IOS_REMARK.sub("_", one_line(value))


def ios_name(value: object) -> str:
    """An IOS access-list name: letters, digits, ``_ . -`` (others become ``_``), at most 64."""
    return _IOS_NAME.sub("_", one_line(value))[:IOS_NAME_MAX] or "_"


def hash_comment(value: object) -> str:
    """A ``#`` comment line (nftables, shell) that stays one line."""
    return "# " + one_line(value)
