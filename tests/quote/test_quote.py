"""Property tests: no string, however hostile, changes the structure of a rendered output."""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import shlex

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib import cbook
from rich.text import Text

from ashiato.quote import (
    Unsafe,
    chart,
    escape_text,
    jsontext,
    netaddr,
    one_line,
    powershell,
    shell,
    spreadsheet,
    term,
)
from ashiato.quote.text import needs_escape
from tests.hostile import PAYLOADS, ps_single_quoted_tokens

hostile = st.one_of(st.sampled_from(PAYLOADS), st.text(), st.text(alphabet="'\u2018\u2019`$;\n\r#"))


@given(hostile)
def test_escape_text_leaves_no_unsafe_character(value: str) -> None:
    out = escape_text(value)
    assert not any(needs_escape(c) for c in out)
    assert "\n" not in one_line(value) and "\r" not in one_line(value)


def test_escape_text_keeps_printable_text() -> None:
    assert escape_text("adm-tanaka 東京 C:\\Windows") == "adm-tanaka 東京 C:\\Windows"
    assert escape_text("a\x1b[2J\nb\u202e") == "a\\x1b[2J\\nb\\u202e"
    assert one_line("x" * 50, 10) == "x" * 9 + "…"


@given(hostile)
def test_powershell_literal_is_one_token_on_one_line(value: str) -> None:
    try:
        lit = powershell.literal(value)
    except Unsafe:
        assert any(needs_escape(c) for c in value)
        return
    line = f"Disable-ADAccount -Identity {lit}"
    assert "\n" not in line and "\r" not in line
    assert line.startswith("Disable-ADAccount -Identity ")
    assert ps_single_quoted_tokens(line) == [value]
    # the literal is the last token: nothing after its closing quote
    assert line.endswith(lit)


@given(hostile)
def test_powershell_text_literal_never_refuses(value: str) -> None:
    lit = powershell.text_literal(value, 900)
    assert ps_single_quoted_tokens(f"-Description {lit}") == [one_line(value, 900)]


@given(hostile)
def test_powershell_comment_is_one_line(value: str) -> None:
    c = powershell.comment(value)
    assert c.startswith("# ") and len(c.splitlines()) == 1


@pytest.mark.parametrize("name", PAYLOADS)
def test_hostile_names_are_never_hosts_and_accounts_stay_literals(name: str) -> None:
    try:
        assert ps_single_quoted_tokens(powershell.account(name)) == [name]
        assert all(c not in name for c in "\n\r\x1b;=")  # only harmless ones pass as accounts
    except Unsafe:
        pass
    with pytest.raises(Unsafe):
        powershell.host(name)


@pytest.mark.parametrize("name", ["adm-tanaka", "svc-sql", "ws-bkk-0042$", "o'brien", "yamada.t"])
def test_real_names_are_accepted(name: str) -> None:
    assert ps_single_quoted_tokens(powershell.account(name)) == [name]


def test_host_names() -> None:
    assert powershell.host("ws-bkk-0042") == "'ws-bkk-0042'"
    assert powershell.host("fs01.corp.example") == "'fs01.corp.example'"
    with pytest.raises(Unsafe):
        powershell.host("fs01'; calc")


@given(hostile)
def test_shell_literal_is_one_word(value: str) -> None:
    try:
        lit = shell.literal(value)
    except Unsafe:
        return
    assert shlex.split(f"echo {lit}") == ["echo", value]


@given(hostile)
def test_addresses_are_parsed_or_refused(value: str) -> None:
    try:
        out = netaddr.address(value)
    except Unsafe:
        return
    ipaddress.ip_network(out)  # re-parses: nothing but an address came out
    assert all(c in "0123456789abcdef.:/" for c in out)


@given(hostile)
def test_comments_and_remarks_are_inert(value: str) -> None:
    assert all(c.isalnum() or c in " ._:/-" for c in netaddr.nft_comment(value))
    r = netaddr.ios_remark(value)
    assert len(r) <= netaddr.IOS_REMARK_MAX and "?" not in r
    assert all(" " <= c <= "~" for c in r)
    assert len(netaddr.hash_comment(value).splitlines()) == 1


@given(hostile)
def test_csv_cells_are_never_formulas(value: str) -> None:
    c = spreadsheet.cell(value)
    assert not spreadsheet.is_formula(c) or c.startswith("'")
    assert not any(needs_escape(ch) for ch in c)


def test_csv_formula_prefixes() -> None:
    for v in ["=1+1", "+1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\t=1", "\r=1", " =1", "＝1"]:
        assert spreadsheet.cell(v).startswith("'"), v
    assert spreadsheet.cell("adm-tanaka") == "adm-tanaka"
    assert spreadsheet.cell(42) == 42
    assert spreadsheet.cell("=1", raw=True) == "=1"


def test_csv_table_and_rows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = pa.table({"user": ["=cmd", "ok"], "n": [1, 2], "hosts": [["@a", "b"], []]})
    out = spreadsheet.neutralise_table(t)
    assert out.column("user").to_pylist() == ["'=cmd", "ok"]
    assert out.column("n").to_pylist() == [1, 2]
    assert out.column("hosts").to_pylist() == ["'@a; b", ""]
    p = spreadsheet.write_rows(tmp_path / "x.csv", ["a", "b"], [{"a": "-1+1", "b": "x\ny"}])
    rows = list(csv.DictReader(io.StringIO(p.read_text())))
    assert rows == [{"a": "'-1+1", "b": "x\\ny"}]


@given(hostile)
def test_terminal_text_has_no_markup_or_controls(value: str) -> None:
    assert term.text(value).plain == escape_text(value)
    shown = Text.from_markup(f"[bold]{term.markup(value)}[/]")
    assert [(s.start, s.end) for s in shown.spans] == [(0, len(shown.plain))]  # no tag of its own
    assert not any(needs_escape(c) for c in shown.plain)


@given(st.recursive(st.none() | hostile, lambda c: st.lists(c) | st.dictionaries(hostile, c)))
def test_json_text_escapes_every_unsafe_character(value: object) -> None:
    for text in (
        jsontext.dumps(value),
        jsontext.dumps(value, indent=2),
        jsontext.dumpb(value).decode(),
    ):
        assert json.loads(text) == value
        assert not any(needs_escape(c) for c in text if c not in "\n")


def test_json_text_astral_and_c1() -> None:
    assert jsontext.dumps("\U000e0041\x9b\u202e日本") == '"\\udb40\\udc41\\u009b\\u202e日本"'
    assert json.loads(jsontext.dumps("\U000e0041")) == "\U000e0041"


@given(hostile)
def test_chart_labels_are_never_mathtext(value: str) -> None:
    out = chart.label(value, 20)
    assert not cbook.is_math_text(out)
    assert len(out.replace("\\$", "$")) <= 20
    assert not any(needs_escape(c) for c in out)


def test_chart_label_draws(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    fig.add_subplot().set_title(chart.label("a$\\frac{1}{0}$b\x00\x1b[2J" + "x" * 300))
    fig.savefig(tmp_path / "x.png")
