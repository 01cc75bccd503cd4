"""A small pySigma backend that writes one DuckDB boolean expression per Sigma rule.

Modelled on pysigma-backend-sqlite (a ``TextQueryBackend`` subclass), but for the event store:
fields are typed columns or ``raw`` map keys. A map key renders as the column ``"raw.Name"`` of
a flattened relation (``fields.flatten``: each key extracted once per row, then every rule reads
plain columns); the keys a rule reads are collected in ``keys`` while it converts. Every
string comparison ignores case (Sigma's rule): the field is read lower-cased (``"lower.Name"``,
lower-cased once per row) and compared with the lower-cased value by equality, ``starts_with``,
``ends_with``, ``contains`` or LIKE. A missing map key is NULL, so a test on it is never true.
Under ``not`` that NULL must count as "did not match", hence the ``COALESCE(..., false)`` around
every negated operand. CIDRs expand to prefix patterns (DuckDB's inet extension is a
download: not used). Keywords search all of an event's ``raw`` values.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from sigma.conditions import (
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
    TimestampPart,
)

from ashiato.sigma.fields import (
    COLUMNS,
    RAW_PREFIX,
    TEXT_COLUMNS,
    flat_column,
    flat_key,
    quote_ident,
    sql_string,
)
from ashiato.sigma.keywords import LIKE_ESCAPE as _LIKE_ESCAPE
from ashiato.sigma.keywords import KeywordsMixin


class DuckDBBackend(KeywordsMixin, TextQueryBackend):
    """Sigma rule -> SQL boolean expression over the ACCESS_EVENT table (no SELECT around it)."""

    name: ClassVar[str] = "ashiato DuckDB backend"
    identifier: ClassVar[str] = "ashiato_duckdb"
    formats: ClassVar[dict[str, str]] = {"default": "DuckDB boolean expression"}
    requires_pipeline: ClassVar[bool] = True

    group_expression: ClassVar[str] = "({expr})"
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = " = "
    str_quote: ClassVar[str] = "'"
    escape_char: ClassVar[str] = "\\"
    wildcard_multi: ClassVar[str] = "%"
    wildcard_single: ClassVar[str] = "_"
    add_escaped: ClassVar[str] = "\\"

    re_escape_char: ClassVar[str] = ""
    re_escape: ClassVar[list[str]] = []
    re_escape_escape_char: bool = False
    re_flag_prefix: bool = True  # RE2 reads (?i), (?m), (?s)
    re_flags: dict[SigmaRegularExpressionFlag, str] = SigmaRegularExpression.sigma_to_re_flag

    compare_operators: ClassVar[dict[Any, str]] = {
        SigmaCompareExpression.CompareOperators.LT: "<",
        SigmaCompareExpression.CompareOperators.LTE: "<=",
        SigmaCompareExpression.CompareOperators.GT: ">",
        SigmaCompareExpression.CompareOperators.GTE: ">=",
    }
    timestamp_part_mapping: ClassVar[dict[TimestampPart, str] | None] = {
        TimestampPart.MINUTE: "minute",
        TimestampPart.HOUR: "hour",
        TimestampPart.DAY: "day",
        TimestampPart.WEEK: "week",
        TimestampPart.MONTH: "month",
        TimestampPart.YEAR: "year",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keys: dict[str, None] = {}
        """Flattened columns (``fields.flat_key``) read by the rules converted since the last
        ``keys.clear()``, in order: ``raw`` keys as written, and lower-cased."""

    # -- fields ----------------------------------------------------------------------------

    def escape_and_quote_field(self, field_name: str) -> str:
        if field_name.startswith(RAW_PREFIX):
            return self._flat(field_name, lower=False)
        if field_name in COLUMNS:
            return quote_ident(field_name)
        raise SigmaFeatureNotSupportedByBackendError(
            f"field {field_name!r} was not mapped to the event store"
        )

    def _flat(self, field_name: str, *, lower: bool) -> str:
        keys = [flat_key(k, lower=lower) for k in field_name[len(RAW_PREFIX) :].split(",")]
        self.keys.update(dict.fromkeys(keys))
        if len(keys) == 1:
            return flat_column(keys[0])
        return "COALESCE(" + ", ".join(flat_column(k) for k in keys) + ")"

    def _lower(self, field_name: str) -> str:
        """The field as lower-cased text: map keys are lower-cased once per row when flattened,
        so a case-insensitive test is a plain (and cheap) comparison with a lower-cased value."""
        if field_name.startswith(RAW_PREFIX):
            return self._flat(field_name, lower=True)
        return f"lower({self._text(field_name)})"

    def _text(self, field_name: str) -> str:
        """The field as text: typed columns are cast so that string patterns apply to them."""
        sql = self.escape_and_quote_field(field_name)
        if field_name in COLUMNS and field_name not in TEXT_COLUMNS:
            return f"CAST({sql} AS VARCHAR)"
        return sql

    # -- values ----------------------------------------------------------------------------

    def _pattern(self, s: SigmaString) -> str:
        """A quoted LIKE pattern: Sigma wildcards become % and _, literal ones are escaped."""
        if s.contains_placeholder():
            raise SigmaFeatureNotSupportedByBackendError(
                f"value {s} has placeholders (|expand) and no mapping defines them"
            )
        converted = s.convert(
            escape_char=self.escape_char,
            wildcard_multi=self.wildcard_multi,
            wildcard_single=self.wildcard_single,
            add_escaped=self.add_escaped,
            filter_chars=self.filter_chars,
        )
        return sql_string(converted)

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        return self._pattern(s)

    def convert_value_re(self, r: SigmaRegularExpression, state: ConversionState) -> str:
        return sql_string(str(super().convert_value_re(r, state)))

    # -- field = value ---------------------------------------------------------------------

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """Case-insensitive: the lower-cased field against the lower-cased value, as equality,
        ``starts_with``, ``ends_with`` or ``contains`` when the wildcards allow (cheaper than
        LIKE), else LIKE."""
        value = cond.value
        assert isinstance(value, SigmaString)
        field = self._lower(str(cond.field))
        lowered = copy.copy(value)
        lowered.s = [p.lower() if isinstance(p, str) else p for p in value.s]
        return self._match(field, lowered)

    def _match(self, field: str, value: SigmaString) -> str:
        parts = list(value.s)
        lead = bool(parts) and parts[0] == SpecialChars.WILDCARD_MULTI
        trail = len(parts) > 1 and parts[-1] == SpecialChars.WILDCARD_MULTI
        core = parts[int(lead) : len(parts) - int(trail)]
        if not value.contains_placeholder() and all(isinstance(p, str) for p in core):
            text = sql_string("".join(str(p) for p in core))
            if lead and trail:
                return f"contains({field}, {text})"
            if lead:
                return f"ends_with({field}, {text})"
            if trail:
                return f"starts_with({field}, {text})"
            return f"{field} = {text}"
        return f"{field} LIKE {self._pattern(value)}{_LIKE_ESCAPE}"

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """``|cased``: LIKE keeps case."""
        value = cond.value
        assert isinstance(value, SigmaString)
        return self._match(self._text(str(cond.field)), value)

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """Numbers: equal on a typed column; on map text, as written or as a parsed integer."""
        value = cond.value
        assert isinstance(value, SigmaNumber)
        name = str(cond.field)
        sql = self.escape_and_quote_field(name)
        if name in COLUMNS and name not in TEXT_COLUMNS:
            return f"{sql} = {value.number}"
        kind = "BIGINT" if isinstance(value.number, int) else "DOUBLE"
        return f"({sql} = '{value.number}' OR TRY_CAST({sql} AS {kind}) = {value.number})"

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value = cond.value
        assert isinstance(value, SigmaBool)
        words = "('true', '1')" if value.boolean else "('false', '0')"
        return f"{self._lower(str(cond.field))} IN {words}"

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """``|re``: RE2 search (unanchored), flags as an inline prefix."""
        value = cond.value
        assert isinstance(value, SigmaRegularExpression)
        regex = self.convert_value_re(value, state)
        return f"regexp_matches({self._text(str(cond.field))}, {regex})"

    def compare_precedence(self, outer: Any, inner: Any) -> bool:
        """A CIDR expanding to several patterns is an OR: group it like an expansion."""
        if (
            isinstance(inner, ConditionFieldEqualsValueExpression)
            and isinstance(inner.value, SigmaCIDRExpression)
            and len(inner.value.expand()) > 1
        ):
            return isinstance(outer, ConditionOR)
        return bool(super().compare_precedence(outer, inner))

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """``|cidr``: the network's address prefixes as patterns (no extension needed)."""
        cidr = cond.value
        assert isinstance(cidr, SigmaCIDRExpression)
        parts = [
            self.convert_condition_field_eq_val_str(
                ConditionFieldEqualsValueExpression(cond.field, SigmaString(network)), state
            )
            for network in cidr.expand()
        ]
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """``|gt`` and friends: text that is not a number never compares."""
        value = cond.value
        assert isinstance(value, SigmaCompareExpression)
        op = self.compare_operators[value.op]
        sql = self.escape_and_quote_field(str(cond.field))
        return f"TRY_CAST({sql} AS DOUBLE) {op} {value.number}"

    def convert_condition_field_eq_val_timestamp_part(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """``|minute``, ``|hour``...: the part of a field read as a timestamp."""
        value = cond.value
        assert isinstance(value, SigmaTimestampPart)
        part = {**(self.timestamp_part_mapping or {})}[value.timestamp_part]
        sql = self.escape_and_quote_field(str(cond.field))
        return f"date_part('{part}', TRY_CAST({sql} AS TIMESTAMP)) = {value}"

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """``|fieldref``: two fields of one event, compared ignoring case."""
        ref = cond.value
        assert isinstance(ref, SigmaFieldReference)
        a = self._lower(str(cond.field))
        b = self._lower(ref.field)
        if ref.starts_with and ref.ends_with:
            return f"contains({a}, {b})"
        if ref.starts_with:
            return f"starts_with({a}, {b})"
        if ref.ends_with:
            return f"ends_with({a}, {b})"
        return f"{a} = {b}"

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """``field: null``: absent or empty."""
        sql = self._text(str(cond.field))
        return f"({sql} IS NULL OR {sql} = '')"

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return f"{self.escape_and_quote_field(str(cond.field))} IS NOT NULL"

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return f"{self.escape_and_quote_field(str(cond.field))} IS NULL"

    # -- not -------------------------------------------------------------------------------

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> str | None:
        """NOT over a NULL-safe operand: a test on a missing field is false, so NOT is true."""
        arg = cond.args[0]
        if arg is None:
            return None
        expr = self.convert_condition(arg, state)
        if expr is None:
            return None
        return f"NOT COALESCE({expr}, false)"

    def finalize_query_default(
        self, rule: SigmaRule | Any, query: str, index: int, state: ConversionState
    ) -> str:
        return query
