"""Benchmark: the HTTP client's own CPU per request, on keep-alive connections.

Starts the Ollama emulator on 8 loopback addresses (127.2.0.0/28), then sends N
`GET /api/tags` through `HttpClient.fetch` (8 addresses, one request at a time each, uvloop)
and prints the client process's CPU per fetch: the read-only checks, the request, the
response head and capped body, the `Exchange`, and the send and receive syscalls. The
emulator's CPU is not counted. Measures and prints; asserts nothing.

    PYTHONPATH=src python benchmarks/client_fetch.py [--requests 8000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from aicensus.engine.client import HttpClient
from aicensus.engine.config import EngineConfig
from aicensus.records import ProbeRequest

sys.path.insert(0, str(Path(__file__).parent))
from scan_ollama_emulator import start_emulator

HOSTS = [f"127.2.0.{i}" for i in range(1, 9)]


async def measure(requests: int) -> float:
    async with HttpClient(EngineConfig()) as client:
        probe = ProbeRequest("GET", "/api/tags")
        for host in HOSTS:  # connections open and answers built before the clock starts
            await client.fetch(host, 11434, "http", probe)
        started = time.process_time()

        async def one_host(host: str) -> None:
            for _ in range(requests // len(HOSTS)):
                exchange = await client.fetch(host, 11434, "http", probe)
                assert exchange.status == 200, exchange.error

        await asyncio.gather(*(one_host(h) for h in HOSTS))
        return (time.process_time() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8000)
    args = parser.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_emulator("127.2.0.0/28", 11434, Path(tmp) / "ready")
        try:
            cpu = runner(measure(args.requests))
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"client CPU per fetch: {cpu * 1e6:.1f} us ({args.requests} keep-alive requests)")


if __name__ == "__main__":
    main()
