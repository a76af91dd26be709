"""Sorted, disjoint integer intervals: the scan scope as include minus exclude.

Every operation works on interval endpoints, never on single addresses, so excluding a /8 from
a /0 (or a /32 from an IPv6 /0) costs a handful of comparisons, not 2**24 of them.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator


class IntervalSet:
    """An immutable set of ints stored as sorted, disjoint, non-adjacent [lo, hi] intervals."""

    __slots__ = ("_his", "_los", "_offsets", "_size")

    def __init__(self, intervals: Iterable[tuple[int, int]] = ()) -> None:
        merged = _merge(sorted(intervals))
        self._los = [lo for lo, _ in merged]
        self._his = [hi for _, hi in merged]
        # _offsets[i] = how many members come before interval i; lets nth() bisect.
        sizes = (hi - lo + 1 for lo, hi in merged)
        self._offsets = [0, *itertools.accumulate(sizes)]
        self._size = self._offsets[-1]

    @property
    def size(self) -> int:
        """Member count (may exceed sys.maxsize for IPv6, hence not __len__)."""
        return self._size

    def intervals(self) -> Iterator[tuple[int, int]]:
        return zip(self._los, self._his, strict=True)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        i = bisect.bisect_right(self._los, value) - 1
        return i >= 0 and value <= self._his[i]

    def __bool__(self) -> bool:
        return self._size > 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntervalSet):
            return NotImplemented
        return self._los == other._los and self._his == other._his

    def __hash__(self) -> int:
        return hash((tuple(self._los), tuple(self._his)))

    def __repr__(self) -> str:
        return f"IntervalSet({list(self.intervals())!r})"

    def nth(self, index: int) -> int:
        """The index-th smallest member (0-based)."""
        if not 0 <= index < self._size:
            raise IndexError(index)
        i = bisect.bisect_right(self._offsets, index) - 1
        return self._los[i] + (index - self._offsets[i])

    def minus(self, other: IntervalSet) -> IntervalSet:
        """Members of self that are not in other, by one sweep over both interval lists."""
        out: list[tuple[int, int]] = []
        cut = list(other.intervals())
        j = 0
        for lo, hi in self.intervals():
            # Both lists are sorted: a cut ending before this interval ends before all later ones.
            while j < len(cut) and cut[j][1] < lo:
                j += 1
            out.extend(_subtract_one(lo, hi, cut, j))
        return IntervalSet(out)


def _subtract_one(lo: int, hi: int, cut: list[tuple[int, int]], j: int) -> list[tuple[int, int]]:
    """[lo, hi] minus the cuts from index j on (cut is sorted and disjoint)."""
    out: list[tuple[int, int]] = []
    cur = lo
    for k in range(j, len(cut)):  # indexing, not islice: islice would re-walk cut[:j]
        cut_lo, cut_hi = cut[k]
        if cut_lo > hi or cur > hi:
            break
        if cut_lo > cur:
            out.append((cur, cut_lo - 1))
        cur = max(cur, cut_hi + 1)
    if cur <= hi:
        out.append((cur, hi))
    return out


def _merge(ordered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge sorted intervals that overlap or touch, so members are counted once."""
    out: list[tuple[int, int]] = []
    for lo, hi in ordered:
        if lo > hi:
            raise ValueError(f"empty interval [{lo}, {hi}]")
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out
