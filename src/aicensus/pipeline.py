"""The only module that wires the stages per target: engine → fingerprint → enumerate → attribute.

One (ip, port) becomes one ServiceObservation, whatever happens there: a target that runs out
of time keeps what it learned before (identification and models from the responses already
in), and a parser that fails on hostile input costs that step, not the observation.

`conclude` is the one step from exchanges to what an observation says (product, version,
auth, models, attribution). A live scan (`TargetScan`) calls it after its requests; ingest
calls it on the exchanges another tool recorded (`observe_recorded`). The scheduler is
`engine.scheduler`; the choice between candidate products is `fingerprint.choose`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from functools import partial

import msgspec

from aicensus import attribute
from aicensus.assess import honeypot
from aicensus.attribute import attribute_model, is_cloud_name
from aicensus.engine import scheduler
from aicensus.engine.client import ConnectHook, ConnectionHook, HttpClient
from aicensus.engine.config import EngineConfig
from aicensus.engine.scheduler import BodyBudget, TargetSlot
from aicensus.engine.session import TargetRequests
from aicensus.enumerate import get_dialect
from aicensus.enumerate.base import Lines, Streamer
from aicensus.errors import ReadOnlyViolation
from aicensus.fingerprint.choose import (
    Choice,
    canary_can_matter,
    canary_probe,
    identify,
    without_catch_all,
)
from aicensus.fingerprint.evaluate import MatchResult, auth_state, extract_version
from aicensus.fingerprint.index import Memo, index_for
from aicensus.fingerprint.probes import (
    RequestKey,
    conditional_probes,
    exchanges_for,
    identity_probes,
    probe_request,
)
from aicensus.fingerprint.schema import Signature
from aicensus.records import (
    Evidence,
    Exchange,
    ModelRecord,
    ProbeRequest,
    ProductClaim,
    RecordedService,
    ScanStatus,
    ServiceObservation,
    Target,
    TLSInfo,
)

TLS_FIRST_PORTS = frozenset({443, 6443, 8443, 9443})
ROOT = ProbeRequest(method="GET", path="/")


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


# ---------------------------------------------------------------- the shared step


def conclude(
    obs: ServiceObservation,
    sigs: Sequence[Signature],
    cache: Mapping[RequestKey, Exchange],
    canary: Exchange | None = None,
    choice: Choice | None = None,
) -> None:
    """Fill obs from the exchanges in hand (pure): the product chosen (or a suspected
    honeypot), its version and auth, its models with their recorded details, attributed.

    `choice`: the one a live scan's requests followed (else chosen here). obs.status is left
    alone when no product is chosen: the caller knows if that means unidentified or a timeout.
    """
    if choice is None:
        choice = identify(sigs, cache, canary)
    if choice.honeypot:
        obs.status = ScanStatus.SUSPECTED_HONEYPOT
        obs.evidence = [choice.honeypot_evidence()]
        return
    if choice.best is not None:
        describe(obs, choice.best, cache)
    # Honeypot evidence in the answers themselves (assess/honeypot.py), kept with the rest.
    seen = [*cache.values(), *([canary] if canary is not None else [])]
    own = {p.path for p in choice.best.signature.probes.values()} if choice.best else set()
    obs.evidence.extend(
        honeypot.host_evidence(
            seen, claimed=choice.claimed, product=obs.product, version=obs.version, own_paths=own
        )
    )
    if choice.best is None:
        return
    sig = choice.best.signature
    if sig.models is None:
        return
    try:
        obs.models = list_models(sig, cache, obs)
        get_dialect(sig.models.dialect).annotate(obs, cache.values())
    except Exception as exc:  # a parser bug on hostile input: keep the identification
        obs.error = _internal("enumerate", exc)
        return
    try:
        attribute_all(obs.models)
    except Exception as exc:
        obs.error = _internal("attribute", exc)


def describe(
    obs: ServiceObservation, best: MatchResult, cache: Mapping[RequestKey, Exchange]
) -> None:
    """Fill product, version and auth from what was seen (pure)."""
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


def list_models(
    sig: Signature, cache: Mapping[RequestKey, Exchange], obs: ServiceObservation
) -> list[ModelRecord]:
    """The product's models from its listing, with each model's details that were fetched
    (or recorded). A detail the dialect cannot read costs that detail (noted in obs.error)."""
    assert sig.models is not None
    dialect = get_dialect(sig.models.dialect)
    models = dialect.parse(exchanges_for(sig, cache))
    for model, probe in dialect.followups(models):
        ex = cache.get(probe.key())
        if ex is None:
            continue
        try:
            dialect.apply_followup(model, ex)
        except Exception as exc:
            obs.error = _internal("model details", exc)
    return models


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
        model.matched_by = att.matched_by if att.confidence > 0 else None


# ---------------------------------------------------------------- recorded elsewhere


def observe_recorded(recorded: RecordedService, sigs: Sequence[Signature]) -> ServiceObservation:
    """Run the same fingerprints and extractors (`conclude`) over responses recorded elsewhere;
    then the source's own claim, if any, and its labels."""
    target = recorded.target
    answered = bool(recorded.exchanges) or recorded.claim is not None
    obs = ServiceObservation(
        ip=target.ip,
        port=target.port,
        scheme=recorded.scheme if answered else None,
        status=recorded.status if not recorded.exchanges else ScanStatus.UNIDENTIFIED,
        observed_at=recorded.observed_at or now_iso(),
        hostname=target.hostname,
        error=recorded.error,
        source=recorded.source,
    )
    if recorded.exchanges:
        cache: dict[RequestKey, Exchange] = {}
        for ex in recorded.exchanges:
            cache.setdefault((ex.method, ex.path, ex.request_body or ""), ex)
        conclude(obs, sigs, cache)
        obs.request_log = [ex.log_entry() for ex in recorded.exchanges]
    if recorded.claim is not None:
        _apply_claim(obs, recorded.claim)
    obs.evidence.extend(recorded.evidence)
    return obs


