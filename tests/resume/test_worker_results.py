"""What a worker sends back (workers.py): msgpack, or pickled where msgpack cannot encode it,
arrives in the parent equal to what the worker had."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import msgspec
import pytest

from aicensus import workers
from aicensus.engine.config import EngineConfig
from aicensus.records import (
    Evidence,
    ModelRecord,
    RequestLogEntry,
    ScanStatus,
    ServiceObservation,
    Target,
)


def _observation(target: Target) -> ServiceObservation:
    last = int(target.ip.rsplit(".", 1)[1])
    name = "lone \udc80 surrogate" if last == 3 else f"model-{last}"  # a hostile server's
    size = 2**70 if last == 5 else 2**63 - 1  # beyond msgpack
    return ServiceObservation(
        ip=target.ip, port=target.port, scheme="http", status=ScanStatus.IDENTIFIED,
        product="ollama", version="0.5.7", confidence=0.9, observed_at="2026-12-05T10:00:00Z",
        models=[ModelRecord(name=name, size_bytes=size, families=["llama"])],
        evidence=[Evidence(kind="match", probe="GET /", marker="banner", weight=0.5)],
        request_log=[RequestLogEntry(method="GET", path="/", status=200, bytes=17, ms=1.25)],
    )  # fmt: skip


async def _fake_scan(
    targets: Iterator[tuple[int, Target]],
    sigs: object,
    config: EngineConfig,
    on_result: Callable[[int, ServiceObservation], None],
    **hooks: object,
) -> None:
    for position, target in targets:
        on_result(position, _observation(target))


def test_results_cross_the_process_boundary_equal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers.pipeline, "run_indexed_scan", _fake_scan)  # forked: inherited
    plan = [(i, Target(ip=f"127.0.0.{i}", port=11434)) for i in range(1, 9)]
    got: dict[int, ServiceObservation] = {}
    workers.run(iter(plan), (), EngineConfig(), 2, lambda pos, obs: got.__setitem__(pos, obs))
    assert sorted(got) == [pos for pos, _ in plan]
    for pos, target in plan:
        want = _observation(target)
        assert got[pos] == want
        assert msgspec.to_builtins(got[pos].models) == msgspec.to_builtins(want.models)
    assert got[3].models[0].name == "lone \udc80 surrogate"  # pickled, kept as it was
    assert got[5].models[0].size_bytes == 2**70
    assert type(got[3].status) is ScanStatus and type(got[1].status) is ScanStatus


def test_a_part_batch_reaches_the_parent_while_the_worker_still_scans(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """Results go in batches, yet a batch that does not fill is sent on a short clock: the
    parent holds the first results while the worker is still scanning (here: waiting for the
    parent to say it has them), and everything after, across batch boundaries, arrives too."""
    import asyncio
    from pathlib import Path

    flag = Path(str(tmp_path)) / "parent-has-results"

    async def scan(
        targets: Iterator[tuple[int, Target]],
        sigs: object,
        config: EngineConfig,
        on_result: Callable[[int, ServiceObservation], None],
        **hooks: object,
    ) -> None:
        mine = list(targets)
        for position, target in mine[:3]:
            on_result(position, _observation(target))
        for _ in range(1000):  # up to 10 s
            if flag.exists():
                break
            await asyncio.sleep(0.01)
        position, target = mine[3]
        seen = msgspec.structs.replace(_observation(target), product=f"seen={flag.exists()}")
        on_result(position, seen)
        for position, target in mine[4:]:
            on_result(position, _observation(target))

    def got_one(position: int, obs: ServiceObservation) -> None:
        got[position] = obs
        flag.touch()

    monkeypatch.setattr(workers.pipeline, "run_indexed_scan", scan)
    plan = [(i, Target(ip="127.0.0.1", port=1000 + i)) for i in range(3 * workers._BATCH)]
    got: dict[int, ServiceObservation] = {}
    workers.run(iter(plan), (), EngineConfig(), 1, got_one)
    assert sorted(got) == [pos for pos, _ in plan]
    assert got[3].product == "seen=True"
