"""--ports: lists, ranges and caller-supplied presets."""

from __future__ import annotations

import pytest

from aicensus.errors import TargetError
from aicensus.targets import parse_ports

PRESETS = {"ai": [11434, 8000, 8080, 1234], "web": [80, 443]}


def test_list_and_range() -> None:
    assert parse_ports("80,443,8000-8003", PRESETS) == [80, 443, 8000, 8001, 8002, 8003]


def test_result_is_sorted_and_unique() -> None:
    assert parse_ports("8080, 80 ,80,79-81", PRESETS) == [79, 80, 81, 8080]


def test_presets_mix_with_numbers() -> None:
    assert parse_ports("web,ai,22", PRESETS) == [22, 80, 443, 1234, 8000, 8080, 11434]


def test_full_range_is_allowed() -> None:
    assert len(parse_ports("1-65535")) == 65535


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "bad port list '': it is empty"),
        ("80,,443", "bad port list '80,,443': empty item"),
        ("0", "bad port '0': 0 is outside 1-65535"),
        ("65536", "bad port '65536': 65536 is outside 1-65535"),
        ("8010-8000", "bad port range '8010-8000': start is after end"),
        ("80-70000", "bad port '80-70000': 70000 is outside 1-65535"),
        ("-5", "bad port '-5': expected a number, a range a-b or a preset name"),
        ("8o", "bad port '8o': expected a number"),
        ("llm", "unknown port preset 'llm' (known presets: ai, web)"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_ports(spec, PRESETS)
    assert message in str(info.value)


def test_unknown_preset_without_any_presets() -> None:
    with pytest.raises(
        TargetError, match=r"unknown port preset 'ai' \(known presets: none defined\)"
    ):
        parse_ports("ai")


def test_preset_with_invalid_port_is_reported() -> None:
    with pytest.raises(TargetError, match="port preset 'bad' holds invalid ports: \\[0\\]"):
        parse_ports("bad", {"bad": [80, 0]})
