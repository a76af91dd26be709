"""Detectors: the code half of a check. Each reads one observation and yields Hits.

A detector never sends anything: it reasons over what the scan recorded (auth state,
evidence, request log, model records). Its parameters come from the check's YAML and are
validated against the detector's `params` Struct when the catalogue loads.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from aicensus.assess.finding import Severity
from aicensus.assess.honeypot import NONE, from_evidence, host_verdict
from aicensus.assess.secrets import find_secrets
from aicensus.records import (
    AuthState,
    Evidence,
    ModelRecord,
    RequestLogEntry,
    ServiceObservation,
    TextDigest,
)


@dataclass(frozen=True)
class Hit:
    """What a detector found; fields left None take the check's own values."""

    evidence: list[str]
    model: str | None = None
    detail: str | None = None  # replaces the check's description when given
    confidence: str = "confirmed"
    id: str | None = None
    title: str | None = None
    severity: Severity | None = None
    cve: list[str] = field(default_factory=list)
    cwe: list[str] | None = None
    owasp: list[str] | None = None
    references: list[str] = field(default_factory=list)
    remediation: str | None = None


if TYPE_CHECKING:
    from aicensus.assess.advisories.bundle import Bundle


@dataclass(frozen=True)
class Context:
    advisories: Bundle | None = None  # None: the installed bundle (assess/advisories)


# Each detector takes its own params Struct (validated against `Detector.params` on load).
DetectorFn = Callable[[ServiceObservation, Any, Context], Iterator[Hit]]


@dataclass(frozen=True)
class Detector:
    fn: DetectorFn
    params: type


DETECTORS: dict[str, Detector] = {}


def detector(name: str, params: type) -> Callable[[DetectorFn], DetectorFn]:
    def register(fn: DetectorFn) -> DetectorFn:
        DETECTORS[name] = Detector(fn, params)
        return fn

    return register


# ---------------------------------------------------------------- evidence helpers


def log_line(entry: RequestLogEntry) -> str:
    outcome = str(entry.status) if entry.status is not None else f"error: {entry.error}"
    return f"request: {entry.method} {entry.path} → {outcome} ({entry.bytes} bytes, {entry.ms} ms)"


def evidence_line(ev: Evidence) -> str:
    return f"{ev.kind}: {ev.probe} — {ev.marker}"


def _probe_of(entry: RequestLogEntry) -> str:
    return f"{entry.method} {entry.path.split('?', 1)[0]}"


def _matches_probe(entry: RequestLogEntry, spec: str) -> bool:
    method, _, path = spec.partition(" ")
    got_method, _, got_path = _probe_of(entry).partition(" ")
    if method.upper() != got_method.upper():
        return False
    return got_path.startswith(path[:-1]) if path.endswith("*") else got_path == path


def _ok(entry: RequestLogEntry) -> bool:
    return entry.status is not None and 200 <= entry.status < 300


def _log_for(obs: ServiceObservation, probe: str) -> list[str]:
    return [log_line(e) for e in obs.request_log if _matches_probe(e, probe)]


def _auth_proof(obs: ServiceObservation) -> list[str]:
    lines: list[str] = []
    for ev in obs.auth_evidence:
        lines.append(evidence_line(ev))
        lines.extend(_log_for(obs, ev.probe))
    return lines


def _exposed(obs: ServiceObservation) -> bool:
    return obs.auth in (AuthState.OPEN, AuthState.PARTIAL)


class _Params(msgspec.Struct, forbid_unknown_fields=True):
    pass


# ---------------------------------------------------------------- unauthenticated access


class InferenceParams(_Params):
    exclude_products: list[str] = msgspec.field(default_factory=list)


@detector("unauth_inference", InferenceParams)
def _unauth_inference(obs: ServiceObservation, p: InferenceParams, ctx: Context) -> Iterator[Hit]:
    if obs.product in p.exclude_products or not _exposed(obs):
        return
    evidence = [f"auth state: {obs.auth}", *_auth_proof(obs)]
    if obs.auth == AuthState.PARTIAL:
        detail = (
            "Some model or inference routes answer without credentials while others are "
            "protected; anyone who can reach the port can run the open routes."
        )
        yield Hit(evidence, detail=detail)
    else:
        yield Hit(evidence)


