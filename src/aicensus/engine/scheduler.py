"""The scan scheduler: a fixed pool of workers over a shared iterator of targets.

Product-agnostic: what happens at one target is a coroutine function given to it
(`TargetJob`); the scheduler owns the shared resources every target's requests draw on (the
HTTP client, the per-address gate and the global body budget) and hands each result back with
its position in the plan. Memory does not grow with the number of targets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from aicensus.engine.client import ConnectHook, ConnectionHook, HttpClient
from aicensus.engine.config import EngineConfig
from aicensus.records import Target

R = TypeVar("R")


class HostGate:
    """At most N requests in flight per address, across all its ports."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._gates: dict[str, tuple[asyncio.Semaphore, int]] = {}

    def acquire(self, ip: str) -> asyncio.Semaphore:
        sem, users = self._gates.get(ip, (asyncio.Semaphore(self.per_host), 0))
        self._gates[ip] = (sem, users + 1)
        return sem

    def release(self, ip: str) -> None:
        sem, users = self._gates[ip]
        if users <= 1:
            del self._gates[ip]
        else:
            self._gates[ip] = (sem, users - 1)


class BodyBudget:
    """Response-body bytes held by all targets in progress together (one event loop, no lock).

    A request reserves its body cap before it is sent and gives back what it did not read, so
    the bodies held plus the reads in flight never pass `total`, except by the small floor
    every request is granted (a bomb next door must not blind the scan to everyone else).
    """

    def __init__(self, total: int, floor: int) -> None:
        self.total = total
        self.floor = floor
        self.used = 0
        self.peak = 0

    def reserve(self, want: int) -> int:
        grant = max(min(want, self.total - self.used), min(want, self.floor))
        self.used += grant
        self.peak = max(self.peak, self.used)
        return grant

    def give_back(self, size: int) -> None:
        self.used -= size


@dataclass(frozen=True, slots=True)
class TargetSlot:
    """What one target's job may use: the shared client and budget, its address's gate."""

    client: HttpClient
    config: EngineConfig
    budget: BodyBudget
    sem: asyncio.Semaphore  # this target's address: shared with its other ports


TargetJob = Callable[[TargetSlot, Target], Awaitable[R]]
IndexedSink = Callable[[int, R], Awaitable[None] | None]


async def run_indexed(
    targets: Iterator[tuple[int, Target]],
    job: TargetJob[R],
    config: EngineConfig,
    on_result: IndexedSink[R],
    *,
    connect_hook: ConnectHook | None = None,
    on_connection: ConnectionHook | None = None,
) -> None:
    """Run `job` for each (plan position, target) with `config.concurrency` workers; each
    result goes to `on_result` with its position (what a checkpoint records). A target cut
    short by cancellation is not a result: the cancellation propagates instead."""
    gate = HostGate(config.per_host_inflight)
    budget = BodyBudget(config.max_total_body_bytes, config.max_body_after_budget)
    async with HttpClient(config, connect_hook=connect_hook, on_connection=on_connection) as client:

        async def one(target: Target) -> R:
            slot = TargetSlot(client, config, budget, gate.acquire(target.ip))
            try:
                return await job(slot, target)
            finally:
                gate.release(target.ip)
                client.done_with(target.ip, target.port)

        async def worker() -> None:
            task = asyncio.current_task()
            for index, target in targets:  # a shared iterator: each target goes to one worker
                result = await one(target)
                if task is not None and task.cancelling():
                    # Interrupted: a target cut short is not a result (a resume rescans it).
                    raise asyncio.CancelledError
                pending = on_result(index, result)
                if pending is not None:
                    await pending

        await asyncio.gather(*(worker() for _ in range(max(1, config.concurrency))))


async def run(
    targets: Iterator[Target],
    job: TargetJob[R],
    config: EngineConfig,
    on_result: Callable[[R], Awaitable[None] | None],
    *,
    connect_hook: ConnectHook | None = None,
    on_connection: ConnectionHook | None = None,
) -> None:
    """run_indexed without positions."""
    await run_indexed(
        enumerate(targets),
        job,
        config,
        lambda _index, result: on_result(result),
        connect_hook=connect_hook,
        on_connection=on_connection,
    )
