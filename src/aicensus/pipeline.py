"""The only module that wires the stages: engine → fingerprint → enumerate → attribute.

One (ip, port) becomes one ServiceObservation, whatever happens there: a target that runs out
of time keeps what it learned before (identification and models from the responses already
in), and a parser that fails on hostile input costs that step, not the observation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence

from aicensus.attribute import attribute_model, is_cloud_name
from aicensus.engine.client import HttpClient
from aicensus.engine.config import EngineConfig
from aicensus.enumerate import get_dialect
from aicensus.errors import ReadOnlyViolation
from aicensus.fingerprint.evaluate import MatchResult, auth_state, choose, evaluate, extract_version
from aicensus.fingerprint.schema import Signature
from aicensus.records import (
    Evidence,
    Exchange,
    ModelRecord,
    ProbeRequest,
    ScanStatus,
    ServiceObservation,
    Target,
    TLSInfo,
)

CANARY_PREFIX = "aicensus-canary-"
TLS_FIRST_PORTS = frozenset({443, 6443, 8443, 9443})
ROOT = ProbeRequest(method="GET", path="/")
RequestKey = tuple[str, str, str]


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


_PROBES: dict[tuple[int, str], tuple[Signature, ProbeRequest, RequestKey]] = {}


def _probe(sig: Signature, probe_id: str) -> tuple[ProbeRequest, RequestKey]:
    # Built once per signature; the stored signature guards against a reused id().
    slot = (id(sig), probe_id)
    cached = _PROBES.get(slot)
    if cached is None or cached[0] is not sig:
        probe = sig.probes[probe_id]
        request = ProbeRequest(method=probe.method, path=probe.path, json_body=probe.json)
        cached = _PROBES[slot] = (sig, request, request.key())
    return cached[1], cached[2]


def probe_request(sig: Signature, probe_id: str) -> ProbeRequest:
    return _probe(sig, probe_id)[0]


def identity_probes(sigs: Iterable[Signature]) -> Iterator[ProbeRequest]:
    """Probes that may go to a service whose product is not known yet."""
    for sig in sigs:
        for pid, probe in sig.probes.items():
            if probe.when == "identify":
                yield probe_request(sig, pid)


def exchanges_for(sig: Signature, cache: Mapping[RequestKey, Exchange]) -> dict[str, Exchange]:
    """The signature's view of what was sent: probe id → exchange."""
    view: dict[str, Exchange] = {}
    for pid in sig.probes:
        ex = cache.get(_probe(sig, pid)[1])
        if ex is not None:
            view[pid] = ex
    return view


HONEYPOT_MIN_PRODUCTS = 3  # distinct products one service claims to be at once


def without_catch_all(
    cache: Mapping[RequestKey, Exchange], canary: Exchange | None
) -> Mapping[RequestKey, Exchange]:
    """Drop answers identical to a random path's 2xx answer: they prove nothing."""
    if canary is None or canary.status is None or not 200 <= canary.status < 300:
        return cache
    return {
        k: ex
        for k, ex in cache.items()
        if not (ex.status == canary.status and ex.body == canary.body)
    }


def identify(
    sigs: Sequence[Signature],
    cache: Mapping[RequestKey, Exchange],
    canary: Exchange | None = None,
) -> tuple[MatchResult | None, list[MatchResult]]:
    view = without_catch_all(cache, canary)
    results = [evaluate(sig, exchanges_for(sig, view)) for sig in sigs]
    return choose(results), results


def claimed_products(best: MatchResult | None, results: Sequence[MatchResult]) -> list[str]:
    """Specific products that match besides the winner's known look-alikes."""
    if best is None:
        return []
    specific = {r.signature.id for r in results if r.matched and not r.signature.generic}
    return sorted(specific - set(best.signature.beats))


def describe(
    obs: ServiceObservation, best: MatchResult | None, cache: Mapping[RequestKey, Exchange]
) -> None:
    """Fill product, version, auth and models from what was seen (pure)."""
    if best is None:
        return
    sig = best.signature
    view = exchanges_for(sig, cache)
    obs.status = ScanStatus.IDENTIFIED
    obs.product = sig.id
    obs.confidence = best.score
    obs.evidence = list(best.evidence)
    obs.version, version_ev = extract_version(sig, view)
    if version_ev is not None:
        obs.evidence.append(version_ev)
    obs.auth, obs.auth_evidence = auth_state(sig, view)


def enumerate_models(sig: Signature, cache: Mapping[RequestKey, Exchange]) -> list[ModelRecord]:
    if sig.models is None:
        return []
    return get_dialect(sig.models.dialect).parse(exchanges_for(sig, cache))


