"""The registry of plantable attack scenarios: one small module each, listed here declaratively.

Every scenario follows the :class:`~ashiato.simulate.campaign.Scenario` protocol, plans its whole
story with its own random stream and writes through the same emitter as benign behaviour, so its
records look like real logs and differ only in who, from where, when and how much.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ashiato.simulate.campaign import Scenario, ValidAdminTHIDPH
from ashiato.simulate.scenarios.allowed_path_switch import AllowedPathSwitch
from ashiato.simulate.scenarios.holiday_logon import HolidayLogon
from ashiato.simulate.scenarios.insider_upload import InsiderUpload
from ashiato.simulate.scenarios.pass_the_ticket import PassTheTicket
from ashiato.simulate.scenarios.password_spray import PasswordSpray
from ashiato.simulate.scenarios.pth_spree import PassTheHashSpree
from ashiato.simulate.scenarios.rdp_staged_exfil import RdpStagedExfil
from ashiato.simulate.scenarios.slow_and_low import SlowAndLow
from ashiato.simulate.scenarios.svc_compromise import ServiceAccountCompromise
from ashiato.simulate.scenarios.svc_from_workstation import ServiceFromWorkstation

#: Scenario id -> factory, in a fixed order (the order decides each scenario's random stream).
SCENARIOS: dict[str, Callable[[], Scenario]] = {
    ValidAdminTHIDPH.id: ValidAdminTHIDPH,
    PassTheHashSpree.id: PassTheHashSpree,
    SlowAndLow.id: SlowAndLow,
    PasswordSpray.id: PasswordSpray,
    InsiderUpload.id: InsiderUpload,
    ServiceAccountCompromise.id: ServiceAccountCompromise,
    # issue 13: shapes an outside red team planted that slipped (appended: earlier streams stay)
    PassTheTicket.id: PassTheTicket,
    ServiceFromWorkstation.id: ServiceFromWorkstation,
    HolidayLogon.id: HolidayLogon,
    RdpStagedExfil.id: RdpStagedExfil,
    AllowedPathSwitch.id: AllowedPathSwitch,
}
DEFAULT_SCENARIOS: tuple[str, ...] = (ValidAdminTHIDPH.id,)
ALL = "all"


def resolve(names: Sequence[str]) -> list[str]:
    """Scenario ids to plant, in registry order without repeats; ``"all"`` means every one.

    Raises ``ValueError`` naming the known scenarios for an unknown name.
    """
    if isinstance(names, str):  # a single id passed where a sequence was meant
        names = [names]
    unknown = [n for n in names if n != ALL and n not in SCENARIOS]
    if unknown:
        known = ", ".join([*SCENARIOS, ALL])
        raise ValueError(f"unknown scenario(s) {unknown}; known scenarios: {known}")
    wanted = set(SCENARIOS) if ALL in names else set(names)
    return [sid for sid in SCENARIOS if sid in wanted]


__all__ = ["ALL", "DEFAULT_SCENARIOS", "SCENARIOS", "resolve"]
