"""Onset against each campaign's ground-truth start, with confidence and the coverage bound."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.investigate.conftest import Estate

# Measured error (onset minus truth start) on this estate, in seconds: c1 0, svc-compromise 0.2,
# password-spray 0; the insider's onset is bounded by the first finding (their own workstation
# is their everyday machine), 11.8 h before the truth's start (a finding on earlier reads).
MAX_ERROR_S = {
    "c1-valid-admin-th-id-ph": 60,
    "svc-compromise": 60,
    "password-spray": 60,
    "insider-upload": 86_400,
}


@pytest.mark.parametrize("campaign", sorted(MAX_ERROR_S))
def test_onset_error(estate: Estate, campaign: str) -> None:
    onset = estate.of(campaign).onset
    assert onset is not None and onset.earliest is not None
    start = datetime.fromisoformat(estate.campaigns[campaign]["start"].replace("Z", "+00:00"))
    error = abs((onset.earliest - start).total_seconds())
    assert error <= MAX_ERROR_S[campaign], (onset.earliest, start, onset.reason)
    assert onset.confidence == "high"
    assert onset.coverage_start is not None and onset.coverage_start <= onset.earliest
    assert onset.event_ids


def test_onset_is_not_the_owners_routine(estate: Estate) -> None:
    """adm-yamaguchi's owner works from Tokyo since the logs began; onset is the first overseas
    use, a week later."""
    onset = estate.of("c1-valid-admin-th-id-ph").onset
    assert onset is not None and onset.earliest is not None and onset.coverage_start is not None
    assert (onset.earliest - onset.coverage_start).days >= 7
    assert "th-bkk-ws00013" in onset.reason
