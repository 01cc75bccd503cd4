"""The terminal: values as rich ``Text`` (never parsed as markup) with control characters escaped.

rich strips only a few control codes and parses ``[...]`` in plain strings as markup, so a user
name like ``[blink]x`` or one holding ESC would restyle or rewrite the analyst's screen.
"""

from __future__ import annotations

from rich.markup import escape as _markup_escape
from rich.text import Text

from ashiato.quote.text import escape_text


def text(value: object, style: str = "") -> Text:
    """``value`` as a ``Text`` cell: escaped, styled as a whole, no markup parsed."""
    return Text(escape_text(value), style=style)


def markup(value: object) -> str:
    """``value`` for a rich markup string (``f"[bold]{markup(name)}[/]"``)."""
    return _markup_escape(escape_text(value))