def attribute_all(models: Iterable[ModelRecord]) -> None:
    for model in models:
        model.remote = model.remote or is_cloud_name(model.name)
        att = attribute_model(model)
        model.developer = att.developer
        model.country = att.country
        model.licence = att.licence
        model.base = att.base
        model.guardrails_removed = att.guardrails_removed
        model.attribution_confidence = att.confidence


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


class TargetScan:
    """Everything learned at one (ip, port); survives a timeout with what it has."""

    def __init__(
        self,
        client: HttpClient,
        sem: asyncio.Semaphore,
        target: Target,
        sigs: Sequence[Signature],
        config: EngineConfig,
        budget: BodyBudget | None = None,
    ) -> None:
        self.budget = budget or BodyBudget(
            config.max_total_body_bytes, config.max_body_after_budget
        )
        self.client = client
        self.sem = sem
        self.target = target
        self.sigs = sigs
        self.config = config
        self.cache: dict[RequestKey, Exchange] = {}
        self.order: list[Exchange] = []
        self.tls: TLSInfo | None = None
        self.canary: Exchange | None = None
        self.results: list[MatchResult] = []
        self.body_bytes = 0  # kept across this target's responses; see EngineConfig
        self._attributed = False
        self.identified: str | None = None  # product that may get its own POSTs (readonly.py)
        self.obs = ServiceObservation(
            ip=target.ip,
            port=target.port,
            scheme=None,
            status=ScanStatus.ERROR,
            observed_at=now_iso(),
            hostname=target.hostname,
        )

    async def send(self, probe: ProbeRequest) -> Exchange:
        key = probe.key()
        if key in self.cache:
            return self.cache[key]
        scheme = self.obs.scheme or "http"
        async with self.sem:
            granted = self.budget.reserve(self._body_cap())
            kept = 0
            try:
                ex = await self.client.fetch(
                    self.target.ip,
                    self.target.port,
                    scheme,
                    probe,
                    self.target.hostname,
                    max_body=granted,
                    product=self.identified,
                )
                kept = len(ex.body)
            finally:  # a cancelled request keeps nothing
                self.budget.give_back(granted - kept)
        self.body_bytes += kept
        self.cache[key] = ex
        self.order.append(ex)
        return ex

    def _body_cap(self) -> int:
        left = self.config.max_target_bytes - self.body_bytes
        return min(self.config.max_body_bytes, max(left, self.config.max_body_after_budget))

    async def send_all(self, probes: Iterable[ProbeRequest]) -> None:
        unique = {p.key(): p for p in probes if p.key() not in self.cache}
        await asyncio.gather(*(self.send(p) for p in unique.values()))

    def _identify(self) -> MatchResult | None:
        best, self.results = identify(self.sigs, self.cache, self.canary)
        return best

    async def run(self) -> None:
        if not await self._connect():
            return
        port_sigs = [s for s in self.sigs if self.target.port in s.ports]
        await self.send_all(identity_probes(port_sigs))
        best = self._identify()
        if (best is None or best.signature.generic) and self.config.probe_scope == "all":
            await self.send_all(identity_probes(self.sigs))
            best = self._identify()
        best = await self._settle(best)
        self.obs.status = ScanStatus.UNIDENTIFIED
        claimed = claimed_products(best, self.results)
        if len(claimed) >= HONEYPOT_MIN_PRODUCTS:
            self._mark_honeypot(claimed)
            return
        if best is not None:
            # Product-specific probes (route checks, details, its POSTs) go only to the
            # settled winner, which their answers may then support further.
            self.identified = best.signature.id
            await self.send_all(probe_request(best.signature, pid) for pid in best.signature.probes)
            best = _reevaluate(best, self.cache, self.canary)
        describe(self.obs, best, self.cache)
        if best is not None:
            await self._enumerate(best.signature)

    def _mark_honeypot(self, claimed: list[str]) -> None:
        self.obs.status = ScanStatus.SUSPECTED_HONEYPOT
        self.obs.evidence = [
            Evidence(
                kind="honeypot",
                probe="(all probes)",
                marker=f"claims to be {len(claimed)} products at once: {', '.join(claimed)}",
            )
        ]

    async def _settle(self, best: MatchResult | None) -> MatchResult | None:
        """Send the winner's remaining identity probes: a look-alike may overturn it."""
        for _ in range(3):
            if best is None:
                return None
            pending = [p for p in identity_probes([best.signature]) if p.key() not in self.cache]
            if not pending:
                return best
            await self.send_all(pending)
            best = self._identify()
        return best

    async def _connect(self) -> bool:
        """Find the scheme with one GET /; False when nothing HTTP answers."""
        schemes = ["https", "http"] if self.target.port in TLS_FIRST_PORTS else ["http", "https"]
        failures: list[str] = []
        for scheme in schemes:
            self.obs.scheme = scheme
            ex = await self.send(ROOT)
            if ex.status is not None and not _speaks_tls_only(ex):
                # A random path: a catch-all app's answer to it is what "no route" looks like.
                self.canary = await self.send(
                    ProbeRequest(method="GET", path=f"/{CANARY_PREFIX}{secrets.token_hex(6)}")
                )
                if scheme == "https":
                    self.tls = await self.client.certificate(
                        self.target.ip, self.target.port, self.target.hostname
                    )
                return True
            if ex.error in ("connection-refused", "connection-timeout", "timeout") and not failures:
                self.obs.status = _failure_status(ex.error)
                self.obs.error = ex.error
                return False
            # Otherwise the port answered, but not with usable HTTP (and a second scheme that
            # times out or is refused after that is a consequence, not the finding).
            failures.append(f"{scheme}: {ex.error or f'status {ex.status}'}")
            self.cache.pop(ROOT.key(), None)  # try the other scheme afresh
        self.obs.status = ScanStatus.NOT_HTTP
        self.obs.error = "; ".join(failures)[:300] or None  # what each scheme got back
        self.obs.scheme = None
        return False

    async def _enumerate(self, sig: Signature) -> None:
        if sig.models is None:
            return
        await self.send_all(probe_request(sig, pid) for pid in sig.models.probes)
        dialect = get_dialect(sig.models.dialect)
        try:
            models = dialect.parse(exchanges_for(sig, self.cache))
            followups = dialect.followups(models)[: self.config.max_model_details]
        except Exception as exc:  # a parser bug on hostile input: keep the identification
            self.obs.error = _internal("enumerate", exc)
            return
        self.obs.models = models  # listed: kept even if the details below time out
        results = await asyncio.gather(*(self._followup(p) for _, p in followups))
        for (model, _), ex in zip(followups, results, strict=True):
            if ex is None:
                continue
            try:
                dialect.apply_followup(model, ex)
            except Exception as exc:
                self.obs.error = _internal("model details", exc)
        self._attribute()

    async def _followup(self, probe: ProbeRequest) -> Exchange | None:
        try:
            return await self.send(probe)
        except ReadOnlyViolation:
            return None

    def salvage(self) -> None:
        """After a target timeout: identify and list models from the responses already in.

        Pure (no requests). The status stays a timeout unless a product was identified.
        """
        if self.obs.scheme is None or not any(ex.status is not None for ex in self.order):
            return
        try:
            if self.obs.status not in (ScanStatus.IDENTIFIED, ScanStatus.SUSPECTED_HONEYPOT):
                best = self._identify()
                claimed = claimed_products(best, self.results)
                if len(claimed) >= HONEYPOT_MIN_PRODUCTS:
                    self._mark_honeypot(claimed)
                    return
                if best is None:
                    return
                describe(self.obs, best, self.cache)
            if not self.obs.models and self.obs.status == ScanStatus.IDENTIFIED:
                sig = next(s for s in self.sigs if s.id == self.obs.product)
                self.obs.models = enumerate_models(sig, self.cache)
            self._attribute()
        except Exception as exc:
            self.obs.error = _internal("target timeout; then", exc)

    def _attribute(self) -> None:
        if self._attributed:
            return
        self._attributed = True
        try:
            attribute_all(self.obs.models)
        except Exception as exc:
            self.obs.error = _internal("attribute", exc)

    def finish(self) -> ServiceObservation:
        if self.obs.error is None and self.obs.scheme is not None:
            failed = [ex for ex in self.cache.values() if ex.error]
            if failed:  # e.g. reset mid-body: say so, the request log has each one
                first = failed[0]
                self.obs.error = (
                    f"{len(failed)} of {len(self.cache)} requests failed; "
                    f"first: {first.method} {first.path}: {first.error}"
                )[:300]
        self.obs.tls = self.tls
        self.obs.request_log = [ex.log_entry() for ex in self.order]
        self.budget.give_back(self.body_bytes)  # the bodies go with this TargetScan
        self.body_bytes = 0
        return self.obs


