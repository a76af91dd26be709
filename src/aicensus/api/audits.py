"""Audit: this machine's AI estate — its AI services and who can reach them, its model stores
and model files (provenance, licence, code-execution risks) — and the policy over it."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from aicensus.assess.finding import Finding, Severity
from aicensus.assess.policy import Policy, load_policy
from aicensus.audit import render as _render
from aicensus.audit.files import DEFAULT_HASH_LIMIT
from aicensus.audit.records import AuditError, AuditResult
from aicensus.report.denied import PolicyReport, audit_policy_report

AUDIT_FORMATS: tuple[str, ...] = _render.FORMATS
SEVERITIES: tuple[str, ...] = tuple(str(s) for s in Severity)

__all__ = [
    "AUDIT_FORMATS",
    "DEFAULT_HASH_LIMIT",
    "SEVERITIES",
    "AuditResult",
    "Finding",
    "PolicyReport",
    "audit_policy",
    "audit_summary",
    "findings_at_least",
    "parse_size",
    "run_audit",
    "write_audit",
]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """'256MiB', '2G', '1000' → bytes (AuditError when it is none of these)."""
    if isinstance(text, int):
        return text
    m = _SIZE.match(text)
    if not m:
        raise AuditError(f"bad size {text!r}: expected a number with an optional unit (MiB, GB …)")
    unit = (m.group(2) or "").lower().removesuffix("b")
    scale = 1
    if unit:
        scale = (1024 if unit.endswith("i") else 1000) ** ("kmgt".index(unit[0]) + 1)
    return int(float(m.group(1)) * scale)


def run_audit(
    targets: Sequence[str] = (),
    *,
    paths: Sequence[str | os.PathLike[str]] = (),
    ports: str | None = None,
    services: bool = True,
    stores: bool = True,
    all_users: bool = False,
    loopback_only: bool = False,
    hash_all: bool = False,
    hash_limit: int | str = DEFAULT_HASH_LIMIT,
    timeout: float = 2.0,
    home: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> AuditResult:
    """Audit this machine (or, with `targets`, those hosts over the network, plus this
    machine's model files). Read-only: services get the scanner's read-only requests, files
    are read, never executed or loaded.

    `paths`: extra folders or files to inventory; `stores=False` skips the usual model stores
    (of `home`, default the user's); `services=False` skips the service check; `hash_limit`
    (bytes or '256MiB') is the largest file hashed unless `hash_all`. Findings come most
    severe first in `result.findings`."""
    # Imported here: aicensus.audit.run scans through this package (an import cycle).
    from aicensus.audit.run import run_audit as _run

    return _run(
        targets,
        paths=paths,
        ports=ports,
        services=services,
        stores=stores,
        all_users=all_users,
        loopback_only=loopback_only,
        hash_all=hash_all,
        hash_limit=parse_size(hash_limit),
        timeout=timeout,
        home=home,
        env=env,
        progress=progress,
    )


def audit_policy(
    result: AuditResult, policy: str | Path | Policy, file: str | None = None
) -> PolicyReport:
    """A policy's model rules over everything an audit found (the models its services list
    and its model files): each denied model with its card summary and top alternatives."""
    if isinstance(policy, str | Path):
        file = file or str(policy)
        policy = load_policy(policy)
    return audit_policy_report(result, policy, file)


def audit_summary(result: AuditResult) -> dict[str, object]:
    """Counts: services (and those reachable from the network), stores, files, findings by
    severity, the worst severity."""
    return _render.summary(result)


def findings_at_least(result: AuditResult, severity: str) -> list[Finding]:
    """The findings of `severity` (one of SEVERITIES) or worse."""
    threshold = Severity(severity).rank
    return [f for f in result.findings if f.severity.rank >= threshold]


def write_audit(
    out: IO[str],
    result: AuditResult,
    fmt: str = "table",
    *,
    verbose: bool = False,
    policy: PolicyReport | None = None,
) -> None:
    """Write an audit as table (`verbose`: evidence, info findings, notes), json or cyclonedx
    (an AI bill of materials, CycloneDX 1.6); `policy` adds the denied models (table, json).
    The whole report is rendered before any of it is written, so a report that cannot be
    rendered leaves no half-written output (an AuditError instead)."""
    if fmt not in AUDIT_FORMATS:
        raise AuditError(f"unknown audit format {fmt!r}; known: {', '.join(AUDIT_FORMATS)}")
    buffer = io.StringIO()
    try:
        if fmt == "json":
            _render.write_json(buffer, result, policy)
        elif fmt == "cyclonedx":
            # Imported here: the CycloneDX validator costs a second at every start of the CLI.
            from aicensus.report.cyclonedx import write_audit_cyclonedx

            write_audit_cyclonedx(buffer, result)
        else:
            _render.write_table(buffer, result, verbose=verbose, policy=policy)
    except (ValueError, TypeError, OverflowError) as exc:
        raise AuditError(f"cannot render the {fmt} report: {type(exc).__name__}: {exc}") from None
    out.write(buffer.getvalue())
