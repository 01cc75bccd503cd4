"""Keyword (field-less) Sigma values: searched in every ``raw`` value of an event.

Sigma keywords match anywhere in an event. The store keeps each source field as text in the
``raw`` map, so the values joined by a unit separator are the event's searchable text.
"""

from __future__ import annotations

from typing import Any

from sigma.conditions import ConditionOR, ConditionValueExpression
from sigma.conversion.state import ConversionState
from sigma.types import SigmaCasedString, SigmaExpansion, SigmaRegularExpression, SigmaString

FULLTEXT = "array_to_string(map_values(raw), chr(31))"
"""All of an event's raw values in one string (unit separator between them)."""
LIKE_ESCAPE = " ESCAPE '\\'"


class KeywordsMixin:
    """The keyword half of ``DuckDBBackend`` (needs its ``_pattern`` and regex conversion)."""

    _pattern: Any
    convert_value_re: Any
    convert_condition_or: Any

    def convert_condition_val(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        """Keyword expansions (``|windash``, ``|base64offset``) OR their values."""
        if isinstance(cond.value, SigmaExpansion):
            return self.convert_condition_or(
                ConditionOR([ConditionValueExpression(v) for v in cond.value.values], cond.source),
                state,
            )
        return super().convert_condition_val(cond, state)  # type: ignore[misc]

    def convert_condition_val_str(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> str:
        """A keyword: anywhere in any raw value."""
        value = cond.value
        assert isinstance(value, SigmaString)
        op = "LIKE" if isinstance(value, SigmaCasedString) else "ILIKE"
        return f"{FULLTEXT} {op} '%' || {self._pattern(value)} || '%'{LIKE_ESCAPE}"

    def convert_condition_val_num(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> str:
        return f"contains({FULLTEXT}, '{cond.value}')"

    def convert_condition_val_re(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> str:
        value = cond.value
        assert isinstance(value, SigmaRegularExpression)
        return f"regexp_matches({FULLTEXT}, {self.convert_value_re(value, state)})"
