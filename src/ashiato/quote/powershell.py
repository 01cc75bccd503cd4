"""PowerShell: single-quoted literals, comments, and the identities AD cmdlets accept.

A single-quoted PowerShell string expands nothing (no ``$()``, no backtick escapes); its only
special characters are the quotes that end it, which PowerShell takes in four forms (U+0027 and
the typographic U+2018, U+2019, U+201A, U+201B), each escaped by doubling. A literal with a line
break would still be one token but would start a new line of the script, so values with control
characters are refused (``Unsafe``): no real account or host name has one.
"""

from __future__ import annotations

import re

from ashiato.quote.text import Unsafe, escape_text, needs_escape, one_line

_QUOTES = "'\u2018\u2019\u201a\u201b"
_QUOTE_RE = re.compile(f"([{_QUOTES}])")

AD_FORBIDDEN = frozenset('"/\\[]:;|=,+*?<>@')
"""Characters a pre-Windows 2000 logon name (sAMAccountName) may not hold."""
MAX_SAM = 20
"""sAMAccountName length limit for user accounts (computer accounts: 15 + ``$``)."""
MAX_HOST = 253
_HOST_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


def literal(value: str) -> str:
    """``value`` as one single-quoted PowerShell literal; ``Unsafe`` if it holds control
    characters (they would put part of the value on a line of its own)."""
    if any(needs_escape(c) for c in value):
        raise Unsafe(f"control or format character in {escape_text(value)!r}")
    return "'" + _QUOTE_RE.sub(r"\1\1", value) + "'"


def text_literal(value: object, max_len: int | None = None) -> str:
    """Free text (a reason, a description) as a literal: control characters shown escaped
    rather than refused, so it always renders on one line."""
    return literal(one_line(value, max_len))


def comment(value: object) -> str:
    """A ``#`` comment line that stays one line whatever ``value`` holds."""
    return "# " + one_line(value)


def account_problem(name: str) -> str | None:
    """Why ``name`` cannot be an AD account's sAMAccountName, or None if it can be.

    Such a name is never rendered into a command: the plan lists it for manual handling.
    """
    if not name or name.strip() != name:
        return "empty or with leading/trailing spaces"
    if any(needs_escape(c) for c in name):
        return "holds control or format characters"
    bad = sorted({c for c in name if c in AD_FORBIDDEN})
    if bad:
        return f"holds characters AD forbids in logon names: {''.join(bad)}"
    limit = MAX_SAM if not name.endswith("$") else 16
    if len(name) > limit:
        return f"longer than AD's {limit}-character limit for logon names ({len(name)})"
    if name.endswith("."):
        return "ends with a period"
    return None


def host_problem(name: str) -> str | None:
    """Why ``name`` cannot be a Windows host (NetBIOS or DNS name), or None if it can be."""
    if not name or len(name) > MAX_HOST:
        return "empty or longer than 253 characters"
    labels = name.split(".")
    if not all(_HOST_LABEL.match(label) for label in labels):
        return "not a valid host name (letters, digits, '-', '_' and dots only)"
    return None


def account(name: str) -> str:
    """An AD account identity as a literal; ``Unsafe`` if it cannot be a real account."""
    why = account_problem(name)
    if why:
        raise Unsafe(f"account {escape_text(name)!r}: {why}")
    return literal(name)


def host(name: str) -> str:
    """A host name for ``-ComputerName`` as a literal; ``Unsafe`` if it is not a host name."""
    why = host_problem(name)
    if why:
        raise Unsafe(f"host {escape_text(name)!r}: {why}")
    return literal(name)


def array(values: list[str]) -> str:
    """Literals joined with commas (a PowerShell array argument)."""
    return ",".join(literal(v) for v in values)
