"""Scan: plan targets, scan them (resumable), read signatures. Async core; these sync
wrappers are the only way in.

The scan core sits below the features (audit/ scans with it) and above workers/pipeline;
`aicensus.api.scanning` re-exports it as the library's front door."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from aicensus import pipeline, targets
from aicensus.engine.config import DEFAULT_USER_AGENT, EngineConfig
from aicensus.errors import ClusterError, ResumeError, Terminated
from aicensus.fingerprint.load import ai_ports, builtin_signatures, load_directory
from aicensus.fingerprint.schema import Signature
from aicensus.records import BadRecord, ScanStatus, ServiceObservation, Target
from aicensus.runtime import quiet_gc
from aicensus.store import Checkpoint, ScanInfo, Store

__all__ = [
    "DEFAULT_USER_AGENT",
    "PLAN_ARGS",
    "ClusterError",
    "EngineConfig",
    "ResumeError",
    "ScanSummary",
    "Signature",
    "TargetPlan",
    "cluster_workers",
    "plan_targets",
    "port_presets",
    "resumable_scan",
    "scan",
    "scan_arguments",
    "signatures",
]

ObservationCallback = Callable[[ServiceObservation], None]

# The scan arguments that fix the plan (which targets, in which order): a scan can only be
# resumed with the same values, because its checkpoint counts positions in that plan.
PLAN_ARGS = ("targets", "ports", "excludes", "seed", "shard")


class ScanSummary(msgspec.Struct, kw_only=True):
    scan_id: int | None
    targets: int
    identified: int
    by_status: dict[str, int]
    by_product: dict[str, int]
    requests: int
    seconds: float
    bad_records: list[BadRecord] = msgspec.field(default_factory=list)
    resumed: int = 0  # observations that an earlier, interrupted run of this scan had stored


class TargetPlan(msgspec.Struct, kw_only=True):
    """The (ip, port) pairs a scan will visit, lazily, and how many there are."""

    count: int
    iterator: Iterator[Target]
    plan: targets.ScanPlan | None = None  # random access for a resume; None: iterate and skip

    def remaining(self, start: int) -> Iterator[Target]:
        """The targets from position `start` on (consumes `iterator` when there is no plan)."""
        if self.plan is not None:
            return self.plan.iter_from(start)
        return itertools.islice(self.iterator, start, None)


def port_presets() -> dict[str, list[int]]:
    return {"ai": ai_ports()}


def signatures(directory: str | Path | None = None) -> Sequence[Signature]:
    return load_directory(Path(directory)) if directory else builtin_signatures()


def plan_targets(
    tokens: Sequence[str],
    *,
    ports: str = "ai",
    excludes: Sequence[str] = (),
    seed: int = 0,
    shard: str | None = None,
    stdin_lines: Iterable[str] | None = None,
) -> TargetPlan:
    port_list = targets.parse_ports(ports, port_presets())
    included = targets.parse_targets(tokens, stdin=stdin_lines)
    excluded = targets.parse_targets(excludes, stdin=None)
    shard_spec = targets.parse_shard(shard) if shard else (1, 1)
    planned = targets.plan(included, excluded, port_list, seed=seed, shard=shard_spec)
    return TargetPlan(count=planned.count(), iterator=iter(planned), plan=planned)


class _Tally:
    def __init__(self) -> None:
        self.status: Counter[str] = Counter()
        self.product: Counter[str] = Counter()
        self.requests = 0
        self.done = 0

    def add(self, obs: ServiceObservation) -> None:
        self.done += 1
        self.status[str(obs.status)] += 1
        self.requests += len(obs.request_log)
        if obs.product:
            self.product[obs.product] += 1

    def summary(self, scan_id: int | None, started: float) -> ScanSummary:
        return ScanSummary(
            scan_id=scan_id,
            targets=self.done,
            identified=self.status[str(ScanStatus.IDENTIFIED)],
            by_status=dict(self.status),
            by_product=dict(self.product),
            requests=self.requests,
            seconds=round(time.monotonic() - started, 3),
        )


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While scanning, SIGTERM and SIGHUP raise Terminated (a KeyboardInterrupt), so a scan
    stopped by a service manager or a closed terminal ends like Ctrl-C: its last batch and
    checkpoint are written and it is marked interrupted. Only the main thread can do this."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        raise Terminated(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _run_async(coro: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]  # optional extra
    except ImportError:
        asyncio.run(coro)
        return
    uvloop.run(coro)


class _Progress:
    """Which plan positions have stored observations: a low-water mark plus the few above it.

    Workers finish out of order, so the positions done form [0, below) plus a set no larger
    than the targets in flight and the unwritten batch: the checkpoint stays small however
    large the plan.
    """

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.plan_size = checkpoint.plan_size
        self.below = checkpoint.done_below
        self.above = set(checkpoint.done_above)
        self.resumes = checkpoint.resumes

    def with_positions(self, positions: Iterable[int]) -> Checkpoint:
        """The checkpoint once `positions` are stored too (self is unchanged)."""
        above = self.above.union(positions)
        below = self.below
        while below in above:
            above.discard(below)
            below += 1
        return Checkpoint(
            plan_size=self.plan_size,
            done_below=below,
            done_above=sorted(above),
            resumes=self.resumes,
        )

    def adopt(self, checkpoint: Checkpoint) -> None:
        self.below = checkpoint.done_below
        self.above = set(checkpoint.done_above)


def _plan_args(args: dict[str, Any] | None) -> dict[str, Any]:
    return {key: (args or {}).get(key) for key in PLAN_ARGS}


def resumable_scan(db: str | Path, args: dict[str, Any]) -> int | None:
    """The latest unfinished scan in `db` planned with the same arguments, or None."""
    with Store.open(db) as store:
        for info in reversed(store.scans()):
            if info.kind != "scan" or info.status == "completed":
                continue
            if _plan_args(info.args) == _plan_args(args) and store.checkpoint(info.scan_id):
                return info.scan_id
    return None


def scan_arguments(db: str | Path, scan_id: int) -> dict[str, Any]:
    """The arguments a resumable scan was started with (ResumeError if it cannot resume)."""
    with Store.open(db) as store:
        return _check_resumable(store, scan_id).args


def _check_resumable(store: Store, scan_id: int) -> ScanInfo:
    info = next((i for i in store.scans() if i.scan_id == scan_id), None)
    if info is None or info.kind != "scan":
        raise ResumeError(f"cannot resume scan {scan_id}: {store.path} has no such scan")
    if info.status == "completed":
        raise ResumeError(f"cannot resume scan {scan_id}: it already completed")
    if store.checkpoint(scan_id) is None:
        raise ResumeError(
            f"cannot resume scan {scan_id}: it has no checkpoint (written by an older aicensus)"
        )
    return info


def _resume(
    store: Store,
    scan_id: int,
    plan: TargetPlan,
    args: dict[str, Any] | None,
    replay: Callable[[ServiceObservation], None],
) -> _Progress:
    """Validate the scan against this plan, replay what it stored, and mark it running."""
    info = _check_resumable(store, scan_id)
    if args is not None and _plan_args(info.args) != _plan_args(args):
        stored = ", ".join(f"{k}={info.args.get(k)!r}" for k in PLAN_ARGS)
        raise ResumeError(f"cannot resume scan {scan_id} with other arguments: it had {stored}")
    checkpoint = store.checkpoint(scan_id)
    assert checkpoint is not None
    if checkpoint.plan_size != plan.count:
        raise ResumeError(
            f"cannot resume scan {scan_id}: its plan had {checkpoint.plan_size} targets, "
            f"these arguments give {plan.count} (did a hostname resolve differently?)"
        )
    replayed = 0
    for obs in store.observations(scan_id):
        replayed += 1
        replay(obs)
    if replayed != checkpoint.done():
        raise ResumeError(
            f"cannot resume scan {scan_id}: it stored {replayed} observations but its "
            f"checkpoint accounts for {checkpoint.done()}"
        )
    checkpoint.resumes += 1
    store.reopen_scan(scan_id)
    store.save_checkpoint(scan_id, checkpoint)
    return _Progress(checkpoint)


def _positions(plan: TargetPlan, progress: _Progress) -> Iterator[tuple[int, Target]]:
    """(position, target) for every planned target not stored yet, in plan order."""
    start = progress.below
    skip = frozenset(progress.above)  # what earlier runs stored, taken before this run adds
    numbered = enumerate(plan.remaining(start), start)
    return ((pos, target) for pos, target in numbered if pos not in skip)


def scan(
    plan: TargetPlan,
    *,
    config: EngineConfig | None = None,
    db: str | Path | None = None,
    sigs: Sequence[Signature] | None = None,
    on_observation: ObservationCallback | None = None,
    args: dict[str, object] | None = None,
    batch_size: int = 2000,
    checkpoint_seconds: float = 2.0,
    resume: int | None = None,
    connect_hook: Callable[[str, int], None] | None = None,
    on_connection: Callable[[], None] | None = None,
    workers: int = 1,
    cluster: str | None = None,
) -> ScanSummary:
    """Scan every planned target; store observations in `db` (if given) in batches.

    `workers` > 1: the targets are scanned in that many processes (aicensus.workers), their
    observations stored and passed on here, in this process.
    `cluster`: the address of a Dask distributed scheduler (tcp://host:8786): shards of the
    targets are scanned as tasks on its workers (aicensus.cluster, the `cluster` extra), their
    observations stored and passed on here; a ClusterError when it cannot be reached.

    Each batch is written with the scan's checkpoint in one transaction: a batch is flushed
    at `batch_size` observations or `checkpoint_seconds` after the last one, whichever comes
    first (at a fast scan's pace the clock comes first; each write has a fixed cost, so a
    larger batch lowers the store's cost per observation by about a third).
    `resume=scan_id` continues an unfinished scan of the same plan: what it stored is
    passed to `on_observation` first (and counted), then only the targets it lacks are
    scanned, so the scan ends with exactly one observation per planned target.
    """
    config = config or EngineConfig()
    if plan.plan is not None:  # the engine enforces the plan's exclusions at the socket too
        excluded = [*config.excluded, *plan.plan.excluded().intervals()]
        config = msgspec.structs.replace(config, excluded=tuple(sorted(excluded)))
    sigs = sigs if sigs is not None else builtin_signatures()
    tally = _Tally()
    started = time.monotonic()
    if resume is not None and not db:
        raise ResumeError("resuming a scan needs its store (--db)")
    if cluster is not None and workers > 1:
        raise ClusterError("a scan runs on --workers or on a --cluster, not both")
    # Before the store: a cluster that cannot be reached leaves no scan behind.
    pool = _connect_cluster(cluster) if cluster is not None else None
    try:
        store = Store.open(db) if db else None
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    batch: list[ServiceObservation] = []
    positions: list[int] = []
    last_flush = time.monotonic()
    resumed = 0

    def replay(obs: ServiceObservation) -> None:
        nonlocal resumed
        resumed += 1
        tally.add(obs)
        if on_observation is not None:
            on_observation(obs)

    try:
        if store is None:
            scan_id, progress = None, _Progress(Checkpoint(plan_size=plan.count))
        elif resume is None:
            progress = _Progress(Checkpoint(plan_size=plan.count))
            scan_id = store.begin_scan("scan", args or {}, checkpoint=progress.with_positions(()))
        else:
            scan_id = resume
            progress = _resume(store, resume, plan, args, replay)
    except BaseException:
        if store is not None:
            store.close()
        if pool is not None:
            pool.close()
        raise

    def flush() -> None:
        nonlocal last_flush
        last_flush = time.monotonic()
        if store is None or not batch:
            return
        checkpoint = progress.with_positions(positions)
        store.add_observations(scan_id, batch, checkpoint=checkpoint)  # type: ignore[arg-type]
        progress.adopt(checkpoint)
        batch.clear()
        positions.clear()

    def collect(position: int, obs: ServiceObservation) -> None:
        # Into the batch before it is printed: an interrupt between the two then loses a line
        # of output (a resume prints it), never an observation the user has seen.
        if store is not None:
            batch.append(obs)
            positions.append(position)
        tally.add(obs)
        if on_observation is not None:
            on_observation(obs)
        if store is not None and (
            len(batch) >= batch_size or time.monotonic() - last_flush >= checkpoint_seconds
        ):
            flush()

    status = "failed"
    try:
        with quiet_gc(), _terminate_as_interrupt():
            if pool is not None:
                pool.run(_positions(plan, progress), sigs, config, collect)
            elif workers > 1:
                from aicensus import workers as worker_pool

                worker_pool.run(
                    _positions(plan, progress),
                    sigs,
                    config,
                    workers,
                    collect,
                    connect_hook=connect_hook,
                    on_connection=on_connection,
                )
            else:
                _run_async(
                    pipeline.run_indexed_scan(
                        _positions(plan, progress),
                        sigs,
                        config,
                        collect,
                        connect_hook=connect_hook,
                        on_connection=on_connection,
                    )
                )
        status = "completed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if pool is not None:
            pool.close()
        if store is not None:
            try:
                flush()
                store.finish_scan(scan_id, status)  # type: ignore[arg-type]
            finally:
                store.close()
    summary = tally.summary(scan_id, started)
    summary.resumed = resumed
    return summary


def _connect_cluster(address: str) -> Any:
    from aicensus import cluster

    return cluster.connect(address)


def cluster_workers(address: str, *, timeout: float = 10.0) -> dict[str, int]:
    """The workers of the Dask cluster at `address`, each with its threads (the shards it
    scans at once); ClusterError if the extra is missing, it cannot be reached or has none."""
    from aicensus import cluster

    with cluster.connect(address, timeout) as pool:
        return pool.workers()


def default_workers() -> int:
    """Worker processes a scan uses by default: the cores this process may run on."""
    from aicensus.workers import default_workers as cores

    return cores()
