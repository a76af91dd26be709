"""One scan across machines: shards of the plan as tasks of a Dask distributed cluster, and
the driver (this process) that owns the store. See docs/cluster.md.

The driver reads the plan lazily and cuts it into shards by address (all ports of one address
land in one bucket, and a bucket has at most one shard in flight, so the engine's per-address
limit holds across the cluster). Each shard is one Dask task: a worker runs the ordinary
in-process scan on it (pipeline.run_indexed_scan: the exclusions, the read-only rules and every
limit of the engine are enforced there, inside the worker) with its share of the scan-wide
concurrency and rate, and returns the shard's (plan position, observation) pairs all at once.

A shard's results are committed only when its task returns, and only for the positions the
shard still owes: a task the scheduler re-runs after its worker died (Dask does that by
itself) cannot store a target twice, and a half-scanned shard is never stored. Only the
driver writes the DuckDB store and the checkpoint, so `--resume` is exact as with --workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import pickle
import queue
import socket
import sys
import time
import uuid
import zlib
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

from aicensus import pipeline
from aicensus.engine.config import EngineConfig
from aicensus.errors import ClusterError
from aicensus.fingerprint.schema import Signature
from aicensus.records import ServiceObservation, Target
from aicensus.workers import worker_config

EXTRA_HINT = "pip install 'aicensus[cluster]'"
MAX_TRIES = 3  # submissions of one shard whose task the scheduler cancelled
Shard = list[tuple[int, Target]]


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"--cluster needs Dask distributed: {EXTRA_HINT}") from None
    return distributed


def connect(address: str, timeout: float = 10.0) -> Cluster:
    """The Dask scheduler at `address` with at least one worker, or a one-line ClusterError."""
    distributed = _distributed()
    _knock(distributed, address, timeout)
    # Connection retries and lost workers are logged by distributed as warnings with
    # tracebacks; a scan's outcome is its one-line error or its summary. Restored on close.
    levels = _quiet_dask_logs()
    try:
        client = _client(distributed, address, timeout)
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            client.close()
            raise ClusterError(
                f"the Dask scheduler at {address} has no worker (none joined in {timeout:g} s)"
            ) from exc
    except BaseException:
        _restore_levels(levels)
        raise
    return Cluster(client, address, log_levels=levels)


def _quiet_dask_logs() -> dict[str, int]:
    """Dask's loggers (each has its own level from Dask's config) at CRITICAL; the old levels."""
    names = ["distributed"] + [
        name for name in logging.root.manager.loggerDict if name.startswith("distributed.")
    ]
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return levels


def _restore_levels(levels: dict[str, int]) -> None:
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _client(distributed: Any, address: str, timeout: float) -> Any:
    """A Dask client of the scheduler at `address`; ClusterError, one line, if none."""
    failure = ""
    hook = sys.unraisablehook
    sys.unraisablehook = lambda _unraisable: None  # a half-made Client complains when freed
    try:
        try:
            return distributed.Client(
                address, timeout=timeout, set_as_default=False, name="aicensus-driver"
            )
        except Exception as exc:  # what a peer that is no Dask scheduler makes it raise varies
            lines = str(exc).splitlines()
            failure = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        gc.collect()
    finally:
        sys.unraisablehook = hook
    raise ClusterError(f"cannot reach the Dask scheduler at {address}: {failure}")


def _knock(distributed: Any, address: str, timeout: float) -> None:
    """A refused TCP connection fails at once (Dask's client would retry until its timeout)."""
    try:
        host, port = distributed.comm.get_address_host_port(address)
    except (ValueError, TypeError) as exc:
        raise ClusterError(
            f"not a Dask scheduler address (tcp://HOST:PORT): {address} ({exc})"
        ) from None
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {reason}") from None


class Cluster:
    """A connected Dask client; `run` scans a plan on its workers."""

    def __init__(self, client: Any, address: str, log_levels: dict[str, int] | None = None) -> None:
        self.client = client
        self.address = address
        self._log_levels = log_levels or {}

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            with contextlib.suppress(Exception):  # a lost scheduler: nothing left to close
                self.client.close()
        finally:
            _restore_levels(self._log_levels)

    def workers(self) -> dict[str, int]:
        """Each worker's address and threads (the shards it runs at once)."""
        return {str(addr): int(n) for addr, n in self.client.nthreads().items()}

    def run(
        self,
        positions: Iterator[tuple[int, Target]],
        sigs: Sequence[Signature],
        config: EngineConfig,
        on_result: Callable[[int, ServiceObservation], None],
        *,
        shard_size: int | None = None,
        lost_timeout: float = 120.0,
        on_shard: Callable[[int], None] | None = None,
    ) -> None:
        """Scan `positions` on the cluster; each result goes to on_result here, shard by shard.

        `on_shard(n)`: called after the n-th shard is committed (tests kill a worker there).
        `lost_timeout`: seconds with no worker at all before the scan gives up (resumable).
        """
        slots = max(1, sum(self.workers().values()))
        share = worker_config(config, slots)
        size = shard_size or min(4096, max(64, 4 * share.concurrency))
        window = 2 * slots  # a queued shard per thread: no worker waits for the driver
        shards = Buckets(positions, buckets=2 * window, size=size)
        bundle = SignatureBundle.of(sigs)
        scan_key = uuid.uuid4().hex[:8]
        owed: dict[Any, _Owed] = {}
        finished: queue.SimpleQueue[Any] = queue.SimpleQueue()  # filled by Dask's threads
        committed = 0
        no_worker_since: float | None = None

        def submit(entry: _Owed) -> None:
            entry.tries += 1
            future = self.client.submit(
                scan_shard,
                entry.shard,
                bundle,
                share,
                key=f"aicensus-shard-{scan_key}-{entry.number}-{entry.tries}",
                pure=False,
            )
            owed[future] = entry
            future.add_done_callback(finished.put)

        try:
            while True:
                while len(owed) < window and (taken := shards.take()) is not None:
                    submit(_Owed(*taken, number=shards.issued))
                if not owed:
                    return
                try:
                    future = finished.get(timeout=1.0)
                except queue.Empty:
                    if self.client.status != "running":
                        raise ConnectionError(f"the Dask client is {self.client.status}") from None
                    no_worker_since = self._watch_workers(no_worker_since, lost_timeout)
                    continue
                entry = owed.pop(future, None)
                if entry is None:
                    continue
                if future.cancelled() and entry.tries < MAX_TRIES:
                    submit(entry)  # the scheduler dropped it (not this driver): again
                    continue
                _commit(self._result(future), entry.wanted, on_result)
                shards.release(entry.bucket)
                committed += 1
                if on_shard is not None:
                    on_shard(committed)
        except Exception as exc:
            # A closed client fails in many ways (None where its connection was, a closed
            # comm, a timeout): each is the scheduler lost.
            if not (_from_dask(exc) or self.client.status != "running"):
                raise
            raise ClusterError(
                f"lost the Dask scheduler at {self.address} ({type(exc).__name__}: "
                f"{_first_line(exc)}); resume the scan"
            ) from None
        finally:
            if owed:  # interrupted or failed: running shards finish on the workers, unstored
                with contextlib.suppress(Exception):  # the scheduler may be gone
                    self.client.cancel(list(owed))

    def _result(self, future: Any) -> list[tuple[int, ServiceObservation]]:
        try:
            result: list[tuple[int, ServiceObservation]] = future.result()
        except Exception as exc:
            name = type(exc).__name__
            if name == "KilledWorker":
                raise ClusterError(
                    "a shard's workers kept dying (Dask gave up on it); resume the scan"
                ) from None
            raise ClusterError(f"a shard failed on a Dask worker: {name}: {exc}") from exc
        return result

    def _watch_workers(self, since: float | None, lost_timeout: float) -> float | None:
        """The time the cluster lost its last worker (None while it has one); ClusterError
        once it has had none for lost_timeout seconds."""
        if self.client.nthreads():
            return None
        now = time.monotonic()
        if since is not None and now - since > lost_timeout:
            raise ClusterError(
                f"the Dask cluster at {self.address} has had no worker for "
                f"{lost_timeout:g} s; resume the scan once workers are back"
            )
        return since if since is not None else now


def _from_dask(exc: BaseException) -> bool:
    """An error of the Dask client itself (a closed connection, a timeout inside it)."""
    return type(exc).__module__.split(".")[0] in ("distributed", "tornado")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return lines[0] if lines else ""


class _Owed:
    """A shard in flight: its bucket, its targets, the positions it still owes, its tries."""

    def __init__(self, bucket: int, shard: Shard, *, number: int) -> None:
        self.bucket = bucket
        self.shard = shard
        self.wanted = {pos for pos, _ in shard}
        self.number = number
        self.tries = 0


class SignatureBundle:
    """The driver's signatures, pickled once and sent with every shard; a worker unpickles
    each distinct bundle once. Not scattered: Dask's Active Memory Manager drops broadcast
    replicas down to the tasks waiting for them, and data scattered to a worker that dies is
    gone (measured: the re-run shards were cancelled, "already forgotten")."""

    def __init__(self, digest: str, blob: bytes) -> None:
        self.digest = digest
        self.blob = blob

    @classmethod
    def of(cls, sigs: Sequence[Signature]) -> SignatureBundle:
        blob = pickle.dumps(tuple(sigs), protocol=pickle.HIGHEST_PROTOCOL)
        return cls(hashlib.sha256(blob).hexdigest(), blob)

    def signatures(self) -> Sequence[Signature]:
        found = _UNPICKLED.get(self.digest)
        if found is None:
            found = _UNPICKLED[self.digest] = pickle.loads(self.blob)
        return found


_UNPICKLED: dict[str, Sequence[Signature]] = {}  # in a worker: bundles seen, by digest


def _commit(
    result: list[tuple[int, ServiceObservation]],
    wanted: set[int],
    on_result: Callable[[int, ServiceObservation], None],
) -> None:
    """Pass on one observation per position the shard owes; anything else is dropped."""
    for position, obs in result:
        if position in wanted:
            wanted.discard(position)
            on_result(position, obs)
    if wanted:
        raise ClusterError(
            f"a shard came back without {len(wanted)} of its targets; resume the scan"
        )


class Buckets:
    """The plan cut into shards of at most `size` targets, by address: one bucket per
    crc32(address) % buckets, and at most one shard of a bucket in flight at a time."""

    def __init__(self, positions: Iterator[tuple[int, Target]], buckets: int, size: int) -> None:
        self.positions = positions
        self.size = size
        self.pending: list[Shard] = [[] for _ in range(buckets)]
        self.busy: set[int] = set()
        self.ready: list[int] = []  # idle buckets already holding a full shard
        self.issued = 0

    def bucket_of(self, ip: str) -> int:
        return zlib.crc32(ip.encode()) % len(self.pending)

    def take(self) -> tuple[int, Shard] | None:
        """The next shard (with its bucket), or None until a busy bucket is released."""
        while self.ready:
            bucket = self.ready.pop()
            if bucket not in self.busy and self.pending[bucket]:
                return self._issue(bucket)
        for position, target in self.positions:
            bucket = self.bucket_of(target.ip)
            self.pending[bucket].append((position, target))
            if bucket not in self.busy and len(self.pending[bucket]) >= self.size:
                return self._issue(bucket)
        # The plan is read: what is left goes out as smaller shards.
        for bucket, shard in enumerate(self.pending):
            if shard and bucket not in self.busy:
                return self._issue(bucket)
        return None

    def release(self, bucket: int) -> None:
        self.busy.discard(bucket)
        if len(self.pending[bucket]) >= self.size:
            self.ready.append(bucket)

    def _issue(self, bucket: int) -> tuple[int, Shard]:
        shard = self.pending[bucket][: self.size]
        del self.pending[bucket][: self.size]
        self.busy.add(bucket)
        self.issued += 1
        return bucket, shard


def scan_shard(
    shard: Shard, sigs: SignatureBundle | Sequence[Signature], config: EngineConfig
) -> list[tuple[int, ServiceObservation]]:
    """The Dask task: scan one shard in this worker (the engine enforces the exclusions in
    `config`, the read-only rules and every limit here) and return all of it at once."""
    results: list[tuple[int, ServiceObservation]] = []

    def keep(position: int, obs: ServiceObservation) -> None:
        results.append((position, obs))

    run: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop  # type: ignore[import-not-found, unused-ignore]

        run = uvloop.run
    if isinstance(sigs, SignatureBundle):
        sigs = sigs.signatures()
    run(pipeline.run_indexed_scan(iter(shard), sigs, config, keep))
    return results
