"""Reading the store for the dashboard: a read-only open per request (so a scan can still open
the store for writing between requests), and a snapshot of the heavy aggregates kept in memory
until the store file changes.

While a scan holds the store (DuckDB allows one writer and refuses a read-only open meanwhile),
the pages keep showing the last snapshot read, marked as such; a page that has none says the
store is busy. Neither is an error page.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from aicensus.assess import Finding, Severity, assess
from aicensus.enrich import enrich
from aicensus.errors import StoreLockedError
from aicensus.store import Store
from aicensus.store import dashboard as board

T = TypeVar("T")
_CHUNK = 2_000  # observations read at a time when assessing every service


class StoreBusy(Exception):
    """The store is held by a writer (a running scan or ingest) and nothing cached answers."""


class Geo:
    """Country and AS of one IP (offline databases, aicensus.enrich)."""

    __slots__ = ("as_key", "country", "org")

    def __init__(self, country: str | None, as_key: str | None, org: str | None) -> None:
        self.country, self.as_key, self.org = country, as_key, org


class Snapshot:
    """The store's aggregates at one moment: services, their geography and findings."""

    def __init__(self, fingerprint: tuple[int, ...], read_at: datetime) -> None:
        self.fingerprint = fingerprint
        self.read_at = read_at
        self.totals = board.Totals(observations=0, identified=0, scans=0)
        self.services: list[board.ServiceRow] = []
        self.new_hosts: list[tuple[object, int]] = []
        self.geo: dict[str, Geo] = {}
        self.findings: dict[tuple[str, int], list[Finding]] = {}
        self.models: list[board.ModelSeen] = []

    def host_countries(self) -> Counter[str]:
        return Counter(
            g.country
            for ip in {s.ip for s in self.services}
            if (g := self.geo.get(ip)) and g.country
        )

    def severity_counts(self) -> dict[str, int]:
        counts = Counter(f.severity.value for fs in self.findings.values() for f in fs)
        return {s.value: counts.get(s.value, 0) for s in Severity}


class Reader:
    """The dashboard's only way to the store (db opened read-only, through store/dashboard.py)."""

    def __init__(self, db: str | Path) -> None:
        self.db = str(db)
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._geo: dict[str, Geo] = {}  # IP → Geo; an IP's answer never changes while we run
        self.busy_since: datetime | None = None

    def fingerprint(self) -> tuple[int, ...]:
        """Changes whenever the store (or its write-ahead log) is written."""
        out: list[int] = []
        for path in (self.db, self.db + ".wal"):
            try:
                st = os.stat(path)
            except OSError:
                out += [0, 0]
            else:
                out += [st.st_mtime_ns, st.st_size]
        return tuple(out)

    def read(self, fn: Callable[[Store], T]) -> T:
        """fn(store) on a fresh read-only open; StoreBusy when a writer holds the store."""
        try:
            with Store.open(self.db, read_only=True) as store:
                return fn(store)
        except StoreLockedError as exc:
            raise StoreBusy(str(exc)) from exc

    def snapshot(self) -> tuple[Snapshot, bool]:
        """(the current snapshot, stale): stale when the store changed but is held by a writer,
        so the snapshot is the last one read. StoreBusy when there is none yet."""
        with self._lock:
            fp = self.fingerprint()
            if self._snapshot is not None and self._snapshot.fingerprint == fp:
                return self._snapshot, False
            try:
                snap = self._build(fp)
            except StoreBusy:
                self.busy_since = self.busy_since or datetime.now(UTC)
                if self._snapshot is None:
                    raise
                return self._snapshot, True
            self.busy_since = None
            self._snapshot = snap
            return snap, False

    def _build(self, fp: tuple[int, ...]) -> Snapshot:
        snap = Snapshot(fp, datetime.now(UTC))

        def load(store: Store) -> None:
            snap.totals = board.totals(store)
            snap.services = board.services(store)
            snap.new_hosts = list(board.new_hosts_by_day(store))
            snap.models = board.models_seen(store)

        self.read(load)
        snap.geo = self._lookup({s.ip for s in snap.services})
        snap.findings = self._assess(snap.services)
        return snap

    def _lookup(self, ips: set[str]) -> dict[str, Geo]:
        todo = sorted(ips - self._geo.keys())
        for e in enrich(todo):
            self._geo[e.ip] = Geo(e.country, e.as_key, e.org)
        return {ip: self._geo[ip] for ip in ips}

    def _assess(self, services: list[board.ServiceRow]) -> dict[tuple[str, int], list[Finding]]:
        """Every service's findings, from its latest observation, read in chunks (each chunk a
        short read-only open, so a scan waiting to start is held up for one chunk at most)."""
        out: dict[tuple[str, int], list[Finding]] = {}
        ids = [s.obs_id for s in services]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for obs in self.read(lambda store, c=chunk: board.observations_by_id(store, c)):
                out[(obs.ip, obs.port)] = assess(obs)
        return out


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started
