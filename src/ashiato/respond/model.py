"""What a response produces: a containment plan, its replay over history, a verification.

Plain frozen dataclasses that serialise to JSON; every rule carries the reason and the evidence
(event ids) behind it, so that the people applying it can check why each line is there. Names in
them come from the logs (the intruder typed them): the terminal renderings show every value
through ``quote.term`` (no markup parsed, control characters escaped).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from ashiato.investigate.model import _jsonable
from ashiato.quote import term


@dataclass(frozen=True)
class NetworkBlock:
    """Deny traffic from source hosts (or a whole site) to destination hosts."""

    id: str
    level: str  # "host" | "site"
    src_hosts: list[str]  # host level: the source workstations; site level: empty
    src_site: str | None  # site level: the source site (its CIDRs)
    src_cidrs: list[str]  # the addresses the rule matches on the source side
    dst_hosts: list[str]
    dst_ips: list[str]
    reason: str
    evidence: list[str]  # event ids of the intrusion over this path
    baseline_events: int  # legitimate events over this path before the onset (0 when proposed)
    variants: list[str]  # plan variants that include the rule
    outbound_hosts: list[str] = field(default_factory=list)
    """Source hosts that get an outbound rule: only hosts the inventory knows (``Invoke-Command``
    to a machine the intruder may control would hand it an administrator's credentials)."""


@dataclass(frozen=True)
class AccountAction:
    """Disable an account or reset its credentials, with why one and not the other."""

    id: str
    account: str
    action: str  # "disable" | "reset"
    privileged: bool
    owner: str | None
    owner_hosts: list[str]  # hosts the owner used before the onset (keep working after a reset)
    local_hosts: list[str]  # hosts it logged on to locally before the onset (a service's servers)
    reason: str
    evidence: list[str]
    variants: list[str]


@dataclass(frozen=True)
class PolicyEntry:
    """One segmentation-policy rule in the inventory's shape (``inventory.model.PolicyRule``)."""

    name: str
    from_site: str
    to_site: str
    to_role: str
    accounts: str
    action: str
    description: str


@dataclass(frozen=True)
class Manual:
    """Part of a rule that no renderer writes into a command: handle it by hand.

    A name that cannot be an AD account or a Windows host, a value that is not an address, a
    block whose source has no known address. ``value`` is kept as logged (escaped wherever it
    is shown).
    """

    rule: str  # the rule it belongs to (H1, S2, A1, ...)
    what: str  # "account" | "host" | "address" | "no address"
    value: str
    why: str


@dataclass(frozen=True)
class ContainmentPlan:
    """Network blocks, account actions and tightened policy for one investigation."""

    incident: str
    at: datetime  # containment time: account actions count from here in the replay
    onset: datetime  # start of the intrusion: before it lies the legitimate baseline
    accounts_seen: list[str]
    network: list[NetworkBlock]
    accounts: list[AccountAction]
    policy: list[PolicyEntry]
    krbtgt: str | None  # a note when a domain controller was reached with a domain admin
    skipped: list[str]  # blocks considered and not proposed, with why
    variants: dict[str, str]  # name -> what it holds
    recommended: str = "full plan"
    manual: list[Manual] = field(default_factory=list)
    """What the rule files leave out and say so (``respond.renderable``): do it by hand."""

    def rules(self, variant: str | None = None) -> list[NetworkBlock | AccountAction]:
        """The plan's rules, all or those of one variant."""
        out: list[NetworkBlock | AccountAction] = [*self.network, *self.accounts]
        return [r for r in out if variant is None or variant in r.variants]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = _jsonable(asdict(self))
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text.assemble(
            ("Containment plan for ", "bold"),
            term.text(self.incident, "bold"),
            f": onset {self.onset:%Y-%m-%d %H:%M} UTC,"
            f" containment time {self.at:%Y-%m-%d %H:%M} UTC",
        )
        t = Table(title="Rules")
        for col in ("id", "what", "variants", "why"):
            t.add_column(col)
        for b in self.network:
            src = ", ".join(b.src_hosts) if b.src_hosts else f"site {b.src_site}"
            t.add_row(
                term.text(b.id),
                term.text(f"block {src} -> {len(b.dst_hosts)} hosts"),
                term.text(", ".join(b.variants)),
                term.text(b.reason),
            )
        for a in self.accounts:
            t.add_row(
                term.text(a.id),
                term.text(f"{a.action} {a.account}"),
                term.text(", ".join(a.variants)),
                term.text(a.reason),
            )
        yield t
        if self.manual:
            m = Table(title="Not rendered into any command: handle by hand", style="red")
            for col in ("rule", "what", "value", "why"):
                m.add_column(col)
            for x in self.manual:
                m.add_row(
                    term.text(x.rule), term.text(x.what), term.text(x.value), term.text(x.why)
                )
            yield m
        if self.krbtgt:
            yield Text.assemble("krbtgt: ", term.text(self.krbtgt))
        yield Text(f"{len(self.policy)} policy entries; {len(self.skipped)} blocks not proposed")

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ContainmentPlan:
        """The plan ``to_json`` wrote (``plan.json``), e.g. to verify what was applied."""
        return cls(
            incident=d["incident"],
            at=datetime.fromisoformat(d["at"]),
            onset=datetime.fromisoformat(d["onset"]),
            accounts_seen=list(d["accounts_seen"]),
            network=[NetworkBlock(**b) for b in d["network"]],
            accounts=[AccountAction(**a) for a in d["accounts"]],
            policy=[PolicyEntry(**p) for p in d["policy"]],
            krbtgt=d.get("krbtgt"),
            skipped=list(d["skipped"]),
            variants=dict(d["variants"]),
            recommended=d.get("recommended", "full plan"),
            manual=[Manual(**m) for m in d.get("manual", [])],
        )


@dataclass(frozen=True)
class RuleReplay:
    """What one rule would have blocked over the store's history."""

    rule: str
    kind: str  # "network" | "account"
    window: str  # "all history" | "after T"
    malicious_stopped: int
    legitimate_broken: int
    malicious_total: int  # malicious events in the window (what a perfect rule would stop)
    accounts_affected: list[str]  # accounts of the legitimate events broken
    hosts_affected: list[str]  # source hosts of the legitimate events broken
    broken_event_ids: list[str]  # the legitimate events broken (first 200)
    note: str = ""


@dataclass(frozen=True)
class VariantReplay:
    """A plan variant's rules together: union of what they stop and break."""

    variant: str
    description: str
    malicious_stopped: int
    malicious_total: int
    legitimate_broken: int
    accounts_affected: list[str]
    hosts_affected: list[str]
    broken_event_ids: list[str]
    explanation: str


@dataclass(frozen=True)
class Replay:
    """Every rule and variant replayed over the store's history."""

    incident: str
    at: datetime
    events_considered: int
    malicious_events: int
    rules: list[RuleReplay]
    variants: list[VariantReplay]
    malicious_definition: str

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        t = Table(
            title=f"Replay of {term.markup(self.incident)} over {self.events_considered} events"
        )
        for col in ("variant", "malicious stopped", "legitimate broken", "accounts affected"):
            t.add_column(col)
        for v in self.variants:
            t.add_row(
                term.text(v.variant),
                f"{v.malicious_stopped}/{v.malicious_total}",
                str(v.legitimate_broken),
                term.text(", ".join(v.accounts_affected[:8]) or "-"),
            )
        yield t

    def variant(self, name: str) -> VariantReplay:
        for v in self.variants:
            if v.variant == name:
                return v
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = _jsonable(asdict(self))
        return out


@dataclass(frozen=True)
class HostCoverage:
    """Whether one host has logs after the containment time, per channel."""

    host: str
    role: str  # "blocked source" | "blocked destination" | "domain controller"
    last_event: datetime | None
    events_after: int
    channels_after: list[str]
    status: str  # "logs after T" | "unknown: no logs after T"


@dataclass(frozen=True)
class Alarm:
    event_id: str
    ts: datetime
    rule: str
    kind: str
    user: str | None
    src: str | None
    dst: str | None
    outcome: str | None
    why: str


@dataclass(frozen=True)
class Verification:
    """Activity after ``since`` by what the plan blocked, and the coverage behind the answer."""

    incident: str
    since: datetime
    verdict: str  # "alarm" | "no activity since T" | "no activity seen since T, coverage partial"
    alarms: list[Alarm]
    expected: list[Alarm]  # the owner's own use of a reset account from their usual hosts
    coverage: list[HostCoverage]
    store_end: datetime | None
    summary: str
    unknown_hosts: list[str] = field(default_factory=list)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        colour = {"alarm": "red", "no activity since T": "green"}.get(self.verdict, "yellow")
        yield Text.assemble(
            term.text(self.verdict, f"bold {colour}"), ": ", term.text(self.summary)
        )
        if self.alarms:
            t = Table(title="Alarms")
            for col in ("time (UTC)", "rule", "kind", "account", "from", "to", "event"):
                t.add_column(col)
            for a in self.alarms[:50]:
                t.add_row(
                    f"{a.ts:%Y-%m-%d %H:%M:%S}",
                    term.text(a.rule),
                    term.text(a.kind),
                    term.text(a.user or "-"),
                    term.text(a.src or "-"),
                    term.text(a.dst or "-"),
                    term.text(a.event_id),
                )
            yield t
        c = Table(title="Coverage after T")
        for col in ("host", "role", "events after T", "channels", "status"):
            c.add_column(col)
        for h in self.coverage:
            c.add_row(
                term.text(h.host),
                h.role,
                str(h.events_after),
                term.text(", ".join(h.channels_after) or "-"),
                h.status,
            )
        yield c

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = _jsonable(asdict(self))
        return out
