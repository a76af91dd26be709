"""Visiting order and sharding: a keyed permutation of [0, N) and a split of it into N shards.

The permutation is a balanced Feistel network over the smallest even number of bits that covers
N, with cycle-walking to stay inside [0, N). It needs O(1) memory and gives random access, so a
/8 is visited lazily in an order where neighbouring positions land in unrelated subnets. A Feistel
network is a bijection whatever its round function, so the order never repeats or skips; the
keyed BLAKE2b round function only has to scatter well.
"""

from __future__ import annotations

import hashlib
import re

from aicensus.errors import TargetError

_ROUNDS = 4  # four rounds already make a Feistel network a pseudo-random permutation (Luby-Rackoff)
_SHARD_RE = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


class Permutation:
    """A bijection on [0, size), fixed by `seed`: same seed and size, same order."""

    __slots__ = ("_half", "_hashers", "_mask", "_nbytes", "size")

    def __init__(self, size: int, seed: int = 0) -> None:
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        self.size = size
        bits = max(2, (size - 1).bit_length())
        self._half = (bits + 1) // 2
        self._mask = (1 << self._half) - 1
        self._nbytes = (self._half + 7) // 8
        # The size is part of the key so different scans with one seed do not share structure.
        base = f"aicensus.targets.order:{seed}:{size}".encode()
        self._hashers = [
            hashlib.blake2b(key=hashlib.blake2b(base + bytes([r])).digest()[:32], digest_size=8)
            for r in range(_ROUNDS)
        ]

    def __call__(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise IndexError(index)
        value = self._feistel(index)
        # Cycle-walking: the Feistel domain is at most 4x size, so this loops ~2 times on average.
        while value >= self.size:
            value = self._feistel(value)
        return value

    def _feistel(self, value: int) -> int:
        left, right = value >> self._half, value & self._mask
        for hasher in self._hashers:
            left, right = right, left ^ self._round(hasher, right)
        return (left << self._half) | right

    def _round(self, hasher: hashlib.blake2b, value: int) -> int:
        h = hasher.copy()
        h.update(value.to_bytes(self._nbytes, "little"))
        return int.from_bytes(h.digest(), "little") & self._mask


def parse_shard(spec: str) -> tuple[int, int]:
    """Parse `i/N` (1-based): shard i of N."""
    match = _SHARD_RE.fullmatch(spec)
    if not match:
        raise TargetError(f"bad shard {spec!r}: expected i/N, e.g. 1/4")
    index, count = int(match[1]), int(match[2])
    check_shard((index, count), spec)
    return index, count


def check_shard(shard: tuple[int, int], spec: str | None = None) -> None:
    index, count = shard
    if count < 1 or not 1 <= index <= count:
        shown = spec if spec is not None else f"{index}/{count}"
        raise TargetError(f"bad shard {shown!r}: need 1 <= i <= N in i/N")


def shard_size(total: int, shard: tuple[int, int]) -> int:
    """len(shard_positions(...)) without len(), which overflows past sys.maxsize (IPv6)."""
    check_shard(shard)
    index, count = shard
    return max(0, (total - index) // count + 1)


def shard_positions(total: int, shard: tuple[int, int]) -> range:
    """The positions in [0, total) that shard i/N owns: every N-th, starting at i-1.

    Taking strided positions of one shared permutation makes shards disjoint and complete with no
    coordination, and each shard still visits its share in scattered order.
    """
    check_shard(shard)
    index, count = shard
    return range(index - 1, total, count)
