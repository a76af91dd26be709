"""`aicensus report compliance`: per policy pack, what violates it, where, since when (from the
store's observation history) and what to do (remediation, and open alternatives that exclude the
pack's denied countries). Text, JSON, HTML and SARIF (framework ids as SARIF taxonomies)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from aicensus.assess.compliance import PackRun, PackViolation, check_pack
from aicensus.assess.finding import Finding
from aicensus.assess.frameworks import KINDS, Refs, sarif_relationships, sarif_taxonomies
from aicensus.assess.secrets import redact_secrets
from aicensus.records import ServiceObservation
from aicensus.report.charts import bar_chart, column_chart, world_map
from aicensus.report.charts import text as chart_text
from aicensus.report.text import terminal_safe
from aicensus.version import __version__

if TYPE_CHECKING:
    from aicensus.store import ScanInfo

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


class TrendPoint(msgspec.Struct, kw_only=True):
    """One stored scan, judged by the selected packs: how many violations each pack had then."""

    scan_id: int
    started_at: str
    services: int  # identified services in that scan
    violations: dict[str, int]  # pack name -> violations


class ComplianceReport(msgspec.Struct, kw_only=True):
    scan_id: int | None
    services_checked: int
    packs: list[PackSection]
    # Violations per stored scan, oldest first (empty for an audit file or a bare report).
    trend: list[TrendPoint] = msgspec.field(default_factory=list)


# ---------------------------------------------------------------- building

History = dict[tuple[str, int, str], datetime]


def history_from(observations: Sequence[ServiceObservation]) -> History:
    """(ip, port, model or '') -> earliest observed_at, over observations from any scans."""
    first: History = {}
    _first_seen(first, observations)
    return first


def _first_seen(first: History, observations: Sequence[ServiceObservation]) -> None:
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


def store_history(db: str) -> History:
    """The observation history of a store, through the store's public reader (no SQL here)."""
    return read_history(db, [])[0]


TREND_SCANS = 60  # the trend judges at most the latest 60 scans (each is assessed again) ...
TREND_SERVICES = 200_000  # ... and stops before the one that would take it past this many services


def _judged(scans: Sequence[ScanInfo]) -> set[int]:
    """The latest scans the trend re-assesses, newest first within both budgets."""
    out: set[int] = set()
    total = 0
    for scan in reversed(scans[-TREND_SCANS:]):
        total += scan.counts.get("identified", 0)
        if out and total > TREND_SERVICES:
            break
        out.add(scan.scan_id)
    return out


def read_history(db: str, runs: Sequence[PackRun]) -> tuple[History, list[TrendPoint]]:
    """One pass over a store's scans: when each model (or service) was first seen at each
    address, and the violations each pack would have reported in each of the latest scans."""
    from aicensus.assess import assess
    from aicensus.records import ScanStatus
    from aicensus.store import Store

    history: History = {}
    trend: list[TrendPoint] = []
    with Store.open(db, read_only=True) as store:
        scans = store.scans()
        judged = _judged(scans) if runs else set()
        for scan in scans:
            observations = list(store.observations(scan.scan_id))
            _first_seen(history, observations)
            if scan.scan_id not in judged:
                continue
            services = [
                (obs, assess(obs)) for obs in observations if obs.status == ScanStatus.IDENTIFIED
            ]
            trend.append(
                TrendPoint(
                    scan_id=scan.scan_id,
                    started_at=scan.started_at.isoformat(),
                    services=len(services),
                    violations={
                        run.pack.name: sum(
                            1 for v in check_pack(run, services) if v.verdict == "violation"
                        )
                        for run in runs
                    },
                )
            )
    return history, trend


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
    trend: Sequence[TrendPoint] = (),
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
    return ComplianceReport(
        scan_id=scan_id, services_checked=len(services), packs=sections, trend=list(trend)
    )


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
    if len(report.trend) > 1:  # one scan is no history
        shown = report.trend[-10:]
        per_scan = ", ".join(
            f"scan {t.scan_id} ({t.started_at[:10]}) {sum(t.violations.values())}" for t in shown
        )
        out.append(f"Violations per stored scan{' (latest 10)' if shown != report.trend else ''}: "
                   f"{per_scan}")  # fmt: skip
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


