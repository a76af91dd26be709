"""Reading the store for the dashboard: a read-only open per request (so a scan can still open
the store for writing between requests), and a snapshot of the aggregates kept in memory until
the store file changes: the store's summary tables (store/summary.py) copied into an in-memory
board (store/board.py) that the pages filter and count in SQL.

While a scan holds the store (DuckDB allows one writer and refuses a read-only open meanwhile),
the pages keep showing the last snapshot read, marked as such; a page that has none says the
store is busy. Neither is an error page.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from aicensus.assess import Finding, Severity, assess
from aicensus.attribute.alternatives import top_alternatives
from aicensus.attribute.diligence import model_card
from aicensus.enrich import EmbeddedGeo, default_tiers, enrich
from aicensus.errors import SnapshotReplaced, StoreLockedError
from aicensus.store import Store
from aicensus.store import dashboard as board
from aicensus.store.board import Board

T = TypeVar("T")
_CHUNK = 2_000  # observations read at a time when assessing every service
_GEO_BATCH = 500  # IPs looked up between two looks at the pages
_MAX_WAIT = 2.0  # seconds the background waits for the pages at a time (then does one step)


class Pages:
    """How many pages are being answered now. The background's work is Python (looking up
    and assessing 175,000 services takes minutes), so while it runs it takes Python's lock
    from the page threads every few milliseconds: the background steps aside instead, waiting
    while any page is answered (at most _MAX_WAIT at a time, so a stream of pages cannot
    stop it altogether)."""

    def __init__(self) -> None:
        self._n = 0
        self._idle = threading.Condition()

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        with self._idle:
            self._n += 1
        try:
            yield
        finally:
            with self._idle:
                self._n -= 1
                if not self._n:
                    self._idle.notify_all()

    def wait_idle(self) -> None:
        """Return when no page is being answered (or after _MAX_WAIT)."""
        if self._n:  # read without the lock: a stale answer costs one step or one wait
            with self._idle:
                self._idle.wait_for(lambda: not self._n, timeout=_MAX_WAIT)


class Geo:
    """Country and AS of one IP (offline databases, aicensus.enrich)."""

    __slots__ = ("as_key", "country", "org")

    def __init__(self, country: str | None, as_key: str | None, org: str | None) -> None:
        self.country, self.as_key, self.org = country, as_key, org


_ORDER = tuple(s.value for s in sorted(Severity, key=lambda s: -s.rank))


class Assessed:
    """One service's findings, reduced to what the list pages use (the service page assesses
    its observation again, in full)."""

    __slots__ = ("count", "ids", "severities", "worst")

    def __init__(self, findings: list[Finding]) -> None:
        self.count = len(findings)
        self.ids = tuple(sorted({f.id for f in findings}))
        counts = Counter(f.severity.value for f in findings)
        self.severities = counts
        self.worst = next((s for s in _ORDER if counts.get(s)), "")


class Snapshot:
    """The store's aggregates at one moment: totals, models, new hosts, and the board of
    every service (store/board.py); then, from a background thread, each host's geography and
    each service's findings (`pending` until then, so that no page waits for them)."""

    def __init__(
        self, fingerprint: tuple[int, ...], read_at: datetime, services: Board | None = None
    ) -> None:
        self.fingerprint = fingerprint
        self.read_at = read_at
        self.totals = board.Totals(observations=0, identified=0, scans=0)
        self.board = services if services is not None else Board.empty()
        self.n_services = self.board.count()
        self.new_hosts: list[tuple[object, int]] = []
        self.models: list[board.ModelSeen] = []
        self.geo: dict[str, Geo] = {}
        self.findings: dict[tuple[str, int], Assessed] = {}
        self.pending = "host countries and findings"  # what the background has still to add
        self.done = threading.Event()
        self.stopped = threading.Event()  # set when a newer snapshot replaces this one
        self.version = 0  # bumped when the background publishes: derived views are rebuilt
        self._derived: dict[str, tuple[int, object]] = {}
        self._lock = threading.Lock()

    def publish(self, *, geo: dict[str, Geo] | None = None,
                findings: dict[tuple[str, int], Assessed] | None = None,
                pending: str = "") -> None:  # fmt: skip
        if geo is not None:  # the board first: a page that sees the new version sees it all
            self.board.set_geo([(ip, g.country, g.as_key, g.org) for ip, g in geo.items()])
        if findings is not None:
            rows = [
                (k[0], k[1], a.ids, a.worst, a.count, a.severities) for k, a in findings.items()
            ]
            self.board.set_findings(rows)
        with self._lock:
            if geo is not None:
                self.geo = geo
            if findings is not None:
                self.findings = findings
            self.pending = pending
            self.version += 1

    def derived(self, name: str, build: Callable[[], T]) -> T:
        """build(), computed once per version of this snapshot (pages share the result)."""
        with self._lock:
            version = self.version
            cached = self._derived.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]  # type: ignore[return-value]
        value = build()
        with self._lock:
            self._derived[name] = (version, value)
        return value

    def host_countries(self) -> Counter[str]:
        return Counter(self.board.host_countries())

    def severity_counts(self) -> dict[str, int]:
        counts = self.board.severity_counts()
        return {s: counts.get(s, 0) for s in _ORDER}


