"""Exports of a stored scan plus its findings: json, csv, sarif (2.1.0), cyclonedx (1.6 ML-BOM)
and a terminal findings table.

Every export goes through `redact_secrets`: a credential a server leaked in a system prompt is
reported by kind and location in the findings and never copied into any output.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Any

import msgspec

from aicensus.assess import Finding, Severity, builtin_checks, redact_secrets, sort_key
from aicensus.assess.advisories.match import bundle_line, bundle_stamp, state_of
from aicensus.assess.finding import OWASP_LLM_2025, OWASP_LLM_URL
from aicensus.assess.frameworks import (
    Refs,
    finding_document,
    refs_of,
    sarif_relationships,
    sarif_taxonomies,
)
from aicensus.assess.honeypot import HONEYPOT, NONE
from aicensus.assess.honeypot import summary as honeypot_summary
from aicensus.records import ServiceObservation
from aicensus.report.render import service_url, to_contract
from aicensus.report.source import Assessed
from aicensus.report.text import json_safe, spell_controls, terminal_safe
from aicensus.version import __version__

FORMATS = ("table", "json", "csv", "sarif", "cyclonedx")
INFORMATION_URI = "https://github.com/aicensus/aicensus"


def redact_deep(value: Any) -> Any:
    """A copy of a builtins tree (dicts, lists, strings) with every secret redacted."""
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, dict):
        return {k: redact_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_deep(v) for v in value]
    return value


def _encode(doc: object) -> str:
    return json_safe(msgspec.json.format(msgspec.json.encode(doc), indent=2).decode()) + "\n"


def severity_counts(findings: Sequence[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {str(s): counts.get(s, 0) for s in Severity}


# ---------------------------------------------------------------- json


def to_json_doc(assessed: Assessed) -> dict[str, object]:
    scan = assessed.scan
    services = []
    for obs, findings in assessed.services:
        doc = to_contract(obs)
        doc["findings"] = [finding_document(f) for f in findings]
        if obs.product is not None:
            doc["advisory_state"] = state_of(obs.product, obs.version)
        verdict = assessed.honeypots.get(obs.ip)
        doc["honeypot"] = (
            msgspec.to_builtins(verdict) if verdict is not None else {"verdict": NONE, "score": 0.0}
        )
        services.append(doc)
    policy = {} if assessed.policy is None else {"policy": assessed.policy.to_builtins()}
    return redact_deep({
        "tool": {"name": "aicensus", "version": __version__},
        "scan": None if scan is None else {
            "scan_id": scan.scan_id, "kind": scan.kind, "status": scan.status,
            "started_at": scan.started_at.isoformat(),
            "finished_at": scan.finished_at.isoformat() if scan.finished_at else None,
        },
        "summary": {
            "services": len(assessed.services),
            "models": sum(len(o.models) for o, _ in assessed.services),
            "findings": severity_counts(assessed.findings),
            "honeypots": sum(v.verdict == HONEYPOT for v in assessed.honeypots.values()),
        },
        "honeypots": honeypot_summary(assessed.honeypots),
        "advisories": bundle_stamp(),
        "services": services,
        **policy,
    })  # fmt: skip


def write_json(out: IO[str], assessed: Assessed) -> None:
    out.write(_encode(to_json_doc(assessed)))


# ---------------------------------------------------------------- csv

CSV_COLUMNS = (
    "severity", "id", "title", "ip", "port", "product", "version", "model", "confidence",
    "owasp", "cwe", "cve", "evidence", "remediation", "references",
)  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A cell spreadsheets will not run: text starting with = + - @ tab or CR gets a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(out: IO[str], assessed: Assessed, *, terminal: bool = False) -> None:
    """One row per finding. For a terminal (`terminal`), control, C1 and bidi characters are
    spelled out as visible escapes; a file keeps the exact values."""
    cell = spell_controls if terminal else str
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in sorted(assessed.findings, key=sort_key):
        row = [
            f.severity,
            f.id,
            f.title,
            f.ip,
            f.port,
            f.product,
            f.version,
            f.model,
            f.confidence,
            " ".join(f.owasp),
            " ".join(f.cwe),
            " ".join(f.cve),
            " | ".join(f.evidence),
            f.remediation,
            " ".join(f.references),
        ]
        writer.writerow(
            [csv_safe(cell(redact_secrets(str(c))) if c is not None else "") for c in row]
        )


# ---------------------------------------------------------------- sarif

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
          Severity.LOW: "note", Severity.INFO: "note"}  # fmt: skip
_SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                      Severity.LOW: "3.0", Severity.INFO: "0.0"}  # fmt: skip


def fingerprint(f: Finding) -> str:
    return hashlib.sha256("\x1f".join(map(str, f.key())).encode()).hexdigest()


def _tags(f: Finding) -> list[str]:
    owasp = [f"OWASP-{o}" for o in f.owasp]
    return ["security", "ai", *owasp, *f.cwe, *f.cve]


def _rule(f: Finding, checks: dict[str, Any]) -> dict[str, object]:
    check = checks.get(f.id)
    description = check.description if check is not None else f.detail
    rule: dict[str, object] = {
        "id": f.id,
        "name": "".join(w.capitalize() for w in f.id.removeprefix("AIC-").split("-")),
        "shortDescription": {"text": f.title},
        "fullDescription": {"text": description},
        "help": {
            "text": f"{f.remediation}\n\nOWASP Top 10 for LLM Applications 2025: "
            + (", ".join(f"{o} {OWASP_LLM_2025[o[:5]]}" for o in f.owasp) or "n/a")
        },
        "defaultConfiguration": {"level": _LEVEL[f.severity]},
        "properties": {
            "tags": _tags(f),
            "security-severity": _SECURITY_SEVERITY[f.severity],
            "precision": "high" if f.confidence == "confirmed" else "medium",
        },
    }
    refs = f.references or ([OWASP_LLM_URL] if f.owasp else [])
    if refs:
        rule["helpUri"] = refs[0]
    rule["relationships"] = sarif_relationships(refs_of(f))
    return rule


def _message(obs: ServiceObservation, f: Finding) -> str:
    what = f"{f.product or 'service'}{' ' + f.version if f.version else ''}"
    model = f" model {f.model}" if f.model else ""
    return f"{f.title}: {what} at {service_url(obs)}{model}."


def to_sarif(assessed: Assessed) -> dict[str, object]:
    checks = {c.id: c for c in builtin_checks()}
    rules: list[dict[str, object]] = []
    index: dict[str, int] = {}
    results: list[dict[str, object]] = []
    used = Refs()
    for obs, findings in assessed.services:
        for f in findings:
            used = used.merged(refs_of(f))
            if f.id not in index:
                index[f.id] = len(rules)
                rules.append(_rule(f, checks))
            location: dict[str, object] = {
                "physicalLocation": {"artifactLocation": {"uri": service_url(obs)}},
            }
            if f.model:
                location["logicalLocations"] = [{
                    "name": f.model, "kind": "resource",
                    "fullyQualifiedName": f"{service_url(obs)}#model={f.model}",
                }]  # fmt: skip
            results.append({
                "ruleId": f.id,
                "ruleIndex": index[f.id],
                "level": _LEVEL[f.severity],
                "message": {"text": _message(obs, f)},
                "locations": [location],
                "partialFingerprints": {"aicensusFinding/v1": fingerprint(f)},
                "properties": {
                    "severity": str(f.severity), "confidence": f.confidence, "ip": f.ip,
                    "port": f.port, "product": f.product, "version": f.version, "model": f.model,
                    "evidence": f.evidence, "remediation": f.remediation, "owasp": f.owasp,
                    "cwe": f.cwe, "atlas": f.atlas, "nist": f.nist, "cve": f.cve,
                    "detail": f.detail,
                },
            })  # fmt: skip
    run: dict[str, object] = {
        "tool": {"driver": {
            "name": "aicensus", "version": __version__, "semanticVersion": __version__,
            "informationUri": INFORMATION_URI, "rules": rules,
        }},
        "results": results,
        "columnKind": "unicodeCodePoints",
    }  # fmt: skip
    if used != Refs():
        run["taxonomies"] = sarif_taxonomies(used)
    if assessed.scan is not None:
        run["automationDetails"] = {"id": f"aicensus/scan/{assessed.scan.scan_id}"}
        scan = assessed.scan
        invocation: dict[str, object] = {
            "executionSuccessful": scan.status in ("completed", "running"),
            "startTimeUtc": _utc(scan.started_at),
        }
        if scan.finished_at is not None:
            invocation["endTimeUtc"] = _utc(scan.finished_at)
        run["invocations"] = [invocation]
    return redact_deep({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]})


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_sarif(out: IO[str], assessed: Assessed) -> None:
    out.write(_encode(to_sarif(assessed)))


# ---------------------------------------------------------------- table


def write_table(out: IO[str], assessed: Assessed) -> int:
    rows = [
        (str(f.severity).upper(), f.id, terminal_safe(f.subject, 120),
         terminal_safe(f.product or "-", 30), terminal_safe(f.model or "-", 40),
         terminal_safe(f.title, 90))
        for f in sorted(assessed.findings, key=sort_key)
    ]  # fmt: skip
    header = ("SEVERITY", "ID", "SERVICE", "PRODUCT", "MODEL", "TITLE")
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    out.write("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip() + "\n")
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
    out.write("\n" + terminal_safe(bundle_line(), 300) + "\n")
    write_honeypots(out, assessed)
    if assessed.policy is not None:
        from aicensus.report.denied import write_denied_table

        out.write("\n")
        write_denied_table(out, assessed.policy)
    return len(rows)


def write_honeypots(out: IO[str], assessed: Assessed) -> None:
    """The hosts the honeypot classifier names or finds suspicious, with their evidence."""
    named = [v for v in assessed.honeypots.values() if v.verdict != NONE]
    if not named:
        return
    count = sum(v.verdict == HONEYPOT for v in named)
    out.write(f"\nhoneypots: {count} named, {len(named) - count} suspicious\n")
    for v in named:
        ports = ",".join(map(str, v.ports)) or "-"
        out.write(f"  {v.verdict.upper():10} {terminal_safe(v.ip, 45)} ports {ports} "
                  f"score {v.score:.2f}\n")  # fmt: skip
        for e in v.evidence:
            out.write(f"    {e.kind:20} {e.weight:.2f}  {terminal_safe(e.detail, 120)}\n")


def write(out: IO[str], assessed: Assessed, fmt: str, *, terminal: bool = False) -> None:
    """`terminal`: the output is a terminal (standard output), where CSV spells out controls."""
    if fmt == "cyclonedx":
        from aicensus.report.cyclonedx import write_cyclonedx

        write_cyclonedx(out, assessed)
        return
    if fmt == "csv":
        write_csv(out, assessed, terminal=terminal)
        return
    writers = {"table": write_table, "json": write_json, "sarif": write_sarif}
    if fmt not in writers:
        raise ValueError(f"unknown report format {fmt!r}")
    writers[fmt](out, assessed)


def render(assessed: Assessed, fmt: str) -> str:
    buf = io.StringIO()
    write(buf, assessed, fmt)
    return buf.getvalue()
