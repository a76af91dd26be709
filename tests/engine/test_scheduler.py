"""The scheduler runs any per-target job: each target once, with its plan position, at most
`concurrency` at a time, one gate per address shared by its ports. No request is sent here."""

from __future__ import annotations

import asyncio
import contextlib

from aicensus.engine.config import EngineConfig
from aicensus.engine.scheduler import TargetSlot, run_indexed
from aicensus.records import Target


def test_each_target_runs_once_with_its_position_and_bounded_concurrency() -> None:
    targets = [Target(f"127.0.0.{1 + i % 5}", 8000 + i) for i in range(40)]
    running = 0
    most = 0
    inside: dict[str, int] = {}
    most_inside = 0
    results: dict[int, tuple[str, int]] = {}

    async def job(slot: TargetSlot, target: Target) -> tuple[str, int]:
        nonlocal running, most, most_inside
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.005)  # a little time in progress before the request
        async with slot.sem:  # the address's gate: per_host_inflight requests at once
            inside[target.ip] = inside.get(target.ip, 0) + 1
            most_inside = max(most_inside, inside[target.ip])
            await asyncio.sleep(0.01)
            inside[target.ip] -= 1
        running -= 1
        return target.ip, target.port

    def collect(index: int, result: tuple[str, int]) -> None:
        assert index not in results
        results[index] = result

    config = EngineConfig(concurrency=7, per_host_inflight=1)
    asyncio.run(run_indexed(iter(enumerate(targets)), job, config, collect))
    assert results == {i: (t.ip, t.port) for i, t in enumerate(targets)}
    assert 5 < most <= 7  # 7 workers over 5 addresses: some address has two ports in progress
    assert most_inside == 1  # ... and they share its gate


def test_a_cancelled_scan_reports_no_result_for_the_target_cut_short() -> None:
    started = asyncio.Event()
    results: list[int] = []

    async def job(slot: TargetSlot, target: Target) -> int:
        if target.port == 2:
            started.set()
            await asyncio.sleep(30)
        return target.port

    async def main() -> None:
        plan = iter(enumerate([Target("127.0.0.1", 1), Target("127.0.0.1", 2)]))
        scan = asyncio.create_task(
            run_indexed(plan, job, EngineConfig(concurrency=1), lambda _i, r: results.append(r))
        )
        await started.wait()
        scan.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await scan

    asyncio.run(main())
    assert results == [1]