class Reader:
    """The dashboard's only way to the store (db opened read-only, through store/dashboard.py)."""

    def __init__(self, db: str | Path, *, background: bool = True) -> None:
        self.db = str(db)
        self.background = background
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._geo: dict[str, Geo] = {}  # IP → Geo; an IP's answer never changes while we run
        self._findings: dict[tuple[str, int, int], Assessed] = {}  # by (ip, port, obs_id)
        self.busy_since: datetime | None = None
        self.pages = Pages()

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

    def current(self) -> Snapshot | None:
        """The last snapshot read, if any (without looking at the store)."""
        return self._snapshot

    def read(self, fn: Callable[[Store], T]) -> T:
        """fn(store) on a fresh read-only open; StoreLockedError while a writer holds it."""
        with Store.open(self.db, read_only=True) as store:
            return fn(store)

    def snapshot(self) -> tuple[Snapshot, bool]:
        """(the current snapshot, stale): stale when the store changed but is held by a writer,
        so the snapshot is the last one read. StoreLockedError when there is none yet."""
        with self._lock:
            fp = self.fingerprint()
            if self._snapshot is not None and self._snapshot.fingerprint == fp:
                return self._snapshot, False
            try:
                snap = self._build(fp)
            except StoreLockedError:
                self.busy_since = self.busy_since or datetime.now(UTC)
                if self._snapshot is None:
                    raise
                return self._snapshot, True
            self.busy_since = None
            if self._snapshot is not None:  # its background work is for a past state
                self._snapshot.stopped.set()
            self._snapshot = snap
        if self.background:
            threading.Thread(target=self._complete, args=(snap,), daemon=True).start()
        else:
            self._complete(snap)
        return snap, False

    def _build(self, fp: tuple[int, ...]) -> Snapshot:
        read_at = datetime.now(UTC)

        def load(store: Store) -> Snapshot:
            snap = Snapshot(fp, read_at, Board.load(store))
            snap.totals = board.totals(store)
            snap.new_hosts = list(board.new_hosts_by_day(store))
            snap.models = board.models_seen(store)
            return snap

        return self.read(load)

    def _pause(self) -> None:
        """In the background thread: let the pages being answered go first."""
        if self.background:
            self.pages.wait_idle()

    def _complete(self, snap: Snapshot) -> None:
        """Geography, then findings (the slow part: every service's latest observation is
        read and assessed), each published when whole."""
        try:
            self._pause()  # the page that read the snapshot is still being answered
            services = snap.board.keys()
            self._warm(snap, services)
            snap.publish(geo=self._lookup({ip for ip, _, _ in services}), pending="findings")
            snap.publish(findings=self._assess(services, snap.stopped))
        except SnapshotReplaced:
            snap.publish(pending="findings (stopped: the store changed since)")
        except StoreLockedError:
            snap.publish(pending="findings (the store became busy; they come with the next read)")
        except Exception as exc:  # a page must say so: the thread must not die silently
            snap.publish(pending=f"findings (failed: {type(exc).__name__}: {exc})")
        finally:
            snap.done.set()

    def _warm(self, snap: Snapshot, services: list[tuple[str, int, int]]) -> None:
        """Load now what the service and model pages load once per process (the checks,
        signatures and advisories; the model catalog), so that the first of them after the
        dashboard starts does not: assess one service, make one model's card."""
        if services:
            for obs in self.read(functools.partial(board.observations_by_id,
                                                   obs_ids=[services[0][2]])):  # fmt: skip
                assess(obs)
        self._pause()
        if snap.models:
            card = model_card(snap.models[0].name)
            if card.country:
                top_alternatives(card.name, exclude_countries=[card.country], n=5)

    def _lookup(self, ips: set[str]) -> dict[str, Geo]:
        todo = sorted(ips - self._geo.keys())
        self._pause()
        geo, tiers = EmbeddedGeo(), default_tiers()
        for start in range(0, len(todo), _GEO_BATCH):
            self._pause()
            for e in enrich(todo[start : start + _GEO_BATCH], geo, tiers):
                self._geo[e.ip] = Geo(e.country, e.as_key, e.org)
        return {ip: self._geo[ip] for ip in ips}

    def close(self) -> None:
        """Stop the current snapshot's background work (at its next chunk)."""
        if self._snapshot is not None:
            self._snapshot.stopped.set()

    def _assess(
        self, services: list[tuple[str, int, int]], stopped: threading.Event
    ) -> dict[tuple[str, int], Assessed]:
        """Every service's findings, from its latest observation (kept by obs_id, so a new
        snapshot assesses only the services that changed), read in chunks: each chunk a short
        read-only open, so a scan waiting to start is held up for one chunk at most."""
        out: dict[tuple[str, int], Assessed] = {}
        latest = {(ip, port): obs_id for ip, port, obs_id in services}
        todo = []
        for ip, port, obs_id in services:
            known = self._findings.get((ip, port, obs_id))
            if known is None:
                todo.append(obs_id)
            else:
                out[(ip, port)] = known
        for start in range(0, len(todo), _CHUNK):
            if stopped.is_set():  # what was assessed stays known for the next snapshot
                self._findings.update({(ip, port, latest[(ip, port)]): a
                                       for (ip, port), a in out.items()})  # fmt: skip
                raise SnapshotReplaced
            chunk = todo[start : start + _CHUNK]
            self._pause()
            for obs in self.read(functools.partial(board.observations_by_id, obs_ids=chunk)):
                self._pause()
                found = Assessed(assess(obs))
                out[(obs.ip, obs.port)] = found
        # Only the current services' entries are kept: memory stays one entry per service.
        self._findings = {(ip, port, latest[(ip, port)]): a for (ip, port), a in out.items()}
        return out
