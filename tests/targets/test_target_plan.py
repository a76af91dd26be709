"""plan(): exclusion always wins, shards partition the plan, order is reproducible, DNS is lazy."""

from __future__ import annotations

import ipaddress
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicensus.errors import TargetError
from aicensus.records import Target
from aicensus.targets import parse_targets, plan
from tests.support.targets_fakes import FakeResolver

# Small documentation-only blocks, so brute-force expectations stay cheap.
REGIONS = [
    ipaddress.ip_network("192.0.2.0/24"),
    ipaddress.ip_network("198.51.100.0/25"),
    ipaddress.ip_network("2001:db8::/120"),
]
Net = ipaddress.IPv4Network | ipaddress.IPv6Network
Addr = ipaddress.IPv4Address | ipaddress.IPv6Address


@st.composite
def cidr_token(draw: st.DrawFn) -> tuple[str, set[Addr]]:
    region = draw(st.sampled_from(REGIONS))
    host = region[draw(st.integers(0, region.num_addresses - 1))]
    prefix = draw(st.integers(region.prefixlen, region.max_prefixlen))
    network = ipaddress.ip_network(f"{host}/{prefix}", strict=False)
    return f"{host}/{prefix}", set(network)


@st.composite
def range_token(draw: st.DrawFn) -> tuple[str, set[Addr]]:
    region = draw(st.sampled_from(REGIONS))
    a, b = sorted(draw(st.integers(0, region.num_addresses - 1)) for _ in range(2))
    first, last = region[a], region[b]
    return f"{first}-{last}", {region[i] for i in range(a, b + 1)}


@st.composite
def address_token(draw: st.DrawFn) -> tuple[str, set[Addr]]:
    region = draw(st.sampled_from(REGIONS))
    address = region[draw(st.integers(0, region.num_addresses - 1))]
    return str(address), {address}


tokens = st.lists(st.one_of(cidr_token(), range_token(), address_token()), max_size=5)


def union(entries: list[tuple[str, set[Addr]]]) -> set[Addr]:
    return set().union(*(addresses for _, addresses in entries))


@settings(max_examples=150, deadline=None)
@given(tokens, tokens, st.lists(st.sampled_from([80, 443, 11434]), min_size=1, max_size=3))
def test_exclusion_wins_and_every_other_address_appears_once(
    included: list[tuple[str, set[Addr]]],
    excluded: list[tuple[str, set[Addr]]],
    ports: list[int],
) -> None:
    scan = plan(
        parse_targets([t for t, _ in included]),
        parse_targets([t for t, _ in excluded]),
        ports,
        seed=3,
    )
    yielded = list(scan)
    expected = {Target(str(a), p) for a in union(included) - union(excluded) for p in set(ports)}
    assert not {ipaddress.ip_address(t.ip) for t in yielded} & union(excluded)
    assert Counter(yielded) == Counter(expected)  # each exactly once
    assert scan.count() == len(expected)


@settings(max_examples=100, deadline=None)
@given(tokens, st.integers(1, 6), st.integers(0, 2**32))
def test_shards_are_disjoint_and_complete(
    included: list[tuple[str, set[Addr]]], count: int, seed: int
) -> None:
    targets = parse_targets([t for t, _ in included])
    full = list(plan(targets, ports=[80, 8080], seed=seed))
    shards = [
        list(plan(targets, ports=[80, 8080], seed=seed, shard=(i, count)))
        for i in range(1, count + 1)
    ]
    combined = [t for shard in shards for t in shard]
    assert len(combined) == len(set(combined))  # disjoint
    assert set(combined) == set(full)  # complete
    for i, shard in enumerate(shards, start=1):
        assert plan(targets, ports=[80, 8080], seed=seed, shard=(i, count)).count() == len(shard)


