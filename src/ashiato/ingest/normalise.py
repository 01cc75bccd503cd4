"""Field normalisers shared by parsers, so that every source spells users, hosts, IPs, ports alike.

Detectors join on these values across sources, so they must agree: user names lower case without
domain, domains upper case NetBIOS form, host names short and lower case, IPs as plain text with the
IPv4-mapped prefix removed, placeholders ("-", "") as null. A value that cannot be read raises
``BadRecord`` naming the field; the parser turns it into a rejection.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from ashiato.ingest.base import BadRecord, ParseContext, to_epoch_us

_NULL_TEXT = frozenset({"", "-"})
_NULL_IP = frozenset({"", "-", "::", "0.0.0.0"})
_NULL_PORT = frozenset({"", "-", "0"})
_ZERO_STATUS = frozenset({"0x0", "0x00000000", "0", "0x00"})


def text(v: Any) -> str | None:
    """A string field: placeholders become null, other scalars their text."""
    if v is None:
        return None
    if v.__class__ is not str:
        v = str(v)
    return None if v in _NULL_TEXT else v


_CACHE = 1 << 16


@lru_cache(maxsize=_CACHE)
def _user(s: str) -> str | None:
    if s in _NULL_TEXT:
        return None
    i = s.rfind("\\")
    if i >= 0:
        s = s[i + 1 :]
    i = s.find("@")
    if i > 0:
        s = s[:i]
    return s.lower() or None


def user(v: Any) -> str | None:
    """Account name, lower case, without ``DOMAIN\\`` prefix or ``@realm`` suffix."""
    if v is None:
        return None
    return _user(v if v.__class__ is str else str(v))


@lru_cache(maxsize=_CACHE)
def _domain(s: str) -> str | None:
    if s in _NULL_TEXT:
        return None
    i = s.find(".")
    if i > 0:
        s = s[:i]
    return s.upper() or None


def domain(v: Any) -> str | None:
    """Domain in upper-case NetBIOS form: the first label of a DNS name (corp.example → CORP)."""
    if v is None:
        return None
    return _domain(v if v.__class__ is str else str(v))


def _is_ipv4(s: str) -> bool:
    return s.count(".") == 3 and s.replace(".", "").isdigit()


@lru_cache(maxsize=_CACHE)
def _host(s: str) -> str | None:
    if s in _NULL_TEXT:
        return None
    s = s.lstrip("\\")
    if not s:
        return None
    if _is_ipv4(s) or ":" in s:
        return s.lower()
    i = s.find(".")
    if i > 0:
        s = s[:i]
    return s.lower()


def host(v: Any) -> str | None:
    """Host short name, lower case: DNS suffix and leading backslashes stripped; IPs kept whole."""
    if v is None:
        return None
    return _host(v if v.__class__ is str else str(v))


def ip(v: Any) -> str | None:
    """IP address text: ``::ffff:`` prefix stripped; placeholders and ``::`` null."""
    if v is None:
        return None
    s = v if v.__class__ is str else str(v)
    if s in _NULL_IP:
        return None
    if s.startswith("::ffff:") and "." in s:
        s = s[7:]
    return s.lower() if ":" in s else s


def port(v: Any, name: str) -> int | None:
    """A TCP/UDP port: "-", "" and 0 are null; anything not a number in 1-65535 is a bad record."""
    if v is None:
        return None
    if v.__class__ is int:
        n: int = v
    else:
        s = v if v.__class__ is str else str(v)
        if s in _NULL_PORT:
            return None
        if not s.isdigit() or len(s) > 5:
            raise BadRecord(f"non-numeric port in {name}")
        n = int(s)
    if n == 0:
        return None
    if not 0 < n < 65536:
        raise BadRecord(f"port out of range in {name}")
    return n


def small_int(v: Any, name: str) -> int | None:
    """A small non-negative integer (logon type, event code): null if absent, else must parse."""
    if v is None:
        return None
    if v.__class__ is int:
        n: int = v
    else:
        s = v if v.__class__ is str else str(v)
        if s in _NULL_TEXT:
            return None
        if not s.isdigit() or len(s) > 9:
            raise BadRecord(f"non-numeric {name}")
        n = int(s)
    if not 0 <= n < 2**31:
        raise BadRecord(f"{name} out of range")
    return n


def count(v: Any, name: str, unset: str = "-") -> int | None:
    """A byte or packet count (int64), null if unset."""
    if v is None:
        return None
    if v.__class__ is int:
        n: int = v
    else:
        s = v if v.__class__ is str else str(v)
        if s in (unset, ""):
            return None
        if not s.isdigit() or len(s) > 18:
            raise BadRecord(f"non-numeric {name}")
        n = int(s)
    if n < 0 or n >= 2**63:
        raise BadRecord(f"{name} out of range")
    return n


def seconds(v: Any, name: str, unset: str = "-") -> float | None:
    """A duration in seconds (float), null if unset."""
    if v is None:
        return None
    if v.__class__ is float or v.__class__ is int:
        f = float(v)
    else:
        s = v if v.__class__ is str else str(v)
        if s in (unset, ""):
            return None
        try:
            f = float(s)
        except ValueError:
            raise BadRecord(f"non-numeric {name}") from None
    if not 0.0 <= f < 1e12:  # also rejects NaN
        raise BadRecord(f"{name} out of range")
    return f


def is_zero_status(v: Any) -> bool:
    """True for a Windows NTSTATUS / Kerberos result code meaning success (0x0)."""
    if v is None:
        return True
    s = v if v.__class__ is str else str(v)
    return s.lower() in _ZERO_STATUS


def check_ts(us: int, ctx: ParseContext, name: str) -> int:
    """Reject timestamps before 1990 or more than two days after the ingest's "now"."""
    if us < ctx.min_ts_us:
        raise BadRecord(f"implausible timestamp in {name}: before 1990")
    if us > ctx.max_ts_us:
        raise BadRecord(f"implausible timestamp in {name}: more than 2 days in the future")
    return us


