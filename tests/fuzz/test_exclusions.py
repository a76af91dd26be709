"""Property: for any targets and exclusions, no connection is ever opened to an excluded address.

The evidence is taken at the socket layer, not from the scanner: a `sys.addaudithook` hook
records every "socket.connect" event (CPython raises it inside socket.connect and connect_ex,
which asyncio's sock_connect, hence aiohttp and asyncio.open_connection, go through). The scan
runs on the stock asyncio loop for this, because uvloop connects in C without that event.
The hook must also see a connection to every planned address, or it proves nothing.

Targets and exclusions are random addresses, CIDR blocks, ranges and ip:port endpoints in a
/24 of 127.0.0.0/8 where nothing listens, so every attempt is one refused connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aicensus import api, scanning
from aicensus.engine.config import EngineConfig
from tests.support.loopback import free_port

_lock = threading.Lock()
_recording: list[tuple[str, int]] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event != "socket.connect" or _recording is None:
        return
    address = args[1]
    if isinstance(address, tuple) and len(address) >= 2:
        with _lock:
            _recording.append((str(address[0]), int(address[1])))


sys.addaudithook(_audit)  # audit hooks cannot be removed: it records only inside `recorded()`

BLOCK = 77  # 127.77.<third>.x
PORTS = [free_port(), free_port()]  # nothing listens on these on 127.77.0.0/16


@st.composite
def token(draw: st.DrawFn, third: int, endpoints: bool) -> tuple[str, set[int], int | None]:
    """A target token over 127.77.third.0/24 and the host numbers (and port) it names."""
    kind = draw(st.sampled_from(["address", "cidr", "range", "endpoint"] if endpoints else
                                ["address", "cidr", "range"]))  # fmt: skip
    base = f"127.{BLOCK}.{third}"
    if kind == "address":
        host = draw(st.integers(0, 255))
        return f"{base}.{host}", {host}, None
    if kind == "cidr":
        prefix = draw(st.integers(27, 32))
        net = ipaddress.ip_network(f"{base}.{draw(st.integers(0, 255))}/{prefix}", strict=False)
        return str(net), {int(a) & 0xFF for a in net}, None
    if kind == "range":
        first = draw(st.integers(0, 255))
        last = draw(st.integers(first, min(255, first + 40)))
        return f"{base}.{first}-{base}.{last}", set(range(first, last + 1)), None
    host = draw(st.integers(0, 255))
    port = draw(st.sampled_from(PORTS))
    return f"{base}.{host}:{port}", {host}, port


@st.composite
def scopes(draw: st.DrawFn) -> tuple[int, list, list]:
    third = draw(st.integers(0, 255))
    targets = draw(st.lists(token(third, endpoints=True), min_size=1, max_size=4))
    excludes = draw(
        st.lists(token(third, endpoints=True), max_size=4)
    )  # an ip:port excludes the ip
    return third, targets, excludes


def recorded_scan(plan: api.TargetPlan) -> list[tuple[str, int]]:
    global _recording
    seen: list[tuple[str, int]] = []
    with _lock:
        _recording = seen
    try:
        api.scan(plan, config=EngineConfig(concurrency=64, connect_timeout=2))
    finally:
        with _lock:
            _recording = None
    return seen


@pytest.fixture(autouse=True)
def stock_asyncio_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanning, "_run_async", asyncio.run)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scopes())
def test_no_connection_to_an_excluded_address(scope: tuple[int, list, list]) -> None:
    third, targets, excludes = scope
    base = f"127.{BLOCK}.{third}"
    excluded = {f"{base}.{h}" for _, hosts, _ in excludes for h in hosts}
    expected = set()
    for _, hosts, port in targets:
        for h in hosts:
            if f"{base}.{h}" not in excluded:
                expected |= {(f"{base}.{h}", p) for p in ([port] if port else PORTS)}
    plan = api.plan_targets(
        [t for t, _, _ in targets],
        ports=",".join(map(str, PORTS)),
        excludes=[e for e, _, _ in excludes],
    )
    connected = recorded_scan(plan)
    assert not {ip for ip, _ in connected} & excluded, "connected to an excluded address"
    # The hook saw every planned connection (so it would have seen a forbidden one), once each.
    assert set(connected) == expected
    assert len(connected) == len(expected)


def test_the_hook_sees_asyncio_connections() -> None:
    plan = api.plan_targets([f"127.{BLOCK}.9.9"], ports=str(PORTS[0]))
    assert recorded_scan(plan) == [(f"127.{BLOCK}.9.9", PORTS[0])]
