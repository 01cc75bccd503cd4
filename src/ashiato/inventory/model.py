"""What ashiato knows about the enterprise: sites, assets, accounts, segmentation policy, data.

Detections judge behaviour against the enterprise's own shape, so the inventory is validated
strictly (unknown keys are errors) and cross-checked (every site named exists).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Role(StrEnum):
    WORKSTATION = "workstation"
    SERVER = "server"
    DOMAIN_CONTROLLER = "domain-controller"
    FILE_SERVER = "file-server"
    DATABASE = "database"


SERVER_ROLES = frozenset({Role.SERVER, Role.DOMAIN_CONTROLLER, Role.FILE_SERVER, Role.DATABASE})


class Criticality(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AccountKind(StrEnum):
    HUMAN = "human"
    SERVICE = "service"


class Site(_Strict):
    """A place with its own networks, time zone and working hours."""

    name: str
    country: Annotated[str, Field(min_length=2, max_length=2, description="ISO 3166 alpha-2")]
    timezone: str
    cidrs: list[IPNet] = []
    host_patterns: list[str] = Field(default=[], description="fnmatch globs on lower-case names")
    working_hours: tuple[int, int] = Field(default=(8, 18), description="local start, end hour")
    description: str = ""

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {v!r}") from exc
        return v

    @field_validator("country")
    @classmethod
    def _country(cls, v: str) -> str:
        if not v.isalpha():
            raise ValueError(f"country must be a two-letter code, got {v!r}")
        return v.upper()

    @field_validator("host_patterns")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        return [p.lower() for p in v]

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not (0 <= v[0] <= 24 and 0 <= v[1] <= 24):
            raise ValueError("working hours must be within 0..24")
        return v


class Asset(_Strict):
    """One host: where it is, what it does and what data it holds."""

    host: str
    ips: list[IPAddr] = []
    site: str
    role: Role
    criticality: Criticality = Criticality.MEDIUM
    data_categories: list[str] = []
    owner: str | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("host name is empty")
        return v.strip().lower()


class Account(_Strict):
    """A user or service account and what it is entitled to."""

    user: str
    domain: str = ""
    privileged_groups: list[str] = Field(
        default=[], description="administrative groups (Domain Admins, ...): makes it privileged"
    )
    groups: list[str] = Field(default=[], description="other memberships policy rules may name")
    kind: AccountKind = AccountKind.HUMAN
    home_site: str | None = None
    owner: str | None = None

    @field_validator("user")
    @classmethod
    def _user(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("user name is empty")
        return v.strip().lower()

    @field_validator("domain")
    @classmethod
    def _domain(cls, v: str) -> str:
        return v.strip().upper()

    @property
    def privileged(self) -> bool:
        return bool(self.privileged_groups)

    @property
    def all_groups(self) -> list[str]:
        return [*self.privileged_groups, *self.groups]


AccountSelector = Annotated[
    str,
    Field(
        description="any | privileged | unprivileged | human | service | group:NAME | user:NAME",
        pattern=r"^(any|privileged|unprivileged|human|service|group:.+|user:.+)$",
    ),
]


class PolicyRule(_Strict):
    """One segmentation rule: traffic from a site/role to a site/role by a class of accounts."""

    name: str
    from_site: str = "*"
    from_role: str = "*"
    to_site: str = "*"
    to_role: str = "*"
    accounts: AccountSelector = "any"
    action: Literal["allow", "deny"] = "allow"
    description: str = ""

    @field_validator("from_role", "to_role")
    @classmethod
    def _role(cls, v: str) -> str:
        if v != "*" and v not in {r.value for r in Role}:
            raise ValueError(f"unknown role {v!r}; expected * or one of {[r.value for r in Role]}")
        return v


class Policy(_Strict):
    """Which site or role may reach which: first matching rule, then intra_site, then default."""

    default: Literal["allow", "deny"] = "deny"
    intra_site: Literal["allow", "deny"] = "allow"
    rules: list[PolicyRule] = []


class Customer(_Strict):
    id: str
    name: str
    country: str = ""
    contact: str = ""


class DataStore(_Strict):
    """A share or database that holds data about customers."""

    name: str
    host: str
    kind: Literal["share", "database"] = "share"
    shares: list[str] = Field(default=[], description="share names (without \\\\host\\) it covers")
    data_categories: list[str] = []
    customers: list[str] = Field(default=[], description="customer ids")

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        return v.strip().lower()


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class Holiday(_Strict):
    """A public holiday of one site, added to its country's calendar or taken out of it.

    Each site observes the national holidays of its ``country`` (the ``holidays`` package); an
    entry adds a local holiday (``observed`` true, the default) or says the site works on a
    national one (``observed`` false).
    """

    site: str
    date: dt.date
    name: str = Field(default="", max_length=120)
    observed: bool = True

    @field_validator("date", mode="before")
    @classmethod
    def _iso(cls, v: object) -> object:
        if isinstance(v, str) and not _ISO_DAY.match(v.strip()):
            raise ValueError(f"date must be YYYY-MM-DD, got {v[:40]!r}")
        if isinstance(v, int | float):  # not a Unix time: a calendar day, written out
            raise ValueError(f"date must be YYYY-MM-DD, got {v!r}")
        return v.strip() if isinstance(v, str) else v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if _CONTROL.search(v):
            raise ValueError("name holds control or bidirectional-override characters")
        return v.strip()


class Inventory(_Strict):
    """The whole enterprise as ashiato knows it."""

    sites: list[Site] = []
    assets: list[Asset] = []
    accounts: list[Account] = []
    policy: Policy = Policy()
    data_stores: list[DataStore] = []
    customers: list[Customer] = []
    holidays: list[Holiday] = Field(
        default=[], description="site holidays beyond, or instead of, the national calendar"
    )

    @model_validator(mode="after")
    def _cross_check(self) -> Inventory:
        site_names = [s.name for s in self.sites]
        dup = {n for n in site_names if site_names.count(n) > 1}
        if dup:
            raise ValueError(f"site names defined twice: {sorted(dup)}")
        known = set(site_names)
        for i, a in enumerate(self.assets):
            if a.site not in known:
                raise ValueError(f"assets[{i}] ({a.host}): unknown site {a.site!r}")
        for i, acc in enumerate(self.accounts):
            if acc.home_site is not None and acc.home_site not in known:
                raise ValueError(f"accounts[{i}] ({acc.user}): unknown home_site {acc.home_site!r}")
        for i, r in enumerate(self.policy.rules):
            for attr in ("from_site", "to_site"):
                v = getattr(r, attr)
                if v != "*" and v not in known:
                    raise ValueError(f"policy.rules[{i}] ({r.name}): unknown {attr} {v!r}")
        seen: set[tuple[str, dt.date]] = set()
        for i, h in enumerate(self.holidays):
            if h.site not in known:
                raise ValueError(f"holidays[{i}] ({h.date}): unknown site {h.site!r}")
            if (h.site, h.date) in seen:
                raise ValueError(f"holidays[{i}]: {h.site} {h.date} listed twice")
            seen.add((h.site, h.date))
        cust = {c.id for c in self.customers}
        for i, d in enumerate(self.data_stores):
            missing = [c for c in d.customers if c not in cust]
            if missing:
                raise ValueError(f"data_stores[{i}] ({d.name}): unknown customers {missing}")
        return self

    def site(self, name: str) -> Site | None:
        for s in self.sites:
            if s.name == name:
                return s
        return None
