"""Honeypots named: per-host evidence, weighed into a verdict (honeypot / suspicious / none).

Evidence kinds (each a typed `HoneypotEvidence`: kind, detail, weight, scope):

* host scope, found in one service's own answers (`host_evidence`, called by the pipeline's
  `conclude` for live scans and ingested recordings alike, and kept in the observation's
  evidence as `honeypot:<kind>` items):
  - ``known-marker``: a default response of an open-source honeypot (Beelzebub, Galah,
    Lophiid), from honeypots/markers.yaml, which cites each one's source;
  - ``echo``: the random canary path answered with success, and with the path itself in the
    body (LLM honeypots write a page about whatever was asked) — or, weaker, a JSON 2xx for
    a random path, or byte-identical JSON answers to many different API routes;
  - ``contradiction``: specific products that exclude each other claimed at one port (three
    or more is fingerprint.choose's rule and a honeypot by itself; two adds up);
  - ``version-route``: a version string older than a route the service answered
    (markers.yaml `version_routes`).
* population scope, found across addresses (`population_evidence`, over a scan's or a
  store's observations; the store computes the same groups in SQL):
  - ``identical-inventory``: the same model inventory (names with digests or sizes) at
    `min_addresses` or more addresses;
  - ``identical-banner``: among those, byte-identical answers (every probe's status and
    length, product and version) at `min_addresses` or more addresses.

Real fleets share images, so population evidence alone never makes more than `suspicious`;
it makes `honeypot` only together with host evidence. Empty inventories are never compared:
every default install of a product lists the same nothing.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import msgspec
import yaml
from packaging.version import InvalidVersion, Version

from aicensus.records import Evidence, Exchange, ModelRecord, ScanStatus, ServiceObservation

HONEYPOT = "honeypot"
SUSPICIOUS = "suspicious"
NONE = "none"
VERDICTS = (HONEYPOT, SUSPICIOUS, NONE)

HOST_KINDS = ("known-marker", "echo", "contradiction", "version-route")
POPULATION_KINDS = ("identical-inventory", "identical-banner")
EVIDENCE_PREFIX = "honeypot:"  # Evidence.kind of a host item kept in an observation
LEGACY_KIND = "honeypot"  # fingerprint.choose's "claims to be N products" item

DEFAULT_MIN_ADDRESSES = 25  # addresses sharing one inventory or banner before it counts
DECISIVE = 1.0  # one host item this heavy names a honeypot by itself
HONEYPOT_SCORE = 1.0  # or this much in all, with at least one host item
SUSPICIOUS_SCORE = 0.5

CANARY_MARK = "aicensus-canary-"  # fingerprint.choose.CANARY_PREFIX (kept apart: no import)
ECHO_WEIGHT = 1.0
CATCH_ALL_JSON_WEIGHT = 0.5
MIN_ECHO_PATH = 5  # "/api" and shorter are too common inside any page to count
REFLECTED_MIN = 3  # different success answers that echo their own path: suspicious
REFLECTED_DECISIVE = 5  # … a honeypot
SAME_JSON_ROUTES = 4  # API routes ending differently, answered with one identical JSON body
RIVAL_WEIGHT = 0.5
POPULATION_WEIGHT = 0.5


class HoneypotEvidence(msgspec.Struct, frozen=True, kw_only=True):
    kind: str  # HOST_KINDS or POPULATION_KINDS
    detail: str
    weight: float
    scope: str = "host"  # "host" | "population"

    def to_evidence(self, probe: str = "(all probes)") -> Evidence:
        return Evidence(
            kind=EVIDENCE_PREFIX + self.kind, probe=probe, marker=self.detail, weight=self.weight
        )


class HoneypotVerdict(msgspec.Struct, kw_only=True):
    ip: str
    verdict: str  # VERDICTS
    score: float
    evidence: list[HoneypotEvidence] = msgspec.field(default_factory=list)
    ports: list[int] = msgspec.field(default_factory=list)


# ---------------------------------------------------------------- knowledge (data)


class Source(msgspec.Struct, frozen=True, kw_only=True):
    repo: str
    path: str | None = None
    commit: str | None = None
    doc: str | None = None


class Marker(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    honeypot: str
    weight: float
    why: str
    source: Source
    status: int | None = None
    body_equals: str | None = None
    body_contains: str | None = None
    header: dict[str, str] = msgspec.field(default_factory=dict)
    min_paths: int = 1  # distinct paths that must give this answer (a catch-all's fallback)

    def matches(self, ex: Exchange) -> bool:
        """Whether this answer is the marker's (the body decoded only where status and
        headers agree)."""
        if ex.status is None or (self.status is not None and ex.status != self.status):
            return False
        if not all(ex.header(name) == value for name, value in self.header.items()):
            return False
        if self.body_equals is not None and ex.text().strip() != self.body_equals:
            return False
        return self.body_contains is None or self.body_contains in ex.text()


class VersionRoute(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    product: str
    route: str
    since: str
    why: str
    source: Source


class Knowledge(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    markers: list[Marker]
    version_routes: list[VersionRoute]


@functools.cache
def knowledge() -> Knowledge:
    """The packaged markers and version/route rules (assess/honeypots/markers.yaml)."""
    text = (importlib.resources.files("aicensus.assess") / "honeypots" / "markers.yaml").read_text(
        encoding="utf-8"
    )
    know = msgspec.convert(yaml.safe_load(text), Knowledge)
    for m in know.markers:
        if m.body_equals is None and m.body_contains is None and not m.header:
            raise ValueError(f"honeypot marker {m.id} matches nothing: give a body or header")
    return know


# ---------------------------------------------------------------- host evidence


def host_evidence(
    exchanges: Iterable[Exchange],
    *,
    claimed: Sequence[str] = (),
    product: str | None = None,
    version: str | None = None,
    own_paths: Collection[str] = (),
) -> list[Evidence]:
    """Honeypot evidence in one service's answers, as observation Evidence items (pure).
    `claimed`: the specific products its answers match (fingerprint.choose.Choice.claimed);
    `own_paths`: the identified product's own routes (its pages may link to themselves)."""
    # A body is decoded only when a check needs its text, and then once (Exchange.text):
    # a scan may hold many, an ingest run millions of services.
    answered = [ex for ex in exchanges if ex.status is not None]
    return [
        *_known_markers(answered),
        *_echo(answered, own_paths),
        *_rivals(claimed),
        *_version_routes(answered, product, version),
    ]


