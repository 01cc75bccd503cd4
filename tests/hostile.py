"""Hostile strings and the checks every output must pass with them: shared by the quoting
property tests, the renderer tests and the hostile-estate end-to-end test."""

from __future__ import annotations

import unicodedata

from ashiato.quote.text import needs_escape

ISSUE_11 = (
    "=x'; Set-Content -Path PWNED-A.txt -Value 1; '\nPWNED-B; Remove-Item C: -Recurse #\x1b[2J"
)
"""The account name of issue 11: ends a PowerShell literal, starts a line, clears the screen."""

PAYLOADS = [
    ISSUE_11,
    "a\u2019; calc; \u2018",
    "$(calc)",
    "`calc`",
    "x\r\nDisable-ADAccount -Identity 'administrator'",
    "\x00nul",
    "<script>alert(1)</script>",
    "-2+3+cmd|' /C calc'!A0",
    "\u202eexe.txt",
    "[bold red]x[/]",
    "a" * 300,
]

QUOTES = "'\u2018\u2019\u201a\u201b"


def ps_single_quoted_tokens(line: str) -> list[str]:
    """The single-quoted string tokens of a PowerShell line, by the language's rule: a literal
    starts at any of the four quote characters and ends at one not followed by another."""
    return [tok for tok, _ in _ps_literals(line)]


def ps_code(line: str) -> str:
    """What PowerShell parses as code on ``line``: single-quoted literals replaced by ``''``
    and a ``#`` comment (a ``#`` outside literals that starts a word) cut off."""
    out: list[str] = []
    i = 0
    for _, (start, stop) in _ps_literals(line):
        out += [line[i:start], "''"]
        i = stop
    cut = next((j for j in range(i, len(line)) if _starts_comment(line, j)), len(line))
    out.append(line[i:cut])
    return "".join(out)


def _starts_comment(line: str, j: int) -> bool:
    return line[j] == "#" and (j == 0 or line[j - 1].isspace())


def _ps_literals(line: str) -> list[tuple[str, tuple[int, int]]]:
    found: list[tuple[str, tuple[int, int]]] = []
    i = 0
    while i < len(line):
        if _starts_comment(line, i):
            break  # a comment: the rest of the line is inert (a mid-token # is not one)
        if line[i] in QUOTES:
            j = i + 1
            buf = []
            while True:
                if j >= len(line):
                    raise AssertionError(f"unterminated literal in {line!r}")
                if line[j] in QUOTES:
                    if j + 1 < len(line) and line[j + 1] in QUOTES:
                        buf.append(line[j])
                        j += 2
                        continue
                    break
                buf.append(line[j])
                j += 1
            found.append(("".join(buf), (i, j + 1)))
            i = j + 1
        else:
            i += 1
    return found


def raw_controls(text: str, allow: str = "\n") -> list[str]:
    """Every character of ``text`` that must not reach an output raw (C0/C1 controls, ESC, NUL,
    bidirectional and invisible marks, line separators), except those in ``allow``."""
    return [
        f"U+{ord(c):04X} {unicodedata.name(c, '?')}"
        for c in text
        if c not in allow and needs_escape(c)
    ]
