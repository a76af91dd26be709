"""Applying the data-defined file and host checks (assess/checks/files.yaml, host.yaml).

A check's wording, severity, references and parameters are data; a detector here is the code
half: it reads what `reading` found (the ModelFile, its FileFacts) or how the audit placed a
service (LocalService) and yields Hits. A Hit's `values` fill the {fields} the check's text
names — the catalogue rejects, on load, a field the detector does not fill.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from aicensus.assess.catalog import scoped_checks
from aicensus.assess.finding import Finding, Severity, sort_key
from aicensus.assess.frameworks import check_refs, owasp_ids
from aicensus.assess.schema import Check, CheckScope
from aicensus.attribute.licences import licence_class
from aicensus.attribute.schema import LicenceClass
from aicensus.audit.pickles import ANALYSER
from aicensus.audit.reading import FileFacts, text_digest
from aicensus.audit.records import LocalService, ModelFile
from aicensus.audit.template import scan_template
from aicensus.records import AuthState

Confidence = Literal["confirmed", "likely", "unconfirmed"]


@dataclass(frozen=True)
class Hit:
    """What a detector found: its evidence, the values of the check's {fields}, and what it
    overrides of the check (None: the check's own)."""

    evidence: list[str]
    values: dict[str, str] = field(default_factory=dict)
    confidence: Confidence | None = None
    severity: Severity | None = None


@dataclass(frozen=True)
class Detector:
    fn: Callable[..., Iterator[Hit]]
    params: type
    fields: frozenset[str] = frozenset()


FILE_DETECTORS: dict[str, Detector] = {}
HOST_DETECTORS: dict[str, Detector] = {}


class _Params(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    confidence: Confidence = "confirmed"


def _register(
    registry: dict[str, Detector], name: str, params: type = _Params, fields: str = ""
) -> Callable[[Callable[..., Iterator[Hit]]], Callable[..., Iterator[Hit]]]:
    def add(fn: Callable[..., Iterator[Hit]]) -> Callable[..., Iterator[Hit]]:
        registry[name] = Detector(fn, params, frozenset(fields.split()))
        return fn

    return add


# --------------------------------------------------------------------------- model files


def _pickle_kind(model: ModelFile) -> dict[str, str]:
    return {"kind": "PyTorch checkpoint" if model.format == "pytorch" else "pickle"}


@_register(FILE_DETECTORS, "pickle_dangerous", fields="kind imports calls")
def _pickle_dangerous(model: ModelFile, facts: FileFacts, p: _Params) -> Iterator[Hit]:
    scan = model.pickle
    if scan is None or not scan.dangerous:
        return
    evidence = [f"{ANALYSER}: dangerous import {d}" for d in scan.dangerous]
    evidence += [f"{ANALYSER}: other import {s}" for s in scan.suspicious[:10]]
    values = {**_pickle_kind(model), "imports": ", ".join(scan.dangerous[:3]),
              "calls": ", ".join(scan.dangerous[:5])}  # fmt: skip
    yield Hit(evidence, values)


@_register(FILE_DETECTORS, "pickle_suspicious", fields="kind")
def _pickle_suspicious(model: ModelFile, facts: FileFacts, p: _Params) -> Iterator[Hit]:
    scan = model.pickle
    if scan is not None and scan.suspicious and not scan.dangerous:
        yield Hit([f"{ANALYSER}: import {s}" for s in scan.suspicious[:20]], _pickle_kind(model))


@_register(FILE_DETECTORS, "pickle_incomplete", fields="kind")
def _pickle_incomplete(model: ModelFile, facts: FileFacts, p: _Params) -> Iterator[Hit]:
    scan = model.pickle
    if scan is not None and not scan.complete:
        yield Hit([scan.error or "analysis incomplete"], _pickle_kind(model))


@_register(FILE_DETECTORS, "pickle_format", fields="kind")
def _pickle_format(model: ModelFile, facts: FileFacts, p: _Params) -> Iterator[Hit]:
    scan = model.pickle
    if scan is not None and not scan.dangerous:
        evidence = [f"{ANALYSER}: {len(scan.innocuous)} routine imports, none dangerous"]
        yield Hit(evidence, _pickle_kind(model))


@_register(FILE_DETECTORS, "read_limit", fields="format limit")
def _read_limit(model: ModelFile, facts: FileFacts, p: _Params) -> Iterator[Hit]:
    if not model.notes:
        return
    if model.pickle is not None and not model.pickle.complete:
        return  # AIC-FILE-PICKLE-INCOMPLETE says it, more severely
    yield Hit(model.notes[:20], {"format": model.format, "limit": model.notes[0][:120]})


class KerasParams(_Params):
    find: Literal["lambda_layers", "dangerous_modules", "custom_modules"]


_KERAS_LINE = {
    "lambda_layers": "Lambda layer {!r} in {}",
    "dangerous_modules": "config object {}",
    "custom_modules": "config object {}",
}


@_register(FILE_DETECTORS, "keras_config", KerasParams)
def _keras_config(model: ModelFile, facts: FileFacts, p: KerasParams) -> Iterator[Hit]:
    cfg = facts.keras
    found = getattr(cfg, p.find) if cfg is not None else []
    if cfg is None or not found:
        return
    line = _KERAS_LINE[p.find]
    evidence = [line.format(name, cfg.source) for name in found[:20]]
    yield Hit(evidence, confidence="likely" if facts.keras_confidence == "likely" else None)


@_register(FILE_DETECTORS, "onnx_external_path")
def _onnx_external(model: ModelFile, facts: FileFacts, p: _Params) -> Iterator[Hit]:
    if facts.onnx_outside:
        yield Hit(facts.onnx_outside[:20])


@_register(FILE_DETECTORS, "digest_mismatch")
def _digest_mismatch(model: ModelFile, facts: FileFacts, p: _Params) -> Iterator[Hit]:
    named, computed = facts.named_sha256, facts.computed_sha256
    if named and computed and named != computed:
        yield Hit([f"named sha256 {named}", f"content sha256 {computed}"])


@_register(FILE_DETECTORS, "chat_template_code")
def _template_code(model: ModelFile, facts: FileFacts, p: _Params) -> Iterator[Hit]:
    for name, (text, full) in facts.templates.items():
        hits = scan_template(text)
        if not hits:
            continue
        label = "chat template" if name == "default" else f"chat template {name!r}"
        evidence = [
            f"{label} contains {h.label!r} at character {h.offset}: {h.snippet}" for h in hits
        ]
        evidence.append(
            f"{label}: sha256 {text_digest(text).sha256}, {full or len(text)} characters"
        )
        evidence.append("analysed statically (the text, never rendered)")
        if full is not None and full > len(text):
            evidence.append(f"only the first {len(text)} of {full} characters were analysed")
        yield Hit(evidence)


class LicenceParams(_Params):
    classes: list[LicenceClass | Literal["unknown"]]  # the classes of attribute.licences
    named: bool | None = None  # True: only a named licence; False: only no licence at all


@_register(FILE_DETECTORS, "licence", LicenceParams, fields="licence")
def _licence(model: ModelFile, facts: FileFacts, p: LicenceParams) -> Iterator[Hit]:
    text = (model.attribution.licence or model.licence_declared or "").strip()
    named = bool(text) and text.lower() not in ("other", "unknown", "none", "n/a")
    if licence_class(text if named else None) not in p.classes:
        return
    if p.named is not None and p.named != named:
        return
    evidence = (
        [f"licence: {text}"] if named else ["no licence in the file's metadata or the catalog"]
    )
    yield Hit(evidence, {"licence": text or "none"})


@_register(FILE_DETECTORS, "guardrails_removed")
def _guardrails(model: ModelFile, facts: FileFacts, p: _Params) -> Iterator[Hit]:
    att = model.attribution
    if att.guardrails_removed:
        yield Hit([e for e in att.evidence if "guardrail" in e.lower()] or ["attribution"])


@_register(FILE_DETECTORS, "provenance_unknown")
def _provenance(model: ModelFile, facts: FileFacts, p: _Params) -> Iterator[Hit]:
    att = model.attribution
    if att.status == "unknown":
        yield Hit(att.evidence[:5] or ["no catalog match"])


# --------------------------------------------------------------------------- this machine


class ExposedParams(_Params):
    auth_required: bool  # the check is about services that ask for credentials (or do not)
    public_severity: Severity | None = None  # the severity when reachable from the Internet


@_register(HOST_DETECTORS, "exposed_service", ExposedParams, "product where bound network fix")
def _exposed(s: LocalService, p: ExposedParams, default_fix: str) -> Iterator[Hit]:
    if s.exposure not in ("lan", "public"):
        return
    if (s.auth == str(AuthState.AUTH_REQUIRED)) != p.auth_required:
        return
    where = ", ".join(s.reachable_on[:6]) or s.ip
    bound = ", ".join(s.bound_to) or "(not in the socket table)"
    evidence = [f"bound to {bound}", f"reachable on {where}", f"auth: {s.auth}"]
    if s.process is not None:
        evidence.append(f"process {s.process.name or '?'} (pid {s.process.pid})")
    public = s.exposure == "public"
    values = {"product": s.product or "AI service", "where": where, "bound": bound,
              "network": "Internet" if public else "network", "fix": s.fix or default_fix}  # fmt: skip
    yield Hit(evidence, values, severity=p.public_severity if public else None)


# --------------------------------------------------------------------------- applying them


@functools.cache
def checks(scope: CheckScope) -> tuple[Check, ...]:
    """The bundled checks of the scope ("file" or "host"), validated against the detectors."""
    registry: Mapping[str, Detector] = FILE_DETECTORS if scope == "file" else HOST_DETECTORS
    return scoped_checks(scope, registry)


def _params(check: Check, registry: Mapping[str, Detector]) -> object:
    return msgspec.convert(check.params, registry[check.detector].params)


def _finding(check: Check, hit: Hit, params: object, **where: object) -> Finding:
    values = hit.values
    confidence = hit.confidence or str(getattr(params, "confidence", "confirmed"))
    refs = check_refs(check.id, check.detector, check.owasp, check.cwe)
    return Finding(
        id=check.id,
        severity=hit.severity or check.severity,
        title=check.title.format_map(values),
        detail=check.description.format_map(values),
        remediation=check.remediation.format_map(values),
        evidence=hit.evidence,
        owasp=owasp_ids(refs),
        cwe=list(refs.cwe),
        atlas=list(refs.atlas),
        nist=list(refs.nist),
        references=list(check.references),
        confidence=confidence,
        **where,  # type: ignore[arg-type]
    )


def check_file(
    model: ModelFile, facts: FileFacts, file_checks: Iterable[Check] | None = None
) -> list[Finding]:
    """The findings of the file checks (the bundled ones by default) for one model file, most
    severe first."""
    found = []
    for check in checks("file") if file_checks is None else file_checks:
        params = _params(check, FILE_DETECTORS)
        for hit in FILE_DETECTORS[check.detector].fn(model, facts, params):
            found.append(
                _finding(check, hit, params, kind="file", path=model.path, model=model.name)
            )
    return sorted(found, key=sort_key)


def check_host(s: LocalService, default_fix: str) -> list[Finding]:
    """The host checks' findings for one service of this machine (where it can be reached
    from); `default_fix` is the advice when the product has none of its own."""
    found = []
    for check in checks("host"):
        params = _params(check, HOST_DETECTORS)
        for hit in HOST_DETECTORS[check.detector].fn(s, params, default_fix):
            found.append(
                _finding(
                    check, hit, params, ip=s.ip, port=s.port, product=s.product, version=s.version
                )
            )
    return found
