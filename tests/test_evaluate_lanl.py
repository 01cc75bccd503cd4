"""Evaluate understands LANL redteam.txt labels: matched to auth events by time, hosts and user."""

from __future__ import annotations

from pathlib import Path

from ashiato.detect.runner import detect
from ashiato.evaluate import evaluate
from ashiato.ingest import ingest

AUTH = """\
1,C625$@DOM1,C625$@DOM1,C625,C625,Negotiate,Service,LogOn,Success
150885,U620@DOM1,U620@DOM1,C17693,C1003,NTLM,Network,LogOn,Success
150885,U620@DOM1,U620@DOM1,C17693,C1003,NTLM,Network,LogOff,Success
150886,U1@DOM1,U1@DOM1,C17693,C1003,NTLM,Network,LogOn,Success
151036,U748@DOM1,SYSTEM@C305,C17693,C305,NTLM,Network,LogOn,Success
"""
REDTEAM = "150885,U620@DOM1,C17693,C1003\n151036,U748@DOM1,C17693,C305\n"


def test_redteam_labels_match_auth_events(tmp_path: Path) -> None:
    (tmp_path / "auth.txt").write_text(AUTH)
    (tmp_path / "redteam.txt").write_text(REDTEAM)
    store = tmp_path / "store"
    epoch = "2015-03-01T00:00:00+00:00"
    report = ingest([tmp_path / "auth.txt"], store, workers=1, options={"lanl.epoch": epoch})
    assert report.records_stored == 5
    detect(store, None)  # no inventory: the inventory detectors are skipped, no findings
    ev = evaluate(store, tmp_path / "redteam.txt", epoch=epoch)
    c = ev.campaigns[0]
    assert c.id == "lanl-redteam"
    # label 1 matches the logon and the logoff of U620 (same second, hosts, user); label 2
    # matches through the source user (the destination account is SYSTEM)
    assert c.events == 3
    assert not c.detected and ev.event_recall == 0.0
