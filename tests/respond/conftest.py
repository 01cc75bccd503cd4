"""The investigation tests' simulated estate (120 terminals, 30 days, every scenario), reused:
plans, history and replays are computed once per campaign for the session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from ashiato.investigate.data import Source
from ashiato.respond.history import History, history_for
from ashiato.respond.model import ContainmentPlan, Replay
from ashiato.respond.plan import plan_from_history
from ashiato.respond.replay import replay_history
from ashiato.store import Store
from tests.estate import Estate, derived_store

__all__ = ["C1", "Estate", "Response", "derived_store", "truth_end"]

C1 = "c1-valid-admin-th-id-ph"


def truth_end(estate: Estate, campaign: str) -> datetime:
    return datetime.fromisoformat(estate.campaigns[campaign]["end"].replace("Z", "+00:00"))


@dataclass
class Response:
    estate: Estate
    histories: dict[str, History] = field(default_factory=dict)
    cache: dict[tuple[str, Any], tuple[ContainmentPlan, Replay]] = field(default_factory=dict)

    def history(self, campaign: str) -> History:
        if campaign not in self.histories:
            inv = self.estate.of(campaign)
            source = Source.open(Store(self.estate.store), self.estate.inventory)
            try:
                self.histories[campaign] = history_for(source, self.estate.inventory, inv)
            finally:
                source.close()
        return self.histories[campaign]

    def plan(self, campaign: str, at: datetime | None = None) -> tuple[ContainmentPlan, Replay]:
        key = (campaign, at)
        if key not in self.cache:
            hist = self.history(campaign)
            plan = plan_from_history(self.estate.inventory, self.estate.of(campaign), hist, at)
            self.cache[key] = (plan, replay_history(plan, hist))
        return self.cache[key]


@pytest.fixture(scope="session")
def response(estate: Estate) -> Response:
    return Response(estate)
