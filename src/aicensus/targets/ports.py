"""Port lists: `80,443,8000-8010`, plus named presets supplied by the caller.

Presets arrive as a mapping because the `ai` preset is derived from the fingerprint files, which
this stage must not import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from aicensus.errors import TargetError

_NUMBER_RE = re.compile(r"\d+")
_RANGE_RE = re.compile(r"(\d+)\s*-\s*(\d+)")
_PRESET_RE = re.compile(r"[A-Za-z][\w.-]*")


def parse_ports(spec: str, presets: Mapping[str, Sequence[int]] | None = None) -> list[int]:
    """Sorted, de-duplicated ports named by a comma-separated list of ports, ranges and presets."""
    presets = presets or {}
    if not spec.strip():
        raise TargetError("bad port list '': it is empty")
    ports: set[int] = set()
    for item in spec.split(","):
        ports.update(_parse_item(item.strip(), spec, presets))
    return sorted(ports)


def _parse_item(item: str, spec: str, presets: Mapping[str, Sequence[int]]) -> Sequence[int]:
    if not item:
        raise TargetError(f"bad port list {spec!r}: empty item")
    if _NUMBER_RE.fullmatch(item):
        return [_port(item, item)]
    if match := _RANGE_RE.fullmatch(item):
        first, last = _port(match[1], item), _port(match[2], item)
        if first > last:
            raise TargetError(f"bad port range {item!r}: start is after end")
        return range(first, last + 1)
    if _PRESET_RE.fullmatch(item):
        return _preset(item, presets)
    raise TargetError(f"bad port {item!r}: expected a number, a range a-b or a preset name")


def _port(text: str, item: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        # Port 0 cannot be connected to, so it is as wrong as 70000.
        raise TargetError(f"bad port {item!r}: {value} is outside 1-65535")
    return value


def _preset(name: str, presets: Mapping[str, Sequence[int]]) -> Sequence[int]:
    ports = presets.get(name)
    if ports is None:
        known = ", ".join(sorted(presets)) or "none defined"
        raise TargetError(f"unknown port preset {name!r} (known presets: {known})")
    bad = [p for p in ports if not isinstance(p, int) or not 1 <= p <= 65535]
    if bad:
        raise TargetError(f"port preset {name!r} holds invalid ports: {bad[:5]}")
    return ports
