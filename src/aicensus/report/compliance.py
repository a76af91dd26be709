"""`aicensus report compliance`: per policy pack, what violates it, where, since when (from the
store's observation history) and what to do (remediation, and open alternatives that exclude the
pack's denied countries). Text, JSON, HTML and SARIF (framework ids as SARIF taxonomies)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from aicensus.assess.compliance import PackRun, PackViolation, check_pack
from aicensus.assess.finding import Finding
from aicensus.assess.frameworks import KINDS, Refs, sarif_relationships, sarif_taxonomies
from aicensus.records import ServiceObservation
from aicensus.report.text import terminal_safe
from aicensus.version import __version__

VERDICT_ORDER = ("violation", "unknown", "undetermined", "review")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


class Alternative(msgspec.Struct, kw_only=True):
    name: str
    developer: str
    country: str | None
    reason: str


class Item(msgspec.Struct, kw_only=True):
    verdict: PackViolation
    since: str | None = None  # first time this model (or service) was observed at this address
    alternatives: list[Alternative] = msgspec.field(default_factory=list)


class PackSection(msgspec.Struct, kw_only=True):
    name: str
    title: str
    issuer: str
    jurisdiction: str
    date: str
    status: str
    source: str
    scope_note: str
    verification: str
    profile: str | None
    params: dict[str, list[str]]
    refs: Refs
    counts: dict[str, int]
    compliant: bool  # no violation (unknown / undetermined items are listed, not passed)
    items: list[Item]


class ComplianceReport(msgspec.Struct, kw_only=True):
    scan_id: int | None
    services_checked: int
    packs: list[PackSection]


# ---------------------------------------------------------------- building

History = dict[tuple[str, int, str], datetime]


def history_from(observations: Sequence[ServiceObservation]) -> History:
    """(ip, port, model or '') -> earliest observed_at, over observations from any scans."""
    first: History = {}
    for obs in observations:
        try:
            when = datetime.fromisoformat(obs.observed_at) if obs.observed_at else None
        except ValueError:
            when = None
        if when is None:
            continue
        for model in ["", *(m.name for m in obs.models)]:
            key = (obs.ip, obs.port, model)
            if key not in first or when < first[key]:
                first[key] = when
    return first


def store_history(db: str) -> History:
    """The observation history of a store, through the store's public reader (no SQL here)."""
    from aicensus.store import Store

    with Store.open(db, read_only=True) as store:
        return history_from(list(store.observations(None)))


def _alternatives(
    model: str,
    countries: list[str],
    cache: dict[str, list[Alternative]],
    licence_class: str = "any",
) -> list[Alternative]:
    key = f"{model}|{','.join(countries)}|{licence_class}"
    if key not in cache:
        from aicensus.attribute.alternatives import top_alternatives

        found = top_alternatives(
            model, exclude_countries=countries, n=3, licence_class=licence_class
        )
        cache[key] = [
            Alternative(name=a.name, developer=a.developer, country=a.country, reason=a.reason)
            for a in found
        ]
    return cache[key]


def build_report(
    runs: Sequence[PackRun],
    services: Sequence[tuple[ServiceObservation, Sequence[Finding]]],
    *,
    history: History | None = None,
    scan_id: int | None = None,
) -> ComplianceReport:
    history = history or {}
    cache: dict[str, list[Alternative]] = {}
    sections = []
    all_verdicts = [(run, check_pack(run, services)) for run in runs]
    # Alternatives avoid every country any selected pack denies, and the country of a developer
    # any selected pack bans (the catalogue cannot exclude one developer's derivatives otherwise).
    countries = sorted(
        {c for run in runs for c in run.denied_countries()}
        | {v.chain.country for _, vs in all_verdicts for v in vs
           if v.rule.startswith("developers") and v.chain and v.chain.country}
    )  # fmt: skip
    for run, verdicts in all_verdicts:
        items = []
        for v in verdicts:
            when = history.get((v.ip, v.port, v.model or "")) or history.get((v.ip, v.port, ""))
            alts: list[Alternative] = []
            if (
                v.model
                and _model_rule(v)
                and (v.verdict == "violation" or v.rule.startswith("developers"))
            ):
                # A developer ban: propose nothing from the banned developer's country (the
                # catalogue cannot exclude one developer's derivatives any other way).
                klass = "permissive" if v.rule.startswith(("clauses", "licences")) else "any"
                alts = _alternatives(v.model, countries, cache, klass)
            items.append(
                Item(verdict=v, since=when.isoformat() if when else None, alternatives=alts)
            )
        items.sort(
            key=lambda i: (VERDICT_ORDER.index(i.verdict.verdict), i.verdict.ip, i.verdict.port)
        )
        counts = {k: sum(1 for i in items if i.verdict.verdict == k) for k in VERDICT_ORDER}
        p = run.pack
        sections.append(
            PackSection(
                name=p.name, title=p.title, issuer=p.issuer, jurisdiction=p.jurisdiction,
                date=p.date, status=p.status, source=p.source, scope_note=p.scope_note,
                verification=p.verification, profile=run.profile, params=run.params, refs=p.refs,
                counts=counts, compliant=counts["violation"] == 0, items=items,
            )
        )  # fmt: skip
    return ComplianceReport(scan_id=scan_id, services_checked=len(services), packs=sections)


