"""A probe's `max_body` keeps only the start of a large answer; a later request of the same
path that may keep more asks again instead of reading the cut answer."""

from __future__ import annotations

import asyncio

from aicensus.engine.client import HttpClient
from aicensus.engine.config import EngineConfig
from aicensus.engine.session import TargetRequests
from aicensus.records import Exchange, ProbeRequest, Target
from tests.support.loopback import ScriptedServer, serve

DOC = '{"openapi":"3.1.0","info":{"title":"T","version":"1.2.3"},"paths":{' + "x" * 20_000 + "}}"


def _exchanges(port: int, probes: list[ProbeRequest]) -> tuple[list[Exchange], int]:
    async def go() -> tuple[list[Exchange], int]:
        config = EngineConfig(read_timeout=5.0, total_timeout=10.0)
        async with HttpClient(config) as client:
            target = Target(ip="127.0.0.1", port=port)
            requests = TargetRequests(client, asyncio.Semaphore(2), target, config)
            out = [await requests.send(p, "http") for p in probes]
            return out, len(requests.order)

    return asyncio.run(go())


def test_a_capped_probe_keeps_the_start_and_an_uncapped_one_asks_again() -> None:
    server = ScriptedServer()
    server.responses = {"/openapi.json": {"status": 200, "body": DOC}}
    capped = ProbeRequest("GET", "/openapi.json", max_body=4096)
    plain = ProbeRequest("GET", "/openapi.json")
    with serve(server) as port:
        (cut, again, full, cached), sent = _exchanges(port, [capped, capped, plain, capped])
    assert cut.truncated and len(cut.body) == 4096 and cut.body == DOC.encode()[:4096]
    assert again is cut  # the same cap: the answer in hand serves it
    assert not full.truncated and full.body == DOC.encode()
    assert cached is full  # the whole answer serves the capped probe too
    assert sent == 2 and [m for m, _, _ in server.log] == ["GET", "GET"]
