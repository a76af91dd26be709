"""Render observations as table, json or jsonl: the output contract of `scan` and `ingest`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

import msgspec

from aicensus.assess.honeypot import HONEYPOT, SUSPICIOUS, host_verdict
from aicensus.records import McpInventory, ScanStatus, ServiceObservation
from aicensus.report.text import json_safe, terminal_safe

FORMATS = ("table", "json", "jsonl")
_encoder = msgspec.json.Encoder()


def service_url(obs: ServiceObservation) -> str:
    """The service's URL (`tcp://` when it did not speak HTTP), IPv6 in brackets."""
    host = f"[{obs.ip}]" if ":" in obs.ip else obs.ip
    return f"{obs.scheme or 'tcp'}://{host}:{obs.port}/"


def to_contract(obs: ServiceObservation, *, with_log: bool = False) -> dict[str, object]:
    """One service as the documented JSON object (docs/output.md)."""
    doc = msgspec.to_builtins(obs)
    doc["suspected_honeypot"] = obs.status == ScanStatus.SUSPECTED_HONEYPOT
    # This service's own honeypot evidence, weighed (assess/honeypot.py); the report adds the
    # population's (identical inventories and banners across addresses).
    verdict = host_verdict(obs)
    doc["honeypot"] = {"verdict": verdict.verdict, "score": verdict.score}
    if not with_log:
        doc.pop("request_log", None)
    return doc


def write_jsonl(out: IO[str], obs: ServiceObservation, *, with_log: bool = False) -> None:
    out.write(json_safe(_encoder.encode(to_contract(obs, with_log=with_log)).decode()) + "\n")


def write_json(
    out: IO[str], observations: Iterable[ServiceObservation], *, with_log: bool = False
) -> None:
    docs = [to_contract(o, with_log=with_log) for o in observations]
    out.write(json_safe(msgspec.json.format(_encoder.encode(docs), indent=2).decode()) + "\n")


def _product_cell(obs: ServiceObservation) -> str:
    if obs.status == ScanStatus.SUSPECTED_HONEYPOT:
        return obs.product or "honeypot?"
    verdict = host_verdict(obs).verdict
    mark = {HONEYPOT: " (honeypot)", SUSPICIOUS: " (honeypot?)"}.get(verdict, "")
    return (obs.product or "-") + mark


def _models_cell(obs: ServiceObservation, limit: int = 3) -> str:
    if obs.mcp is not None:
        return _mcp_cell(obs.mcp)
    names = [terminal_safe(m.name, 40) for m in obs.models[:limit]]
    more = len(obs.models) - limit
    return ", ".join(names) + (f" (+{more})" if more > 0 else "")


def _mcp_cell(inv: McpInventory) -> str:
    if inv.auth_required:
        return f"MCP {inv.endpoint}: auth required"
    name = terminal_safe(f"{inv.server_name or '?'} {inv.server_version or ''}".strip(), 40)
    return (
        f"MCP {name}: {len(inv.tools)} tools ({len(inv.flagged())} flagged), "
        f"{len(inv.resources)} resources, {len(inv.prompts)} prompts"
    )


def _flagged_lines(out: IO[str], obs: ServiceObservation) -> None:
    """Every tool that runs commands, writes files, fetches URLs or holds credentials."""
    for tool in obs.mcp.flagged() if obs.mcp is not None else []:
        risks = ",".join(tool.risks)
        out.write(f"    tool     {terminal_safe(tool.name, 60):32} {terminal_safe(risks, 60)}\n")


def write_table(
    out: IO[str], observations: Iterable[ServiceObservation], *, explain: bool = False
) -> int:
    rows = [
        (
            f"{o.scheme or '-'}://{terminal_safe(o.ip, 45)}:{o.port}"
            if ":" not in o.ip
            else f"{o.scheme or '-'}://[{terminal_safe(o.ip, 45)}]:{o.port}",
            _product_cell(o),
            terminal_safe(o.version or "-", 30),
            str(o.auth),
            f"{o.confidence:.2f}",
            str(len(o.models)),
            _models_cell(o),
            o,
        )
        for o in observations
    ]
    header = ("SERVICE", "PRODUCT", "VERSION", "AUTH", "CONF", "#", "MODELS")
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]  # type: ignore[arg-type]
    out.write("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip() + "\n")
    for row in rows:
        cells = row[:7]
        out.write("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() + "\n")
        _flagged_lines(out, row[7])
        if explain:
            _explain(out, row[7])
    return len(rows)


def _explain(out: IO[str], obs: ServiceObservation) -> None:
    for ev in obs.evidence + obs.auth_evidence:
        out.write(
            f"    {ev.kind:8} {terminal_safe(ev.probe, 60):32} {terminal_safe(ev.marker, 120)}\n"
        )
    for m in obs.models:
        who = f"{m.developer or 'unknown'} ({m.country or '??'})"
        if m.matched_by:  # what the attribution rests on: a family match is the weaker one
            who += f" [matched by {m.matched_by}, {m.attribution_confidence:.2f}]"
        caps = ",".join(m.capabilities)
        out.write(f"    model    {terminal_safe(m.name, 60):32} {who} {terminal_safe(caps, 60)}\n")