def _model_rule(v: PackViolation) -> bool:
    return v.rule.split(".", 1)[0] in ("countries", "developers", "clauses", "licences")


# ---------------------------------------------------------------- rendering


def to_json(report: ComplianceReport) -> str:
    doc = {"tool": {"name": "aicensus", "version": __version__}, **msgspec.to_builtins(report)}
    return msgspec.json.format(msgspec.json.encode(doc), indent=2).decode()


def _refs_line(refs: Refs) -> str:
    parts = [f"{k.upper()} {', '.join(getattr(refs, k))}" for k in KINDS if getattr(refs, k)]
    return "; ".join(parts) or "-"


def to_text(report: ComplianceReport) -> str:
    s = terminal_safe
    out = [f"Compliance report: {report.services_checked} services checked"]
    for p in report.packs:
        counts = ", ".join(f"{n} {k}" for k, n in p.counts.items() if n)
        verdict = "COMPLIANT" if p.compliant else "VIOLATED"
        out += [
            "",
            f"== {p.name}: {verdict} ({counts or 'nothing found'})",
            f"   {s(p.title, 160)}",
            f"   {p.status}, {p.date}; {s(p.issuer, 120)}; {s(p.jurisdiction, 120)}",
            f"   source: {s(p.source, 200)}",
            f"   covers: {s(p.scope_note, 1200)}",
            f"   frameworks: {_refs_line(p.refs)}",
        ]
        if p.profile:
            out.append(f"   profile: {p.profile}")
        for item in p.items:
            v = item.verdict
            since = f" since {item.since[:10]}" if item.since else ""
            out.append(f"   [{v.verdict}] {v.where} {v.product or '-'}{since}: {s(v.message, 200)}")
            out.append(f"      rule {v.rule}; {s(v.reading, 200)}")
            out += [f"      evidence: {s(e, 300)}" for e in v.evidence]
            if item.alternatives:
                alts = ", ".join(
                    f"{a.name} ({a.developer}, {a.country or '??'})" for a in item.alternatives
                )
                out.append(f"      alternatives: {s(alts, 300)}")
            if v.remediation and v.verdict == "violation":
                out.append(f"      remediation: {s(v.remediation, 300)}")
    return "\n".join(out) + "\n"


