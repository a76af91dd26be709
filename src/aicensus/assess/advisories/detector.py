"""The `advisories` detector: the three-state verdict (match.py) turned into findings.

- affected → one finding per matching advisory, id AIC-<CVE id> (else AIC-<advisory id>),
  severity from the CVSS v3 vector, confidence "unconfirmed" when the range comes from an
  aggregator rather than an advisory database;
- unknown version → ONE finding, AIC-VULN-UNKNOWN-VERSION, counting the advisories that may
  apply and naming the version evidence that was missing;
- version known but some ranges not comparable with it → ONE finding, AIC-VULN-UNDETERMINED;
- not affected → nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from aicensus.assess.advisories.bundle import Advisory, current_bundle
from aicensus.assess.advisories.match import Match, State, judge, severity_counts
from aicensus.assess.detectors import Context, Hit, _log_for, _Params, detector, evidence_line
from aicensus.assess.finding import Severity
from aicensus.records import ServiceObservation

UNKNOWN_ID = "AIC-VULN-UNKNOWN-VERSION"
UNDETERMINED_ID = "AIC-VULN-UNDETERMINED"
_SEVERITY = {
    "critical": Severity.CRITICAL, "high": Severity.HIGH, "medium": Severity.MEDIUM,
    "low": Severity.LOW, "none": Severity.INFO,
}  # fmt: skip
_ORDER = ("critical", "high", "medium", "low", "none", "unrated")


class AdvisoryParams(_Params):
    pass


def finding_id(adv: Advisory) -> str:
    return f"AIC-{adv.cve or adv.id}"


def severity_of(adv: Advisory) -> Severity:
    # An unrated record is reported as medium: it is a published vulnerability all the same.
    return _SEVERITY.get(adv.severity, Severity.MEDIUM)


def source_line(adv: Advisory) -> str:
    src = adv.source
    where = f"{src.get('repo', '?')} {src.get('path', '')}"
    return f"source: {where.strip()}" + (f" @ {src['commit'][:12]}" if src.get("commit") else "")


def _affected_parts(
    obs: ServiceObservation, m: Match, scheme: str
) -> tuple[list[str], dict[str, Any]]:
    """(evidence head, Hit fields) of one matched advisory: the same for every service of this
    product and version, so they are built once per pair (see _advisories)."""
    adv = m.advisory
    sev = f"CVSS {adv.score} ({adv.vector})" if adv.score is not None else adv.severity
    kev = adv.known_exploited
    detail = (
        f"{adv.osv.summary or adv.id}. Reported version {obs.version} is in the affected range "
        f"{m.affected_range} of {adv.id}"
        + (
            " (range from the advisory database)."
            if adv.confidence == "reviewed"
            else " (range from an aggregator, not checked against the advisory: verify)."
        )
        + f" Severity: {sev}."
    )
    if kev:
        detail += f" Known exploited: listed in the {kev.get('catalog')} ({kev.get('date_added')})."
    if adv.note:
        detail += f" {adv.note}"
    fix = (
        f"Upgrade {obs.product} to {m.fixed} or later."
        if m.fixed
        else f"Upgrade {obs.product} to a release that fixes {adv.id}."
    )
    head = [
        f"version: {obs.version} ({scheme})",
        f"affected: {m.affected_range}",
        source_line(adv),
        *([f"known_exploited: {kev.get('catalog')} {kev.get('date_added')}"] if kev else []),
    ]
    fields = {
        "id": finding_id(adv),
        "title": f"{adv.cve or adv.id}: {adv.osv.summary or 'published vulnerability'}"[:200],
        "severity": severity_of(adv),
        "detail": detail,
        "cve": adv.ids,
        "cwe": list(adv.osv.database_specific.get("cwe_ids") or []) or None,
        "references": [r["url"] for r in adv.osv.references if r.get("url")][:6],
        "remediation": " ".join(x for x in (fix, adv.remediation) if x),
        "confidence": "confirmed" if adv.confidence == "reviewed" else "unconfirmed",
    }
    return head, fields


@functools.lru_cache(maxsize=4096)
def _counts(advisories: tuple[Advisory, ...]) -> str:
    counts = severity_counts(advisories)
    text = ", ".join(f"{counts[k]} {k}" for k in _ORDER if counts.get(k))
    kev = sum(1 for a in advisories if a.known_exploited)
    return text + (f"; {kev} known exploited" if kev else "")


def missing_evidence(obs: ServiceObservation) -> str:
    """Which version evidence the scan lacked: the signature's version probes and what they
    returned, from the request log."""
    from aicensus.fingerprint.load import builtin_signatures

    sig = next((s for s in builtin_signatures() if s.id == obs.product), None)
    if sig is None or not sig.version:
        return f"{obs.product} exposes no version that aicensus reads"
    parts = []
    for ex in sig.version:
        probe = sig.probes.get(ex.probe)
        if probe is None:
            continue
        where = f"{probe.method} {probe.path}"
        field = ex.json or ex.header or ex.regex or "body"
        seen = [e for e in obs.request_log if e.path.split("?", 1)[0] == probe.path]
        if not seen:
            got = "not sent"
        else:
            last = seen[-1]
            got = (
                f"answered {last.status} without a usable version"
                if last.status is not None
                else f"failed ({last.error})"
            )
        parts.append(f"{where} ({field}): {got}")
    reported = f"reported {obs.version!r}, not an orderable version; " if obs.version else ""
    return reported + ("; ".join(parts) or "no version probe")


@detector("advisories", AdvisoryParams)
def _advisories(obs: ServiceObservation, p: AdvisoryParams, ctx: Context) -> Iterator[Hit]:
    bundle = ctx.advisories or current_bundle()
    verdict = judge(bundle, obs.product, obs.version)
    spec = bundle.products.get(obs.product or "")
    scheme = spec.scheme if spec else "pep440"
    stamp = f"advisories: bundle of {bundle.date}"
    if verdict.state is State.UNKNOWN_VERSION:
        n = len(verdict.candidates)
        missing = missing_evidence(obs)
        yield Hit(
            [
                f"version evidence missing: {missing}",
                f"may apply: {_counts(verdict.candidates)}",
                stamp,
            ],
            id=UNKNOWN_ID,
            title=f"Unknown version: {n} {obs.product} advisories may apply",
            severity=Severity.INFO,
            detail=(
                f"{n} published advisories for {obs.product} may apply ({_counts(verdict.candidates)})"
                f", but the service's version is unknown, so none is reported as affecting it. "
                f"Missing version evidence: {missing}."
            ),
            remediation=(
                f"Establish the {obs.product} version (e.g. from the host) and check it "
                f"with `aicensus advisories list --product {obs.product}`."
            ),
            confidence="likely",
        )
        return
    proof = [evidence_line(ev) for ev in obs.evidence if ev.kind == "version"]
    for ev in obs.evidence:
        if ev.kind == "version":
            proof += _log_for(obs, ev.probe)
    memo: dict[tuple[str | None, str | None], list[tuple[list[str], dict[str, Any]]]]
    memo = bundle.__dict__.setdefault("_hit_parts", {})
    key = (obs.product, obs.version)
    parts = memo.get(key)
    if parts is None:
        parts = memo[key] = [_affected_parts(obs, m, scheme) for m in verdict.matches]
    for head, fields in parts:
        # The lists in `fields` are shared between services: the Finding constructor copies them.
        yield Hit([*head, *proof], **fields)
    if verdict.undetermined:
        n = len(verdict.undetermined)
        ids = ", ".join(a.id for a in verdict.undetermined[:10]) + (" …" if n > 10 else "")
        yield Hit(
            [f"version: {obs.version} ({scheme})", f"undetermined: {ids}", stamp],
            id=UNDETERMINED_ID,
            title=f"{n} {obs.product} advisories cannot be judged for version {obs.version}",
            severity=Severity.INFO,
            detail=(
                f"{n} advisories for {obs.product} ({_counts(verdict.undetermined)}) give no "
                f"range comparable with version {obs.version} (commit ranges, or versions in "
                f"another numbering): {ids}."
            ),
            remediation="Check these advisories by hand against the deployed build.",
            confidence="unconfirmed",
        )
