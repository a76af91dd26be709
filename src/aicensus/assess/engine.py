"""assess(observation) → findings: run every check of the catalogue over one observation."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from aicensus.assess.advisories.bundle import Bundle
from aicensus.assess.catalog import builtin_checks
from aicensus.assess.detectors import DETECTORS, Context, Hit
from aicensus.assess.finding import Finding, sort_key
from aicensus.assess.frameworks import check_refs, owasp_ids
from aicensus.assess.schema import Check
from aicensus.records import ScanStatus, ServiceObservation


def _params(check: Check) -> object:
    return msgspec.convert(check.params, DETECTORS[check.detector].params)


def _finding(check: Check, obs: ServiceObservation, hit: Hit) -> Finding:
    refs = check_refs(
        check.id,
        check.detector,
        hit.owasp if hit.owasp is not None else check.owasp,
        hit.cwe if hit.cwe is not None else check.cwe,
    )
    return Finding(
        id=hit.id or check.id,
        severity=hit.severity or check.severity,
        title=hit.title or check.title,
        detail=hit.detail or check.description,
        remediation=hit.remediation or check.remediation,
        ip=obs.ip,
        port=obs.port,
        product=obs.product,
        version=obs.version,
        model=hit.model,
        evidence=list(hit.evidence),
        owasp=owasp_ids(refs),
        cwe=list(refs.cwe),
        atlas=list(refs.atlas),
        nist=list(refs.nist),
        cve=list(hit.cve),
        references=[*hit.references, *(r for r in check.references if r not in hit.references)],
        confidence=hit.confidence,
    )


def assess(
    obs: ServiceObservation,
    *,
    checks: Iterable[Check] | None = None,
    advisories: Bundle | None = None,
) -> list[Finding]:
    """The findings for one observation, most severe first. Pure: sends nothing.

    Only identified services are assessed; everything else yields [].
    """
    if obs.status != ScanStatus.IDENTIFIED or obs.product is None:
        return []
    ctx = Context(advisories=advisories)
    found: dict[tuple[str, str, int, str, str], Finding] = {}
    for check in builtin_checks() if checks is None else checks:
        if check.products is not None and obs.product not in check.products:
            continue
        fn = DETECTORS[check.detector].fn
        for hit in fn(obs, _params(check), ctx):
            finding = _finding(check, obs, hit)
            found.setdefault(finding.key(), finding)
    return sorted(found.values(), key=sort_key)


def assess_all(
    observations: Iterable[ServiceObservation], **kwargs: object
) -> list[tuple[ServiceObservation, list[Finding]]]:
    """(observation, findings) for each observation, in the given order."""
    return [(obs, assess(obs, **kwargs)) for obs in observations]  # type: ignore[arg-type]
