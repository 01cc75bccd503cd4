"""The report's template environment: every value autoescaped and its controls shown escaped,
through plain output and ``join`` alike; only the report's own CSS passes as markup."""

from __future__ import annotations

from markupsafe import Markup

from ashiato.report.build import _environment
from tests.hostile import ISSUE_11, raw_controls


def test_values_are_escaped_text() -> None:
    tpl = _environment().from_string(
        "<style>{{ css|safe }}</style><p>{{ name }}</p><p>{{ names|join(', ') }}</p>"
        "<p>{{ hosts|join(', ', attribute='host') }}</p><p>{{ n }} {{ none }}</p>"
    )
    evil = "<script>alert(1)</script>\x00\u202e" + ISSUE_11
    out = tpl.render(
        css=Markup("p {\n  color: red;\n}"),
        name=evil,
        names=[evil, "ok"],
        hosts=[{"host": evil}],
        n=3,
        none=None,
    )
    assert "<script>" not in out and out.count("&lt;script&gt;") == 3
    assert not raw_controls(out.replace("p {\n  color: red;\n}", ""), allow="")
    assert "\\x00\\u202e=x&#39;; Set-Content" in out and "\\nPWNED-B" in out
    assert "<p>3 None</p>" in out