def _apply_claim(obs: ServiceObservation, claim: ProductClaim) -> None:
    if obs.product not in (None, claim.product):
        obs.evidence.append(
            Evidence(
                kind="source-label",
                probe=claim.probe,
                marker=f"{claim.label}, but the recorded responses identify {obs.product}",
                weight=0.0,
            )
        )
        return
    obs.status = ScanStatus.IDENTIFIED
    obs.product = claim.product
    obs.confidence = max(obs.confidence, claim.confidence)
    obs.version = claim.version or obs.version
    obs.evidence.extend(claim.evidence)
    if claim.models is not None:
        attribute_all(claim.models)
        obs.models = claim.models
    obs.auth = claim.auth
    obs.auth_evidence = list(claim.auth_evidence)


# ---------------------------------------------------------------- a live scan


class TargetScan:
    """Everything learned at one (ip, port); survives a timeout with what it has.

    `run` only sends requests (deciding what to send from what came back); `finish` turns
    what came back into the observation with `conclude`.
    """

    def __init__(
        self,
        client: HttpClient,
        sem: asyncio.Semaphore,
        target: Target,
        sigs: Sequence[Signature],
        config: EngineConfig,
        budget: BodyBudget | None = None,
    ) -> None:
        self.requests = TargetRequests(client, sem, target, config, budget)
        self.client = client
        self.target = target
        self.sigs = sigs
        self.config = config
        self.cache = self.requests.cache  # the same objects: what came back, by request
        self.order = self.requests.order  # and in the order it came
        self.tls: TLSInfo | None = None
        self.canary: Exchange | None = None
        self.choice: Choice | None = None  # settled: the product the requests then followed
        self.memo: Memo = {}  # what each matcher said of each answer (fingerprint.index)
        self.timed_out = False
        self.failed = False  # an internal error: nothing to conclude
        self.obs = ServiceObservation(
            ip=target.ip,
            port=target.port,
            scheme=None,
            status=ScanStatus.ERROR,
            observed_at=now_iso(),
            hostname=target.hostname,
        )

    async def send(self, probe: ProbeRequest) -> Exchange:
        return await self.requests.send(probe, self.obs.scheme or "http")

    async def send_all(self, probes: Iterable[ProbeRequest]) -> None:
        await self.requests.send_all(probes, self.obs.scheme or "http")

    def _identify(self) -> Choice:
        return identify(self.sigs, self.cache, self.canary, memo=self.memo)

    async def run(self) -> None:
        if not await self._connect():
            return
        port_sigs = _port_signatures(self.sigs, self.target.port)
        choice = await self._probe_for(port_sigs)
        widened = False
        while True:
            best = choice.best
            if not widened and (best is None or best.signature.generic):
                widened = True
                if self.config.probe_scope == "all":
                    choice = await self._probe_for(self.sigs)
            choice = await self._settle(choice)
            # The canary (a random path) only when its answer could change the verdict
            # (fingerprint.choose.canary_can_matter); then identify, widen and settle again.
            if self.canary is not None or not canary_can_matter(choice, self.cache, self.memo):
                break
            self.canary = await self.send(canary_probe())
            choice = self._identify()
        self.choice = choice
        self.obs.status = ScanStatus.UNIDENTIFIED
        if choice.honeypot or choice.best is None:
            return
        sig = choice.best.signature
        # Product-specific probes (route checks, details, its POSTs) go only to the settled
        # winner (engine/readonly.py POST_OWNERS), whose match their answers may then support.
        # (Those sent `unless` a matcher fired were settled in _settle.)
        self.requests.product = sig.id
        await self.send_all(
            probe_request(sig, pid) for pid, p in sig.probes.items() if not p.unless
        )
        self.choice = _with_own_probes(choice, self.cache, self.canary, self.memo)
        await self._fetch_model_details(sig)
        if sig.models is not None:
            dialect = get_dialect(sig.models.dialect)
            try:
                await dialect.converse(self._sender(sig.id), self._streamer(sig.id))
            except Exception as exc:  # a parser bug on hostile input: keep what came back
                self.obs.error = _internal("conversation", exc)

    def _sender(self, product: str) -> Callable[[ProbeRequest], Awaitable[Exchange]]:
        """send, with each request stamped as meant for the product the scan settled on (the
        read-only guard allows a protocol's listing calls only to that product)."""

        async def send(probe: ProbeRequest) -> Exchange:
            stamped = msgspec.structs.replace(probe, for_product=product)
            try:
                return await self.send(stamped)
            except ReadOnlyViolation as exc:
                return Exchange(method=probe.method, path=probe.path, error=str(exc)[:200])

        return send

    def _streamer(self, product: str) -> Streamer:
        """A GET held open (an event stream), kept in the cache like any exchange once closed."""

        @contextlib.asynccontextmanager
        async def stream(probe: ProbeRequest) -> AsyncIterator[Lines]:
            stamped = msgspec.structs.replace(probe, for_product=product)
            async with self.client.stream(
                self.target.ip, self.target.port, self.obs.scheme or "http", stamped,
                self.target.hostname, max_body=self.config.max_body_bytes,
            ) as events:  # fmt: skip
                try:
                    yield events
                finally:
                    self.requests.record(stamped, events.exchange)

        return stream

    async def _probe_for(self, sigs: Sequence[Signature]) -> Choice:
        """Send the identity probes of sigs, then those that wait on a matcher (`unless`)."""
        await self.send_all(identity_probes(sigs))
        choice = self._identify()
        return await self._send_conditional(sigs, choice)

    async def _send_conditional(self, sigs: Sequence[Signature], choice: Choice) -> Choice:
        fired = {r.signature.id: r.fired for r in choice.results if r.fired}  # none: absent
        before = len(self.cache)
        await self.send_all(conditional_probes(sigs, fired))
        return self._identify() if len(self.cache) != before else choice

    async def _settle(self, choice: Choice) -> Choice:
        """Send the winner's remaining identity probes: a look-alike may overturn it."""
        for _ in range(3):
            if choice.best is None:
                return choice
            winner = [choice.best.signature]
            pending = [p for p in identity_probes(winner) if p.key() not in self.cache]
            if pending:
                await self.send_all(pending)
                choice = self._identify()
            before = len(self.cache)
            choice = await self._send_conditional(winner, choice)
            if not pending and len(self.cache) == before:
                return choice
        return choice

    async def _connect(self) -> bool:
        """Find the scheme with one GET /; False when nothing HTTP answers."""
        schemes = ["https", "http"] if self.target.port in TLS_FIRST_PORTS else ["http", "https"]
        failures: list[str] = []
        for scheme in schemes:
            self.obs.scheme = scheme
            ex = await self.send(ROOT)
            if ex.status is not None and not _speaks_tls_only(ex):
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

    async def _fetch_model_details(self, sig: Signature) -> None:
        """The model listing, then each listed model's details (as many as the config allows).
        Only fetched here: `conclude` reads them."""
        if sig.models is None:
            return
        await self.send_all(probe_request(sig, pid) for pid in sig.models.probes)
        dialect = get_dialect(sig.models.dialect)
        try:
            models = dialect.parse(exchanges_for(sig, self.cache))
            followups = dialect.followups(models)[: self.config.max_model_details]
        except Exception:  # conclude parses again and records the error
            return
        await asyncio.gather(*(self._followup(p) for _, p in followups))

    async def _followup(self, probe: ProbeRequest) -> None:
        try:
            await self.send(probe)
        except ReadOnlyViolation:
            return

    def finish(self) -> ServiceObservation:
        self._conclude()
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
        self.requests.release()  # the bodies go with this TargetScan
        return self.obs

    def _conclude(self) -> None:
        """conclude over the responses in, also after a target timeout (then the status stays
        a timeout unless a product was identified)."""
        if self.failed or self.obs.scheme is None:
            return
        if not any(ex.status is not None for ex in self.order):
            return
        before = self.obs.error
        try:
            conclude(self.obs, self.sigs, self.cache, self.canary, self.choice)
        except Exception as exc:
            if self.timed_out:
                self.obs.error = _internal("target timeout; then", exc)
            else:
                self.obs.status = ScanStatus.ERROR
                self.obs.error = f"internal: {type(exc).__name__}: {exc}"[:300]
            return
        if self.timed_out and self.obs.error != before:
            self.obs.error = f"{before}; then {self.obs.error}"[:300]


