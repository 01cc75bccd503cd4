"""The investigation tests use the shared simulated estate (``tests/estate.py``)."""

from tests.estate import Estate, derived_store, truth_event_ids

__all__ = ["Estate", "derived_store", "truth_event_ids"]