class ManagementParams(_Params):
    routes: list[str]  # the write routes (documented, never sent)
    auth_states: list[AuthState] = msgspec.field(default_factory=lambda: [AuthState.OPEN])
    proof_probes: list[str] = msgspec.field(default_factory=list)  # read-only; 2xx = exists
    # Route-existence probes (engine/readonly.py ROUTE_EXISTENCE_PROBES): a bodiless HEAD to
    # a write route registered for POST/DELETE only; 405 = the route exists, handler not run.
    exists_probes: list[str] = msgspec.field(default_factory=list)
    # A proof probe answering one of these says the surface is switched off (llama.cpp
    # --no-slots answers 501): no finding, whatever the auth state.
    disabled_statuses: list[int] = msgspec.field(default_factory=list)
    require_proof: bool = False  # the surface is opt-in: fire only on recorded proof
    markers: list[str] = msgspec.field(default_factory=list)  # regexes over evidence markers

    def __post_init__(self) -> None:
        for spec in self.routes + self.proof_probes + self.exists_probes:
            if " /" not in spec:
                raise ValueError(f"route {spec!r} must look like 'METHOD /path'")
        for spec in self.exists_probes:
            if not spec.startswith("HEAD "):
                raise ValueError(f"exists probe {spec!r} must be a HEAD")
        for m in self.markers:
            re.compile(m)


def _route_exists(entry: RequestLogEntry) -> bool:
    return entry.method.upper() == "HEAD" and entry.status == 405


@detector("unauth_management", ManagementParams)
def _unauth_management(obs: ServiceObservation, p: ManagementParams, ctx: Context) -> Iterator[Hit]:
    proof = [
        e for e in obs.request_log if _ok(e) and any(_matches_probe(e, s) for s in p.proof_probes)
    ]
    exists = [
        e for e in obs.request_log
        if _route_exists(e) and any(_matches_probe(e, s) for s in p.exists_probes)
    ]  # fmt: skip
    disabled = [
        e for e in obs.request_log
        if e.status in p.disabled_statuses and any(_matches_probe(e, s) for s in p.proof_probes)
    ]  # fmt: skip
    marked = [
        ev for ev in obs.evidence + obs.auth_evidence
        if any(re.search(m, ev.marker) for m in p.markers)
    ]  # fmt: skip
    by_design = obs.auth in p.auth_states and not p.require_proof and not disabled
    if not (proof or exists or marked or by_design):
        return
    evidence = [f"auth state: {obs.auth}", *_auth_proof(obs)]
    evidence += [f"read-only proof: {log_line(e)}" for e in proof]
    evidence += [
        f"route exists: {log_line(e)} (bodiless HEAD; 405 = registered for another method, "
        "handler not run)"
        for e in exists
    ]
    evidence += [f"marker: {evidence_line(ev)}" for ev in marked]
    evidence.append("write routes (never sent): " + ", ".join(p.routes))
    confidence = "confirmed" if (proof or exists or marked) else "likely"
    yield Hit(evidence, confidence=confidence)


# ---------------------------------------------------------------- model-level checks


def _digest_line(label: str, digest: TextDigest) -> str:
    return f"{label}: {digest.length} characters, sha256 {digest.sha256[:16]}…"


def _model_probe_lines(obs: ServiceObservation) -> list[str]:
    """The log lines of the requests that returned model details (list and show routes)."""
    lines = []
    for e in obs.request_log:
        path = e.path.split("?", 1)[0]
        if _ok(e) and (path.endswith(("/tags", "/models", "/show", "/props", "/ps"))):
            lines.append(log_line(e))
    return lines


class CapabilityParams(_Params):
    capabilities: list[str]
    require_exposed: bool = True


@detector("model_capability", CapabilityParams)
def _model_capability(obs: ServiceObservation, p: CapabilityParams, ctx: Context) -> Iterator[Hit]:
    if p.require_exposed and not _exposed(obs):
        return
    wanted = {c.lower() for c in p.capabilities}
    for m in obs.models:
        caps = sorted(wanted & {c.lower() for c in m.capabilities})
        if caps:
            evidence = [
                f"model {m.name}: capabilities {', '.join(m.capabilities)}",
                f"auth state: {obs.auth}",
                *_model_probe_lines(obs),
            ]
            yield Hit(evidence, model=m.name)


class PatternParams(_Params):
    patterns: dict[str, str]  # label → regex (case-insensitive)

    def __post_init__(self) -> None:
        for regex in self.patterns.values():
            re.compile(regex)


@functools.cache
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE)


def _scan_patterns(text: str | None, patterns: dict[str, str]) -> list[tuple[str, int]]:
    if not text:
        return []
    found = []
    for label, regex in patterns.items():
        m = _compiled(regex).search(text)
        if m:
            found.append((label, m.start()))
    return found


def _head_note(digest: TextDigest) -> str:
    if digest.length > len(digest.head):
        return (
            f"only the first {len(digest.head)} of {digest.length} characters were "
            "available and analysed; the rest was not seen"
        )
    return f"the whole text ({digest.length} characters) was analysed"