def to_html(report: ComplianceReport) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>aicensus compliance report</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px;vertical-align:top}.violation{color:#b00}"
        ".ok{color:#070}</style></head><body>",
        f"<h1>Compliance report</h1><p>{report.services_checked} services checked.</p>",
        "<table><tr><th>Pack</th><th>Status</th><th>Date</th><th>Verdict</th><th>Counts</th></tr>",
    ]
    for p in report.packs:
        cls, word = ("ok", "compliant") if p.compliant else ("violation", "violated")
        counts = ", ".join(f"{n} {k}" for k, n in p.counts.items() if n) or "-"
        parts.append(
            f"<tr><td><a href='#{e(p.name)}'>{e(p.name)}</a></td><td>{e(p.status)}</td>"
            f"<td>{e(p.date)}</td><td class='{cls}'>{word}</td><td>{e(counts)}</td></tr>"
        )
    parts.append("</table>")
    for p in report.packs:
        parts += [
            f"<h2 id='{e(p.name)}'>{e(p.name)}</h2><p>{e(p.title)}<br>{e(p.issuer)} — "
            f"{e(p.jurisdiction)}; {e(p.status)}, {e(p.date)}; "
            f"<a href='{e(p.source)}' rel='noopener noreferrer'>source</a></p>",
            f"<p><b>Covers:</b> {e(p.scope_note)}</p><p><b>Checked:</b> {e(p.verification)}</p>",
            f"<p><b>Frameworks:</b> {e(_refs_line(p.refs))}</p>",
        ]
        if not p.items:
            parts.append("<p class='ok'>Nothing found.</p>")
            continue
        parts.append(
            "<table><tr><th>Verdict</th><th>Where</th><th>Since</th><th>Model</th><th>Rule</th>"
            "<th>Evidence</th><th>Alternatives</th></tr>"
        )
        for item in p.items:
            v = item.verdict
            ev = "<br>".join(e(x) for x in v.evidence)
            alts = "<br>".join(
                e(f"{a.name} ({a.developer}, {a.country or '??'})") for a in item.alternatives
            )
            parts.append(
                f"<tr><td class='{e(v.verdict)}'>{e(v.verdict)}</td><td>{e(v.where)} "
                f"{e(v.product or '')}</td><td>{e((item.since or '-')[:10])}</td>"
                f"<td>{e(v.model or '-')}</td><td>{e(v.rule)}<br><small>{e(v.reading)}</small></td>"
                f"<td>{ev}</td><td>{alts}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def to_sarif(report: ComplianceReport) -> dict[str, Any]:
    rules: list[dict[str, object]] = []
    index: dict[str, int] = {}
    results: list[dict[str, object]] = []
    used = Refs()
    level = {
        "violation": "error",
        "unknown": "warning",
        "undetermined": "warning",
        "review": "note",
    }
    for p in report.packs:
        for item in p.items:
            v = item.verdict
            rule_id = f"{p.name}/{v.rule}"
            used = used.merged(v.refs)
            if rule_id not in index:
                index[rule_id] = len(rules)
                rules.append({
                    "id": rule_id, "shortDescription": {"text": p.title},
                    "fullDescription": {"text": p.scope_note}, "helpUri": p.source,
                    "help": {"text": v.remediation or p.scope_note},
                    "relationships": sarif_relationships(v.refs),
                    "properties": {"pack": p.name, "status": p.status, "date": p.date,
                                   "issuer": p.issuer, **{k: getattr(v.refs, k) for k in KINDS}},
                })  # fmt: skip
            host = f"[{v.ip}]" if ":" in v.ip else v.ip
            results.append({
                "ruleId": rule_id, "ruleIndex": index[rule_id], "level": level[v.verdict],
                "kind": "fail" if v.verdict == "violation" else "review",
                "message": {"text": v.message},
                "locations": [{"physicalLocation": {"artifactLocation": {
                    "uri": f"tcp://{host}:{v.port}"}}}],
                "properties": {"verdict": v.verdict, "evidence": v.evidence, "since": item.since,
                               "chain": msgspec.to_builtins(v.chain), "reading": v.reading,
                               "alternatives": [a.name for a in item.alternatives]},
            })  # fmt: skip
    run = {
        "tool": {"driver": {"name": "aicensus", "version": __version__, "rules": rules}},
        "taxonomies": sarif_taxonomies(used),
        "results": results,
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def render(report: ComplianceReport, fmt: str) -> str:
    if fmt == "json":
        return to_json(report)
    if fmt == "html":
        return to_html(report)
    if fmt == "sarif":
        return msgspec.json.format(msgspec.json.encode(to_sarif(report)), indent=2).decode() + "\n"
    return to_text(report)


def compliance_report(
    db: str,
    packs: Sequence[str],
    *,
    params: dict[str, list[str]] | None = None,
    profile: str | None = None,
    scan_id: int | None = None,
) -> ComplianceReport:
    """The library form of `aicensus report compliance` over a store (for `aicensus.api`).
    Raises PolicyError / StoreError (one-line messages) on a bad pack, parameter or store."""
    from aicensus.assess.compliance import load_pack, prepare
    from aicensus.report.source import load_assessed

    values = params or {}
    runs = []
    for name in packs:
        pack = load_pack(name)
        mine = {k: v for k, v in values.items() if k in pack.params}
        runs.append(prepare(pack, mine, profile if pack.profiles else None))
    assessed = load_assessed(db, scan_id)
    return build_report(
        runs,
        assessed.services,
        history=store_history(db),
        scan_id=assessed.scan.scan_id if assessed.scan else None,
    )
