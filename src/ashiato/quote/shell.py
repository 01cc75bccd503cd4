"""POSIX sh: a value as one single-quoted word (``'`` written as ``'\\''``).

Refuses values with control characters (``Unsafe``): a newline inside quotes is still one word,
but it starts a line of its own in the script a reviewer reads.
"""

from __future__ import annotations

from ashiato.quote.text import Unsafe, escape_text, needs_escape


def literal(value: str) -> str:
    """``value`` as one single-quoted sh word."""
    if any(needs_escape(c) for c in value):
        raise Unsafe(f"control or format character in {escape_text(value)!r}")
    return "'" + value.replace("'", "'\\''") + "'"
