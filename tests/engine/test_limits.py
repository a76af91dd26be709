"""Rate of new connections, requests in flight per address, and the shared-iterator pool."""

from __future__ import annotations

import asyncio
import threading
import time

from aiohttp import web

from aicensus import api
from aicensus.engine.config import EngineConfig
from aicensus.fingerprint.load import builtin_signatures
from aicensus.records import ScanStatus
from tests.support.loopback import app_server, free_port


def test_rate_limits_new_connections() -> None:
    port = free_port()  # nothing listens: every target is one refused connection attempt
    targets = [f"127.0.9.{i}" for i in range(1, 61)]
    plan = api.plan_targets(targets, ports=str(port))
    seen = []
    started = time.monotonic()
    api.scan(plan, config=EngineConfig(rate=40, concurrency=64), on_observation=seen.append)
    elapsed = time.monotonic() - started
    assert len(seen) == 60
    assert all(o.status == ScanStatus.CONNECTION_REFUSED for o in seen)
    # 60 connections at 40/s with a burst of 4: at least (60 - 4) / 40 = 1.4 s
    assert elapsed >= 1.3, elapsed
    assert elapsed < 6, elapsed


def test_at_most_two_requests_in_flight_per_address() -> None:
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    async def slow(request: web.Request) -> web.Response:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        await asyncio.sleep(0.05)
        with lock:
            state["now"] -= 1
        return web.Response(status=404, text="nope")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", slow)
    with app_server(app) as port:
        plan = api.plan_targets(["127.0.0.1"], ports=str(port))
        seen = []
        api.scan(plan, config=EngineConfig(concurrency=8), sigs=builtin_signatures(),
                 on_observation=seen.append)
    assert seen[0].status == ScanStatus.UNIDENTIFIED
    assert len(seen[0].request_log) >= 5  # it probed every signature's routes
    assert state["max"] == 2
