"""Rate of new connections, requests in flight per address, and the shared-iterator pool."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner

from aicensus import api
from aicensus.cli import app as cli_app
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


@pytest.mark.parametrize("per_host", [None, 1])
def test_at_most_per_host_inflight_requests_at_one_address(
    per_host: int | None, tmp_path: Path
) -> None:
    """Two requests in flight to one address by default; `--per-host 1` allows one."""
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
        if per_host is None:
            plan = api.plan_targets(["127.0.0.1"], ports=str(port))
            seen = []
            api.scan(plan, config=EngineConfig(concurrency=8), sigs=builtin_signatures(),
                     on_observation=seen.append)  # fmt: skip
            assert seen[0].status == ScanStatus.UNIDENTIFIED
            assert len(seen[0].request_log) >= 5  # it probed every signature's routes
        else:
            args = ["scan", "127.0.0.1", "-p", str(port), "--per-host", str(per_host)]
            cli_app._register()
            argv = [*args, "--concurrency", "8", "--format", "jsonl", "--all"]
            argv += ["--db", str(tmp_path / "scan.duckdb")]
            result = CliRunner().invoke(cli_app.cli, argv)
            assert result.exit_code == 0, result.output
            assert '"status":"unidentified"' in result.output.replace(" ", "")
    assert state["max"] == (per_host or 2)
