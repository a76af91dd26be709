"""Test helpers for the targets stage: a fake resolver, so no test ever touches DNS."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aicensus.errors import TargetError


class FakeResolver:
    """Answers from a table and records every lookup; unknown names fail like the real one."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = table or {}
        self.calls: list[str] = []

    def __call__(self, name: str) -> Iterable[str]:
        self.calls.append(name)
        if name not in self.table:
            raise TargetError(f"cannot resolve host {name!r}: not in the test table")
        return self.table[name]


def address_order(ip: str) -> tuple[int, int]:
    """Sort key that orders IPv4 before IPv6 and each by value."""
    address = ipaddress.ip_address(ip)
    return address.version, int(address)