Answered = Sequence[Exchange]  # the exchanges that got an answer


def _ok(ex: Exchange) -> bool:
    return 200 <= (ex.status or 0) < 300


def _known_markers(answered: Answered) -> Iterable[Evidence]:
    for marker in knowledge().markers:
        hits = [ex for ex in answered if marker.matches(ex)]
        if hits and len({ex.path for ex in hits}) >= marker.min_paths:
            yield HoneypotEvidence(
                kind="known-marker",
                detail=f"{marker.honeypot} default answer ({marker.id}): {marker.why}"[:300],
                weight=marker.weight,
            ).to_evidence(", ".join(sorted({f"{ex.method} {ex.path}" for ex in hits})[:3])[:120])


def _echo(answered: Answered, own_paths: Collection[str]) -> Iterable[Evidence]:
    yield from _canary(answered)
    yield from _reflected(answered, own_paths)
    yield from _same_json(answered)


def _canary(answered: Answered) -> Iterable[Evidence]:
    for ex in answered:
        if CANARY_MARK not in ex.path or not _ok(ex):
            continue
        name = ex.path.rsplit("/", 1)[-1]
        if name and name in ex.text():
            yield HoneypotEvidence(
                kind="echo",
                detail="a random path was answered with success and the path itself in the body",
                weight=ECHO_WEIGHT,
            ).to_evidence(f"{ex.method} {ex.path}")
        elif ex.json() is not None:
            yield HoneypotEvidence(
                kind="echo",
                detail="a random path was answered with a JSON success (an API answers 404)",
                weight=CATCH_ALL_JSON_WEIGHT,
            ).to_evidence(f"{ex.method} {ex.path}")
        return


