"""Plain text and terminals: every character that could move the cursor, end a line, reorder
text or change colours is shown as a visible escape (``\\x1b``, ``\\n``, ``\\u202e``).

A letter, ``replay.txt`` or a terminal line then shows the intruder's bytes as data: a newline in
a user name cannot start a line of its own, ESC cannot clear the screen, a right-to-left mark
cannot make ``exe.txt`` read as ``txt.exe``.
"""

from __future__ import annotations

import unicodedata

_BIDI_AND_INVISIBLE = frozenset(
    [
        0x061C,  # Arabic letter mark
        0x115F,
        0x1160,
        0x180E,  # Mongolian vowel separator
        0x200B,  # zero width space
        0x200C,
        0x200D,
        0x200E,  # LRM
        0x200F,  # RLM
        0x2028,  # line separator
        0x2029,  # paragraph separator
        *range(0x202A, 0x202F),  # LRE, RLE, PDF, LRO, RLO
        *range(0x2060, 0x2070),  # word joiner, invisible operators, LRI/RLI/FSI/PDI
        0x3164,
        0xFEFF,  # BOM / zero width no-break space
        0xFFA0,
        *range(0xFFF9, 0xFFFC),  # interlinear annotation
    ]
)


class Unsafe(ValueError):  # noqa: N818 - reads as "this value is unsafe"
    """A value that cannot be rendered safely into the target: list it for manual handling."""


def needs_escape(ch: str) -> bool:
    """True for characters that must not reach an output raw.

    Unicode categories Cc (C0/C1 controls: NUL, TAB, CR, LF, ESC, NEL), Cf (format characters,
    bidirectional overrides among them), Zl/Zp (line and paragraph separators), Cs (lone
    surrogates, which cannot even be encoded), Co/Cn (private use, unassigned), plus the invisible
    fillers listed above.
    """
    o = ord(ch)
    if 0x20 <= o < 0x7F:
        return False
    if o in _BIDI_AND_INVISIBLE:
        return True
    return unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def _escape_char(ch: str) -> str:
    o = ord(ch)
    named = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
    if o in named:
        return named[o]
    if o <= 0xFF:
        return f"\\x{o:02x}"
    if o <= 0xFFFF:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def escape_text(value: object) -> str:
    """``value`` as text with every unsafe character (``needs_escape``) shown escaped.

    ``None`` becomes the empty string. The result holds no control, format or line-separator
    character, so it stays on its line in any text output.
    """
    if value is None:
        return ""
    s = value if isinstance(value, str) else str(value)
    if all(0x20 <= ord(c) < 0x7F for c in s):  # fast path: printable ASCII
        return s
    return "".join(_escape_char(c) if needs_escape(c) else c for c in s)


def one_line(value: object, max_len: int | None = None) -> str:
    """``escape_text``, runs of spaces folded, cut to ``max_len`` characters with an ellipsis."""
    s = " ".join(escape_text(value).split())
    if max_len is not None and len(s) > max_len:
        s = s[: max(0, max_len - 1)] + "…"
    return s
