"""Verification: activity after T over blocked paths or by reset credentials is an alarm; a
quiet answer is qualified by which hosts have logs after T."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from ashiato.respond import verify_containment
from tests.respond.conftest import C1, Response, derived_store, truth_end


def test_alarm_inside_the_campaign(response: Response) -> None:
    plan, _ = response.plan(C1)
    since = datetime(2026, 9, 20, tzinfo=UTC)
    v = verify_containment(response.estate.store, response.estate.inventory, plan, since)
    truth = response.estate.truth_events[C1]
    assert v.verdict == "alarm"
    ids = {a.event_id for a in v.alarms}
    assert all(a.ts > since for a in v.alarms)
    assert ids <= truth, sorted(ids - truth)[:5]
    after = {
        r["event_id"]
        for r in response.history(C1).events
        if r["event_id"] in truth and r["ts"] > since and r["user"] == "adm-yamaguchi"
    }
    assert after <= ids  # every use of the stolen credential after T is an alarm
    assert all(a.src == "jp-tky-ws00001" for a in v.expected)  # the owner's own work


def test_quiet_after_the_campaign_with_coverage(response: Response) -> None:
    plan, _ = response.plan(C1)
    since = truth_end(response.estate, C1) + timedelta(seconds=1)
    v = verify_containment(response.estate.store, response.estate.inventory, plan, since)
    assert v.verdict == "no activity since T", v.summary
    assert not v.alarms
    assert v.store_end is not None and v.store_end > since
    hosts = {c.host for c in v.coverage}
    assert set(response.estate.campaigns[C1]["src_hosts"]) <= hosts
    assert {"jp-osa-dc01", "jp-osa-dc02"} <= hosts
    assert all(c.events_after > 0 and c.channels_after for c in v.coverage)
    assert "the store ends at 2026-09-30" in v.summary


def test_after_the_store_ends_is_unknown(response: Response) -> None:
    plan, _ = response.plan(C1)
    v = verify_containment(
        response.estate.store, response.estate.inventory, plan, datetime(2026, 10, 1, tzinfo=UTC)
    )
    assert v.verdict == "unknown"
    assert all(c.status == "unknown: no logs after T" for c in v.coverage)
    assert "nothing can be concluded" in v.summary


def test_a_silent_source_is_unknown_not_clean(response: Response) -> None:
    """The Jakarta workstation's logs and flows stop at the campaign's end: no alarm, and the
    verdict says that host is unknown."""
    estate = response.estate
    end = truth_end(estate, C1)
    ip = "10.30.16.20"

    def drop(t):  # type: ignore[no-untyped-def]
        mine = pc.or_(
            pc.equal(pc.fill_null(t["log_host"], ""), "id-jkt-ws00020"),
            pc.or_(
                pc.equal(pc.fill_null(t["src_ip"], ""), ip),
                pc.equal(pc.fill_null(t["dst_ip"], ""), ip),
            ),
        )
        return pc.and_(mine, pc.greater(t["ts"], pa.scalar(end, type=pa.timestamp("us", tz="UTC"))))

    store = derived_store(estate, "jkt-silent", drop)
    plan, _ = response.plan(C1)
    v = verify_containment(store, estate.inventory, plan, end + timedelta(seconds=1))
    assert not v.alarms
    assert v.verdict == "no activity seen since T, coverage partial"
    assert v.unknown_hosts == ["id-jkt-ws00020"]
    assert "id-jkt-ws00020" in v.summary
