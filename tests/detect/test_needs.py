"""Each detector's ``needs`` is truthful: the runner skips a detector when the store holds none of
the kinds it needs, so a wrong ``needs`` would silently drop real detections.

Three checks: a detector runs wherever one of its kinds is present; the kinds its SQL reads are
its ``needs`` plus a reviewed list of kinds it reads only to qualify candidates; and on the shared
simulated estate with whole kinds removed, a run that skips finds exactly what a run that forces
every detector and post-step to run finds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ashiato.detect import fold, runner
from ashiato.detect.detectors.exfil._staging import RECORD_KINDS as STAGING_KINDS
from ashiato.detect.registry import DETECTORS
from ashiato.detect.runner import detect
from ashiato.events import EventKind
from ashiato.inventory import Inventory
from tests.conftest import event, ts
from tests.estate import Estate, derived_store

QUALIFIERS: dict[str, set[EventKind]] = {
    # kinds a query reads beyond its ``needs``, only to qualify candidates drawn from them
    "fanout.failure_burst": {EventKind.LOGON},  # who then succeeded from the source
    "privilege.ntlm_where_kerberos": {EventKind.KERBEROS_TGT, EventKind.KERBEROS_SERVICE},
    # a TGT that could still be valid, or a runas on the host, clears a service ticket
    "privilege.ticket_without_tgt": {EventKind.KERBEROS_TGT, EventKind.EXPLICIT_CREDENTIALS},
    "privilege.explicit_credentials": {  # the account's history, the owner at the keyboard
        EventKind.LOGON,
        EventKind.KERBEROS_TGT,
        EventKind.SHARE_ACCESS,
        EventKind.SHARE_OBJECT,
        EventKind.KERBEROS_SERVICE,
    },
    # the session that staged a flagged upload or collection (``exfil._staging``): interactive
    # logons onto the host and the records between their sources and it, read for those only
    **{
        d: set(STAGING_KINDS) - {need}
        for d, need in (
            ("exfil.outbound_volume", EventKind.NETWORK_FLOW),
            ("exfil.new_external_destination", EventKind.NETWORK_FLOW),
            ("exfil.bulk_collection", EventKind.SHARE_OBJECT),
        )
    },
}
_KIND_VALUES = {k.value: k for k in EventKind}


def _rows_of(kinds: tuple[EventKind, ...]) -> list[dict[str, Any]]:
    return [
        event(
            ts=ts(1 + i), kind=k.value, user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01"
        )
        for i, k in enumerate(kinds)
    ]


@pytest.mark.parametrize("det", DETECTORS, ids=lambda d: d.SPEC.id)
def test_runs_where_one_of_its_kinds_is_present(
    det: Any, inventory: Inventory, write_events: Callable[[list[dict[str, Any]]], Path]
) -> None:
    for kind in det.SPEC.needs:
        root = write_events(_rows_of((kind,)))
        rep = detect(root, inventory, detectors=[det.SPEC.id])
        assert [r.status for r in rep.runs] == ["ran"], (kind, rep.runs)


def test_a_store_with_nothing_to_look_at_never_opens_the_engine(
    inventory: Inventory,
    write_events: Callable[[list[dict[str, Any]]], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A triage store of account changes: every detector skipped, saying why, no query built."""
    root = write_events(
        [event(ts=ts(3), kind="account_change", event_code=4720, user="x", log_host="dc1")]
    )

    def no_engine(*_: object, **__: object) -> None:
        raise AssertionError("the engine was connected")

    monkeypatch.setattr(runner.Store, "connect", no_engine)
    rep = detect(root, None, infer_sites=True)
    assert rep.events_scanned == 1 and rep.findings.num_rows == 0
    assert {r.detector for r in rep.runs} == {d.SPEC.id for d in DETECTORS}
    for r in rep.runs:
        assert r.status.startswith("skipped: no ") and r.status.endswith(" events in the store")
    hop = next(r for r in rep.runs if r.detector == "lateral.hop_chain")
    assert hop.status == (
        "skipped: no logon, share_access, share_object, explicit_credentials or "
        "kerberos_service events in the store"
    )
    assert rep.notices == ()  # no sites inferred for detectors that do not run


