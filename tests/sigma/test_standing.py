"""Standing Sigma findings: a rule firing for the same actors day after day since the data began
becomes one finding that links no incident; anything that starts later stays as it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ashiato.detect.incidents import group
from ashiato.detect.spec import Finding
from ashiato.sigma.standing import DISCOUNT, collapse_standing
from tests.conftest import ts

START = datetime(2026, 9, 1, tzinfo=UTC)


def _f(
    key: str,
    day: int,
    actors: tuple[str, ...],
    det: str = "sigma:burst-then-success",
    *,
    hours: float = 1,
    score: float = 70,
) -> Finding:
    return Finding(
        detector=det,
        detector_version="sigma-1",
        title="Successful logon after a burst of failures",
        severity="high",
        score=score,
        techniques=("T1110",),
        first_seen=ts(day, 3),
        last_seen=ts(day, 3) + timedelta(hours=hours),
        accounts=actors[:1],
        hosts=("app01", f"fs{day:02d}"),
        sites=(),
        ips=("10.1.0.36",),
        reason=f"burst {key}",
        evidence=(f"e{key}a", f"e{key}b"),
        evidence_count=2,
        key=key,
        actors=actors,
    )


def test_a_service_retrying_all_month_is_one_standing_finding() -> None:
    svc = [_f(f"s{d}", d, ("svc-report", "app01"), score=70 + d % 3) for d in range(1, 29)]
    later = [_f(f"i{d}", d, ("adm-x", "ws9")) for d in (20, 21, 22, 23)]  # starts after warm-up
    other = _f("o", 2, ("svc-report", "app01"), det="sigma:other-rule")
    behaviour = _f("b", 2, ("svc-report", "app01"), det="privilege.off_hours")
    out = collapse_standing([*svc, *later, other, behaviour], START)
    standing = [f for f in out if f.details.get("standing")]
    assert len(standing) == 1 and len(out) == 1 + len(later) + 2
    s = standing[0]
    assert s.details["standing"] == {"findings": 28, "days": 28}
    assert s.score == 72 - DISCOUNT  # the strongest of them, lowered
    assert (s.first_seen, s.last_seen) == (svc[0].first_seen, svc[-1].last_seen)
    assert s.evidence[:4] == ("es1a", "es1b", "es2a", "es2b") and s.evidence_count == 56
    assert {"fs01", "fs28", "app01"} <= set(s.hosts)
    assert "fired 28 times on 28 days" in s.reason and "(standing: 28 times on 28 days)" in s.title
    assert s.finding_id not in {f.finding_id for f in svc}


def test_one_episode_spanning_the_month_counts_its_days() -> None:
    """Chains built on one month-long failure episode all start and end on the same days."""
    chains = [_f(f"c{k}", 1, ("svc-report", "app01"), hours=24 * 27) for k in range(50)]
    out = collapse_standing(chains, START)
    assert len(out) == 1 and out[0].details["standing"]["days"] == 28


def test_not_standing_too_few_days_or_begun_after_the_warm_up() -> None:
    two_days = [_f(f"a{d}", d, ("svc-a", "app02")) for d in (1, 2, 2)]
    late = [_f(f"b{d}", d, ("svc-b", "app03")) for d in range(9, 29)]
    single = [_f("c", 1, ("svc-c", "app04"), hours=24 * 20)]
    found = [*two_days, *late, *single]
    assert collapse_standing(found, START) == found
    assert collapse_standing(found, None) == found


def test_standing_findings_link_no_incident() -> None:
    """The intruder passing through the application server with the stale-password service:
    linked before through the shared keyboard, now two incidents."""
    intruder = _f("x", 12, ("adm-y", "app01"), det="lateral.hop_chain")
    svc = [_f(f"s{d}", d, ("svc-report", "app01")) for d in range(1, 29)]
    before = group([intruder, *svc])
    assert any(intruder in g and len(g) > 1 for g in before)
    after = group([intruder, *collapse_standing(svc, START)])
    assert sorted(len(g) for g in after) == [1, 1]
