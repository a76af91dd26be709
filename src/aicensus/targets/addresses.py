"""One integer key space for IPv4 and IPv6, so every stage below works on plain ints.

IPv4 addresses use keys [0, 2**32); IPv6 addresses use [2**32, 2**32 + 2**128). IPv4-mapped
IPv6 addresses (::ffff:a.b.c.d) are folded onto their IPv4 key: a dual-stack socket connects
to the same host either way, so an exclusion written as IPv4 must also cover the mapped form.
"""

from __future__ import annotations

import ipaddress

V6_BASE = 1 << 32
_MAPPED_FIRST = 0xFFFF << 32  # ::ffff:0.0.0.0
_MAPPED_LAST = _MAPPED_FIRST + (1 << 32) - 1  # ::ffff:255.255.255.255

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_key(address: Address) -> int:
    """The key of one address (IPv4-mapped IPv6 folds onto IPv4)."""
    value = int(address)
    if address.version == 4:
        return value
    if _MAPPED_FIRST <= value <= _MAPPED_LAST:
        return value - _MAPPED_FIRST
    return V6_BASE + value


def interval_keys(first: Address, last: Address) -> list[tuple[int, int]]:
    """Key intervals covering first..last (same family); the mapped /96 becomes IPv4 keys."""
    lo, hi = int(first), int(last)
    if first.version == 4:
        return [(lo, hi)]
    out: list[tuple[int, int]] = []
    # Split around ::ffff:0:0/96 so the mapped part lands in IPv4 key space.
    if lo < _MAPPED_FIRST:
        out.append((V6_BASE + lo, V6_BASE + min(hi, _MAPPED_FIRST - 1)))
    mid_lo, mid_hi = max(lo, _MAPPED_FIRST), min(hi, _MAPPED_LAST)
    if mid_lo <= mid_hi:
        out.append((mid_lo - _MAPPED_FIRST, mid_hi - _MAPPED_FIRST))
    if hi > _MAPPED_LAST:
        out.append((V6_BASE + max(lo, _MAPPED_LAST + 1), V6_BASE + hi))
    return out


def key_to_ip(key: int) -> str:
    """The text form of a key, as a Target's `ip` field carries it."""
    if key < V6_BASE:
        return str(ipaddress.IPv4Address(key))
    return str(ipaddress.IPv6Address(key - V6_BASE))
