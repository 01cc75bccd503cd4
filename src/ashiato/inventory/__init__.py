"""Inventory: what ashiato knows about the enterprise (see ``model``), loaded by ``load``."""

from ashiato.inventory.load import load_inventory
from ashiato.inventory.model import (
    Account,
    AccountKind,
    Asset,
    Criticality,
    Customer,
    DataStore,
    Holiday,
    Inventory,
    Policy,
    PolicyRule,
    Role,
    Site,
)

__all__ = [
    "Account",
    "AccountKind",
    "Asset",
    "Criticality",
    "Customer",
    "DataStore",
    "Holiday",
    "Inventory",
    "Policy",
    "PolicyRule",
    "Role",
    "Site",
    "load_inventory",
]
