"""--infer-sites: without an inventory, private /16 subnets become sites; the rest stays unknown."""

from __future__ import annotations

from ashiato.detect.runner import detect
from tests.conftest import event, ts


def test_inferred_sites_feed_site_aware_detectors(write_events) -> None:
    rows = [
        event(ts=ts(1, 1), user="a", src_ip="10.1.0.5", dst_ip="10.2.0.9", dst_host="srv"),
        event(ts=ts(1, 2), user="a", src_ip="10.1.7.5", dst_ip="203.0.113.8", dst_host="web"),
        event(ts=ts(1, 3), user="b", src_ip="192.168.3.4", dst_ip="10.2.0.9", dst_host="srv"),
    ]
    root = write_events(rows)
    plain = detect(root, None)
    assert any("needs an inventory" in n for n in plain.notices)
    rep = detect(root, None, infer_sites=True)
    assert any("inferred 3 site(s)" in n for n in rep.notices), rep.notices
    ran = {r.detector for r in rep.runs if r.status == "ran"}
    assert "segmentation.policy_violation" in ran  # runs, but with no policy it finds nothing
    assert not [f for f in rep.findings.to_pylist() if f["detector"].startswith("segmentation")]


def test_infer_inventory_names_subnets(write_events) -> None:
    from ashiato.detect.infer import infer_inventory
    from ashiato.store import Store

    root = write_events([event(ts=ts(1, 1), user="a", src_ip="10.20.3.4", dst_ip="8.8.8.8")])
    st = Store(root)
    con = st.connect()
    inv = infer_inventory(st.events(con), con.to_pyarrow)
    assert [s.name for s in inv.sites] == ["NET-10.20.0.0/16"]
    assert inv.sites[0].country == "ZZ" and not inv.accounts and not inv.policy.rules
