"""Target syntaxes: addresses, CIDRs, ranges, hostnames, host:port, @file and stdin."""

from __future__ import annotations

import io
import ipaddress
from pathlib import Path

import pytest

from aicensus.errors import InputFileError, TargetError
from aicensus.records import Target
from aicensus.targets import parse_targets, plan
from aicensus.targets.parse import HostName


def ips(tokens: list[str], stdin: io.StringIO | None = None) -> list[str]:
    """Every address the tokens name, in address order, each checked to appear once."""
    targets = list(plan(parse_targets(tokens, stdin=stdin), ports=[80], resolver=_no_dns))
    assert len(targets) == len(set(targets))
    return [t.ip for t in sorted(targets, key=lambda t: _sort_key(t.ip))]


def _sort_key(ip: str) -> tuple[int, int]:
    address = ipaddress.ip_address(ip)
    return address.version, int(address)


def _no_dns(name: str) -> list[str]:
    raise AssertionError(f"resolver called for {name!r}")


def test_single_ipv4_and_ipv6() -> None:
    assert ips(["192.0.2.1", "2001:db8::1", "::1"]) == ["192.0.2.1", "::1", "2001:db8::1"]


def test_cidr_v4_v6_and_host_bits_are_ignored() -> None:
    assert ips(["198.51.100.0/30"]) == [f"198.51.100.{i}" for i in range(4)]
    assert ips(["198.51.100.6/30"]) == [f"198.51.100.{i}" for i in range(4, 8)]
    assert ips(["2001:db8::5/126"]) == [f"2001:db8::{i}" for i in range(4, 8)]


def test_ranges_full_shorthand_and_ipv6() -> None:
    assert ips(["127.0.0.1-127.0.0.20"]) == [f"127.0.0.{i}" for i in range(1, 21)]
    assert ips(["192.0.2.1-3"]) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert ips(["2001:db8::fe-2001:db8::101"]) == [
        "2001:db8::fe",
        "2001:db8::ff",
        "2001:db8::100",
        "2001:db8::101",
    ]


def test_range_across_octet_boundary() -> None:
    assert ips(["192.0.2.255-192.0.3.1"]) == ["192.0.2.255", "192.0.3.0", "192.0.3.1"]


def test_overlapping_tokens_yield_each_address_once() -> None:
    assert ips(["192.0.2.0/30", "192.0.2.1-192.0.2.5", "192.0.2.2"]) == [
        f"192.0.2.{i}" for i in range(6)
    ]


def test_comma_separated_tokens() -> None:
    assert ips(["192.0.2.1,192.0.2.3  192.0.2.5"]) == ["192.0.2.1", "192.0.2.3", "192.0.2.5"]


def test_ipv4_mapped_ipv6_folds_onto_ipv4() -> None:
    # A dual-stack socket reaches the same host either way, so they must be one target.
    assert ips(["::ffff:192.0.2.1", "192.0.2.1"]) == ["192.0.2.1"]


def test_hostname_is_kept_and_not_resolved_while_parsing() -> None:
    parsed = parse_targets(["API-1.Example.COM.", "router.example:8080"])
    assert parsed.hostnames == (
        HostName("api-1.example.com"),
        HostName("router.example", 8080),
    )
    assert parsed.intervals == ()


def test_reverse_dns_style_name_is_a_hostname_not_a_range() -> None:
    parsed = parse_targets(["192-0-2-1.static.example.net"])
    assert parsed.hostnames == (HostName("192-0-2-1.static.example.net"),)


def test_host_port_forms_carry_their_own_port() -> None:
    targets = list(plan(parse_targets(["192.0.2.7:11434", "[2001:db8::7]:8080"])))
    assert sorted(targets) == [
        Target("192.0.2.7", 11434),
        Target("2001:db8::7", 8080),
    ]


def test_bracketed_ipv6_without_port() -> None:
    assert ips(["[2001:db8::9]"]) == ["2001:db8::9"]


