"""The simulated enterprise: sites, hosts, accounts, customers and data stores, from (seed, N).

Modelled on a Japanese manufacturer: a Tokyo headquarters, an Osaka data centre holding every domain
controller, file server and database, and offices in Thailand, Indonesia and the Philippines (more
plants when N is large). Everything is a plain list indexed by integers so the behaviour modules can
draw hosts and users with vectorised numpy and format them without lookups.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import holidays
import numpy as np

from ashiato.simulate.config import DC_PER_TERMINALS, DOMAIN_SID, FQDN_SUFFIX
from ashiato.simulate.names import CUST_A, CUST_B, SURNAMES


@dataclass(frozen=True)
class SiteSpec:
    """A site template: name, country, zone, host-name prefix and its share of the workstations."""

    name: str
    country: str
    tz: str
    prefix: str
    octet: int  # the site's network is 10.<octet>.0.0/16
    ws_share: float
    description: str
    working_hours: tuple[int, int] = (8, 17)
    local_fs: bool = False


BASE_SITES = (
    SiteSpec("JP-TKY-HQ", "JP", "Asia/Tokyo", "jp-tky", 10, 0.40, "Tokyo headquarters", (8, 18)),
    SiteSpec("JP-OSA-DC", "JP", "Asia/Tokyo", "jp-osa", 1, 0.0, "Osaka data centre", (8, 18)),
    SiteSpec("TH-BKK", "TH", "Asia/Bangkok", "th-bkk", 20, 0.22, "Bangkok office", local_fs=True),
    SiteSpec("ID-JKT", "ID", "Asia/Jakarta", "id-jkt", 30, 0.18, "Jakarta office", local_fs=True),
    SiteSpec("PH-MNL", "PH", "Asia/Manila", "ph-mnl", 40, 0.20, "Manila office", local_fs=True),
)
LARGE_SITES = (
    SiteSpec("JP-NGY", "JP", "Asia/Tokyo", "jp-ngy", 11, 0.12, "Nagoya factory", local_fs=True),
    SiteSpec("TH-RYG", "TH", "Asia/Bangkok", "th-ryg", 21, 0.08, "Rayong plant", local_fs=True),
    SiteSpec("VN-HAN", "VN", "Asia/Ho_Chi_Minh", "vn-han", 50, 0.06, "Hanoi office", local_fs=True),
)
#: A hard negative: an office that comes online mid-run (see ``hardneg``). It is in the inventory
#: and the policy from the start, as a planned office would be (IT registers it before go-live).
NEW_OFFICE = SiteSpec(
    "VN-HCM", "VN", "Asia/Ho_Chi_Minh", "vn-hcm", 52, 0.05, "Ho Chi Minh City office (new)",
    local_fs=True,
)  # fmt: skip
LARGE_N = 8000
HQ, DC_SITE = "JP-TKY-HQ", "JP-OSA-DC"

FS_CATEGORIES = (("customer-pii", "finance"), ("design-cad",), ("customer-pii", "design-cad"))
CATEGORY_SHARES = {
    "customer-pii": ("CustomerData", "Sales"),
    "finance": ("Finance",),
    "design-cad": ("Design", "Projects"),
    "local": ("Local",),
}


@dataclass
class Host:
    """One computer: names in the three spellings logs use, address, site and role."""

    idx: int
    name: str  # short, lower case
    site: int
    role: str
    ip: str
    criticality: str = "medium"
    categories: tuple[str, ...] = ()
    shares: tuple[str, ...] = ()
    owner: str | None = None
    upper: str = ""
    fqdn: str = ""
    machine: str = ""  # HOST$

    def __post_init__(self) -> None:
        self.upper = self.name.upper()
        self.fqdn = self.name + FQDN_SUFFIX
        self.machine = self.upper + "$"


@dataclass
class User:
    """One account: humans own a workstation; admins and service accounts have an owner."""

    idx: int
    name: str
    kind: str  # human | service
    home_site: int
    groups: tuple[str, ...] = ()
    owner: str | None = None
    ws: int = -1  # own workstation (host idx), -1 if none
    sid: str = ""


@dataclass
class Enterprise:
    """All sites, hosts and accounts, plus the role-indexed lists behaviours draw from."""

    n_terminals: int
    sites: list[SiteSpec]
    hosts: list[Host] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    customers: list[tuple[str, str, str]] = field(default_factory=list)  # id, name, country
    data_stores: list[dict[str, object]] = field(default_factory=list)
    site_ws: list[list[int]] = field(default_factory=list)
    site_hosts: list[list[int]] = field(default_factory=list)
    site_users: list[list[int]] = field(default_factory=list)  # ordinary humans by home site
    dcs: list[int] = field(default_factory=list)
    file_servers: list[int] = field(default_factory=list)  # JP-OSA-DC file servers
    local_fs: dict[int, int] = field(default_factory=dict)  # site -> local file server
    databases: list[int] = field(default_factory=list)
    servers: list[int] = field(default_factory=list)  # every non-workstation host
    infra: dict[str, int] = field(default_factory=dict)  # function -> host (mail, bk, sccm...)
    domain_admins: list[int] = field(default_factory=list)
    helpdesk: list[int] = field(default_factory=list)
    site_admins: list[int] = field(default_factory=list)
    xsite: list[int] = field(default_factory=list)
    services: dict[str, int] = field(default_factory=dict)
    admin_of: dict[int, int] = field(default_factory=dict)  # admin account -> owner human
    offdays: list[set[dt.date]] = field(default_factory=list)  # per site: public holidays
    new_site: int = -1  # the office that comes online mid-run (hard negative)
    migration_fs: list[int] = field(default_factory=list)  # new file servers, idle until migration

    def site_index(self, name: str) -> int:
        """Index of the site called ``name``."""
        return next(i for i, s in enumerate(self.sites) if s.name == name)

    def dc_for(self, host: int) -> int:
        """The domain controller a host authenticates against (stable per host)."""
        return self.dcs[host % len(self.dcs)]


def _add_host(e: Enterprise, name: str, site: int, role: str, ip: str, **kw: object) -> int:
    h = Host(len(e.hosts), name, site, role, ip, **kw)  # type: ignore[arg-type]
    e.hosts.append(h)
    e.site_hosts[site].append(h.idx)
    if role != "workstation":
        e.servers.append(h.idx)
    return h.idx


def _add_user(e: Enterprise, name: str, kind: str, site: int, **kw: object) -> int:
    u = User(len(e.users), name, kind, site, **kw)  # type: ignore[arg-type]
    u.sid = f"{DOMAIN_SID}-{1104 + u.idx}"
    e.users.append(u)
    return u.idx


def _servers(e: Enterprise, n: int, rng: np.random.Generator) -> None:
    osa = e.site_index(DC_SITE)
    ip = iter(range(10, 250))

    def srv(name: str, role: str, crit: str = "high", **kw: object) -> int:
        return _add_host(e, name, osa, role, f"10.1.0.{next(ip)}", criticality=crit, **kw)

    for i in range(max(2, round(n / DC_PER_TERMINALS))):
        e.dcs.append(srv(f"jp-osa-dc{i + 1:02d}", "domain-controller", "critical"))
    for i in range(max(2, n // 3000)):
        cats = FS_CATEGORIES[i % len(FS_CATEGORIES)]
        shares = (*tuple(s for c in cats for s in CATEGORY_SHARES[c]), "Users")
        crit = "critical" if "customer-pii" in cats else "high"
        e.file_servers.append(
            srv(f"jp-osa-fs{i + 1:02d}", "file-server", crit, categories=cats, shares=shares)
        )
    db_cats = (("customer-pii",), ("finance", "customer-pii"))
    for i in range(max(2, n // 6000)):
        e.databases.append(
            srv(f"jp-osa-db{i + 1:02d}", "database", "critical", categories=db_cats[i % 2])
        )
    for fn in ("mail", "web", "prx", "bk", "wsus", "sccm", "scan"):
        e.infra[fn] = srv(f"jp-osa-{fn}01", "server", "high")
    for i in range(max(2, n // 600)):
        e.infra[f"app{i + 1:02d}"] = srv(f"jp-osa-app{i + 1:02d}", "server", "medium")
    for i in range(max(2, n // 3000)):  # the migration's new file servers, staged but unused
        e.migration_fs.append(
            srv(
                f"jp-osa-nfs{i + 1:02d}",
                "file-server",
                "high",
                categories=("design-cad", "finance"),
                shares=("Dept", "Projects", "Users"),
            )
        )
    for s, spec in enumerate(e.sites):
        if spec.local_fs:
            e.local_fs[s] = _add_host(
                e,
                f"{spec.prefix}-fs01",
                s,
                "file-server",
                f"10.{spec.octet}.0.10",
                criticality="high",
                categories=("design-cad", "local"),
                shares=("Local", "Design"),
            )
    tky = e.site_index(HQ)
    e.infra["tky-prn"] = _add_host(
        e, "jp-tky-prn01", tky, "server", "10.10.0.10", criticality="low"
    )
    del rng


def _user_name(rng: np.random.Generator, country: str, number: int) -> str:
    names = SURNAMES[country]
    initial = chr(ord("a") + int(rng.integers(0, 26)))
    return f"{initial}.{names[int(rng.integers(0, len(names)))]}{number}"


def build_enterprise(n: int, seed: int) -> Enterprise:
    """Build the enterprise for ``n`` terminals deterministically from ``seed``."""
    if n < 20:
        raise ValueError(f"terminals must be at least 20, got {n}")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(1,))))
    specs = [*BASE_SITES, *(LARGE_SITES if n >= LARGE_N else ()), NEW_OFFICE]
    e = Enterprise(n, specs, new_site=len(specs) - 1)
    e.site_ws = [[] for _ in specs]
    e.site_hosts = [[] for _ in specs]
    e.site_users = [[] for _ in specs]
    _servers(e, n, rng)
    shares = np.array([s.ws_share for s in specs])
    counts = np.floor(shares / shares.sum() * n).astype(int)
    counts[0] += n - counts.sum()
    number = 100
    for s, spec in enumerate(specs):
        for i in range(int(counts[s])):
            third, fourth = 16 + i // 250, 1 + i % 250
            ws = _add_host(
                e,
                f"{spec.prefix}-ws{i + 1:05d}",
                s,
                "workstation",
                f"10.{spec.octet}.{third}.{fourth}",
                criticality="low",
            )
            number += 1 + int(rng.integers(0, 3))
            u = _add_user(e, _user_name(rng, spec.country, number), "human", s, ws=ws)
            e.hosts[ws].owner = e.users[u].name
            e.site_ws[s].append(ws)
            e.site_users[s].append(u)
    _privileged(e, rng)
    _customers(e, rng)
    return e


def _admin_name(e: Enterprise, prefix: str, owner: User) -> str:
    base = f"{prefix}-{owner.name.split('.')[1].rstrip('0123456789')}"
    taken = {u.name for u in e.users}
    name, k = base, 2
    while name in taken:
        name, k = f"{base}{k}", k + 1
    return name


def _privileged(e: Enterprise, rng: np.random.Generator) -> None:
    tky = e.site_index(HQ)
    osa = e.site_index(DC_SITE)
    pool = list(rng.permutation(e.site_users[tky]))
    n = e.n_terminals
    for _ in range(max(3, round(n / 3000))):
        owner = e.users[int(pool.pop())]
        a = _add_user(
            e,
            _admin_name(e, "adm", owner),
            "human",
            tky,
            groups=("Domain Admins",),
            owner=owner.name,
            ws=owner.ws,
        )
        e.domain_admins.append(a)
        e.admin_of[a] = owner.idx
    for _ in range(max(2, n // 2000)):
        owner = e.users[int(pool.pop())]
        a = _add_user(
            e,
            _admin_name(e, "hd", owner),
            "human",
            tky,
            groups=("Helpdesk",),
            owner=owner.name,
            ws=owner.ws,
        )
        e.helpdesk.append(a)
        e.admin_of[a] = owner.idx
    for s, spec in enumerate(e.sites):
        if s in (tky, osa) or not e.site_users[s]:
            continue
        owner = e.users[int(rng.choice(e.site_users[s]))]
        prefix = "adm-" + spec.prefix.split("-")[0]
        a = _add_user(
            e,
            _admin_name(e, prefix, owner),
            "human",
            s,
            groups=("Site Admins",),
            owner=owner.name,
            ws=owner.ws,
        )
        e.site_admins.append(a)
        e.admin_of[a] = owner.idx
        if spec.country in ("TH", "PH"):  # the known cross-site engineering team
            k = max(2, len(e.site_users[s]) // 25)
            for u in rng.choice(e.site_users[s], size=k, replace=False):
                if int(u) != owner.idx:
                    e.users[int(u)].groups = ("XSite-Engineering",)
                    e.xsite.append(int(u))
    svcs = ("svc-backup", "svc-sccm", "svc-sql", "svc-scan", "svc-app", "svc-report", "svc-migrate")
    for svc in svcs:
        groups = {
            "svc-backup": ("Backup Operators",),
            "svc-sccm": ("SCCM Admins",),
            "svc-migrate": ("Backup Operators",),
        }.get(svc, ())
        e.services[svc] = _add_user(e, svc, "service", osa, groups=groups, owner="it-infra")


def _customers(e: Enterprise, rng: np.random.Generator) -> None:
    k = min(50, max(20, 20 + e.n_terminals // 1000))
    countries = ("JP", "TH", "ID", "PH", "US", "DE", "SG")
    for i in range(k):
        name = f"{CUST_A[i % len(CUST_A)]} {CUST_B[(i * 7 + i // 12) % len(CUST_B)]}"
        e.customers.append((f"CUST-{i + 1:04d}", name, countries[int(rng.integers(0, 7))]))
    ids = [c[0] for c in e.customers]
    pii = [h for h in e.file_servers if "customer-pii" in e.hosts[h].categories]
    for j, h in enumerate(pii):
        host = e.hosts[h]
        mine = ids[j :: len(pii)]
        e.data_stores.append(
            {
                "name": f"{host.name}-customerdata",
                "host": host.name,
                "kind": "share",
                "shares": ["CustomerData", "Sales"],
                "data_categories": ["customer-pii"],
                "customers": mine,
            }
        )
    for h in e.file_servers + e.migration_fs + list(e.local_fs.values()):
        host = e.hosts[h]
        for cat in host.categories:
            if cat in ("design-cad", "finance"):
                e.data_stores.append(
                    {
                        "name": f"{host.name}-{cat}",
                        "host": host.name,
                        "kind": "share",
                        "shares": list(CATEGORY_SHARES[cat]),
                        "data_categories": [cat],
                        "customers": [],
                    }
                )
    for h in e.databases:
        host = e.hosts[h]
        e.data_stores.append(
            {
                "name": f"{host.name}-{'crm' if h == e.databases[0] else 'erp'}",
                "host": host.name,
                "kind": "database",
                "shares": [],
                "data_categories": list(host.categories),
                "customers": ids,
            }
        )


def site_offdays(e: Enterprise, start: dt.date, days: int) -> list[set[dt.date]]:
    """Public holidays per site for the simulated span (plus a margin for time-zone edges)."""
    years = sorted({(start + dt.timedelta(days=d)).year for d in range(-1, days + 2)})
    out: list[set[dt.date]] = []
    for spec in e.sites:
        hol = set(holidays.country_holidays(spec.country, years=years).keys())
        if spec.country == "JP":  # company year-end closure, common practice: UNCONFIRMED
            hol |= {dt.date(y, 12, d) for y in years for d in (29, 30, 31)}
            hol |= {dt.date(y, 1, d) for y in years for d in (2, 3)}
        out.append(hol)
    return out
