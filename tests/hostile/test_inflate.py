"""Decompression stays within the body cap.

The engine's HTTP/1.1 client inflates gzip and deflate itself (engine/http11.py `Inflater`,
zlib's max_length per step). It is run here against endless bombs and against ordinary
compressed bodies, in process, with the Python allocations of each fetch traced.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from aicensus.engine.client import HttpClient
from aicensus.engine.config import EngineConfig
from aicensus.records import Exchange, ProbeRequest
from tests.support import hostile_servers as servers

DOC = {"models": [{"name": f"model-{i}", "size": i} for i in range(200)]}
PLAIN = json.dumps(DOC).encode()


def _raw_deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return comp.compress(data) + comp.flush()


ENCODED = {
    "/gzip": ("gzip", gzip.compress(PLAIN)),
    "/deflate": ("deflate", zlib.compress(PLAIN)),
    "/raw-deflate": ("deflate", _raw_deflate(PLAIN)),  # what some servers send as "deflate"
    "/identity": ("identity", PLAIN),
}


def compressed(req: servers.Request) -> bytes:
    encoding, body = ENCODED[req.path]
    return servers.full_response(body, extra=[("Content-Encoding", encoding)])


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, dict[str, str]]]:
    for wbits in (31, 15):  # build the bombs now, not inside a traced fetch
        next(servers.compressed_zeros(wbits))
    farm = servers.HostileFarm()
    farm.start()
    port = servers.free_port_on("127.31.2.1")
    cases = [
        servers.Case("gzip-bomb", "127.31.2.1", servers.bomb("gzip", 31)),
        servers.Case("deflate-bomb", "127.31.2.2", servers.bomb("deflate", 15)),
        servers.Case("compressed", "127.31.2.3", lambda r, w: servers.serve_each(r, w, compressed)),
    ]
    try:
        farm.bind(cases, port)
        yield port, {c.name: c.address for c in cases}
    finally:
        farm.stop()


def fetch(address: str, port: int, path: str, cap: int) -> tuple[Exchange, int]:
    """One request; and the peak of Python allocations while it ran (all threads)."""

    async def go() -> tuple[Exchange, int]:
        async with HttpClient(EngineConfig(max_body_bytes=cap, total_timeout=10)) as http:
            tracemalloc.reset_peak()
            exchange = await http.fetch(address, port, "http", ProbeRequest("GET", path))
            return exchange, tracemalloc.get_traced_memory()[1]

    tracemalloc.start()
    try:
        return asyncio.run(go())
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("bomb", ["gzip-bomb", "deflate-bomb"])
def test_bombs_inflate_to_the_cap_and_no_further(
    farm: tuple[int, dict[str, str]], bomb: str
) -> None:
    port, address = farm
    cap = 1024 * 1024
    exchange, peak = fetch(address[bomb], port, "/", cap)
    assert exchange.error is None and exchange.status == 200
    assert exchange.truncated and exchange.body == b"\0" * cap
    assert peak < 6 * cap, peak  # measured 3-4 MiB: a gigabyte of zeros never existed


@pytest.mark.parametrize("path", sorted(ENCODED))
def test_compressed_bodies_read_as_sent(farm: tuple[int, dict[str, str]], path: str) -> None:
    port, address = farm
    exchange, _ = fetch(address["compressed"], port, path, 1024 * 1024)
    assert exchange.error is None and not exchange.truncated
    assert exchange.json() == DOC
    small, _ = fetch(address["compressed"], port, path, 1024)  # and a cap cuts the inflated text
    assert small.truncated and small.body == PLAIN[:1024]


def test_no_server_here_binds_outside_loopback() -> None:
    source = Path(servers.__file__).read_text()
    assert "0.0.0.0" not in source and '"::"' not in source