def _resource(path: str) -> str:
    """A path's last segment: what it names, whatever the prefix."""
    return path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _same_json(answered: Sequence[Exchange]) -> Iterable[Evidence]:
    """One JSON body answered on many routes that name different things. Routes that end
    alike count once: a real server may route on the end of a path (Label Studio's
    unanchored `re_path(r'version/', ...)` answers /api/v1/version, /api/v2/version and
    /backend-api/v2/version with its one version document)."""
    same: dict[bytes, tuple[Exchange, dict[str, str]]] = {}
    for ex in answered:
        if _ok(ex) and len(ex.body) > 2:
            same.setdefault(ex.body, (ex, {}))[1].setdefault(_resource(ex.path), ex.path)
    # Only a body answered on enough routes needs to be JSON: decoding every body (a model's
    # details run to tens of KiB) to learn that was most of this check's cost.
    routes = max((routes for ex, routes in same.values()
                  if len(routes) >= SAME_JSON_ROUTES and ex.json() is not None),
                 key=len, default={})  # fmt: skip
    if routes:
        yield HoneypotEvidence(
            kind="echo",
            detail=f"{len(routes)} different API routes answered with one identical JSON body",
            weight=CATCH_ALL_JSON_WEIGHT,
        ).to_evidence(", ".join(sorted(routes.values())[:4])[:120])


def _reflected(answered: Answered, own_paths: Collection[str]) -> Iterable[Evidence]:
    """Success answers that carry their own request path in the body, each different: an LLM
    honeypot writes a page about whatever it is asked. The identified product's own routes do
    not count (a server-rendered app's pages link to themselves: Jupyter's /login, /tree);
    other products' routes answered that way do."""
    paths = {
        ex.path
        for ex in answered
        if _ok(ex)
        and len(ex.path) >= MIN_ECHO_PATH
        and ex.path not in own_paths
        and ex.path in ex.text()
    }
    bodies = {ex.body for ex in answered if ex.path in paths}
    if len(paths) >= REFLECTED_DECISIVE and len(bodies) >= len(paths):
        weight = ECHO_WEIGHT
    elif len(paths) >= REFLECTED_MIN and len(bodies) >= len(paths):
        weight = CATCH_ALL_JSON_WEIGHT
    else:
        return
    yield HoneypotEvidence(
        kind="echo",
        detail=f"{len(paths)} different paths answered with success and the path in the body",
        weight=weight,
    ).to_evidence(", ".join(sorted(paths)[:4])[:120])


def _rivals(claimed: Sequence[str]) -> Iterable[Evidence]:
    # Three or more is fingerprint.choose's honeypot rule, recorded there (LEGACY_KIND).
    if len(claimed) == 2:
        yield HoneypotEvidence(
            kind="contradiction",
            detail=f"answers as two different products at once: {', '.join(claimed)}",
            weight=RIVAL_WEIGHT,
        ).to_evidence()


def _version_routes(
    answered: Sequence[Exchange], product: str | None, version: str | None
) -> Iterable[Evidence]:
    if product is None or version is None:
        return
    ok = {ex.path for ex in answered if _ok(ex)}
    for rule in knowledge().version_routes:
        if rule.product == product and rule.route in ok and _older(version, rule.since):
            yield _version_route_item(product, version, rule).to_evidence(f"GET {rule.route}")


def _version_route_item(product: str, version: str, rule: VersionRoute) -> HoneypotEvidence:
    return HoneypotEvidence(
        kind="version-route",
        detail=f"{product} {version} answered {rule.route}, added in {rule.since}",
        weight=DECISIVE,
    )


def _older(version: str, since: str) -> bool:
    try:
        return Version(version.lstrip("v")) < Version(since)
    except InvalidVersion:
        return False


