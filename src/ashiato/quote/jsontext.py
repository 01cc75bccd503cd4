"""JSON text that shows every unsafe character as a ``\\u`` escape, not only the C0 controls.

``json`` and ``orjson`` escape C0 controls (ESC, NUL, newlines) inside strings, but write C1
controls (U+009B is CSI to some terminals), DEL, bidirectional overrides and line separators as
raw UTF-8: valid JSON, yet ``cat``-ing it or printing ``--json`` output to a terminal lets them act.
Escaping them keeps the document identical to any JSON parser.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

from ashiato.quote.text import needs_escape

Default = Callable[[Any], Any] | None


def _u(ch: str) -> str:
    o = ord(ch)
    if o <= 0xFFFF:
        return f"\\u{o:04x}"
    o -= 0x10000
    return f"\\u{0xD800 + (o >> 10):04x}\\u{0xDC00 + (o & 0x3FF):04x}"


def escape_json(text: str) -> str:
    """JSON ``text`` with every non-ASCII unsafe character (``needs_escape``) as ``\\uXXXX``.

    Such characters can only stand inside string literals (the structure is ASCII), and C0
    controls are escaped by every JSON encoder already, so raw newlines left are layout.
    """
    if text.isascii() and "\x7f" not in text:
        return text
    return "".join(_u(c) if ord(c) >= 0x7F and needs_escape(c) else c for c in text)


def dumps(value: Any, default: Default = None, indent: int | None = None) -> str:
    """``json.dumps`` (UTF-8 kept readable) with unsafe characters escaped."""
    return escape_json(json.dumps(value, ensure_ascii=False, default=default, indent=indent))


def dumpb(value: Any, default: Default = None, option: int | None = None) -> bytes:
    """``orjson.dumps`` with unsafe characters escaped (bytes, for files)."""
    raw = orjson.dumps(value, default=default, option=option)
    if raw.isascii():
        return raw
    return escape_json(raw.decode("utf-8")).encode("utf-8")