_PORT_SIGS: dict[tuple[int, int], tuple[Sequence[Signature], list[Signature]]] = {}


def _port_signatures(sigs: Sequence[Signature], port: int) -> list[Signature]:
    """The signatures listing this port, in order; for a tuple of signatures (a scan's) kept
    per port, with the tuple itself so its id is not reused while the entry lives."""
    if type(sigs) is not tuple:
        return [s for s in sigs if port in s.ports]
    hit = _PORT_SIGS.get((id(sigs), port))
    if hit is None or hit[0] is not sigs:
        if len(_PORT_SIGS) >= 65_536:
            _PORT_SIGS.clear()
        hit = _PORT_SIGS[(id(sigs), port)] = (sigs, [s for s in sigs if port in s.ports])
    return list(hit[1])


def _with_own_probes(
    choice: Choice,
    cache: Mapping[RequestKey, Exchange],
    canary: Exchange | None,
    memo: Memo | None = None,
) -> Choice:
    """The winner evaluated again with the answers to its identified-only probes
    (evaluate(sig, exchanges_for(sig, view)), through the index: its verdicts are memoized)."""
    if choice.best is None:
        return choice
    sig = choice.best.signature
    again = index_for([sig]).evaluate_all(without_catch_all(cache, canary), memo)[0]
    return msgspec.structs.replace(choice, best=again) if again.matched else choice


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


