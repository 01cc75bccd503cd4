"""Matplotlib text (chart labels, tick labels, annotations) that is drawn as typed.

Matplotlib parses a label with two ``$`` as mathtext (``$\\mathrm{...}$``), which can fail the
whole report on a host name like ``a$b$``; escaping ``$`` keeps it literal. Control characters
are shown escaped and long names cut, so a 300-character share name cannot push a chart apart.
"""

from __future__ import annotations

from ashiato.quote.text import one_line

LABEL_MAX = 48


def label(value: object, max_len: int = LABEL_MAX) -> str:
    """``value`` as one line of at most ``max_len`` characters with ``$`` escaped."""
    return one_line(value, max_len).replace("$", r"\$")
