"""YAML documents whose every value stays on its own key's line, with no raw control character.

``yaml.safe_dump`` already quotes what YAML would misread, but it writes a string with a line
break as a folded multi-line scalar, wraps long values onto lines of their own, and (with
``allow_unicode``) passes bidirectional and other format characters raw. Here a string that holds
any character ``text.needs_escape`` flags, or a line break, is double-quoted with escapes, non-ASCII
text is written as ``\\u`` escapes, and lines are never wrapped: a value from a log cannot start a
line, and ``yaml.safe_load`` returns exactly the data that was dumped.
"""

from __future__ import annotations

from typing import Any

import yaml

from ashiato.quote.text import needs_escape


class _Dumper(yaml.SafeDumper):
    """``SafeDumper`` that double-quotes strings holding line breaks or unsafe characters."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    risky = not value.isascii() or any(needs_escape(c) for c in value)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"' if risky else None)


_Dumper.add_representer(str, _str)


def dump(data: Any) -> str:
    """``data`` as a YAML document (keys in the order given), one line per scalar value."""
    out: str = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=False,
        width=2**31 - 1,
        default_flow_style=False,
    )
    return out