def prepare(sigs: Sequence[Signature]) -> None:
    """Build now what every target's scan reads (the signature index, the provenance index,
    the honeypot markers): processes forked after this share one copy, instead of each
    building its own (~0.1 s of CPU) while its first targets wait."""
    index_for(sigs)
    attribute.prepare()
    honeypot.knowledge()


async def scan_target(
    sigs: Sequence[Signature], slot: TargetSlot, target: Target
) -> ServiceObservation:
    """One target, start to finish: the job the engine's scheduler runs per target."""
    scan = TargetScan(slot.client, slot.sem, target, sigs, slot.config, slot.budget)
    try:
        # asyncio.timeout, not wait_for: wait_for can swallow a cancellation (Ctrl-C) that
        # arrives as the target finishes, and the worker would go on to the next target.
        async with asyncio.timeout(slot.config.target_timeout):
            await scan.run()
    except TimeoutError:
        scan.timed_out = True
        scan.obs.error = "target timeout"
        if scan.obs.status == ScanStatus.ERROR:
            scan.obs.status = ScanStatus.IO_TIMEOUT
    except Exception as exc:
        scan.failed = True
        scan.obs.status = ScanStatus.ERROR
        scan.obs.error = f"internal: {type(exc).__name__}: {exc}"[:300]
    return scan.finish()


ResultSink = Callable[[ServiceObservation], Awaitable[None] | None]
IndexedSink = Callable[[int, ServiceObservation], Awaitable[None] | None]


async def run_scan(
    targets: Iterator[Target],
    sigs: Sequence[Signature],
    config: EngineConfig,
    on_result: ResultSink,
    *,
    connect_hook: ConnectHook | None = None,
    on_connection: ConnectionHook | None = None,
) -> None:
    """Scan targets with the engine's fixed pool of workers (engine.scheduler)."""
    await scheduler.run(
        targets,
        partial(scan_target, sigs),
        config,
        on_result,
        connect_hook=connect_hook,
        on_connection=on_connection,
    )


async def run_indexed_scan(
    targets: Iterator[tuple[int, Target]],
    sigs: Sequence[Signature],
    config: EngineConfig,
    on_result: IndexedSink,
    *,
    connect_hook: ConnectHook | None = None,
    on_connection: ConnectionHook | None = None,
) -> None:
    """run_scan over (plan position, target) pairs; each result comes back with its position,
    which is what a checkpoint records (see api.scan)."""
    await scheduler.run_indexed(
        targets,
        partial(scan_target, sigs),
        config,
        on_result,
        connect_hook=connect_hook,
        on_connection=on_connection,
    )
