"""Keyword (field-less) Sigma values: searched in every ``raw`` value of an event.

Sigma keywords match anywhere in an event. The store keeps each source field as text in the
``raw`` map, so the values joined by a unit separator are the event's searchable text.

Each keyword test is a flattened column of its own (``fields.KEYWORD_PREFIX`` + the test over
``FULLTEXT``): ``fields.flatten`` joins an event's values once per row and evaluates the test
there, so a run reads the ``raw`` map once per event and never copies it into its working table.
"""

from __future__ import annotations

import copy
from typing import Any

from sigma.conditions import ConditionOR, ConditionValueExpression
from sigma.conversion.state import ConversionState
from sigma.types import (
    SigmaCasedString,
    SigmaExpansion,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from ashiato.sigma.fields import FULLTEXT, KEYWORD_PREFIX, LFULLTEXT, flat_column

LIKE_ESCAPE = " ESCAPE '\\'"


class KeywordsMixin:
    """The keyword half of ``DuckDBBackend`` (needs its ``_pattern`` and regex conversion)."""

    _pattern: Any
    _match: Any
    convert_value_re: Any
    convert_condition_or: Any
    keys: dict[str, None]

    def _keyword(self, test: str) -> str:
        """The flattened boolean column holding ``test`` (an expression over FULLTEXT)."""
        name = KEYWORD_PREFIX + test
        self.keys[name] = None
        return flat_column(name)

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
        """A keyword: anywhere in any raw value. Case-insensitive keywords search the
        lower-cased text (computed once per row) for the lower-cased value: ``contains`` where
        the value has no wildcard, four times cheaper than ILIKE over SigmaHQ's keyword rules."""
        value = cond.value
        assert isinstance(value, SigmaString)
        cased = isinstance(value, SigmaCasedString)
        parts = list(value.s)
        while parts and parts[0] == SpecialChars.WILDCARD_MULTI:
            parts.pop(0)
        while parts and parts[-1] == SpecialChars.WILDCARD_MULTI:
            parts.pop()
        if not cased:
            parts = [p.lower() if isinstance(p, str) else p for p in parts]
        anywhere = copy.copy(value)
        anywhere.s = [SpecialChars.WILDCARD_MULTI, *parts, SpecialChars.WILDCARD_MULTI]
        return self._keyword(self._match(FULLTEXT if cased else LFULLTEXT, anywhere))

    def convert_condition_val_num(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> str:
        return self._keyword(f"contains({FULLTEXT}, '{cond.value}')")

    def convert_condition_val_re(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> str:
        value = cond.value
        assert isinstance(value, SigmaRegularExpression)
        return self._keyword(f"regexp_matches({FULLTEXT}, {self.convert_value_re(value, state)})")