@pytest.mark.parametrize("det", DETECTORS, ids=lambda d: d.SPEC.id)
def test_the_kinds_its_sql_reads_are_its_needs_and_reviewed_qualifiers(
    det: Any,
    inventory: Inventory,
    write_events: Callable[[list[dict[str, Any]]], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ibis

    sql: list[str] = []
    execute, run_sql = runner._Engine.execute, runner._Engine.run_sql

    def recording(self: Any, expr: Any) -> Any:
        sql.append(str(ibis.to_sql(expr, dialect="duckdb")))
        return execute(self, expr)

    def recording_sql(self: Any, text: str, schema: Any) -> Any:  # the detector's own query
        sql.append(text)
        return run_sql(self, text, schema)

    def recording_fold(raw: Any, compiled: Any) -> Any:  # a stateful detector's day queries
        sql.append(compiled[0])
        return run_fold(raw, compiled)

    run_fold = fold._run
    monkeypatch.setattr(runner._Engine, "execute", recording)
    monkeypatch.setattr(runner._Engine, "run_sql", recording_sql)
    monkeypatch.setattr(fold, "_run", recording_fold)
    for step in ("follow_credentials", "add_session_events", "name_ticket_servers"):
        monkeypatch.setattr(runner, step, lambda findings, *_: findings)  # the detector's SQL only
    root = write_events(_rows_of(tuple(EventKind)))
    detect(root, inventory, detectors=[det.SPEC.id])
    read = {
        _KIND_VALUES[v] for s in sql for v in re.findall(r"'([a-z_]+)'", s) if v in _KIND_VALUES
    }
    spec = det.SPEC
    assert set(spec.needs) <= read, f"{spec.id} needs kinds its query never reads"
    assert read - set(spec.needs) == QUALIFIERS.get(spec.id, set())


def _runs(store: Path, inventory: Inventory, *, force: bool, mp: pytest.MonkeyPatch) -> Any:
    if force:  # every kind claimed present: nothing skipped, every post-step run
        real = runner._kinds_present

        def everything(counts: Any) -> dict[EventKind, Any]:
            got = real(counts)
            stats = next(iter(got.values()))
            return {k: got.get(k, stats) for k in EventKind}

        mp.setattr(runner, "_kinds_present", everything)
    try:
        return detect(store, inventory)
    finally:
        mp.undo()


def _evidence(rep: Any) -> dict[str, tuple[str, ...]]:
    return {r["finding_id"]: tuple(r["evidence"]) for r in rep.findings.to_pylist()}


@pytest.mark.parametrize(
    "drop",
    [
        (EventKind.NETWORK_FLOW,),
        (EventKind.LOGON, EventKind.KERBEROS_TGT, EventKind.LOGON_FAILURE),
        tuple(k for k in EventKind if k not in (EventKind.LOGON, EventKind.NETWORK_FLOW)),
    ],
    ids=["no-flows", "no-logons-or-tgts", "logons-and-flows-only"],
)
def test_skipping_finds_what_forcing_every_detector_finds(
    estate: Estate, drop: tuple[EventKind, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    values = [k.value for k in drop]
    name = "needs-" + "-".join(sorted(values))[:60]
    store = derived_store(
        estate, name, lambda t: pc.is_in(t.column("kind"), value_set=pa.array(values))
    )
    skipped = _runs(store, estate.inventory, force=False, mp=monkeypatch)
    forced = _runs(store, estate.inventory, force=True, mp=monkeypatch)
    assert any(r.status.startswith("skipped: no ") for r in skipped.runs)
    assert all(r.status == "ran" for r in forced.runs)
    assert _evidence(skipped) == _evidence(forced)
