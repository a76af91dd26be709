"""One scan on every core: N worker processes, each scanning its share of the plan, and the
parent that owns the store.

Each worker is forked with the parent's not-yet-started iterator of (plan position, target)
and keeps the targets whose address hashes to its share (all ports of one address go to one
worker, so the per-address limit holds across processes). It runs the ordinary in-process
scan (pipeline.run_indexed_scan: exclusions, read-only rules and every limit of the engine
apply inside it) with its share of the concurrency and the rate, and sends each
(position, observation) back over a queue. Only the parent writes the DuckDB store (one
writer process) and the checkpoint, which records plan positions, so `--resume` is exact
whichever worker scanned what. A worker dies with the parent (PR_SET_PDEATHSIG): a killed
scan leaves nothing running.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing as mp
import os
import queue
import signal
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from typing import Any

import msgspec

from aicensus import pipeline
from aicensus.engine.config import EngineConfig
from aicensus.errors import WorkerError
from aicensus.fingerprint.schema import Signature
from aicensus.records import ServiceObservation, Target

_PR_SET_PDEATHSIG = 1
_DONE = None
# (position, observation) as msgpack: typed both ways, so the parent gets equal records, at
# a quarter of pickle's cost (~20 vs ~80 µs a round trip for an Ollama host's observation);
# one that msgpack cannot encode (a lone surrogate, an integer beyond 64 bits) goes pickled
_RESULTS = msgspec.msgpack.Decoder(list[tuple[int, ServiceObservation]])
# Results go in batches: each queue message costs a pickle, a cross-process lock, a pipe
# write and a wake-up of the queue's feeder thread, which then takes the GIL from the event
# loop. A batch waits at most _BATCH_WAIT_S; a worker killed mid-batch loses only results
# that no checkpoint holds yet, so `--resume` scans them again.
_BATCH = 64
_BATCH_WAIT_S = 0.05


def share_of(ip: str, workers: int) -> int:
    """The worker that scans this address (stable across processes, unlike hash())."""
    return zlib.crc32(ip.encode()) % workers


def worker_config(config: EngineConfig, workers: int) -> EngineConfig:
    """One worker's share of the scan-wide concurrency and rate (the totals are unchanged)."""
    return msgspec.structs.replace(
        config,
        concurrency=max(1, -(-config.concurrency // workers)),
        rate=config.rate / workers,
    )


def run(
    positions: Iterator[tuple[int, Target]],
    sigs: Sequence[Signature],
    config: EngineConfig,
    workers: int,
    on_result: Callable[[int, ServiceObservation], None],
    **hooks: Any,
) -> None:
    """Scan `positions` in `workers` forked processes; each result goes to on_result here."""
    if not can_fork():
        raise WorkerError("--workers above 1 needs the fork start method (Linux, macOS)")
    ctx = mp.get_context("fork")  # the workers inherit the lazy plan iterator, not a pickle
    pipeline.prepare(sigs)
    results: Any = ctx.Queue(maxsize=4096)
    share = worker_config(config, workers)
    procs = [
        ctx.Process(
            target=_work,
            args=(positions, index, workers, sigs, share, results, hooks),
            name=f"aicensus-worker-{index}",
            daemon=True,
        )
        for index in range(workers)
    ]
    for proc in procs:
        proc.start()
    finished = 0
    try:
        while finished < workers:
            try:
                item = results.get(timeout=0.2)
            except queue.Empty:
                _check_alive(procs)
                continue
            if item is _DONE:
                finished += 1
            elif type(item) is bytes:
                for position, obs in _RESULTS.decode(item):
                    on_result(position, obs)
            else:
                on_result(*item)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(5)
        results.close()


def _check_alive(procs: Sequence[Any]) -> None:
    for proc in procs:
        if proc.exitcode not in (None, 0):
            raise WorkerError(f"{proc.name} exited with status {proc.exitcode}; resume the scan")


def _work(
    positions: Iterator[tuple[int, Target]],
    index: int,
    workers: int,
    sigs: Sequence[Signature],
    config: EngineConfig,
    results: Any,
    hooks: dict[str, Any],
) -> None:
    _die_with_parent()
    # Ctrl-C reaches the whole process group: the parent decides; a worker just stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The parent's SIGTERM/SIGHUP handlers (raise to write the last batch) are not ours: the
    # parent ends a worker with SIGTERM, and a worker has nothing to write.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    mine = ((pos, t) for pos, t in positions if share_of(t.ip, workers) == index)

    outbox = _Outbox(results)
    scan = pipeline.run_indexed_scan(mine, sigs, config, outbox.add, **hooks)
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]

        uvloop.run(scan)
    except ImportError:
        asyncio.run(scan)
    outbox.flush()
    results.put(_DONE)
    results.close()
    results.join_thread()  # everything sent is in the pipe before this process exits


class _Outbox:
    """A worker's results, sent to the parent in batches of up to _BATCH."""

    def __init__(self, results: Any) -> None:
        self._results = results
        self._batch: list[tuple[int, ServiceObservation]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._encode = msgspec.msgpack.Encoder().encode

    def add(self, position: int, obs: ServiceObservation) -> None:
        self._batch.append((position, obs))
        if len(self._batch) >= _BATCH:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(_BATCH_WAIT_S, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._batch = self._batch, []
        if not batch:
            return
        try:
            self._results.put(self._encode(batch))
        except (UnicodeEncodeError, OverflowError, TypeError):  # a hostile server's lone
            # surrogate, an integer beyond 64 bits: that result goes pickled as is
            for item in batch:
                try:
                    self._results.put(self._encode([item]))
                except (UnicodeEncodeError, OverflowError, TypeError):
                    self._results.put(item)


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the parent dies (even by SIGKILL)."""
    with suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent is already gone
        os._exit(1)


def can_fork() -> bool:
    return "fork" in mp.get_all_start_methods()


def default_workers() -> int:
    """The cores this process may use (1 where workers cannot be forked)."""
    if not can_fork():
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
