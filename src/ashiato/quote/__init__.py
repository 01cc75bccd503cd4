"""Outputs own their quoting: one module per target language, used by every renderer.

Log content is written by the intruder (user, host, share and process names are whatever they
typed), and ashiato turns it into scripts an administrator runs, CSV files opened in spreadsheets,
letters, HTML and terminal output. Each module here turns a value from a log into something that
cannot change the structure of its target; a value that cannot be made safe raises ``Unsafe`` and
the caller lists it for manual handling instead of rendering it. See docs/security.md.

- ``text``: plain text and terminals (control and bidirectional characters shown escaped).
- ``powershell``: single-quoted literals, comments, AD account and host identities.
- ``shell``: POSIX sh literals.
- ``netaddr``: nftables and Cisco IOS (validated addresses only, inert comments and remarks).
- ``spreadsheet``: CSV cells (formula prefixes neutralised, OWASP's rule).
- ``term``: rich ``Text`` for the terminal (no markup parsed from values).
- ``jsontext``: JSON with C1 controls and bidirectional marks escaped too.
- ``chart``: Matplotlib labels (no mathtext, one short line).
- ``yamltext``: YAML documents (every value on its key's line, escapes instead of raw controls).
"""

from __future__ import annotations

from ashiato.quote.text import Unsafe, escape_text, one_line

__all__ = ["Unsafe", "escape_text", "one_line"]
