"""Render an AuditResult: a terminal table, or the JSON document of docs/audit.md.

Every string that came from a server, a process table or a model file passes through
`terminal_safe` before it reaches the table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

import msgspec

from aicensus.assess.finding import Finding, Severity
from aicensus.assess.frameworks import finding_document
from aicensus.audit.records import AuditResult, LocalService, ModelFile
from aicensus.report.render import to_contract
from aicensus.report.text import terminal_safe

if TYPE_CHECKING:
    from aicensus.report.denied import PolicyReport

FORMATS = ("table", "json", "cyclonedx")
_SEVERITIES = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover


def severity_counts(findings: Sequence[Finding]) -> dict[str, int]:
    counts = Counter(str(f.severity) for f in findings)
    return {str(s): counts.get(str(s), 0) for s in _SEVERITIES}


def summary(result: AuditResult) -> dict[str, object]:
    findings = result.findings
    return {
        "services": len(result.services),
        "services_exposed": sum(s.exposure in ("lan", "public") for s in result.services),
        "stores": len(result.stores),
        "files": len(result.files),
        "findings": severity_counts(findings),
        "worst": str(result.worst()) if findings else None,
    }


# --------------------------------------------------------------------------- JSON


def to_document(result: AuditResult, policy: PolicyReport | None = None) -> dict[str, object]:
    """The JSON document: the result's fields, each service's observation in the scan's
    output contract (docs/output.md, without the request log), a flat sorted `findings` list
    and a `summary`; with a policy (`--policy`), its verdict as `policy`."""
    doc = msgspec.to_builtins(result)
    for service, raw in zip(result.services, doc["services"], strict=True):
        raw["observation"] = to_contract(service.observation)
        raw["url"] = service.url
    doc["findings"] = [finding_document(f) for f in result.findings]  # + atlas, nist fields
    doc["summary"] = summary(result)
    if policy is not None:
        doc["policy"] = policy.to_builtins()
    return doc


def write_json(out: IO[str], result: AuditResult, policy: PolicyReport | None = None) -> None:
    encoded = msgspec.json.encode(to_document(result, policy))
    out.write(msgspec.json.format(encoded, indent=2).decode() + "\n")


# --------------------------------------------------------------------------- table


def _table(out: IO[str], header: Sequence[str], rows: list[list[str]]) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    out.write("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip() + "\n")
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _process(s: LocalService) -> str:
    p = s.process
    if p is None:
        return "-"
    who = f", {terminal_safe(p.user, 20)}" if p.user else ""
    return f"{terminal_safe(p.name or '?', 30)} (pid {p.pid}{who})"


def _bound(s: LocalService) -> str:
    if not s.bound_to:
        return "-"
    text = ", ".join(s.bound_to[:2])
    more = s.bound_count - min(2, len(s.bound_to))
    return text + (f" (+{more})" if more > 0 else "")


def _services(out: IO[str], result: AuditResult, verbose: bool) -> None:
    where = "on this machine" if result.mode == "local" else "on the targets"
    if not result.services_checked:
        out.write("AI services: not checked (--no-services).\n")
        return
    if not result.services:
        table = (
            f"{result.listening} listening sockets read"
            if result.sockets_read
            else "socket table not readable"
        )
        detail = f"probed {result.probed} address:port pairs"
        if result.mode == "local":
            detail += f"; {table}"
        out.write(f"No AI services found {where} ({detail}).\n")
        return
    out.write(f"AI services {where} ({len(result.services)})\n")
    rows = [
        [
            s.url,
            s.product or "-",
            terminal_safe(s.version or "-", 24),
            s.auth,
            s.exposure,
            _bound(s),
            _process(s),
        ]
        for s in result.services
    ]
    header = ("SERVICE", "PRODUCT", "VERSION", "AUTH", "EXPOSURE", "BOUND TO", "PROCESS")
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    out.write("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip() + "\n")
    for s, row in zip(result.services, rows, strict=True):
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
        models = s.observation.models
        if models:
            names = ", ".join(terminal_safe(m.name, 40) for m in models[:4])
            more = f" (+{len(models) - 4})" if len(models) > 4 else ""
            out.write(f"    models: {names}{more}\n")
        if s.reachable_on:
            out.write(f"    reachable on: {', '.join(s.reachable_on[:6])}\n")
        if s.fix:
            out.write(f"    fix: {s.fix}\n")
        if verbose and s.process is not None and s.process.cmdline:
            out.write(f"    command: {terminal_safe(' '.join(s.process.cmdline), 300)}\n")


def _stores(out: IO[str], result: AuditResult, verbose: bool) -> None:
    if not result.stores:
        out.write(f"No model stores found (looked in {len(result.searched)} places")
        out.write("; --verbose lists them).\n" if not verbose and result.searched else ").\n")
        if verbose:
            for place in result.searched:
                out.write(f"    {terminal_safe(place, 300)}\n")
        return
    out.write(f"Model stores ({len(result.stores)})\n")
    rows = [
        [st.kind, terminal_safe(st.path, 80), str(st.models), human_bytes(st.size_bytes),
         terminal_safe(st.source, 40)]
        for st in result.stores
    ]  # fmt: skip
    _table(out, ("KIND", "PATH", "MODELS", "SIZE", "FOUND VIA"), rows)


def _who(m: ModelFile) -> str:
    att = m.attribution
    if not att.developer:
        return "unknown" if att.status != "ambiguous" else "ambiguous"
    return f"{terminal_safe(att.developer, 30)} ({att.country or '??'})"


def _risk(m: ModelFile) -> str:
    worst = [f for f in m.findings if f.severity.rank >= Severity.LOW.rank]
    if not worst:
        return "-"
    top = worst[0]
    return f"{top.severity}: {top.id}" + (f" (+{len(worst) - 1})" if len(worst) > 1 else "")


def _files(out: IO[str], result: AuditResult) -> None:
    if not result.files:
        out.write("No model files found.\n")
        return
    out.write(f"Model files ({len(result.files)})\n")
    rows = [
        [
            terminal_safe(m.name, 56),
            m.format,
            terminal_safe(m.quantization or "-", 12),
            terminal_safe(m.parameter_size or "-", 10),
            human_bytes(m.size_bytes),
            _who(m),
            terminal_safe(m.attribution.licence or m.licence_declared or "-", 36),
            _risk(m),
        ]
        for m in result.files
    ]
    header = (
        "MODEL",
        "FORMAT",
        "QUANT",
        "PARAMS",
        "SIZE",
        "DEVELOPER (COUNTRY)",
        "LICENCE",
        "RISK",
    )
    _table(out, header, rows)
    for m in result.files:
        for line in ([m.error] if m.error else []) + m.notes[:3]:
            out.write(f"    {terminal_safe(m.name, 56)}: {terminal_safe(line, 200)}\n")


def _findings(out: IO[str], result: AuditResult, verbose: bool) -> None:
    findings = result.findings
    counts = severity_counts(findings)
    shown = [f for f in findings if verbose or f.severity != Severity.INFO]
    listing = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    if not findings:
        out.write("No findings.\n")
        return
    hidden = len(findings) - len(shown)
    note = f"; {hidden} info not shown, --verbose shows them" if hidden else ""
    out.write(f"Findings ({listing}{note})\n")
    for f in shown:
        if f.kind == "file":
            where = f.model or f.subject
        else:
            where = f"{f.subject} model {f.model}" if f.model else f.subject
        out.write(
            f"{str(f.severity).upper():8}  {f.id}  {terminal_safe(where, 80)}\n"
            f"          {terminal_safe(f.title, 160)}\n"
        )
        if f.kind == "file":
            out.write(f"          file: {terminal_safe(f.subject, 200)}\n")
        if verbose:
            for line in f.evidence[:8]:
                out.write(f"          - {terminal_safe(line, 200)}\n")
        out.write(f"          fix: {terminal_safe(f.remediation, 300)}\n")


def write_table(
    out: IO[str],
    result: AuditResult,
    *,
    verbose: bool = False,
    policy: PolicyReport | None = None,
) -> None:
    target = ", ".join(terminal_safe(t, 60) for t in result.targets[:5])
    scope = f"targets {target}" if result.mode == "targets" else "this machine"
    out.write(f"aicensus audit of {terminal_safe(result.host, 80)}: {scope}\n\n")
    if result.mode == "local" or result.services or result.probed:
        _services(out, result, verbose)
        out.write("\n")
    _stores(out, result, verbose)
    out.write("\n")
    _files(out, result)
    out.write("\n")
    _findings(out, result, verbose)
    if policy is not None:
        from aicensus.report.denied import write_denied_table

        out.write("\n")
        write_denied_table(out, policy)
    if verbose and result.notes:
        out.write("\nNotes\n")
        for note in result.notes[:50]:
            out.write(f"    {terminal_safe(note, 300)}\n")
    elif result.notes:
        out.write(
            f"\n{len(result.notes)} notes (folders or files not read, limits); -v shows them\n"
        )
    if not (result.services or result.stores or result.files):
        out.write("\nNothing found: no AI services, no model stores, no model files.\n")