@detector("guardrails_removed", PatternParams)
def _guardrails(obs: ServiceObservation, p: PatternParams, ctx: Context) -> Iterator[Hit]:
    for m in obs.models:
        evidence = []
        if m.guardrails_removed:
            evidence.append(f"model {m.name}: attributed as a guardrail-removed derivative")
        for label, pos in _scan_patterns(m.name, p.patterns):
            evidence.append(f"model name matches {label!r} at character {pos}")
        for field_name, digest in (
            ("chat_template", m.chat_template),
            ("system_prompt", m.system_prompt),
        ):
            if digest is None:
                continue
            for label, pos in _scan_patterns(digest.head, p.patterns):
                evidence.append(
                    f"{field_name} head matches {label!r} at character {pos} ({_head_note(digest)})"
                )
        if evidence:
            yield Hit([*evidence, f"auth state: {obs.auth}"], model=m.name)


@detector("template_code_execution", PatternParams)
def _template_exec(obs: ServiceObservation, p: PatternParams, ctx: Context) -> Iterator[Hit]:
    for m in obs.models:
        if m.chat_template is None:
            continue
        found = _scan_patterns(m.chat_template.head, p.patterns)
        if not found:
            continue
        evidence = [
            f"chat_template head contains {label!r} at character {pos}" for label, pos in found
        ]
        evidence.append(_digest_line("chat_template", m.chat_template))
        evidence.append("analysed statically, never rendered; " + _head_note(m.chat_template))
        yield Hit(evidence, model=m.name)


class NoParams(_Params):
    pass


@detector("system_prompt_exposed", NoParams)
def _system_prompt(obs: ServiceObservation, p: NoParams, ctx: Context) -> Iterator[Hit]:
    for m in obs.models:
        if m.system_prompt is None or m.system_prompt.length == 0:
            continue
        evidence = [
            _digest_line("system_prompt", m.system_prompt),
            f"auth state: {obs.auth}",
            *_model_probe_lines(obs),
        ]
        yield Hit(evidence, model=m.name)


def _secret_sources(m: ModelRecord) -> Iterator[tuple[str, TextDigest]]:
    if m.system_prompt is not None:
        yield "system_prompt", m.system_prompt
    if m.chat_template is not None:
        yield "chat_template", m.chat_template


@detector("secret_in_prompt", NoParams)
def _secrets(obs: ServiceObservation, p: NoParams, ctx: Context) -> Iterator[Hit]:
    for m in obs.models:
        evidence = []
        for where, digest in _secret_sources(m):
            for hit in find_secrets(digest.head):
                evidence.append(
                    f"{hit.kind} in {where} head at characters {hit.start}–{hit.end} "
                    f"({hit.length} characters; value withheld)"
                )
        if evidence:
            kinds = sorted({e.split(" ", 1)[0] for e in evidence})
            detail = (
                f"The text this server returns for model {m.name} contains what looks like "
                f"a credential ({', '.join(kinds)}). Only the first 200 characters of each "
                "text are kept, so more may be present."
            )
            yield Hit([*evidence, f"auth state: {obs.auth}"], model=m.name, detail=detail)


# ---------------------------------------------------------------- exposure


def address_scope(ip: str) -> str:
    """'loopback', 'public' (globally routable) or 'private' (anything else: RFC 1918, ULA,
    link-local, CGNAT, documentation ranges); 'unknown' when ip is not an address."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_loopback:
        return "loopback"
    if addr.is_global:
        return "public"
    return "private"


class ExposureParams(_Params):
    scope: str  # loopback | private | public
    require_exposed: bool = False
    scheme: str | None = None  # only when the service answered over this scheme

    def __post_init__(self) -> None:
        if self.scope not in ("loopback", "private", "public"):
            raise ValueError("scope must be loopback, private or public")


@detector("exposure", ExposureParams)
def _exposure(obs: ServiceObservation, p: ExposureParams, ctx: Context) -> Iterator[Hit]:
    scope = address_scope(obs.ip)
    if scope != p.scope or (p.require_exposed and not _exposed(obs)):
        return
    if p.scheme is not None and obs.scheme != p.scheme:
        return
    evidence = [f"address {obs.ip} is {scope}", f"scheme: {obs.scheme}", f"auth state: {obs.auth}"]
    if obs.hostname:
        evidence.append(f"hostname: {obs.hostname}")
    yield Hit(evidence)


@detector("honeypot", NoParams)
def _honeypot(obs: ServiceObservation, p: NoParams, ctx: Context) -> Iterator[Hit]:
    # The classifier's own verdict over the observation's evidence (assess/honeypot.py):
    # weak items alone (a JSON answer for a random path) are not a finding.
    if host_verdict(obs).verdict == NONE:
        return
    markers = [
        evidence_line(ev)
        for ev in obs.evidence + obs.auth_evidence
        if ev.kind == "honeypot" or from_evidence(ev) is not None
    ]
    yield Hit(markers, confidence="likely")
