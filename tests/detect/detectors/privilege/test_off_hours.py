"""Golden samples for privilege.off_hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays

from ashiato.detect.runner import detect
from ashiato.inventory import load_inventory
from tests.conftest import event, ts

DET = ["privilege.off_hours"]


def _days_and_late_evenings() -> list[dict]:
    rows = []
    for d in range(1, 11):  # 2026-09-01 is a Tuesday
        rows.append(
            event(ts=ts(d, 1), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-fs01")
        )  # 10:00 in Tokyo
        rows.append(
            event(ts=ts(d, 10), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-fs01")
        )  # 19:00 in Tokyo: works late, every day
    return rows


def test_positive_night_from_bangkok(inventory, write_events) -> None:
    rows = _days_and_late_evenings()
    rows.append(
        event(ts=ts(14, 10), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01")
    )  # 17:00 in Bangkok: working hours
    rows.append(
        event(ts=ts(15, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01")
    )  # 00:00 in Bangkok
    rows.append(
        event(ts=ts(17, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01")
    )  # again: no longer a first
    rep = detect(write_events(rows), inventory, detectors=DET)
    f = rep.findings.to_pylist()
    assert len(f) == 1
    assert "outside TH-BKK's working hours" in f[0]["reason"] and "(night)" in f[0]["reason"]
    assert f[0]["score"] == 80.0  # 55, +15 file server, +10 night


def test_negative_habitual_late_work_and_unprivileged(inventory, write_events) -> None:
    rows = _days_and_late_evenings()
    rows.append(
        event(ts=ts(14, 11), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-fs01")
    )  # 20:00 Tokyo: as in the baseline
    rows.append(
        event(ts=ts(15, 17), user="t.suzuki", src_ip="10.3.0.101", dst_host="jp-dc-fs01")
    )  # not privileged
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0


# Public holidays: JP-TKY's 2026 calendar has Marine Day on Monday 20 July, Mountain Day on
# Tuesday 11 August and Respect for the Aged Day on Monday 21 September.


def _at(day: date, hour_utc: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour_utc, tzinfo=UTC)


def _tokyo_office(first: date, last: date, *, holidays_too: bool = False) -> list[dict]:
    """adm-sato at 10:00 and 19:00 Tokyo on every weekday (holidays only when told)."""
    jp = holidays.country_holidays("JP", years=[first.year, last.year])
    rows, d = [], first
    while d <= last:
        if d.weekday() < 5 and (holidays_too or d not in jp):
            for hour in (1, 10):  # 10:00 and 19:00 in Tokyo: late evenings are habitual
                rows.append(
                    event(
                        ts=_at(d, hour), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-fs01"
                    )
                )
        d += timedelta(days=1)
    return rows


def _holiday_morning() -> dict:
    return event(
        ts=_at(date(2026, 9, 21), 1), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-fs01"
    )  # 10:00 in Tokyo on Respect for the Aged Day


def test_positive_first_holiday_worked(inventory, write_events) -> None:
    rows = [*_tokyo_office(date(2026, 8, 31), date(2026, 9, 18)), _holiday_morning()]
    f = detect(write_events(rows), inventory, detectors=DET).findings.to_pylist()
    assert len(f) == 1
    assert "JP-TKY's public holiday (Respect for the Aged Day)" in f[0]["reason"]
    assert f[0]["first_seen"].date() == date(2026, 9, 21)
    assert "on a holiday" in f[0]["title"]


def test_a_run_of_holidays_is_one_novelty(inventory, write_events) -> None:
    """Japan's Silver Week 2026 is three holidays (21-23 September): the work on the second one
    is judged with the first, each day its own finding; a holiday weeks later is not novel."""
    rows = [*_tokyo_office(date(2026, 8, 31), date(2026, 9, 18)), _holiday_morning()]
    rows.append(
        event(ts=_at(date(2026, 9, 22), 2), user="adm-sato", src_ip="10.1.0.101", dst_host="db9")
    )
    rows.append(
        event(ts=_at(date(2026, 10, 12), 2), user="adm-sato", src_ip="10.1.0.101", dst_host="x9")
    )  # Sports Day, three weeks on: no longer a first
    f = detect(write_events(rows), inventory, detectors=DET).findings.to_pylist()
    assert sorted(x["first_seen"].date() for x in f) == [date(2026, 9, 21), date(2026, 9, 22)]
    second = next(x for x in f if x["first_seen"].date() == date(2026, 9, 22))
    assert "db9" in second["entities"]["hosts"]
    assert (
        "same run of holidays as its first holiday worked from that site (2026-09-21)"
        in (second["reason"])
    )


def test_negative_account_that_works_holidays(inventory, write_events) -> None:
    rows = [*_tokyo_office(date(2026, 7, 20), date(2026, 9, 18), holidays_too=True)]
    rows.append(_holiday_morning())
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0


def test_inventory_override_removes_and_adds_holidays(inventory_dir, write_events) -> None:
    (inventory_dir / "holidays.csv").write_text(
        "site,date,name,observed\n"
        "JP-TKY,2026-09-21,,false\n"  # the Tokyo office works on Respect for the Aged Day
        "JP-TKY,2026-09-17,Founders' Day,true\n"  # and closes on its own founding day
    )
    inv = load_inventory(inventory_dir)
    rows = [*_tokyo_office(date(2026, 8, 31), date(2026, 9, 16)), _holiday_morning()]
    f = detect(write_events(rows), inv, detectors=DET).findings.to_pylist()
    assert f == []
    rows.append(
        event(
            ts=_at(date(2026, 9, 17), 1),
            user="adm-sato",
            src_ip="10.1.0.101",
            dst_host="jp-dc-fs01",
        )
    )
    f = detect(write_events(rows), inv, detectors=DET).findings.to_pylist()
    assert [r["first_seen"].date() for r in f] == [date(2026, 9, 17)]
    assert "(Founders' Day)" in f[0]["reason"]


def test_holidays_of_unprivileged_accounts_doing_a_days_work(inventory, write_events) -> None:
    rows = [{**r, "user": "t.suzuki"} for r in _tokyo_office(date(2026, 8, 31), date(2026, 9, 18))]
    rows.append({**_holiday_morning(), "user": "t.suzuki"})  # a look at one server: not judged
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0
    for i, host in enumerate(["jp-dc-dc01", "jp-tky-ws001", "app-a", "app-b"]):
        rows.append(
            {**_holiday_morning(), "user": "t.suzuki", "dst_host": host, "ts": ts(21, 2, i)}
        )
    root = write_events(rows)
    f = detect(root, inventory, detectors=DET).findings.to_pylist()
    assert len(f) == 1 and f[0]["score"] == 60.0  # 45, +15 file server; late evenings not judged
    assert "on JP-TKY's public holiday" in f[0]["reason"] and f[0]["evidence_count"] == 5
    params = {DET[0]: {"holidays_all_accounts": False}}  # privileged accounts only
    assert detect(root, inventory, detectors=DET, params=params).findings.num_rows == 0


def test_a_days_work_is_measured_against_the_accounts_own_typical_day(
    inventory, write_events
) -> None:
    """Three servers on a holiday: a full day for a one-server person, a short look for an
    account that reaches six on a working day."""
    busy = [f"app-{c}" for c in "abcdef"]
    rows = []
    for r in _tokyo_office(date(2026, 8, 31), date(2026, 9, 18)):
        rows.append({**r, "user": "t.suzuki"})  # one server a day
        rows += [{**r, "user": "k.ito", "dst_host": h} for h in busy]  # six a day
    for user in ("t.suzuki", "k.ito"):
        for i, host in enumerate(busy[:3]):
            rows.append({**_holiday_morning(), "user": user, "dst_host": host, "ts": ts(21, 2, i)})
    f = detect(write_events(rows), inventory, detectors=DET).findings.to_pylist()
    assert [r["entities"]["accounts"] for r in f] == [["t.suzuki"]]


def test_day_by_day_equals_batch(inventory, tmp_path) -> None:
    """Silver Week's first holiday (21 September) delivered only after the second was judged:
    the second first looks like the first holiday worked, then like the same run, as in one batch
    run; a night in Bangkok and an unprivileged account's holiday work are judged alike."""
    from tests.detect.foldcheck import runs, seen

    office = _tokyo_office(date(2026, 9, 7), date(2026, 9, 18))
    rows = [*office, *({**r, "user": "t.suzuki"} for r in office), _holiday_morning()]
    rows.append(
        event(ts=_at(date(2026, 9, 22), 2), user="adm-sato", src_ip="10.1.0.101", dst_host="db9")
    )
    rows.append(
        event(ts=ts(16, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01")
    )  # 00:00 in Bangkok
    for i, host in enumerate(["jp-dc-dc01", "jp-tky-ws001", "app-a"]):
        rows.append(
            {**_holiday_morning(), "user": "t.suzuki", "dst_host": host, "ts": ts(21, 2, i)}
        )
    got = runs(tmp_path, rows, inventory, DET, late=("2026-09-21", "2026-09-22"))
    batch = sorted(got["batch"].findings.to_pylist(), key=lambda x: (x["first_seen"], x["title"]))
    assert [(x["entities"]["accounts"][0], x["first_seen"].day) for x in batch] == [
        ("adm-sato", 16),
        ("adm-sato", 21),
        ("t.suzuki", 21),
        ("adm-sato", 22),
    ]
    assert "outside TH-BKK's working hours" in batch[0]["reason"]
    assert "same run of holidays as its first holiday worked from that site" in batch[3]["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])
