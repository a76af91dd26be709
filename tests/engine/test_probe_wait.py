"""A probe's `wait` lets one slow answer (a document the server builds on its first request)
take longer than the engine's per-request limits; every other request keeps them, on the same
connection too, and an answer that timed out is asked again by a probe that may wait longer."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from aiohttp import web

from aicensus.engine.client import HttpClient
from aicensus.engine.config import EngineConfig
from aicensus.engine.session import TargetRequests
from aicensus.errors import SignatureError
from aicensus.fingerprint.load import parse_signature
from aicensus.records import Exchange, ProbeRequest, Target
from tests.support.loopback import app_server

SLOW_S = 1.5  # the server's delay before it answers /slow
CONFIG = EngineConfig(read_timeout=0.5, total_timeout=1.0)


def _app() -> web.Application:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(SLOW_S)
        return web.json_response({"info": {"version": "1.2.3"}})

    async def fast(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/slow", slow)
    app.router.add_get("/fast", fast)
    return app


def _run(port: int, batches: list[list[ProbeRequest]]) -> list[list[Exchange]]:
    """Each batch on a fresh per-target cache, all on one client (so one connection pool)."""

    async def go() -> list[list[Exchange]]:
        out = []
        async with HttpClient(CONFIG) as client:
            for batch in batches:
                target = Target(ip="127.0.0.1", port=port)
                requests = TargetRequests(client, asyncio.Semaphore(1), target, CONFIG)
                out.append([await requests.send(p, "http") for p in batch])
        return out

    return asyncio.run(go())


def test_a_waiting_probe_gets_the_slow_answer_others_keep_the_limits() -> None:
    plain = ProbeRequest("GET", "/slow")
    patient = ProbeRequest("GET", "/slow", wait=4.0)
    with app_server(_app()) as port:
        first, second = _run(
            port, [[plain, patient, patient], [ProbeRequest("GET", "/fast"), plain]]
        )
    timed_out, answered, cached = first
    assert timed_out.error == "timeout" and timed_out.status is None
    assert answered.status == 200 and b"1.2.3" in answered.body  # asked again, waited
    assert cached is answered
    assert 1000 * SLOW_S <= answered.elapsed_ms < 4000
    fast, plain_again = second  # the same pool: the wait did not stay with the connection
    assert fast.status == 200
    assert plain_again.error == "timeout" and plain_again.elapsed_ms < 1000 * SLOW_S


def test_a_signature_wait_is_bounded() -> None:
    doc = {
        "id": "slow-doc", "name": "Slow doc", "description": "test", "ports": [8000],
        "references": ["https://example.org/"], "probes": {"doc": {"path": "/doc", "wait": 31}},
        "matchers": [{"name": "m", "probe": "doc", "status": [200], "weight": 0.9,
                      "why": "test"}],
    }  # fmt: skip
    with pytest.raises(SignatureError, match="wait"):
        parse_signature(msgspec.yaml.encode(doc).decode(), "slow-doc.yaml")
    doc["probes"] = {"doc": {"path": "/doc", "wait": 30}}
    sig = parse_signature(msgspec.yaml.encode(doc).decode(), "slow-doc.yaml")
    assert sig.probes["doc"].wait == 30