_VERDICT_COLOURS = {"violation": "#c62828", "unknown": "#ef6c00", "undetermined": "#f9a825",
                    "review": "#607d8b"}  # fmt: skip
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;padding:1.5em 2em;max-width:1500px;color:#222}
h1{margin:.2em 0}h2{margin:1.4em 0 .4em;border-bottom:2px solid #eee;padding-bottom:.2em}
table{border-collapse:collapse;width:100%;margin:.4em 0 1em}
td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left;
overflow-wrap:anywhere}th{background:#f3f3f3}
.violation{color:#b00}.unknown,.undetermined{color:#a65e00}.ok{color:#070}.muted{color:#666}
.charts{display:flex;flex-wrap:wrap;gap:1em 3em;align-items:flex-start}
figure{margin:0 0 1em}figcaption{font-weight:600;margin-bottom:.3em}
svg text{font:13px system-ui,sans-serif;fill:#222}.note{color:#666;font-size:12px}
td.nw{white-space:nowrap;overflow-wrap:normal}
"""
# Only this stylesheet may apply and nothing may load or run: no scripts, no external requests.
_CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
    + "'; img-src data:; base-uri 'none'; form-action 'none'"
)


def _e(value: object) -> str:
    """Escaped text, secrets redacted, control and bidi characters spelled out."""
    return chart_text(redact_secrets("" if value is None else str(value)))


def _link(url: str, label: str) -> str:
    """A link to a pack's source, only for an http(s) URL (anything else is shown as text)."""
    if url.startswith(("https://", "http://")):
        return f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(label)}</a>'
    return _e(url)


def _figure(caption: str, svg: str) -> str:
    return f"<figure><figcaption>{_e(caption)}</figcaption>{svg}</figure>"


def _country_counts(report: ComplianceReport) -> dict[str, int]:
    """Violating services (ip, port) per developer country of the model in violation; a
    violation of a service rule (authentication) has no model and is counted apart."""
    seen: dict[str, set[tuple[str, int]]] = {}
    for p in report.packs:
        for item in p.items:
            v = item.verdict
            if v.verdict != "violation":
                continue
            if v.model is None:
                key = "service rule"
            else:
                key = (v.chain.country if v.chain else None) or "unknown"
            seen.setdefault(key, set()).add((v.ip, v.port))
    return {k: len(s) for k, s in sorted(seen.items(), key=lambda kv: (-len(kv[1]), kv[0]))}


def _charts(report: ComplianceReport) -> list[str]:
    per_pack = [
        (p.name, p.counts.get("violation", 0), _VERDICT_COLOURS["violation"]) for p in report.packs
    ]
    totals = [
        (k, sum(p.counts.get(k, 0) for p in report.packs), _VERDICT_COLOURS[k])
        for k in VERDICT_ORDER
    ]
    countries = _country_counts(report)
    out = [
        '<div class="charts">',
        _figure("Violations per pack", bar_chart("Violations per pack", per_pack, label_chars=36)),
        _figure("Verdicts, all packs", bar_chart("Verdicts, all packs", totals)),
        _figure(
            "Violating services by model developer country",
            bar_chart(
                "Violating services by model developer country",
                [(k, n, None) for k, n in countries.items()],
            ),
        ),
        "</div>",
    ]
    iso = {k: n for k, n in countries.items() if len(k) == 2 and k.isalpha() and k.isupper()}
    if iso:
        out.append(
            _figure(
                "Where the violating models come from",
                world_map("Violating services by model developer country", iso,
                          noun="violating services"),
            )
        )  # fmt: skip
    out.append(_trend(report.trend))
    return out


def _trend(trend: Sequence[TrendPoint]) -> str:
    if not trend:
        return (
            "<p class='muted'>Violations over time: no scan history (an audit file, no store).</p>"
        )
    points = [(f"{t.started_at[:10]} scan {t.scan_id}", sum(t.violations.values())) for t in trend]
    note = (
        "one scan in the store so far: no history yet"
        if len(trend) == 1
        else f"the latest {len(trend)} scans, each judged by the selected packs"
    )
    return (
        f"<figure><figcaption>Violations per scan</figcaption>"
        f"{column_chart('Violations per scan (all selected packs)', points)}"
        f"<p class='note'>{_e(note)}</p></figure>"
    )


def to_html(report: ComplianceReport) -> str:
    e = _e
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        "<link rel='icon' href='data:,'><title>aicensus compliance report</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Compliance report</h1><p class='muted'>aicensus {e(__version__)} · "
        f"{report.services_checked} services checked"
        + (f" · scan {report.scan_id}" if report.scan_id is not None else "")
        + "</p>",
        *_charts(report),
        "<h2>Packs</h2>",
        "<table><tr><th>Pack</th><th>Status</th><th>Date</th><th>Verdict</th><th>Counts</th></tr>",
    ]
    for p in report.packs:
        cls, word = ("ok", "compliant") if p.compliant else ("violation", "violated")
        counts = ", ".join(f"{n} {k}" for k, n in p.counts.items() if n) or "-"
        parts.append(
            f"<tr><td><a href='#pack-{e(p.name)}'>{e(p.name)}</a></td><td>{e(p.status)}</td>"
            f"<td>{e(p.date)}</td><td class='{cls}'>{word}</td><td>{e(counts)}</td></tr>"
        )
    parts.append("</table>")
    for p in report.packs:
        parts += [
            f"<h2 id='pack-{e(p.name)}'>{e(p.name)}</h2><p>{e(p.title)}<br>{e(p.issuer)} — "
            f"{e(p.jurisdiction)}; {e(p.status)}, {e(p.date)}; {_link(p.source, 'source')}</p>",
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
                f"<tr><td class='{e(v.verdict)} nw'>{e(v.verdict)}</td><td class='nw'>"
                f"{e(v.where)}<br>{e(v.product or '')}</td>"
                f"<td class='nw'>{e((item.since or '-')[:10])}</td>"
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
    history, trend = read_history(db, runs)
    return build_report(
        runs,
        assessed.services,
        history=history,
        scan_id=assessed.scan.scan_id if assessed.scan else None,
        trend=trend,
    )
