"""CycloneDX 1.6 ML-BOM of the AI inventory: each service a `service`, each model a
`machine-learning-model` component with provenance (developer, country, base model) and licence,
vulnerable versions as `vulnerabilities`. Built and validated with cyclonedx-python-lib."""

from __future__ import annotations

import re
from typing import IO

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.contact import OrganizationalEntity
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

from aicensus import __version__
from aicensus.assess import Finding, Severity, redact_secrets
from aicensus.assess.detectors import address_scope
from aicensus.errors import AicensusError
from aicensus.records import AuthState, ModelRecord, ServiceObservation
from aicensus.report.exports import service_url
from aicensus.report.source import Assessed
from aicensus.report.text import json_safe

_SHA256 = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")
_SEVERITY = {
    Severity.CRITICAL: VulnerabilitySeverity.CRITICAL, Severity.HIGH: VulnerabilitySeverity.HIGH,
    Severity.MEDIUM: VulnerabilitySeverity.MEDIUM, Severity.LOW: VulnerabilitySeverity.LOW,
    Severity.INFO: VulnerabilitySeverity.INFO,
}  # fmt: skip
_LICENCES = LicenseFactory()


class BomError(AicensusError):
    pass


def _props(pairs: list[tuple[str, object]]) -> list[Property]:
    return [
        Property(name=f"aicensus:{k}", value=redact_secrets(str(v)) or "")
        for k, v in pairs
        if v not in (None, "", [], False)
    ]


def _model_component(obs: ServiceObservation, index: int, m: ModelRecord) -> Component:
    licence = m.licence or m.licence_name
    digest = _SHA256.match((m.digest or "").lower())
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
        licenses=[_LICENCES.make_from_string(licence)] if licence else None,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest.group(1))] if digest else None,
        properties=props,
    )


def _by_rank(rank: int | None) -> Severity | None:
    return None if rank is None else next(s for s in Severity if s.rank == rank)


def _service(obs: ServiceObservation, findings: list[Finding]) -> Service:
    authenticated = {AuthState.AUTH_REQUIRED: True, AuthState.OPEN: False,
                     AuthState.PARTIAL: False}.get(obs.auth)  # fmt: skip
    worst = max((f.severity.rank for f in findings), default=None)
    props = _props([
        ("product", obs.product), ("auth", str(obs.auth)), ("address_scope", address_scope(obs.ip)),
        ("hostname", obs.hostname), ("observed_at", obs.observed_at),
        ("confidence", obs.confidence), ("findings", len(findings) or None),
        ("worst_severity", _by_rank(worst)),
    ])  # fmt: skip
    return Service(
        name=obs.product or "unidentified",
        bom_ref=f"service:{obs.ip}:{obs.port}",
        version=obs.version,
        endpoints=[XsUri(service_url(obs))],
        authenticated=authenticated,
        x_trust_boundary=address_scope(obs.ip) == "public",
        properties=props,
    )


def build_bom(assessed: Assessed) -> Bom:
    bom = Bom()
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="aicensus", version=__version__)
    )
    vulns: dict[str, Vulnerability] = {}
    for obs, findings in assessed.services:
        service = _service(obs, findings)
        bom.services.add(service)
        models = [_model_component(obs, i, m) for i, m in enumerate(obs.models)]
        for c in models:
            bom.components.add(c)
        bom.register_dependency(service, models)
        for f in findings:
            if not f.cve:
                continue
            vuln = vulns.get(f.cve[0])
            if vuln is None:
                vuln = Vulnerability(
                    bom_ref=f"vuln:{f.cve[0]}",
                    id=f.cve[0],
                    source=VulnerabilitySource(url=XsUri(f.references[0]))
                    if f.references
                    else None,
                    description=f.title,
                    recommendation=f.remediation,
                    ratings=[VulnerabilityRating(severity=_SEVERITY[f.severity])],
                )
                vulns[f.cve[0]] = vuln
                bom.vulnerabilities.add(vuln)
            vuln.affects.add(BomTarget(ref=service.bom_ref.value))
    return bom


def to_cyclonedx_json(assessed: Assessed, *, validate: bool = True) -> str:
    text = JsonV1Dot6(build_bom(assessed)).output_as_string(indent=2)
    if validate:
        error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
        if error is not None:
            raise BomError(f"generated CycloneDX document is invalid: {error}")
    return json_safe(text) + "\n"


def write_cyclonedx(out: IO[str], assessed: Assessed) -> None:
    out.write(to_cyclonedx_json(assessed))