def stale_routes(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(product, version, route) for each (product, version) older than a route of the rules:
    what the store looks for in its request log (store/honeypots.py)."""
    rules = knowledge().version_routes
    return [
        (product, version, rule.route)
        for product, version in pairs
        for rule in rules
        if rule.product == product and _older(version, rule.since)
    ]


# ---------------------------------------------------------------- reading evidence back


def from_observation(obs: ServiceObservation) -> list[HoneypotEvidence]:
    """The host evidence an observation carries (from its evidence list)."""
    out = []
    for ev in obs.evidence:
        item = from_evidence(ev)
        if item is not None:
            out.append(item)
    if obs.status == ScanStatus.SUSPECTED_HONEYPOT and not any(
        i.kind == "contradiction" and i.weight >= DECISIVE for i in out
    ):
        out.append(HoneypotEvidence(kind="contradiction", detail="suspected honeypot", weight=1.0))
    return out


def from_evidence(ev: Evidence) -> HoneypotEvidence | None:
    if ev.kind == LEGACY_KIND:
        return HoneypotEvidence(kind="contradiction", detail=ev.marker, weight=DECISIVE)
    if ev.kind.startswith(EVIDENCE_PREFIX):
        return HoneypotEvidence(
            kind=ev.kind[len(EVIDENCE_PREFIX) :], detail=ev.marker, weight=ev.weight
        )
    return None


def from_evidence_documents(docs: Iterable[Mapping[str, object]]) -> list[HoneypotEvidence]:
    """from_evidence over stored evidence JSON objects (kind, probe, marker, weight)."""
    out = []
    for doc in docs:
        try:
            ev = msgspec.convert(doc, Evidence)
        except msgspec.ValidationError:
            continue
        item = from_evidence(ev)
        if item is not None:
            out.append(item)
    return out


# ---------------------------------------------------------------- population evidence


def inventory_key(models: Sequence[ModelRecord]) -> str | None:
    """One inventory's identity: its models' names with digests and sizes (None when empty or
    when no model has a digest or size: bare names are shared by every gateway of a vendor)."""
    if not models or all(m.digest is None and m.size_bytes is None for m in models):
        return None
    rows = sorted(
        f"{m.name}|{m.digest or ''}|{'' if m.size_bytes is None else m.size_bytes}" for m in models
    )
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def banner_key(obs: ServiceObservation, inventory: str) -> str:
    """Byte-identical answers: every request's status and length (the canary aside), with the
    product, version and inventory."""
    rows = sorted(
        f"{r.method} {r.path} {r.status} {r.bytes}"
        for r in obs.request_log
        if CANARY_MARK not in r.path and r.error is None
    )
    text = "\n".join([obs.product or "", obs.version or "", inventory, *rows])
    return hashlib.sha256(text.encode()).hexdigest()


def inventory_item(n: int) -> HoneypotEvidence:
    return HoneypotEvidence(
        kind="identical-inventory",
        detail=f"the same model inventory (names, digests, sizes) at {n} addresses",
        weight=POPULATION_WEIGHT,
        scope="population",
    )


def banner_item(n: int) -> HoneypotEvidence:
    return HoneypotEvidence(
        kind="identical-banner",
        detail=f"byte-identical answers (every probe's status and length) at {n} addresses",
        weight=POPULATION_WEIGHT,
        scope="population",
    )


def population_evidence(
    observations: Iterable[ServiceObservation], min_addresses: int = DEFAULT_MIN_ADDRESSES
) -> dict[str, list[HoneypotEvidence]]:
    """ip -> population evidence, over these observations (a scan's, a store's)."""
    inventories: dict[str, set[str]] = defaultdict(set)  # key -> ips
    kept: list[tuple[ServiceObservation, str]] = []
    for obs in observations:
        key = inventory_key(obs.models)
        if key is not None:
            inventories[key].add(obs.ip)
            kept.append((obs, key))
    out: dict[str, list[HoneypotEvidence]] = defaultdict(list)
    banners: dict[str, set[str]] = defaultdict(set)
    for ips in inventories.values():
        if len(ips) >= min_addresses:
            for ip in ips:
                out[ip].append(inventory_item(len(ips)))
    for obs, key in kept:
        if len(inventories[key]) >= min_addresses:
            banners[banner_key(obs, key)].add(obs.ip)
    for ips in banners.values():
        if len(ips) >= min_addresses:
            for ip in ips:
                out[ip].append(banner_item(len(ips)))
    return dict(out)


# ---------------------------------------------------------------- the verdict


def verdict_of(evidence: Sequence[HoneypotEvidence]) -> tuple[str, float]:
    """(verdict, score): the heaviest item of each kind counts once."""
    best: dict[str, float] = {}
    for item in evidence:
        best[item.kind] = max(best.get(item.kind, 0.0), item.weight)
    score = round(sum(best.values()), 3)
    # Host items below SUSPICIOUS_SCORE (a plain page that one honeypot also serves) never
    # turn population evidence into a verdict of honeypot.
    host = [w for k, w in best.items() if k not in POPULATION_KINDS and w >= SUSPICIOUS_SCORE]
    if any(w >= DECISIVE for w in host) or (host and score >= HONEYPOT_SCORE):
        return HONEYPOT, score
    if score >= SUSPICIOUS_SCORE:
        return SUSPICIOUS, score
    return NONE, score


def judge(
    ip: str, evidence: Sequence[HoneypotEvidence], ports: Iterable[int] = ()
) -> HoneypotVerdict:
    verdict, score = verdict_of(evidence)
    unique = list(dict.fromkeys(evidence))
    return HoneypotVerdict(
        ip=ip, verdict=verdict, score=score, evidence=unique, ports=sorted(set(ports))
    )


def host_verdict(obs: ServiceObservation) -> HoneypotVerdict:
    """One observation's verdict from its own (host) evidence only."""
    return judge(obs.ip, from_observation(obs), [obs.port])


def classify(
    observations: Sequence[ServiceObservation], min_addresses: int = DEFAULT_MIN_ADDRESSES
) -> dict[str, HoneypotVerdict]:
    """ip -> verdict over a set of observations: each host's own evidence plus the
    population's. Hosts with no evidence at all are left out."""
    population = population_evidence(observations, min_addresses)
    evidence: dict[str, list[HoneypotEvidence]] = defaultdict(list)
    ports: dict[str, set[int]] = defaultdict(set)
    for obs in observations:
        items = from_observation(obs)
        if items:
            evidence[obs.ip].extend(items)
            ports[obs.ip].add(obs.port)
    for ip, items in population.items():
        evidence[ip].extend(items)
    return {ip: judge(ip, items, ports[ip]) for ip, items in sorted(evidence.items())}


def summary(verdicts: Mapping[str, HoneypotVerdict]) -> dict[str, Any]:
    """Counts and the named hosts, JSON-ready (reports)."""
    named = [v for v in verdicts.values() if v.verdict != NONE]
    kinds: dict[str, int] = defaultdict(int)
    for v in named:
        for kind in {e.kind for e in v.evidence}:
            kinds[kind] += 1
    return {
        "honeypots": sum(v.verdict == HONEYPOT for v in named),
        "suspicious": sum(v.verdict == SUSPICIOUS for v in named),
        "by_kind": dict(sorted(kinds.items())),
        "hosts": [msgspec.to_builtins(v) for v in named],
    }


def classify_stored(
    host: Iterable[tuple[str, int, str]],
    inventory: Iterable[tuple[str, int]],
    banner: Iterable[tuple[str, int]],
    honeypot_status: Iterable[str] = (),
    routes: Iterable[tuple[str, int, str, str, str]] = (),
) -> dict[str, HoneypotVerdict]:
    """ip -> verdict from the store's rows (store/honeypots.py): host evidence JSON per
    (ip, port), addresses per shared inventory and banner, and the addresses whose
    observations were `suspected-honeypot` (fingerprint.choose's rule), and the 2xx answers
    to routes newer than the service's version (`routes`: ip, port, product, version, path)."""
    evidence: dict[str, list[HoneypotEvidence]] = defaultdict(list)
    ports: dict[str, set[int]] = defaultdict(set)
    for ip, port, text in host:
        try:
            docs = msgspec.json.decode(text)
        except msgspec.DecodeError:
            continue
        items = from_evidence_documents(d for d in docs if isinstance(d, dict))
        if items:
            evidence[ip].extend(items)
            ports[ip].add(port)
    for ip in honeypot_status:
        evidence[ip].append(
            HoneypotEvidence(kind="contradiction", detail="suspected honeypot", weight=DECISIVE)
        )
    for ip, port, product, version, path in routes:
        for rule in knowledge().version_routes:
            if (rule.product, rule.route) == (product, path) and _older(version, rule.since):
                evidence[ip].append(_version_route_item(product, version, rule))
                ports[ip].add(port)
    for ip, n in inventory:
        evidence[ip].append(inventory_item(n))
    for ip, n in banner:
        evidence[ip].append(banner_item(n))
    return {ip: judge(ip, items, ports[ip]) for ip, items in sorted(evidence.items())}
