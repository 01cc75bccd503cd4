"""Segmentation policy: first matching rule wins, then intra_site, then default."""

from __future__ import annotations

from ashiato.inventory import Inventory
from ashiato.inventory.policy import evaluate


def test_policy_order(inventory: Inventory) -> None:
    pol = inventory.policy
    acc = {a.user: a for a in inventory.accounts}
    # any site may reach a domain controller
    assert evaluate(pol, "TH-BKK", "workstation", "JP-DC", "domain-controller").action == "allow"
    # JP office to the data centre is allowed
    assert evaluate(pol, "JP-TKY", "workstation", "JP-DC", "file-server").action == "allow"
    # Thailand to the data centre's file server: only the engineering group
    v = evaluate(pol, "TH-BKK", "workstation", "JP-DC", "file-server", acc["adm-sato"], "adm-sato")
    assert (v.action, v.rule) == ("deny", "default")
    v = evaluate(pol, "TH-BKK", "workstation", "JP-DC", "file-server", acc["s.chai"], "s.chai")
    assert (v.action, v.rule) == ("allow", "engineers-to-fs")
    # a flow has no account: a group rule allowing the path gives the benefit of the doubt
    assert evaluate(pol, "TH-BKK", "workstation", "JP-DC", "file-server").action == "allow"
    # ... but not where no rule allows the path at all
    assert evaluate(pol, "TH-BKK", "workstation", "JP-TKY", "workstation").action == "deny"
    assert evaluate(pol, "TH-BKK", None, "TH-BKK", None).rule == "intra_site"
    assert evaluate(pol, None, None, "JP-DC", "file-server").rule == "unknown endpoint"
