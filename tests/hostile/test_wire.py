"""Read-only and exclusions as properties of what reaches the wire (issue 14, items 1-3, 8).

Every check here reads what a loopback server *received*, never what the scanner says it sent:
- a server that redirects reads to write routes (in many spellings) gets no write route;
- signature probes that are write routes in another spelling are refused by `signatures
  validate` and by the engine, and the server receives nothing;
- an allow-listed POST reaches only a service identified as the product that defines it
  (never vLLM, a catch-all or a honeypot, which all get the scan's identity probes);
- an excluded address (0.0.0.0 when 127.0.0.0/8 is excluded) is never connected to, even
  when the engine is asked directly or a hostname resolves to it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aicensus.engine import readonly
from aicensus.engine.client import HttpClient
from aicensus.engine.config import EngineConfig
from aicensus.errors import ReadOnlyViolation
from aicensus.records import ProbeRequest
from aicensus.targets import parse_targets
from aicensus.targets.plan import plan
from tests.support import hostile_servers as servers
from tests.support.hostile_harness import run_scan
from tests.support.wire_recorder import Recorder


def fetch_all(recorder: Recorder, probes: list[ProbeRequest], **config: object) -> list[object]:
    """Send each probe with the real engine; a refused probe comes back as its exception."""

    async def run() -> list[object]:
        out: list[object] = []
        async with HttpClient(EngineConfig(**config)) as client:  # type: ignore[arg-type]
            for probe in probes:
                try:
                    out.append(await client.fetch(recorder.address, recorder.port, "http", probe))
                except ReadOnlyViolation as exc:
                    out.append(exc)
        return out

    return asyncio.run(run())


# The spellings of issue 14: each is a write route once a server has normalised it.
WIRE_SPELLINGS = [
    "/api/generate#x",
    "/api/gener%61te",
    "/api/pull/../pull",
    "/shutdown/.",
    "/api/chat\t",
    "/API/%2570ull",
    "/api/pull;jsessionid=1",
    "/api/pull.",
    "//api//pull/",
    "/v1/../api/ｐｕｌｌ",
    "/api/pu\u200bll",
    "/x/%2e%2e/api/delete",
    "/api\\pull",
]

REDIRECTS = {
    "/": "/api/pull",
    "/api/tags": "/api/generate",
    "/v1/models": "/shutdown",
    "/api/version": "/api/pull/",
    "/api/ps": "/api/gener%61te",
    "/v1/version": "/api/pull/../pull",
    "/health": "/shutdown/.",
    "/props": "/API/PULL",
    "/version": "/api/generate#x",
    "/metrics": "/x/%2e%2e/api/delete",
}


def test_redirects_to_write_routes_are_never_followed(tmp_path: Path) -> None:
    """Issue 14 item 1, through the real CLI: the server records no write route."""
    with Recorder("127.31.2.1") as server:
        for source, target in REDIRECTS.items():
            server.redirects[source] = target
        server.redirects["/slots"] = f"http://127.31.2.1:{server.port}/api/pull"
        started = time.monotonic()
        run = run_scan(["127.31.2.1", "--ports", str(server.port)], tmp_path, "redirects")
        elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    sources = {p for _m, p in server.received}
    assert {"/", "/api/tags", "/v1/models"} <= sources  # the redirects were met
    assert server.writes() == [], server.writes()
    assert [svc["ip"] for svc in run.services] == ["127.31.2.1"]
    print(f"redirects to write routes: {len(server.received)} requests received, 0 writes, "
          f"scan {run.scan_seconds:.1f} s, process {elapsed:.1f} s")  # fmt: skip


def test_write_spellings_are_refused_by_the_engine_before_sending() -> None:
    """Issue 14 item 2: the engine raises and the server receives nothing at all."""
    with Recorder("127.31.2.2") as server:
        results = fetch_all(
            server, [ProbeRequest("GET", p) for p in WIRE_SPELLINGS] + [ProbeRequest("GET", "/")]
        )
    assert all(isinstance(r, ReadOnlyViolation) for r in results[:-1]), results
    assert server.received == [("GET", "/")]  # the control request did arrive


@pytest.mark.parametrize("path", WIRE_SPELLINGS)
def test_signatures_validate_rejects_write_spellings(tmp_path: Path, path: str) -> None:
    """Issue 14 item 2, through the real `signatures validate` command."""
    folder = tmp_path / "sigs"
    folder.mkdir()
    (folder / "ollama.yaml").write_text(
        "id: ollama\nname: x\ndescription: x\nports: [11434]\nreferences: []\n"
        f"probes:\n  p: {{path: {json.dumps(path)}}}\n"
        "matchers:\n  - {name: a, probe: p, weight: 1, why: x}\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "aicensus", "signatures", "validate", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0, proc.stdout
    assert "refused" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


# ---------------------------------------------------------------------------- POST ownership


@pytest.fixture(scope="module")
def emulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """vLLM, a catch-all SPA, a honeypot and Triton (the control) from the lab emulator."""
    from aicensus.lab.emulators.generic import GenericEmulator, parse_site

    log = tmp_path_factory.mktemp("posts") / "requests.jsonl"
    port = _port_8000_or_free([f"127.31.3.{i}" for i in range(1, 5)])
    sites = [
        parse_site(product, "open", f"127.31.3.{i}", str(port))
        for i, product in enumerate(["vllm", "decoy-spa", "honeypot", "triton"], 1)
    ]
    emulator = GenericEmulator(sites, request_log=log, quiet=True)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(emulator.start(), loop).result(10)
    try:
        yield port, log
    finally:
        asyncio.run_coroutine_threadsafe(emulator.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _port_8000_or_free(addresses: list[str]) -> int:
    """Triton's, vLLM's and the honeypot's default port (where the honeypot claims the most
    products at once), if it is free on these loopback addresses."""
    import socket

    try:
        for address in addresses:
            with socket.socket() as s:
                s.bind((address, 8000))
    except OSError:
        return servers.free_port_on(addresses[0])
    return 8000


def test_posts_go_only_to_the_product_that_defines_them(
    emulated: tuple[int, Path], tmp_path: Path
) -> None:
    """Issue 14 item 3, through the real CLI: only Triton receives a POST."""
    port, log = emulated
    run = run_scan(["127.31.3.1-127.31.3.4", "--ports", str(port)], tmp_path, "posts")
    assert run.returncode == 0, run.stderr
    by_ip = {svc["ip"]: svc for svc in run.services}
    assert by_ip["127.31.3.4"]["product"] == "triton"
    assert by_ip["127.31.3.1"]["product"] == "vllm"
    if port == 8000:  # elsewhere it may pass for one product; it gets no POST either way
        assert by_ip["127.31.3.3"]["status"] == "suspected-honeypot"
    assert by_ip["127.31.3.2"]["product"] is None  # the catch-all
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    posts = {(e["local"], e["path"]) for e in entries if e["method"] == "POST"}
    assert posts == {("127.31.3.4", "/v2/repository/index")}, posts
    print(f"POST ownership: {len(entries)} requests to 4 services, POSTs only to Triton, "
          f"scan {run.scan_seconds:.1f} s")  # fmt: skip
    assert not [e for e in entries if readonly.is_write_route(str(e["path"]))
                and not readonly.is_route_existence_probe(str(e["method"]), str(e["path"]))]  # fmt: skip


# ---------------------------------------------------------------------------- exclusions


def test_unspecified_address_follows_the_loopback_exclusion() -> None:
    """Issue 14 item 8 (planning): 0.0.0.0 reaches the local host, so it is excluded with it."""
    planned = plan(parse_targets(["0.0.0.0", "::", "127.0.0.1"]), parse_targets(["127.0.0.0/8"]),
                   [80])  # fmt: skip
    assert [t.ip for t in planned] == []
    kept = plan(parse_targets(["0.0.0.0", "::"]), parse_targets(["10.0.0.0/8"]), [80])
    assert sorted(t.ip for t in kept) == ["0.0.0.0", "::"]


def test_engine_refuses_excluded_addresses_at_the_socket() -> None:
    """Issue 14 item 8 (engine): asked directly, or through a hostname, nothing connects."""
    excludes = parse_targets(["127.0.0.0/8", "::1"])  # localhost may resolve to either
    excluded = plan(parse_targets(["10.0.0.1"]), excludes, [80]).excluded()
    config = EngineConfig(excluded=tuple(excluded.intervals()))
    with Recorder("127.0.0.1") as server:
        direct = fetch_all(server, [ProbeRequest("GET", "/")], excluded=config.excluded)

        async def by_name() -> str:
            async with HttpClient(config) as client:
                try:  # the connection opener itself, given a name rather than an address
                    await client._connect(("localhost", server.port, "http", None))
                except OSError as exc:
                    return repr(exc)
                return "connected"

        named = asyncio.run(by_name())
        wildcard = asyncio.run(_fetch_at("0.0.0.0", server.port, config))
        time.sleep(0.1)
    assert direct[0].error == "excluded address: not contacted"  # type: ignore[union-attr]
    assert wildcard == "excluded address: not contacted"
    assert "ExcludedAddress" in named, named  # refused by the socket factory itself
    assert server.connections == 0 and server.received == []


async def _fetch_at(ip: str, port: int, config: EngineConfig) -> str | None:
    async with HttpClient(config) as client:
        return (await client.fetch(ip, port, "http", ProbeRequest("GET", "/"))).error
