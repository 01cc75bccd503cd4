"""Golden samples for segmentation.policy_violation."""

from __future__ import annotations

from ashiato.detect.runner import detect
from ashiato.inventory import load_inventory
from tests.conftest import event, ts

DET = ["segmentation.policy_violation"]


def test_positive_admin_from_thailand_to_file_server(inventory, write_events) -> None:
    root = write_events(
        [
            event(ts=ts(5, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01"),
            event(
                ts=ts(5, 18),
                user="adm-sato",
                src_ip="10.3.0.101",
                dst_host="jp-dc-fs01",
                kind="share_access",
                event_code=5140,
                share="\\\\*\\CustomerData",
            ),
            event(
                ts=ts(6, 18),
                kind="network_flow",
                event_code=None,
                src_ip="10.3.0.102",
                dst_ip="10.1.0.101",
                dst_port=445,
                user=None,
                logon_type=None,
            ),
        ]
    )
    rep = detect(root, _inv(inventory), detectors=DET)
    rows = rep.findings.to_pylist()
    assert len(rows) == 2
    admin = next(r for r in rows if r["entities"]["accounts"] == ["adm-sato"])
    assert admin["evidence"] == ["e000000", "e000001"] and admin["evidence_count"] == 2
    assert admin["entities"]["sites"] == ["JP-DC", "TH-BKK"]
    assert "jp-dc-fs01" in admin["reason"] and "default" in admin["reason"]
    assert admin["score"] > 80
    flow = next(r for r in rows if not r["entities"]["accounts"])
    assert flow["evidence"] == ["e000002"]
    assert "TH-BKK" in flow["reason"] and "JP-TKY" in flow["reason"]


def test_negative_allowed_paths(inventory, write_events) -> None:
    root = write_events(
        [
            # Thai engineer in the allowed group reaching the JP file server
            event(ts=ts(5, 3), user="s.chai", src_ip="10.3.0.101", dst_host="jp-dc-fs01"),
            # anyone to the domain controller
            event(ts=ts(5, 4), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-dc01"),
            # Japan office to the data centre
            event(ts=ts(5, 5), user="t.suzuki", src_ip="10.1.0.101", dst_host="jp-dc-fs01"),
            # failed logons are not accesses
            event(
                ts=ts(5, 6),
                user="adm-sato",
                src_ip="10.3.0.101",
                dst_host="jp-dc-fs01",
                kind="logon_failure",
                outcome="failure",
                event_code=4625,
            ),
            # unknown (external) source: not judged by the policy
            event(ts=ts(5, 7), kind="network_flow", src_ip="203.0.113.9", dst_ip="10.2.0.20"),
        ]
    )
    rep = detect(root, _inv(inventory), detectors=DET)
    assert rep.findings.num_rows == 0


def test_skipped_without_inventory(write_events) -> None:
    root = write_events([event(ts=ts(5), user="x", src_ip="10.3.0.101", dst_host="jp-dc-fs01")])
    rep = detect(root, None, detectors=DET)
    assert rep.runs[0].status.startswith("skipped")
    assert rep.notices and "needs an inventory" in rep.notices[0]


def _inv(inventory):
    return inventory


def test_many_ordinary_accounts_on_one_path_are_one_low_finding(
    inventory_dir, write_events
) -> None:
    """Six ordinary Thai accounts reaching the JP file server (a practice the policy forbids) give
    one grouped low-score finding; the admin doing the same on the same path stays individual."""
    with (inventory_dir / "accounts.csv").open("a") as fh:
        fh.writelines(f"u.thai{i},CORP,,,human,TH-BKK,\n" for i in range(6))
    inventory = load_inventory(inventory_dir)
    rows = [
        event(ts=ts(3, 9 + i), user=f"u.thai{i}", src_ip="10.3.0.101", dst_host="jp-dc-fs01")
        for i in range(6)
    ]
    rows.append(event(ts=ts(9, 9), user="adm-sato", src_ip="10.3.0.102", dst_host="jp-dc-fs01"))
    rep = detect(_inv_root(write_events, rows), inventory, detectors=DET)
    found = rep.findings.to_pylist()
    assert len(found) == 2
    group, admin = sorted(found, key=lambda r: r["score"])
    assert group["entities"]["accounts"] == [f"u.thai{i}" for i in range(6)]
    assert group["score"] == 31.2 and group["severity"] == "low"
    assert group["evidence_count"] == 6 and "standing practice" in group["reason"]
    assert admin["entities"]["accounts"] == ["adm-sato"] and admin["score"] > 80
    assert "6 ordinary account(s) break the policy to reach these JP-DC hosts" in admin["reason"]
    # below the threshold every account stays individual
    rep = detect(
        _inv_root(write_events, rows),
        inventory,
        detectors=DET,
        params={DET[0]: {"systemic_accounts": 7}},
    )
    assert rep.findings.num_rows == 7


def test_a_practice_growing_over_days_is_grouped_from_the_day_it_is_one(
    inventory_dir, write_events
) -> None:
    """Peers are counted up to the judged day: one new Thai account a day (days 3 to 8), the
    first four are alarms each (1 to 4 accounts: no practice yet); from day 7 (the fifth) the
    path's breaks are grouped, and day 8's joins that group; the admin stays individual."""
    with (inventory_dir / "accounts.csv").open("a") as fh:
        fh.writelines(f"u.thai{i},CORP,,,human,TH-BKK,\n" for i in range(6))
    inventory = load_inventory(inventory_dir)
    rows = [
        event(ts=ts(3 + i, 9), user=f"u.thai{i}", src_ip="10.3.0.101", dst_host="jp-dc-fs01")
        for i in range(6)
    ]
    rows.append(event(ts=ts(9, 9), user="adm-sato", src_ip="10.3.0.102", dst_host="jp-dc-fs01"))
    found = detect(_inv_root(write_events, rows), inventory, detectors=DET).findings.to_pylist()
    single = sorted(r["entities"]["accounts"][0] for r in found if r["severity"] != "low")
    assert single == ["adm-sato", "u.thai0", "u.thai1", "u.thai2", "u.thai3"]
    (group,) = [r for r in found if r["severity"] == "low"]
    assert group["entities"]["accounts"] == ["u.thai4", "u.thai5"]
    assert group["evidence_count"] == 2 and "on 2 day(s)" in group["reason"]
    admin = next(r for r in found if r["entities"]["accounts"] == ["adm-sato"])
    assert "6 ordinary account(s) break the policy to reach these JP-DC hosts" in admin["reason"]


def _inv_root(write_events, rows):
    return write_events(rows)


def test_owner_at_the_source_computer_lowers_the_score(inventory_dir, write_events) -> None:
    """Hard negative: an admin on a business trip. Its owner k.sato logs on at the Bangkok desk,
    then adm-sato reaches the JP file server from it: still a break, scored 40 lower and said so.
    The same access with the owner nowhere near keeps the full score."""
    acc = inventory_dir / "accounts.csv"
    acc.write_text(
        acc.read_text().replace("adm-sato,CORP,Domain Admins,,human,JP-TKY,", "")
        + "adm-sato,CORP,Domain Admins,,human,JP-TKY,k.sato\n"
    )
    inv = load_inventory(inventory_dir)
    desk = event(ts=ts(5, 8), user="k.sato", logon_type=2, dst_host="th-bkk-ws002")
    hop = event(ts=ts(5, 9), user="adm-sato", src_ip="10.3.0.102", dst_host="jp-dc-fs01")
    trip = detect(write_events([desk, hop]), inv, detectors=DET).findings.to_pylist()
    assert len(trip) == 1 and trip[0]["score"] == 52.0
    assert "owner k.sato logged on interactively at th-bkk-ws002" in trip[0]["reason"]
    far = dict(desk, ts=ts(3, 8))  # two days earlier: not within 12 h
    alone = detect(write_events([far, hop]), inv, detectors=DET).findings.to_pylist()
    assert len(alone) == 1 and alone[0]["score"] == 92.0 and "owner" not in alone[0]["reason"]


def test_the_policy_expression_decides_as_the_policy_module(inventory) -> None:
    """The compiled policy gives every path the verdict and rule ``policy.evaluate`` gives."""
    import itertools

    import ibis

    from ashiato.detect.detectors.segmentation import policy_violation as pv
    from ashiato.detect.spec import DetectionContext
    from ashiato.inventory import policy as pol
    from ashiato.inventory.model import Policy, PolicyRule

    rules = [
        PolicyRule(name="named", from_site="TH-BKK", accounts="user:ADM-SATO", action="deny"),
        PolicyRule(name="xsite", to_role="file-server", accounts="group:XSite"),
        PolicyRule(name="svc", from_role="workstation", accounts="service", action="deny"),
        PolicyRule(name="priv", to_site="JP-DC", accounts="privileged"),
        PolicyRule(name="plain", from_site="JP-TKY", accounts="unprivileged", action="deny"),
        PolicyRule(name="humans", to_role="workstation", accounts="human"),
        PolicyRule(name="dc", to_role="domain-controller"),
    ]
    accounts = {a.user: a for a in inventory.accounts}
    sites, roles = ["JP-TKY", "JP-DC", "TH-BKK"], ["workstation", "file-server", None]
    users = [*accounts, "stranger", None]
    for intra, default, n in (("allow", "deny", 7), ("deny", "allow", 4), ("allow", "deny", 0)):
        policy = Policy(default=default, intra_site=intra, rules=rules[:n])
        inv = inventory.model_copy(update={"policy": policy})
        paths = list(itertools.product(sites, roles, sites, roles, users))
        cols = ("src_site", "src_role", "dst_site", "dst_role", "user")
        data = {c: [p[i] for p in paths] for i, c in enumerate(cols)}
        data["privileged"] = [bool(u in accounts and accounts[u].privileged) for u in data["user"]]
        data["account_kind"] = [
            accounts[u].kind.value if u in accounts else None for u in data["user"]
        ]
        data["groups"] = [accounts[u].all_groups if u in accounts else None for u in data["user"]]
        t = ibis.memtable(
            data,
            schema={
                **dict.fromkeys(cols, "string"),
                "privileged": "boolean",
                "account_kind": "string",
                "groups": "array<string>",
            },
        )
        ctx = DetectionContext(
            events=t, inventory=inv, params={}, execute=lambda e: e.to_pyarrow(), data_start=None
        )
        got = pv._verdicts(ctx, t).to_pyarrow().to_pylist()
        for row in got:
            want = pol.evaluate(
                policy, *(row[c] for c in cols[:4]), accounts.get(row["user"] or ""), row["user"]
            )
            assert (row["deny"], row["rule"]) == (want.action == "deny", want.rule), row


def test_daily_runs_and_a_late_day_equal_one_batch_run(inventory_dir, tmp_path) -> None:
    """A practice grouped on day 3 goes on on day 6 (a new account) and day 7 (a flow between
    hosts a grouped account used); an admin on a trip is used on days 5 and 6, each time after
    its owner logged on at the desk late the evening before (the state's last desk logon)."""
    from tests.detect.foldcheck import runs, seen

    acc = inventory_dir / "accounts.csv"
    text = acc.read_text().replace("adm-sato,CORP,Domain Admins,,human,JP-TKY,", "")
    text += "adm-sato,CORP,Domain Admins,,human,JP-TKY,k.sato\n"
    acc.write_text(text + "".join(f"u.thai{i},CORP,,,human,TH-BKK,\n" for i in range(6)))
    inv = load_inventory(inventory_dir)
    ws = {"src_ip": "10.3.0.101", "dst_host": "jp-tky-ws001"}
    rows = [event(ts=ts(3, 9 + i), user=f"u.thai{i}", **ws) for i in range(5)]
    rows.append(event(ts=ts(6, 9), user="u.thai5", **ws))
    rows.append(
        event(
            ts=ts(7, 9),
            kind="network_flow",
            event_code=None,
            user=None,
            logon_type=None,
            src_ip="10.3.0.101",
            dst_ip="10.1.0.101",
            dst_port=445,
        )
    )
    for d in (4, 5):
        rows.append(event(ts=ts(d, 22), user="k.sato", logon_type=2, dst_host="th-bkk-ws002"))
        rows.append(
            event(ts=ts(d + 1, 2), user="adm-sato", src_ip="10.3.0.102", dst_host="jp-dc-fs01")
        )
    got = runs(tmp_path, rows, inv, DET, late=("2026-09-05", "2026-09-06"))
    batch = got["batch"].findings.to_pylist()
    assert len(batch) == 2
    group = next(r for r in batch if r["severity"] == "low")
    assert group["entities"]["accounts"] == [f"u.thai{i}" for i in range(6)]
    assert group["evidence_count"] == 7 and "on 3 day(s)" in group["reason"]
    admin = next(r for r in batch if r["entities"]["accounts"] == ["adm-sato"])
    assert admin["score"] == 52.0 and admin["evidence_count"] == 2
    assert "owner k.sato logged on interactively" in admin["reason"]
    assert "on 2 day(s)" in admin["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])


def test_a_desk_logon_on_a_later_day_of_the_slice_lowers_nothing_before_it(
    inventory_dir, write_events
) -> None:
    """Days 5 and 6 judged in one slice: adm-sato is used from the Bangkok desk at 22:00 on day
    5, its owner k.sato logs on there at 02:00 on day 6 (within 12 h, but the next day) and the
    admin is used again at 03:00. Day 5 is judged as alone (full score, the strongest day's words
    kept); day 6's use is the lowered one."""
    acc = inventory_dir / "accounts.csv"
    acc.write_text(
        acc.read_text().replace("adm-sato,CORP,Domain Admins,,human,JP-TKY,", "")
        + "adm-sato,CORP,Domain Admins,,human,JP-TKY,k.sato\n"
    )
    inv = load_inventory(inventory_dir)
    hop = {"user": "adm-sato", "src_ip": "10.3.0.102", "dst_host": "jp-dc-fs01"}
    rows = [
        event(ts=ts(5, 22), **hop),
        event(ts=ts(6, 2), user="k.sato", logon_type=2, dst_host="th-bkk-ws002"),
        event(ts=ts(6, 3), **hop),
    ]
    (f,) = detect(write_events(rows), inv, detectors=DET).findings.to_pylist()
    assert f["score"] == 92.0 and "owner k.sato" not in f["reason"]
    assert f["evidence_count"] == 2 and "on 2 day(s)" in f["reason"]
