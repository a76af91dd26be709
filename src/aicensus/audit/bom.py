"""CycloneDX 1.6 ML-BOM of an audit: the machine's AI services and model files.

* each AI service is a `service` (endpoint, authenticated, trust boundary, exposure, owning
  process), its served models `machine-learning-model` components it depends on;
* each model file is a `machine-learning-model` component: developer as manufacturer, licence,
  sha256, format/quantization/parameters and provenance as `aicensus:*` properties, the base
  model as a pedigree ancestor, the file's path as evidence of occurrence;
* every finding of severity low or above is a `vulnerability` that affects its service or file
  (id: the CVE where there is one, else the aicensus finding id; source: aicensus).

Built and validated (strict JSON schema, 1.6) with cyclonedx-python-lib, like
`aicensus.report.cyclonedx`, whose API this module leaves untouched.
"""

from __future__ import annotations

import re
from typing import IO

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
from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
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

from aicensus.assess import Severity, redact_secrets
from aicensus.audit.records import AuditFinding, AuditResult, LocalService, ModelFile
from aicensus.records import AuthState, ModelRecord
from aicensus.report.cyclonedx import BomError
from aicensus.version import __version__

_SEVERITY = {
    Severity.CRITICAL: VulnerabilitySeverity.CRITICAL, Severity.HIGH: VulnerabilitySeverity.HIGH,
    Severity.MEDIUM: VulnerabilitySeverity.MEDIUM, Severity.LOW: VulnerabilitySeverity.LOW,
    Severity.INFO: VulnerabilitySeverity.INFO,
}  # fmt: skip
_SHA256 = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")
_CWE = re.compile(r"^CWE-(\d+)$")
_LICENCES = LicenseFactory()


def _props(pairs: list[tuple[str, object]]) -> list[Property]:
    return [
        Property(name=f"aicensus:{k}", value=redact_secrets(str(v)) or "")
        for k, v in pairs
        if v not in (None, "", [], False)
    ]


def _licences(text: str | None) -> list[LicenseExpression | DisjunctiveLicense] | None:
    return [_LICENCES.make_from_string(text)] if text else None


def _hashes(value: str | None) -> list[HashType] | None:
    m = _SHA256.match((value or "").lower())
    return [HashType(alg=HashAlgorithm.SHA_256, content=m.group(1))] if m else None


def _served_model(s: LocalService, index: int, m: ModelRecord) -> Component:
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=redact_secrets(m.name) or m.name,
        bom_ref=f"model:{s.ip}:{s.port}:{index}",
        manufacturer=OrganizationalEntity(name=m.developer) if m.developer else None,
        licenses=_licences(m.licence or m.licence_name),
        hashes=_hashes(m.digest),
        properties=_props(
            [
                ("host", f"{s.ip}:{s.port}"),
                ("country", m.country),
                ("family", m.family),
                ("parameter_size", m.parameter_size),
                ("quantization", m.quantization),
                ("format", m.format),
                ("running", m.running),
                ("remote", m.remote),
                ("guardrails_removed", m.guardrails_removed),
            ]
        ),
    )


def _service(s: LocalService, findings: list[AuditFinding]) -> Service:
    authenticated = {
        str(AuthState.AUTH_REQUIRED): True, str(AuthState.OPEN): False,
        str(AuthState.PARTIAL): False,
    }.get(s.auth)  # fmt: skip
    p = s.process
    return Service(
        name=s.product or "unidentified",
        bom_ref=f"service:{s.ip}:{s.port}",
        version=s.version,
        endpoints=[XsUri(s.url + "/")],
        authenticated=authenticated,
        x_trust_boundary=s.exposure in ("lan", "public"),
        properties=_props(
            [
                ("product", s.product),
                ("auth", s.auth),
                ("binding", s.binding),
                ("exposure", s.exposure),
                ("bound_to", ",".join(s.bound_to)),
                ("bound_count", s.bound_count or None),
                ("reachable_on", ",".join(s.reachable_on)),
                ("process.name", p.name if p else None),
                ("process.pid", p.pid if p else None),
                ("process.user", p.user if p else None),
                ("fix", s.fix),
                ("findings", len(findings) or None),
            ]
        ),
    )


