"""Scanner output read through @file and stdin: masscan -oL/-oJ/-oD and ZMap CSV/JSON."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from aicensus.errors import InputFileError
from aicensus.records import Target
from aicensus.targets import parse_targets, plan
from aicensus.targets.formats import Format, detect
from tests.support.targets_fakes import FakeResolver


def scan_of(tmp_path: Path, text: str, ports: list[int] | None = None) -> list[Target]:
    path = tmp_path / "input"
    path.write_text(text, encoding="utf-8")
    targets = parse_targets([f"@{path}"])
    return sorted(plan(targets, ports=ports or [], resolver=FakeResolver()))


MASSCAN_LIST = """\
#masscan
open tcp 11434 192.0.2.1 1700000000
open tcp 8000 192.0.2.1 1700000001
open udp 53 192.0.2.2 1700000002
banner tcp 11434 192.0.2.1 1700000003 http HTTP/1.1 200 OK
closed tcp 80 192.0.2.3 1700000004
open tcp 8080 2001:db8::1 1700000005
# end
"""


def test_masscan_list_yields_its_own_pairs(tmp_path: Path) -> None:
    assert scan_of(tmp_path, MASSCAN_LIST) == [
        Target("192.0.2.1", 8000),
        Target("192.0.2.1", 11434),
        Target("2001:db8::1", 8080),
    ]


def test_masscan_pairs_are_not_crossed_with_ports(tmp_path: Path) -> None:
    # --ports applies to plain addresses only; a scanner line already says which port is open.
    text = "open tcp 11434 192.0.2.1 1700000000\n"
    assert scan_of(tmp_path, text, ports=[80, 443]) == [Target("192.0.2.1", 11434)]


MASSCAN_JSON_OLD = """\
[
{   "ip": "192.0.2.10",   "timestamp": "1700000000", "ports": [ {"port": 11434, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 64} ] },
{   "ip": "192.0.2.11",   "timestamp": "1700000001", "ports": [ {"port": 53, "proto": "udp", "status": "open", "reason": "none", "ttl": 64} ] },
{   "ip": "192.0.2.12",   "timestamp": "1700000002", "ports": [ {"port": 80, "proto": "tcp", "status": "closed", "reason": "rst", "ttl": 64} ] },
{finished: 1}
]
"""

MASSCAN_JSON_NEW = """\
[
{   "ip": "192.0.2.10",   "timestamp": "1700000000", "ports": [ {"port": 11434, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 64} ] }
,
{   "ip": "2001:db8::a",   "timestamp": "1700000001", "ports": [ {"port": 8000, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 64} ] }
]
"""

MASSCAN_JSON_PRETTY = """\
[
  {
    "ip": "192.0.2.10",
    "ports": [{"port": 11434, "proto": "tcp", "status": "open"},
              {"port": 8000, "proto": "tcp", "status": "open"}]
  },
]
"""

MASSCAN_NDJSON = """\
{"ip":"192.0.2.10","timestamp":"1700000000","port":11434,"proto":"tcp","rec_type":"status","data":{"status":"open","reason":"syn-ack","ttl":64}}
{"ip":"192.0.2.13","timestamp":"1700000000","port":80,"proto":"tcp","rec_type":"status","data":{"status":"closed","reason":"rst","ttl":64}}
"""


def test_masscan_json_old_style_trailing_comma_and_finished(tmp_path: Path) -> None:
    assert scan_of(tmp_path, MASSCAN_JSON_OLD) == [Target("192.0.2.10", 11434)]


def test_masscan_json_new_style(tmp_path: Path) -> None:
    assert scan_of(tmp_path, MASSCAN_JSON_NEW) == [
        Target("192.0.2.10", 11434),
        Target("2001:db8::a", 8000),
    ]


def test_masscan_json_pretty_printed_with_trailing_comma(tmp_path: Path) -> None:
    assert scan_of(tmp_path, MASSCAN_JSON_PRETTY) == [
        Target("192.0.2.10", 8000),
        Target("192.0.2.10", 11434),
    ]


def test_masscan_json_lines(tmp_path: Path) -> None:
    assert scan_of(tmp_path, MASSCAN_NDJSON) == [Target("192.0.2.10", 11434)]


def test_zmap_json_lines(tmp_path: Path) -> None:
    text = (
        '{"saddr": "198.51.100.1", "sport": 11434, "dport": 41234, "success": 1}\n'
        '{"saddr": "198.51.100.2", "sport": 11434, "dport": 41234, "success": 0}\n'
    )
    assert scan_of(tmp_path, text) == [Target("198.51.100.1", 11434)]


def test_zmap_csv_with_sport_uses_sport_not_dport(tmp_path: Path) -> None:
    # sport is the port the reply came from (the one we scanned); dport is ZMap's own.
    text = "saddr,sport,dport,success\n198.51.100.1,11434,40000,1\n198.51.100.2,8000,40001,0\n"
    assert scan_of(tmp_path, text) == [Target("198.51.100.1", 11434)]


def test_zmap_default_output_crosses_with_ports(tmp_path: Path) -> None:
    text = "saddr\n198.51.100.1\n198.51.100.2\n"
    assert scan_of(tmp_path, text, ports=[11434]) == [
        Target("198.51.100.1", 11434),
        Target("198.51.100.2", 11434),
    ]


def test_zmap_headerless_ip_per_line_is_a_plain_list(tmp_path: Path) -> None:
    text = "198.51.100.1\n198.51.100.2\n"
    assert scan_of(tmp_path, text, ports=[80]) == [
        Target("198.51.100.1", 80),
        Target("198.51.100.2", 80),
    ]


def test_scanner_output_from_stdin() -> None:
    stdin = io.StringIO("saddr,sport\n203.0.113.9,11434\n")
    assert list(plan(parse_targets(["-"], stdin=stdin))) == [Target("203.0.113.9", 11434)]


def test_scanner_pair_also_in_a_cidr_is_yielded_once(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_text("open tcp 80 192.0.2.1 1700000000\n", encoding="utf-8")
    targets = parse_targets([f"@{path}", "192.0.2.0/31"])
    assert sorted(plan(targets, ports=[80])) == [Target("192.0.2.0", 80), Target("192.0.2.1", 80)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("#masscan", Format.MASSCAN_LIST),
        ("open tcp 80 192.0.2.1 1700000000", Format.MASSCAN_LIST),
        ("[", Format.MASSCAN_JSON),
        ('{"ip": "192.0.2.1"}', Format.MASSCAN_JSON),
        ('[{"ip": "192.0.2.1"}]', Format.MASSCAN_JSON),
        ("saddr,sport", Format.ZMAP_CSV),
        ("192.0.2.1", Format.LIST),
        ("[2001:db8::1]:80", Format.LIST),
        ("# just a comment", None),
        ("   ", None),
    ],
)
def test_detect(line: str, expected: Format | None) -> None:
    assert detect(line) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("#masscan\nopen tcp 80 192.0.2.1 1\nwhat is this\n", ":3: not a masscan -oL line"),
        ("open tcp 99999 192.0.2.1 1\n", ":1: bad port '99999'"),
        ("open tcp 80 not-an-ip 1\n", ":1: bad address 'not-an-ip' in scanner output"),
        ('[\n{"ip": "192.0.2.1", "ports": []},\n{"ip": \n', ":3: not valid masscan/ZMap JSON"),
        ('[\n{"timestamp": "1"}\n]\n', ":2: JSON record has no 'ip'"),
        ("[\n[1, 2]\n]\n", ":2: expected a JSON object"),
        ("saddr,sport\n198.51.100.1\n", ":2: ZMap CSV row has 1 fields, header has 2"),
        ("saddr,sport\n198.51.100.1,http\n", ":2: bad port 'http'"),
        ("saddr\nexample.com\n", ":2: bad address 'example.com' in scanner output"),
    ],
)
def test_malformed_scanner_output_names_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "scan.out"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError) as info:
        parse_targets([f"@{path}"])
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)