@lru_cache(maxsize=_CACHE)
def _utc_seconds(prefix: str) -> int:
    """Epoch seconds of 'YYYY-MM-DDTHH:MM:SS' read as UTC (cached: events share seconds)."""
    return to_epoch_us(datetime.fromisoformat(prefix)) // 1_000_000


def iso_ts(v: Any, ctx: ParseContext, name: str) -> int:
    """ISO-8601 text (``Z`` or an offset; naive means UTC) to plausible epoch microseconds."""
    if v.__class__ is not str:
        raise BadRecord(f"invalid timestamp in {name}: not a string")
    # fast path for the common 'YYYY-MM-DDTHH:MM:SS[.ffffff]Z'
    if v[-1:] == "Z" and len(v) >= 20 and v[10:11] in ("T", " ") and v[19] in (".", "Z"):
        frac = v[20:-1]
        if (not frac or (frac.isdigit() and len(frac) <= 9)) and v[:4].isdigit():
            try:
                sec = _utc_seconds(v[:19])
            except ValueError:
                raise BadRecord(f"invalid timestamp in {name}") from None
            us = sec * 1_000_000 + (int((frac + "00000")[:6]) if frac else 0)
            return check_ts(us, ctx, name)
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        raise BadRecord(f"invalid timestamp in {name}") from None
    return check_ts(to_epoch_us(dt), ctx, name)


def epoch_ts(v: Any, ctx: ParseContext, name: str) -> int:
    """Epoch seconds (text with up to 6 decimals, or a number) to plausible epoch microseconds."""
    if v.__class__ is str:
        sec, _, frac = v.partition(".")
        if sec.isdigit() and len(sec) < 12 and (not frac or (frac.isdigit() and len(frac) <= 9)):
            return check_ts(int(sec) * 1_000_000 + int((frac + "000000")[:6]), ctx, name)
        try:
            f = float(v)
        except ValueError:
            raise BadRecord(f"invalid timestamp in {name}") from None
    elif v.__class__ is float or v.__class__ is int:
        f = float(v)
    else:
        raise BadRecord(f"invalid timestamp in {name}")
    if not -1e11 < f < 1e11:  # also rejects NaN and inf
        raise BadRecord(f"invalid timestamp in {name}")
    return check_ts(round(f * 1_000_000), ctx, name)
