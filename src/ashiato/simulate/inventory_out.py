"""Write the simulated enterprise as an inventory directory that ``load_inventory`` accepts.

The layout is a contract (sites.yaml, policy.yaml, data.yaml, assets.csv, accounts.csv); the policy
is written for an incident-response analyst to read: default deny, intra-site allow, and named rules
for every legitimate cross-site path the benign model uses.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import yaml

from ashiato.simulate.config import DOMAIN
from ashiato.simulate.enterprise import DC_SITE, HQ, Enterprise

PLAIN_GROUPS = frozenset({"XSite-Engineering"})
"""Memberships that grant no administrative rights (the rest are privileged groups)."""


def _policy(e: Enterprise) -> dict[str, Any]:
    names = [s.name for s in e.sites]
    jp = [s.name for s in e.sites if s.country == "JP"]
    overseas = [s.name for s in e.sites if s.country != "JP"]
    rules: list[dict[str, str]] = [
        {
            "name": "any-to-domain-controllers",
            "to_role": "domain-controller",
            "description": "Every host and account authenticates against the DCs (Kerberos, LDAP, "
            "SYSVOL).",
        },
        {
            "name": "dc-ops-services-to-all",
            "from_site": DC_SITE,
            "from_role": "server",
            "accounts": "service",
            "description": "Backup, patch, SCCM and the vulnerability scanner "
            "in the data centre reach every host with their service accounts.",
        },
        {
            "name": "hq-domain-admins-anywhere",
            "from_site": HQ,
            "accounts": "group:Domain Admins",
            "description": "Domain Admins administer everything, from their HQ admin workstations "
            "only.",
        },
        {
            "name": "hq-helpdesk-to-workstations",
            "from_site": HQ,
            "to_role": "workstation",
            "accounts": "group:Helpdesk",
            "description": "Help desk supports every office's PCs.",
        },
    ]
    for s in overseas:
        rules.append(
            {
                "name": f"{s.lower()}-site-admins-own-site",
                "from_site": s,
                "to_site": s,
                "accounts": "group:Site Admins",
                "description": f"{s} site admins administer their own office.",
            }
        )
    rules.append(
        {
            "name": "site-admins-no-cross-site",
            "accounts": "group:Site Admins",
            "action": "deny",
            "description": "Overseas site admins never leave their own site.",
        }
    )
    xsite_sites = sorted({e.sites[e.users[u].home_site].name for u in e.xsite})
    for s in xsite_sites:
        rules.append(
            {
                "name": f"{s.lower()}-xsite-engineering-to-jp-files",
                "from_site": s,
                "from_role": "workstation",
                "to_site": DC_SITE,
                "to_role": "file-server",
                "accounts": "group:XSite-Engineering",
                "description": "The cross-site engineering team works on JP design shares.",
            }
        )
    for s in overseas:
        rules.append(
            {
                "name": f"{s.lower()}-staff-to-jp-file-shares",
                "from_site": s,
                "from_role": "workstation",
                "to_site": DC_SITE,
                "to_role": "file-server",
                "accounts": "unprivileged",
                "description": "Company file shares in the data centre are open to every office's "
                "staff; administrator credentials are never used from overseas offices (tiered "
                "administration).",
            }
        )
        rules.append(
            {
                "name": f"{s.lower()}-file-server-backup",
                "from_site": s,
                "from_role": "file-server",
                "to_site": DC_SITE,
                "to_role": "server",
                "accounts": "service",
                "description": "Office file servers replicate to the data-centre backup server.",
            }
        )
        rules.append(
            {
                "name": f"{s.lower()}-workstations-to-dc-services",
                "from_site": s,
                "from_role": "workstation",
                "to_site": DC_SITE,
                "to_role": "server",
                "description": "Mail, intranet and proxy in the data centre serve every office.",
            }
        )
    for a in jp:
        for b in jp:
            if a != b:
                rules.append(
                    {
                        "name": f"jp-{a.lower()}-to-{b.lower()}",
                        "from_site": a,
                        "to_site": b,
                        "description": "Japanese sites share one network.",
                    }
                )
    del names
    return {"default": "deny", "intra_site": "allow", "rules": rules}


def write_inventory(e: Enterprise, root: Path) -> list[Path]:
    """Write the five inventory files under ``root`` and return their paths."""
    root.mkdir(parents=True, exist_ok=True)
    sites = [
        {
            "name": s.name,
            "country": s.country,
            "timezone": s.tz,
            "cidrs": [f"10.{s.octet}.0.0/16"],
            "host_patterns": [f"{s.prefix}-*"],
            "working_hours": list(s.working_hours),
            "description": s.description,
        }
        for s in e.sites
    ]
    data = {
        "data_stores": e.data_stores,
        "customers": [{"id": i, "name": n, "country": c} for i, n, c in e.customers],
    }
    out = [root / "sites.yaml", root / "policy.yaml", root / "data.yaml"]
    for path, doc in zip(out, ({"sites": sites}, {"policy": _policy(e)}, data), strict=True):
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    assets = root / "assets.csv"
    with assets.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["host", "ips", "site", "role", "criticality", "data_categories", "owner"])
        for h in e.hosts:
            cats = ";".join(h.categories)
            w.writerow(
                [h.name, h.ip, e.sites[h.site].name, h.role, h.criticality, cats, h.owner or ""]
            )
    accounts = root / "accounts.csv"
    with accounts.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["user", "domain", "privileged_groups", "groups", "kind", "home_site", "owner"])
        for u in e.users:
            w.writerow(
                [
                    u.name,
                    DOMAIN,
                    ";".join(g for g in u.groups if g not in PLAIN_GROUPS),
                    ";".join(g for g in u.groups if g in PLAIN_GROUPS),
                    u.kind,
                    e.sites[u.home_site].name,
                    u.owner or "",
                ]
            )
    return [*out, assets, accounts]