def _reevaluate(
    best: MatchResult, cache: Mapping[RequestKey, Exchange], canary: Exchange | None
) -> MatchResult:
    sig = best.signature
    again = evaluate(sig, exchanges_for(sig, without_catch_all(cache, canary)))
    return again if again.matched else best


def _speaks_tls_only(ex: Exchange) -> bool:
    # nginx and others answer plain HTTP on a TLS port with this 400.
    return ex.status == 400 and "plain HTTP request was sent to HTTPS port" in ex.text()


def _internal(step: str, exc: BaseException) -> str:
    return f"{step}: internal: {type(exc).__name__}: {exc}"[:300]


def _failure_status(error: str) -> ScanStatus:
    return {
        "connection-refused": ScanStatus.CONNECTION_REFUSED,
        "connection-timeout": ScanStatus.CONNECTION_TIMEOUT,
        "timeout": ScanStatus.IO_TIMEOUT,
    }.get(error, ScanStatus.ERROR)


async def scan_target(
    client: HttpClient,
    gate: HostGate,
    target: Target,
    sigs: Sequence[Signature],
    config: EngineConfig,
    budget: BodyBudget | None = None,
) -> ServiceObservation:
    scan = TargetScan(client, gate.acquire(target.ip), target, sigs, config, budget)
    try:
        # asyncio.timeout, not wait_for: wait_for can swallow a cancellation (Ctrl-C) that
        # arrives as the target finishes, and the worker would go on to the next target.
        async with asyncio.timeout(config.target_timeout):
            await scan.run()
    except TimeoutError:
        scan.obs.error = "target timeout"
        if scan.obs.status == ScanStatus.ERROR:
            scan.obs.status = ScanStatus.IO_TIMEOUT
        scan.salvage()
    except Exception as exc:
        scan.obs.status = ScanStatus.ERROR
        scan.obs.error = f"internal: {type(exc).__name__}: {exc}"[:300]
    finally:
        gate.release(target.ip)
        client.done_with(target.ip, target.port)
    return scan.finish()


