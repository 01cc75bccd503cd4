from ashiato.detect import runner
from tests.conftest import event, ts


def test_smoke(inventory, write_events):
    rows = []
    # baseline: admin from JP for 10 days
    for d in range(1, 11):
        rows.append(event(ts=ts(d, 1), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-fs01"))
    # attack: admin from TH at night
    rows.append(event(ts=ts(12, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01"))
    rows.append(event(ts=ts(12, 18), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-dc01"))
    root = write_events(rows)
    rep = runner.detect(root, inventory)
    print(rep.runs)
    print(rep.findings.to_pylist())
    print(rep.incidents.to_pylist())
