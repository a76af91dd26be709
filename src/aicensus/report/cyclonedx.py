"""The one CycloneDX 1.6 ML-BOM builder, for `aicensus report` (a stored scan) and
`aicensus audit` (this machine's services and model files).

* each AI service is a `service` (endpoint, authenticated, trust boundary, `aicensus:*`
  properties), depending on the `machine-learning-model` components of the models it serves;
* each model (served, or a file on disk) is a `machine-learning-model` component: developer as
  manufacturer, licence, sha256, provenance and format as `aicensus:*` properties; a model file
  also has its base model as a pedigree ancestor and its path as evidence of occurrence;
* every finding of severity low or above is a `vulnerability` (id: its CVE where there is one,
  else the aicensus finding id; source: aicensus), one per id, affecting every service or file
  it was found on.

Built and validated (strict JSON schema, 1.6) with cyclonedx-python-lib.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import IO, TYPE_CHECKING

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
    XsUri,
)
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType, Pedigree
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.model.license import License
from cyclonedx.model.service import Service
from cyclonedx.model.vulnerability import (
    BomTarget,
    Vulnerability,
    VulnerabilityRating,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from aicensus.assess import Finding, Severity, redact_secrets
from aicensus.assess.detectors import address_scope
from aicensus.errors import BomError
from aicensus.records import AuthState, ModelRecord, ServiceObservation
from aicensus.report.render import service_url
from aicensus.report.source import Assessed
from aicensus.report.text import json_safe
from aicensus.version import __version__

if TYPE_CHECKING:  # the audit's records (defined below the stages) are only read here
    from aicensus.audit_records import AuditResult, LocalService, ModelFile

_SHA256 = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")
_CWE = re.compile(r"^CWE-(\d+)$")
_SEVERITY = {
    Severity.CRITICAL: VulnerabilitySeverity.CRITICAL, Severity.HIGH: VulnerabilitySeverity.HIGH,
    Severity.MEDIUM: VulnerabilitySeverity.MEDIUM, Severity.LOW: VulnerabilitySeverity.LOW,
    Severity.INFO: VulnerabilitySeverity.INFO,
}  # fmt: skip
_AUTHENTICATED = {
    str(AuthState.AUTH_REQUIRED): True, str(AuthState.OPEN): False, str(AuthState.PARTIAL): False,
}  # fmt: skip
_LICENCES = LicenseFactory()


# ---------------------------------------------------------------- parts


def _props(pairs: Iterable[tuple[str, object]]) -> list[Property]:
    return [
        Property(name=f"aicensus:{k}", value=redact_secrets(str(v)) or "")
        for k, v in pairs
        if v not in (None, "", [], False)
    ]


def _licences(text: str | None) -> list[License] | None:
    return [_LICENCES.make_from_string(text)] if text else None


def _hashes(value: str | None) -> list[HashType] | None:
    m = _SHA256.match((value or "").lower())
    return [HashType(alg=HashAlgorithm.SHA_256, content=m.group(1))] if m else None


def _model_component(obs: ServiceObservation, index: int, m: ModelRecord) -> Component:
    base = m.base
    props = _props([
        ("host", f"{obs.ip}:{obs.port}"), ("country", m.country),
        ("family", m.family), ("architecture", m.architecture),
        ("parameter_size", m.parameter_size), ("parameter_count", m.parameter_count),
        ("quantization", m.quantization), ("format", m.format),
        ("context_length", m.context_length), ("capabilities", ",".join(m.capabilities)),
        ("running", m.running), ("remote", m.remote),
        ("guardrails_removed", m.guardrails_removed),
        ("attribution_confidence", m.attribution_confidence or None),
        ("matched_by", m.matched_by),
        ("base.developer", base.developer if base else None),
        ("base.country", base.country if base else None),
        ("base.family", base.family if base else None),
        ("chat_template.sha256", m.chat_template.sha256 if m.chat_template else None),
        ("system_prompt.sha256", m.system_prompt.sha256 if m.system_prompt else None),
    ])  # fmt: skip
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=redact_secrets(m.name) or m.name,
        bom_ref=f"model:{obs.ip}:{obs.port}:{index}",
        manufacturer=OrganizationalEntity(name=m.developer) if m.developer else None,
        licenses=_licences(m.licence or m.licence_name),
        hashes=_hashes(m.digest),
        properties=props,
    )


def _worst(findings: Sequence[Finding]) -> Severity | None:
    return max((f.severity for f in findings), key=lambda s: s.rank, default=None)


def _service(
    obs: ServiceObservation,
    findings: Sequence[Finding],
    *,
    trust_boundary: bool,
    extra: Iterable[tuple[str, object]] = (),
) -> Service:
    props = _props([
        ("product", obs.product), ("auth", str(obs.auth)), ("address_scope", address_scope(obs.ip)),
        ("hostname", obs.hostname), ("observed_at", obs.observed_at),
        ("confidence", obs.confidence), *extra, ("findings", len(findings) or None),
        ("worst_severity", _worst(findings)),
    ])  # fmt: skip
    return Service(
        name=obs.product or "unidentified",
        bom_ref=f"service:{obs.ip}:{obs.port}",
        version=obs.version,
        endpoints=[XsUri(service_url(obs))],
        authenticated=_AUTHENTICATED.get(str(obs.auth)),
        x_trust_boundary=trust_boundary,
        properties=props,
    )


def _add_service(bom: Bom, service: Service, obs: ServiceObservation) -> str:
    models = [_model_component(obs, i, m) for i, m in enumerate(obs.models)]
    bom.services.add(service)
    for c in models:
        bom.components.add(c)
    bom.register_dependency(service, models)
    return str(service.bom_ref.value)


def _local_extra(s: LocalService) -> list[tuple[str, object]]:
    """What the audit knows of a service of this machine beyond its observation."""
    p = s.process
    return [
        ("binding", s.binding), ("exposure", s.exposure), ("bound_to", ",".join(s.bound_to)),
        ("bound_count", s.bound_count or None), ("reachable_on", ",".join(s.reachable_on)),
        ("process.name", p.name if p else None), ("process.pid", p.pid if p else None),
        ("process.user", p.user if p else None), ("fix", s.fix),
    ]  # fmt: skip


def _pedigree(m: ModelFile, index: int) -> Pedigree | None:
    base = m.attribution.base
    if base is None or not (base.family or base.developer):
        return None
    ancestor = Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=base.family or "base model",
        bom_ref=f"file:{index}:base",
        manufacturer=OrganizationalEntity(name=base.developer) if base.developer else None,
        properties=_props([("country", base.country)]),
    )
    return Pedigree(ancestors=[ancestor])


def _file_component(m: ModelFile, index: int) -> Component:
    att, gguf, pickle, base = m.attribution, m.gguf, m.pickle, m.attribution.base
    refs = []
    url = gguf.repo_url if gguf else None
    if url and url.startswith(("https://", "http://")):
        refs.append(ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(url)))
    props = _props([
        ("path", m.path), ("store", m.store), ("format", m.format),
        ("size_bytes", m.size_bytes), ("aliases", ",".join(m.aliases)),
        ("sha256_source", m.sha256_source),
        ("architecture", m.architecture), ("quantization", m.quantization),
        ("parameter_count", m.parameter_count), ("parameter_size", m.parameter_size),
        ("context_length", m.context_length), ("country", att.country),
        ("family", att.family), ("attribution_status", att.status),
        ("attribution_confidence", att.confidence or None),
        ("matched_by", att.matched_by if att.confidence else None),
        ("licence_declared", m.licence_declared),
        ("guardrails_removed", att.guardrails_removed),
        ("base.developer", base.developer if base else None),
        ("base.country", base.country if base else None),
        ("base.family", base.family if base else None),
        ("gguf.name", gguf.name if gguf else None),
        ("gguf.organization", gguf.organization if gguf else None),
        ("gguf.base_models", ",".join(gguf.base_models) if gguf else None),
        *[
            (f"chat_template.{name}.sha256", d.sha256)
            for name, d in (gguf.chat_templates.items() if gguf else [])
        ],
        ("pickle.analyser", pickle.analyser if pickle else None),
        ("pickle.dangerous", ",".join(pickle.dangerous) if pickle else None),
        ("pickle.complete", "false" if pickle and not pickle.complete else None),
        ("error", m.error),
    ])  # fmt: skip
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=redact_secrets(m.name) or m.name,
        bom_ref=f"file:{index}",
        manufacturer=OrganizationalEntity(name=att.developer) if att.developer else None,
        licenses=_licences(att.licence or m.licence_declared),
        hashes=_hashes(m.sha256),
        pedigree=_pedigree(m, index),
        external_references=refs or None,
        evidence=ComponentEvidence(occurrences=[Occurrence(location=m.path)]),
        properties=props,
    )


def _vulnerability(vuln_id: str, found: list[tuple[Finding, str]]) -> Vulnerability:
    """One vulnerability for every finding with this id, affecting each service or file."""
    first = min((f for f, _ in found), key=lambda f: -f.severity.rank)
    details = {f.detail for f, _ in found}
    url = first.references[0] if first.references else None
    return Vulnerability(
        bom_ref=f"vuln:{vuln_id}",
        id=vuln_id,
        source=VulnerabilitySource(name="aicensus", url=XsUri(url) if url else None),
        description=first.title,
        # A detail names one service's version or one file: kept only when all agree.
        detail=redact_secrets(first.detail) if len(details) == 1 else None,
        recommendation=first.remediation,
        ratings=[VulnerabilityRating(severity=_SEVERITY[first.severity])],
        cwes=[int(m.group(1)) for c in first.cwe if (m := _CWE.match(c))] or None,
        affects=[BomTarget(ref=ref) for ref in dict.fromkeys(ref for _, ref in found)],
        properties=_props(
            [
                ("finding_id", first.id),
                ("confidence", first.confidence),
                ("owasp", ",".join(first.owasp)),
                ("atlas", ",".join(first.atlas)),
                ("nist", ",".join(first.nist)),
                ("cve", ",".join(first.cve[1:])),
            ]
        ),
    )


def _add_vulnerabilities(bom: Bom, found: Iterable[tuple[Finding, str]]) -> None:
    by_id: dict[str, list[tuple[Finding, str]]] = {}
    for f, ref in found:
        if f.severity.rank >= Severity.LOW.rank:
            by_id.setdefault(f.cve[0] if f.cve else f.id, []).append((f, ref))
    for vuln_id, group in by_id.items():
        bom.vulnerabilities.add(_vulnerability(vuln_id, group))


def _new_bom() -> Bom:
    bom = Bom()
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="aicensus", version=__version__)
    )
    return bom


# ---------------------------------------------------------------- the two inventories


def build_bom(assessed: Assessed) -> Bom:
    """The BOM of a stored scan: its identified services, their models and findings."""
    bom = _new_bom()
    found: list[tuple[Finding, str]] = []
    for obs, findings in assessed.services:
        public = address_scope(obs.ip) == "public"
        ref = _add_service(bom, _service(obs, findings, trust_boundary=public), obs)
        found += [(f, ref) for f in findings]
    _add_vulnerabilities(bom, found)
    return bom


def build_audit_bom(result: AuditResult) -> Bom:
    """The BOM of an audit: the machine, its services (with their placement and owning
    process), their models, the model files and every finding."""
    bom = _new_bom()
    host = Component(
        type=ComponentType.DEVICE,
        name=result.host or "localhost",
        bom_ref="host",
        properties=_props([("audit.mode", result.mode), ("audit.started_at", result.started_at)]),
    )
    bom.metadata.component = host
    found: list[tuple[Finding, str]] = []
    parts: list[Service | Component] = []
    for s in result.services:
        reachable = s.exposure in ("lan", "public")
        service = _service(s.observation, s.findings, trust_boundary=reachable,
                           extra=_local_extra(s))  # fmt: skip
        ref = _add_service(bom, service, s.observation)
        parts.append(service)
        found += [(f, ref) for f in s.findings]
    for i, m in enumerate(result.files):
        component = _file_component(m, i)
        bom.components.add(component)
        parts.append(component)
        found += [(f, str(component.bom_ref.value)) for f in m.findings]
    bom.register_dependency(host, parts)  # the machine holds its services and files
    _add_vulnerabilities(bom, found)
    return bom


def bom_json(bom: Bom, *, validate: bool = True) -> str:
    """The BOM as CycloneDX 1.6 JSON, validated against the strict schema first."""
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    if validate:
        error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
        if error is not None:
            raise BomError(f"generated CycloneDX document is invalid: {error}")
    return json_safe(text) + "\n"


def to_cyclonedx_json(assessed: Assessed, *, validate: bool = True) -> str:
    return bom_json(build_bom(assessed), validate=validate)


def write_cyclonedx(out: IO[str], assessed: Assessed) -> None:
    out.write(to_cyclonedx_json(assessed))


def audit_to_cyclonedx_json(result: AuditResult, *, validate: bool = True) -> str:
    return bom_json(build_audit_bom(result), validate=validate)


def write_audit_cyclonedx(out: IO[str], result: AuditResult) -> None:
    out.write(audit_to_cyclonedx_json(result))