ResultSink = Callable[[ServiceObservation], Awaitable[None] | None]
IndexedSink = Callable[[int, ServiceObservation], Awaitable[None] | None]


async def run_scan(
    targets: Iterator[Target],
    sigs: Sequence[Signature],
    config: EngineConfig,
    on_result: ResultSink,
    *,
    connect_hook: Callable[[str, int], None] | None = None,
    on_connection: Callable[[], None] | None = None,
) -> None:
    """Scan targets with a fixed pool of workers, so memory does not grow with their number."""
    await run_indexed_scan(
        enumerate(targets),
        sigs,
        config,
        lambda _index, obs: on_result(obs),
        connect_hook=connect_hook,
        on_connection=on_connection,
    )


async def run_indexed_scan(
    targets: Iterator[tuple[int, Target]],
    sigs: Sequence[Signature],
    config: EngineConfig,
    on_result: IndexedSink,
    *,
    connect_hook: Callable[[str, int], None] | None = None,
    on_connection: Callable[[], None] | None = None,
) -> None:
    """run_scan over (plan position, target) pairs; each result comes back with its position,
    which is what a checkpoint records (see api.scan)."""
    gate = HostGate(config.per_host_inflight)
    budget = BodyBudget(config.max_total_body_bytes, config.max_body_after_budget)
    async with HttpClient(config, connect_hook=connect_hook, on_connection=on_connection) as client:

        async def worker() -> None:
            task = asyncio.current_task()
            for index, target in targets:  # a shared iterator: each target goes to one worker
                obs = await scan_target(client, gate, target, sigs, config, budget)
                if task is not None and task.cancelling():
                    # Interrupted: a target cut short is not a result (a resume rescans it).
                    raise asyncio.CancelledError
                pending = on_result(index, obs)
                if pending is not None:
                    await pending

        await asyncio.gather(*(worker() for _ in range(max(1, config.concurrency))))


def observe_recorded(
    target: Target,
    scheme: str | None,
    exchanges: Sequence[Exchange],
    sigs: Sequence[Signature],
    observed_at: str | None = None,
    source: str = "responses",
) -> ServiceObservation:
    """Run the same fingerprints and extractors over responses recorded elsewhere."""
    cache: dict[RequestKey, Exchange] = {}
    for ex in exchanges:
        body = ex.request_body or ""
        cache.setdefault((ex.method, ex.path, body), ex)
    obs = ServiceObservation(
        ip=target.ip,
        port=target.port,
        scheme=scheme,
        status=ScanStatus.UNIDENTIFIED,
        observed_at=observed_at or now_iso(),
        hostname=target.hostname,
        source=source,
    )
    best, _ = identify(sigs, cache)
    describe(obs, best, cache)
    if best is not None:
        obs.models = enumerate_models(best.signature, cache)
        attribute_all(obs.models)
    obs.request_log = [ex.log_entry() for ex in exchanges]
    return obs