def test_excluded_address_never_yielded_from_any_source(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("192.0.2.7\n198.51.100.7\n", encoding="utf-8")
    masscan = tmp_path / "masscan.txt"
    masscan.write_text("open tcp 11434 192.0.2.7 1700000000\n", encoding="utf-8")
    resolver = FakeResolver({"lab.example": ["192.0.2.7", "203.0.113.7"]})
    targets = parse_targets(
        [
            "192.0.2.0/29",
            "192.0.2.7-192.0.2.9",
            f"@{listing}",
            f"@{masscan}",
            "lab.example",
            "192.0.2.7:8080",
            "::ffff:192.0.2.7",
        ]
    )
    excludes = parse_targets(["192.0.2.7"])
    yielded = list(plan(targets, excludes, [80], resolver=resolver))
    assert all(t.ip != "192.0.2.7" for t in yielded)
    assert Target("203.0.113.7", 80, "lab.example") in yielded
    assert Target("198.51.100.7", 80) in yielded


def test_exclusions_accept_every_target_syntax(tmp_path: Path) -> None:
    excluded_file = tmp_path / "never.txt"
    excluded_file.write_text("# do not scan\n192.0.2.3\n", encoding="utf-8")
    resolver = FakeResolver({"printer.example": ["192.0.2.4"]})
    excludes = parse_targets(
        [
            f"@{excluded_file}",
            "192.0.2.0/31",
            "192.0.2.5-192.0.2.6",
            "printer.example",
            "192.0.2.8:9999",
            "::ffff:192.0.2.9",
        ]
    )
    yielded = {
        t.ip for t in plan(parse_targets(["192.0.2.0/28"]), excludes, [80], resolver=resolver)
    }
    assert yielded == {"192.0.2.2", "192.0.2.7"} | {f"192.0.2.{i}" for i in range(10, 16)}


def test_excluding_a_mapped_ipv6_block_excludes_the_ipv4_addresses() -> None:
    excludes = parse_targets(["::ffff:192.0.2.0/126"])
    yielded = {t.ip for t in plan(parse_targets(["192.0.2.0/29"]), excludes, [80])}
    assert yielded == {f"192.0.2.{i}" for i in range(4, 8)}


def test_hostnames_resolve_lazily_once_and_keep_their_name() -> None:
    resolver = FakeResolver({"api.example": ["192.0.2.20", "2001:db8::20"]})
    scan = plan(
        parse_targets(["api.example", "API.example", "api.example:8443"]),
        None,
        [80],
        resolver=resolver,
    )
    assert resolver.calls == []  # nothing resolved until the plan is used
    assert sorted(scan) == [
        Target("192.0.2.20", 80, "api.example"),
        Target("192.0.2.20", 8443, "api.example"),
        Target("2001:db8::20", 80, "api.example"),
        Target("2001:db8::20", 8443, "api.example"),
    ]
    assert scan.count() == 4
    assert resolver.calls == ["api.example"]


def test_ip_literals_never_reach_the_resolver() -> None:
    resolver = FakeResolver()
    targets = parse_targets(["192.0.2.1", "192.0.2.0/30", "127.0.0.1-127.0.0.3", "[::1]:80"])
    assert len(list(plan(targets, parse_targets(["192.0.2.2"]), [80], resolver=resolver))) == 7
    assert resolver.calls == []


def test_resolver_failure_is_a_target_error() -> None:
    scan = plan(parse_targets(["missing.example"]), None, [80], resolver=FakeResolver())
    with pytest.raises(TargetError, match=r"cannot resolve host 'missing\.example'"):
        list(scan)


def test_resolver_returning_garbage_is_a_target_error() -> None:
    resolver = FakeResolver({"odd.example": ["not-an-ip"]})
    scan = plan(parse_targets(["odd.example"]), None, [80], resolver=resolver)
    with pytest.raises(TargetError, match=r"resolving 'odd\.example' gave 'not-an-ip'"):
        scan.count()


def test_resolver_may_skip_a_host_by_returning_nothing() -> None:
    scan = plan(
        parse_targets(["gone.example", "192.0.2.1"]),
        None,
        [80],
        resolver=FakeResolver({"gone.example": []}),
    )
    assert list(scan) == [Target("192.0.2.1", 80)]


def test_targets_without_port_need_ports() -> None:
    with pytest.raises(TargetError, match=r"no ports to scan: give a port list \(--ports\)"):
        plan(parse_targets(["192.0.2.0/24"]))
    with pytest.raises(TargetError, match="no ports to scan"):
        plan(parse_targets(["host.example"]))
    # Endpoints that carry their own port need none.
    assert list(plan(parse_targets(["192.0.2.1:80"]))) == [Target("192.0.2.1", 80)]


def test_bad_port_passed_to_plan() -> None:
    with pytest.raises(TargetError, match="bad port 0"):
        plan(parse_targets(["192.0.2.1"]), ports=[0])


def test_order_is_deterministic_and_independent_of_token_order() -> None:
    a = list(plan(parse_targets(["192.0.2.0/25", "198.51.100.0/26"]), None, [80, 443], seed=9))
    b = list(plan(parse_targets(["198.51.100.0/26", "192.0.2.0/25"]), None, [443, 80], seed=9))
    c = list(plan(parse_targets(["192.0.2.0/25", "198.51.100.0/26"]), None, [80, 443], seed=10))
    assert a == b
    assert a != c and sorted(a) == sorted(c)


def test_iterating_twice_gives_the_same_sequence() -> None:
    scan = plan(parse_targets(["192.0.2.0/26"]), None, [80], seed=5)
    assert list(scan) == list(scan)


def test_a_slash8_is_lazy() -> None:
    scan = plan(parse_targets(["127.0.0.0/8"]), parse_targets(["127.0.0.0/9"]), [80, 443])
    assert scan.count() == 2**23 * 2
    first = [t for _, t in zip(range(1000), scan, strict=False)]
    assert len(set(first)) == 1000
    assert all(ipaddress.ip_address(t.ip) in ipaddress.ip_network("127.128.0.0/9") for t in first)


def test_huge_ipv6_plan_counts_and_starts() -> None:
    scan = plan(
        parse_targets(["2001:db8::/32"]), parse_targets(["2001:db8::/33"]), [80], shard=(2, 3)
    )
    assert scan.total() == 2**95
    assert scan.count() == (2**95 - 2) // 3 + 1
    target = next(iter(scan))
    assert ipaddress.ip_address(target.ip) in ipaddress.ip_network("2001:db8:8000::/33")


def test_empty_plan() -> None:
    scan = plan(parse_targets([]), ports=[80])
    assert scan.count() == 0 and list(scan) == []
    everything = plan(parse_targets(["192.0.2.0/24"]), parse_targets(["192.0.2.0/24"]), [80])
    assert everything.count() == 0 and list(everything) == []


def test_public_api() -> None:
    import aicensus.targets as stage

    assert sorted(stage.__all__) == [
        "Resolver",
        "ScanPlan",
        "TargetSet",
        "parse_ports",
        "parse_shard",
        "parse_targets",
        "plan",
        "resolve_host",
    ]
    assert all(hasattr(stage, name) for name in stage.__all__)
