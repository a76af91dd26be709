"""Visiting order and sharding: a bijection, deterministic, scattered, split without overlap."""

from __future__ import annotations

import ipaddress
import itertools
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicensus.errors import TargetError
from aicensus.records import Target
from aicensus.targets import parse_shard, parse_targets, plan
from aicensus.targets.order import Permutation, shard_positions, shard_size


@given(st.integers(0, 700), st.integers(0, 2**64))
def test_permutation_is_a_bijection(size: int, seed: int) -> None:
    permutation = Permutation(size, seed)
    assert sorted(permutation(i) for i in range(size)) == list(range(size))


def test_permutation_is_deterministic_and_keyed() -> None:
    order = [Permutation(1000, seed=7)(i) for i in range(1000)]
    assert order == [Permutation(1000, seed=7)(i) for i in range(1000)]
    assert order != [Permutation(1000, seed=8)(i) for i in range(1000)]
    assert order != list(range(1000))


def test_permutation_handles_ipv6_sized_domains() -> None:
    size = 2**128 * 3
    permutation = Permutation(size, seed=1)
    values = [permutation(i) for i in (0, 1, size - 1)]
    assert all(0 <= v < size for v in values)
    assert len(set(values)) == 3


def test_permutation_rejects_out_of_range() -> None:
    with pytest.raises(IndexError):
        Permutation(5)(5)


def same_slash24_fraction(targets: list[Target]) -> float:
    nets = [ipaddress.ip_network(f"{t.ip}/24", strict=False) for t in targets]
    same = sum(a == b for a, b in itertools.pairwise(nets))
    return same / (len(nets) - 1)


def test_same_slash24_check_catches_a_sequential_sweep() -> None:
    # The check below is only worth something if it fails for the naive order.
    sequential = sorted(plan(parse_targets(["127.0.0.0/20"]), ports=[80]))
    assert same_slash24_fraction(sequential) > 0.9


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_slash16_sweep_does_not_dwell_in_one_slash24(seed: int) -> None:
    order = list(plan(parse_targets(["127.0.0.0/16"]), ports=[11434], seed=seed))
    assert len(order) == 65536
    # A random order puts consecutive targets in one /24 about 1 time in 256.
    assert same_slash24_fraction(order) < 0.02
    # And early on no /24 takes much more than its share (256 draws over 256 /24s).
    first = Counter(ipaddress.ip_network(f"{t.ip}/24", strict=False) for t in order[:256])
    assert max(first.values()) <= 8


def test_multiple_ports_are_interleaved_not_one_port_after_another() -> None:
    order = list(plan(parse_targets(["127.0.0.0/24"]), ports=[80, 443, 11434]))
    first_third = Counter(t.port for t in order[: len(order) // 3])
    # 256 draws over 3 ports: about 85 each; a port-by-port order would give 256, 0, 0.
    assert len(first_third) == 3 and min(first_third.values()) > 50


@pytest.mark.parametrize(
    ("spec", "expected"), [("1/1", (1, 1)), ("1/4", (1, 4)), ("4/4", (4, 4)), (" 2 / 3 ", (2, 3))]
)
def test_parse_shard(spec: str, expected: tuple[int, int]) -> None:
    assert parse_shard(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("0/4", "bad shard '0/4': need 1 <= i <= N in i/N"),
        ("5/4", "bad shard '5/4': need 1 <= i <= N in i/N"),
        ("1/0", "bad shard '1/0'"),
        ("1", "bad shard '1': expected i/N, e.g. 1/4"),
        ("a/b", "bad shard 'a/b': expected i/N"),
        ("1/4/2", "bad shard '1/4/2'"),
        ("-1/4", "bad shard '-1/4'"),
        ("", "bad shard ''"),
    ],
)
def test_bad_shard_specs(spec: str, message: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_shard(spec)
    assert message in str(info.value)


def test_bad_shard_tuple_passed_to_plan() -> None:
    with pytest.raises(TargetError, match="bad shard '3/2'"):
        plan(parse_targets(["192.0.2.1"]), ports=[80], shard=(3, 2))


@settings(max_examples=200)
@given(st.integers(0, 300), st.integers(1, 9))
def test_shard_positions_partition_the_range(total: int, count: int) -> None:
    shards = [shard_positions(total, (i, count)) for i in range(1, count + 1)]
    assert sorted(p for s in shards for p in s) == list(range(total))
    assert [shard_size(total, (i, count)) for i in range(1, count + 1)] == [len(s) for s in shards]


def test_shard_size_beyond_sys_maxsize() -> None:
    assert shard_size(2**80, (1, 2)) == 2**79
