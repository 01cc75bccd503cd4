"""Shared builders for the privileged-credential misuse golden tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ashiato.detect import runner
from ashiato.inventory import Inventory
from tests.conftest import event, ts

Writer = Callable[[list[dict[str, Any]]], Path]


def run_det(root: Path, inventory: Inventory, det: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = runner.detect(
        root, inventory, detectors=[det]
    ).findings.to_pylist()
    return rows


def kerberos(user: str, days: range, src: str = "10.1.0.101") -> list[dict[str, Any]]:
    return [
        event(ts=ts(d, 2), user=user, src_ip=src, dst_host="jp-dc-fs01", auth_package="Kerberos")
        for d in days
    ]


def ntlm(user: str, day: int, dst: str, minute: int = 0, **kw: Any) -> dict[str, Any]:
    kw.setdefault("src_ip", "10.1.0.101")
    return event(ts=ts(day, 5, minute), user=user, dst_host=dst, auth_package="NTLM", **kw)
