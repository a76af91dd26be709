"""IntervalSet: merge, membership, nth and subtraction agree with plain Python sets."""

from __future__ import annotations

import itertools
import time

from hypothesis import given
from hypothesis import strategies as st

from aicensus.targets.scope import IntervalSet

intervals = st.lists(
    st.tuples(st.integers(0, 200), st.integers(0, 20)).map(lambda t: (t[0], t[0] + t[1])),
    max_size=8,
)


def members(pairs: list[tuple[int, int]]) -> set[int]:
    return {v for lo, hi in pairs for v in range(lo, hi + 1)}


@given(intervals)
def test_merge_size_and_nth(pairs: list[tuple[int, int]]) -> None:
    s = IntervalSet(pairs)
    expected = sorted(members(pairs))
    assert s.size == len(expected)
    assert [s.nth(i) for i in range(s.size)] == expected
    # Merged intervals are disjoint and never touch, so each member is counted once.
    spans = list(s.intervals())
    assert all(a_hi + 1 < b_lo for (_, a_hi), (b_lo, _) in itertools.pairwise(spans))


@given(intervals, st.integers(-5, 230))
def test_contains(pairs: list[tuple[int, int]], value: int) -> None:
    assert (value in IntervalSet(pairs)) == (value in members(pairs))


@given(intervals, intervals)
def test_minus(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    result = IntervalSet(a).minus(IntervalSet(b))
    assert result == IntervalSet((v, v) for v in members(a) - members(b))


def test_excluding_a_slash8_from_everything_is_not_per_address() -> None:
    everything = IntervalSet([(0, 2**32 - 1), (2**32, 2**32 + 2**128 - 1)])
    started = time.perf_counter()
    rest = everything.minus(IntervalSet([(10 << 24, (11 << 24) - 1)]))
    assert time.perf_counter() - started < 0.1
    assert rest.size == everything.size - 2**24
    assert (10 << 24) + 5 not in rest
    assert rest.nth(10 << 24) == 11 << 24


def test_many_exclusions_are_linear() -> None:
    # 100k single-address holes in a /8: a quadratic sweep would take minutes.
    holes = IntervalSet((v, v) for v in range(0, 2**24, 167))
    started = time.perf_counter()
    rest = IntervalSet([(0, 2**24 - 1)]).minus(holes)
    assert time.perf_counter() - started < 2
    assert rest.size == 2**24 - holes.size


def test_nth_out_of_range() -> None:
    s = IntervalSet([(5, 6)])
    for bad in (-1, 2):
        try:
            s.nth(bad)
        except IndexError:
            continue
        raise AssertionError(f"nth({bad}) did not raise")
