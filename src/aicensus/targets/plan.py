"""The scan plan: (targets − exclusions) × ports, in keyed pseudo-random order, one shard of it.

The index space is [address-index × port-index] for CIDRs, ranges and addresses, followed by the
explicit endpoints (scanner output with ports, host:port, resolved hostnames). Only that short
explicit list is materialised; address blocks stay as intervals however large they are.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from aicensus.errors import TargetError
from aicensus.records import Target
from aicensus.targets.addresses import address_key, key_to_ip
from aicensus.targets.order import Permutation, check_shard, shard_positions, shard_size
from aicensus.targets.parse import HostName, TargetSet
from aicensus.targets.scope import IntervalSet

Resolver = Callable[[str], Iterable[str]]
"""Maps a hostname to its addresses. Raise TargetError to stop the scan, or return [] to skip."""


def resolve_host(name: str) -> list[str]:
    """The default resolver: the system's getaddrinfo, addresses in the order it gave them."""
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetError(f"cannot resolve host {name!r}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def plan(
    targets: TargetSet,
    excludes: TargetSet | None = None,
    ports: Sequence[int] = (),
    *,
    seed: int = 0,
    shard: tuple[int, int] = (1, 1),
    resolver: Resolver = resolve_host,
) -> ScanPlan:
    """A lazily resolved, lazily iterated plan; see ScanPlan."""
    return ScanPlan(targets, excludes or TargetSet(), ports, seed, shard, resolver)


@dataclass(frozen=True, slots=True)
class _Space:
    addresses: IntervalSet
    ports: tuple[int, ...]
    extras: tuple[Target, ...]

    @property
    def block_size(self) -> int:
        return self.addresses.size * len(self.ports)

    @property
    def size(self) -> int:
        return self.block_size + len(self.extras)

    def target_at(self, index: int) -> Target:
        if index >= self.block_size:
            return self.extras[index - self.block_size]
        address_index, port_index = divmod(index, len(self.ports))
        return Target(key_to_ip(self.addresses.nth(address_index)), self.ports[port_index])


class ScanPlan:
    """Iterate for Targets; count() for progress. Hostnames resolve once, on first use.

    Same inputs and seed give the same order on every machine (token order does not matter), so
    shard i/N of one plan is disjoint from every other shard and all N together cover it exactly.
    Excluded addresses are never yielded, however they entered the plan.
    """

    def __init__(
        self,
        targets: TargetSet,
        excludes: TargetSet,
        ports: Sequence[int],
        seed: int,
        shard: tuple[int, int],
        resolver: Resolver,
    ) -> None:
        check_shard(shard)
        self.ports = _check_ports(ports)
        if not self.ports and (targets.intervals or any(h.port is None for h in targets.hostnames)):
            raise TargetError("no ports to scan: give a port list (--ports) for these targets")
        self.targets, self.excludes = targets, excludes
        self.seed, self.shard = seed, shard
        self._resolver = resolver
        self._resolved: dict[str, list[int]] = {}  # one lookup per name, however often it appears
        self._cached: _Space | None = None

    def total(self) -> int:
        """Targets across all shards."""
        return self._space().size

    def count(self) -> int:
        """Targets this shard will yield (resolves hostnames if not done yet)."""
        return shard_size(self._space().size, self.shard)

    def __iter__(self) -> Iterator[Target]:
        return self.iter_from(0)

    def iter_from(self, start: int) -> Iterator[Target]:
        """The targets from the start-th on (0-based, within this shard): list(self)[start:],
        without computing the ones skipped. A resumed scan starts here."""
        space = self._space()
        permutation = Permutation(space.size, self.seed)
        for position in shard_positions(space.size, self.shard)[max(0, start) :]:
            yield space.target_at(permutation(position))

    def _space(self) -> _Space:
        if self._cached is None:
            self._cached = self._build()
        return self._cached

    def excluded(self) -> IntervalSet:
        """Every excluded address key, local-meaning addresses included (see local_meaning);
        the engine enforces this set again at the socket (EngineConfig.excluded)."""
        return with_local_meaning(
            IntervalSet(
                [
                    *self.excludes.intervals,
                    *((e.key, e.key) for e in self.excludes.endpoints),  # exclusion is by address
                    *((k, k) for h in self.excludes.hostnames for k in self._resolve(h.name)),
                ]
            )
        )

    def _build(self) -> _Space:
        excluded = self.excluded()
        addresses = IntervalSet(self.targets.intervals).minus(excluded)
        crossed = frozenset(self.ports)
        extras = {
            (key, port, name)
            for key, port, name in self._explicit()
            if key not in excluded and not (name is None and port in crossed and key in addresses)
        }  # the last test drops endpoints a CIDR × --ports already covers, so none repeats
        ordered = sorted(extras, key=lambda e: (e[0], e[1], e[2] or ""))
        explicit = tuple(Target(key_to_ip(key), port, name) for key, port, name in ordered)
        return _Space(addresses, self.ports, explicit)

    def _explicit(self) -> Iterator[tuple[int, int, str | None]]:
        for endpoint in self.targets.endpoints:
            yield endpoint.key, endpoint.port, None
        for host in self.targets.hostnames:
            yield from self._host_targets(host)

    def _host_targets(self, host: HostName) -> Iterator[tuple[int, int, str | None]]:
        ports = (host.port,) if host.port is not None else self.ports
        for key in self._resolve(host.name):
            for port in ports:
                yield key, port, host.name

    def _resolve(self, name: str) -> list[int]:
        if name not in self._resolved:
            self._resolved[name] = self._lookup(name)
        return self._resolved[name]

    def _lookup(self, name: str) -> list[int]:
        keys = []
        for text in self._resolver(name):
            try:
                keys.append(address_key(ipaddress.ip_address(text.split("%", 1)[0])))
            except ValueError:
                raise TargetError(f"resolving {name!r} gave {text!r}, not an IP address") from None
        return keys


# Addresses that reach the local host without naming it. On Linux a connect() to 0.0.0.0
# goes to the loopback (and the rest of 0.0.0.0/8 "this network" is never a remote host), and
# one to :: goes to ::1. So when the local host is excluded, by 127.0.0.1 or by ::1, these are.
_LOCAL_HOST = (
    address_key(ipaddress.ip_address("127.0.0.1")),
    address_key(ipaddress.ip_address("::1")),
)
_LOCAL_MEANING = (
    (address_key(ipaddress.ip_address("0.0.0.0")), address_key(ipaddress.ip_address("0.255.255.255"))),
    (address_key(ipaddress.ip_address("::")), address_key(ipaddress.ip_address("::"))),
)  # fmt: skip


def with_local_meaning(excluded: IntervalSet) -> IntervalSet:
    """`excluded`, plus the unspecified and local-meaning addresses if the local host is in it."""
    if not any(key in excluded for key in _LOCAL_HOST):
        return excluded
    return IntervalSet([*excluded.intervals(), *_LOCAL_MEANING])


def _check_ports(ports: Sequence[int]) -> tuple[int, ...]:
    """Sorted and unique, so every shard machine builds the same index space."""
    for port in ports:
        if not isinstance(port, int) or not 1 <= port <= 65535:
            raise TargetError(f"bad port {port!r}: expected 1-65535")
    return tuple(sorted(set(ports)))