def _file_component(m: ModelFile, index: int) -> Component:
    att = m.attribution
    gguf = m.gguf
    base = att.base
    pedigree = None
    if base is not None and (base.family or base.developer):
        pedigree = Pedigree(
            ancestors=[
                Component(
                    type=ComponentType.MACHINE_LEARNING_MODEL,
                    name=base.family or "base model",
                    bom_ref=f"file:{index}:base",
                    manufacturer=OrganizationalEntity(name=base.developer)
                    if base.developer
                    else None,
                    properties=_props([("country", base.country)]),
                )
            ]
        )
    refs = []
    url = gguf.repo_url if gguf else None
    if url and url.startswith(("https://", "http://")):
        refs.append(ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(url)))
    pickle = m.pickle
    props = _props([
        ("path", m.path), ("store", m.store), ("format", m.format),
        ("size_bytes", m.size_bytes), ("aliases", ",".join(m.aliases)),
        ("sha256_source", m.sha256_source),
        ("architecture", m.architecture), ("quantization", m.quantization),
        ("parameter_count", m.parameter_count), ("parameter_size", m.parameter_size),
        ("context_length", m.context_length), ("country", att.country),
        ("family", att.family), ("attribution_status", att.status),
        ("attribution_confidence", att.confidence or None),
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
        pedigree=pedigree,
        external_references=refs or None,
        evidence=ComponentEvidence(occurrences=[Occurrence(location=m.path)]),
        properties=props,
    )


def _vulnerability(f: AuditFinding, index: int, ref: str) -> Vulnerability:
    vuln_id = f.cve[0] if f.cve else f.id
    url = f.references[0] if f.references else None
    return Vulnerability(
        bom_ref=f"finding:{index}",
        id=vuln_id,
        source=VulnerabilitySource(name="aicensus", url=XsUri(url) if url else None),
        description=f.title,
        detail=redact_secrets(f.detail),
        recommendation=f.remediation,
        ratings=[VulnerabilityRating(severity=_SEVERITY[f.severity])],
        cwes=[int(m.group(1)) for c in f.cwe if (m := _CWE.match(c))] or None,
        affects=[BomTarget(ref=ref)],
        properties=_props(
            [
                ("finding_id", f.id),
                ("subject", f.subject),
                ("model", f.model),
                ("confidence", f.confidence),
                ("owasp", ",".join(f.owasp)),
            ]
        ),
    )


def build_audit_bom(result: AuditResult) -> Bom:
    bom = Bom()
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="aicensus", version=__version__)
    )
    bom.metadata.component = Component(
        type=ComponentType.DEVICE,
        name=result.host or "localhost",
        bom_ref="host",
        properties=_props([("audit.mode", result.mode), ("audit.started_at", result.started_at)]),
    )
    findings: list[tuple[AuditFinding, str]] = []
    for s in result.services:
        service = _service(s, s.findings)
        bom.services.add(service)
        models = [_served_model(s, i, m) for i, m in enumerate(s.observation.models)]
        for c in models:
            bom.components.add(c)
        bom.register_dependency(service, models)
        findings += [(f, service.bom_ref.value) for f in s.findings]  # type: ignore[misc]
    for i, m in enumerate(result.files):
        component = _file_component(m, i)
        bom.components.add(component)
        findings += [(f, component.bom_ref.value) for f in m.findings]  # type: ignore[misc]
    n = 0
    for f, ref in findings:
        if f.severity.rank >= Severity.LOW.rank:
            bom.vulnerabilities.add(_vulnerability(f, n, ref))
            n += 1
    return bom


def audit_to_cyclonedx_json(result: AuditResult, *, validate: bool = True) -> str:
    text = JsonV1Dot6(build_audit_bom(result)).output_as_string(indent=2)
    if validate:
        error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
        if error is not None:
            raise BomError(f"generated CycloneDX document is invalid: {error}")
    return text + "\n"


def write_audit_cyclonedx(out: IO[str], result: AuditResult) -> None:
    out.write(audit_to_cyclonedx_json(result))