def test_at_file_with_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "targets.txt"
    path.write_text(
        "# lab hosts\n\n192.0.2.1\n  192.0.2.2   # inline comment\n\n203.0.113.0/31\n"
        "127.0.0.1-127.0.0.2\n2001:db8::5\n",
        encoding="utf-8",
    )
    assert ips([f"@{path}"]) == [
        "127.0.0.1",
        "127.0.0.2",
        "192.0.2.1",
        "192.0.2.2",
        "203.0.113.0",
        "203.0.113.1",
        "2001:db8::5",
    ]


def test_stdin_dash() -> None:
    stdin = io.StringIO("192.0.2.10\n# comment\n192.0.2.11\n")
    assert ips(["-"], stdin=stdin) == ["192.0.2.10", "192.0.2.11"]


def test_file_with_a_comma_in_its_name(tmp_path: Path) -> None:
    path = tmp_path / "a,b.txt"
    path.write_text("192.0.2.1\n", encoding="utf-8")
    assert ips([f"@{path}"]) == ["192.0.2.1"]


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("192.0.2.300", "bad target '192.0.2.300': not a valid IP address"),
        ("1.2.3", "bad target '1.2.3': not a valid IP address"),
        ("192.0.2.0/33", "bad target '192.0.2.0/33': prefix must be a number from 0 to 32"),
        ("2001:db8::/129", "prefix must be a number from 0 to 128"),
        ("192.0.2.0/x", "prefix must be a number"),
        ("192.0.2.999/24", "'192.0.2.999' is not an IP address"),
        ("127.0.0.20-127.0.0.1", "bad target '127.0.0.20-127.0.0.1': range start is after its end"),
        ("192.0.2.9-3", "range start is after its end"),
        ("2001:db8::9-2001:db8::1", "range start is after its end"),
        ("192.0.2.1-2001:db8::1", "range mixes IPv4 and IPv6"),
        ("192.0.2.1-192.0.2.x", "range end '192.0.2.x' is not an IP address"),
        ("192.0.2.300-192.0.2.301", "range start '192.0.2.300' is not an IP address"),
        ("2001:db8::zz", "not a valid IPv6 address"),
        ("[2001:db8::1", "expected [address] or [address]:port"),
        ("[nothost]:80", "'nothost' in brackets is not an IP address"),
        ("192.0.2.1:0", "port '0' is not a number from 1 to 65535"),
        ("192.0.2.1:65536", "port '65536' is not a number from 1 to 65535"),
        ("host.example:http", "port 'http' is not a number"),
        ("exa mple!", "bad target 'mple!'"),
        ("-bad-.example", "not an IP address, CIDR block, range or hostname"),
        ("a..b", "not an IP address, CIDR block, range or hostname"),
        ("fe80::1%eth0", "IPv6 zone ids (%) are not supported"),
        ("   ", "bad target '   ': it is empty"),
        ("@", "missing file name"),
    ],
)
def test_bad_tokens_name_the_token(token: str, message: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_targets([token])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unreadable_file_is_an_input_file_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(
        InputFileError, match=r"cannot read target file '.*nope\.txt': No such file"
    ):
        parse_targets([f"@{missing}"])
    with pytest.raises(InputFileError, match="cannot read target file"):
        parse_targets([f"@{tmp_path}"])  # a directory


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"192.0.2.1\n\xff\xfe\n")
    with pytest.raises(InputFileError, match="not UTF-8 text"):
        parse_targets([f"@{path}"])


def test_bad_line_in_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("# header\n192.0.2.1\n\n192.0.2.256\n", encoding="utf-8")
    with pytest.raises(InputFileError) as info:
        parse_targets([f"@{path}"])
    assert str(info.value) == f"{path}:4: bad target '192.0.2.256': not a valid IP address"


def test_two_targets_on_one_file_line(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("192.0.2.1 192.0.2.2\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"t\.txt:1: .*one target per line"):
        parse_targets([f"@{path}"])


def test_nested_file_reference_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("@other.txt\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"t\.txt:1: .*cannot be nested"):
        parse_targets([f"@{path}"])


def test_bad_stdin_line_names_stdin() -> None:
    with pytest.raises(InputFileError, match=r"^<stdin>:2: bad target 'not_ok!'"):
        parse_targets(["-"], stdin=io.StringIO("192.0.2.1\nnot_ok!\n"))
