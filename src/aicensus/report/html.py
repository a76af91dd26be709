"""A single-file offline HTML report: no scripts, no CDN, inline CSS and SVG.

Everything a server said is HTML-escaped (and secrets redacted) before it is written, and only
ever into text nodes, never into attributes. Control characters, ANSI escapes and bidi overrides
are shown as visible escapes (`\\x1b`, `\\u202e`), so a model name cannot hide or reorder text.
The Content-Security-Policy allows inline styles and data: images only, so even a missed escape
could not run a script or load anything. Tested in headless Chromium
(tests/report/test_html_browser.py).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from html import escape
from typing import IO, TYPE_CHECKING

from aicensus.assess import Finding, Severity, redact_secrets, sort_key
from aicensus.assess.advisories.match import bundle_line
from aicensus.assess.honeypot import HONEYPOT, NONE
from aicensus.records import ServiceObservation
from aicensus.report.charts import world_map
from aicensus.report.exports import severity_counts
from aicensus.report.render import service_url
from aicensus.report.source import Assessed
from aicensus.version import __version__

if TYPE_CHECKING:
    from aicensus.report.denied import CardSummary, DeniedModel, PolicyReport

_COLOURS = {"critical": "#7b1fa2", "high": "#c62828", "medium": "#ef6c00", "low": "#f9a825",
            "info": "#607d8b"}  # fmt: skip
_AUTH_COLOURS = {"open": "#c62828", "partial": "#ef6c00", "auth_required": "#2e7d32"}
_BAR = "#1565c0"
_WIDTHS = {  # table id → column widths
    "services": ("26%", "22%", "14%", "10%", "14%", "14%"),
    "findings": ("7.5em", "13%", "15%", "38%", "auto"),
    "models": ("24%", "13%", "7%", "11%", "15%", "15%", "15%"),
    "alternatives": ("2.2em", "16%", "15%", "16%", "7.5em", "auto"),
    "honeypots": ("16%", "8%", "9%", "6em", "auto"),
}
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;padding:1.5em 2em;max-width:1500px;
color:#222;background:#fff}
h1{margin:.2em 0}h2{margin:1.4em 0 .4em;border-bottom:2px solid #eee;padding-bottom:.2em}
h3{margin:1.2em 0 .3em;font-size:15px}
table{border-collapse:collapse;width:100%;margin:.4em 0 1em;table-layout:fixed}
td,th{border:1px solid #d0d0d0;padding:4px 6px;vertical-align:top;text-align:left;
overflow-wrap:anywhere}
th{background:#f3f3f3}tbody tr:nth-child(even){background:#fafafa}
.sev,.auth{color:#fff;padding:1px 6px;border-radius:3px;font-weight:600;white-space:nowrap}
.sev{display:inline-block;min-width:4.5em;text-align:center}
ul{margin:0;padding-left:1.1em}li{margin:0 0 2px}
code{font:12px/1.35 ui-monospace,monospace;white-space:pre-wrap}
.id{font:12px ui-monospace,monospace}
.muted{color:#666;font-size:12px}.fix{margin:.35em 0 0}
.ctl{background:#fde0dc;color:#b71c1c;font:12px ui-monospace,monospace;border-radius:2px}
.charts{display:flex;flex-wrap:wrap;gap:1em 3em;align-items:flex-start}
.charts figure{margin:0}.charts figcaption{font-weight:600;margin-bottom:.3em}
svg text{font:13px system-ui,sans-serif;fill:#222}
.auth-other,.sev-none{background:#607d8b}
section.denied{border-left:4px solid #c62828;padding:.1em 0 .1em 1em;margin:1em 0 1.6em}
table.card{width:auto;min-width:60%;max-width:100%}table.card th{width:11em;font-weight:600}
h4{margin:.8em 0 .2em;font-size:14px}ul.why{margin:.3em 0 .5em}
"""
_CSS += "".join(f".sev-{s}{{background:{c}}}" for s, c in _COLOURS.items())
_CSS += "".join(f".auth-{a}{{background:{c}}}" for a, c in _AUTH_COLOURS.items())
_CSS += "".join(
    f"table.{t} col:nth-child({i}){{width:{w}}}"
    for t, widths in _WIDTHS.items()
    for i, w in enumerate(widths, 1)
)
# Only this stylesheet may apply: no style attributes, no injected <style>, no scripts at all.
_CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
    + "'; img-src data:; base-uri 'none'; form-action 'none'"
)
# C0 and C1 controls (tab and newline kept), DEL, zero-width and bidi formatting characters.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff]"
)


def _visible(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _plain(value: object) -> str:
    """Escaped text with controls spelled out: safe in any text node, SVG included."""
    text = redact_secrets("" if value is None else str(value)) or ""
    return escape(_CONTROL.sub(lambda m: _visible(m.group()), text), quote=True)


def _e(value: object) -> str:
    """Escaped HTML text; controls are spelled out and highlighted."""
    text = redact_secrets("" if value is None else str(value)) or ""
    parts = []
    last = 0
    for m in _CONTROL.finditer(text):
        parts.append(escape(text[last : m.start()], quote=True))
        parts.append(f'<span class="ctl">{_visible(m.group())}</span>')
        last = m.end()
    parts.append(escape(text[last:], quote=True))
    return "".join(parts)


def _bar_chart(label: str, items: list[tuple[str, int, str]]) -> str:
    """A horizontal bar chart as inline SVG; items are (label, count, colour)."""
    peak = max((n for _, n, _ in items), default=0) or 1
    label_w = max(60, 8 * max((len(name) for name, _, _ in items), default=0) + 12)
    bar_w = 260
    bars = []
    for i, (name, n, colour) in enumerate(items):
        width = round(bar_w * n / peak)
        y = 6 + i * 26
        bars.append(
            f'<text x="0" y="{y + 15}">{_plain(name)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{width}" height="20" fill="{colour}"/>'
            f'<text x="{label_w + width + 6}" y="{y + 15}">{n}</text>'
        )
    width = label_w + bar_w + 50
    height = 12 + 26 * max(len(items), 1)
    return (
        f"<figure><figcaption>{_plain(label.capitalize())}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_plain(label)}">'
        f"{''.join(bars)}</svg></figure>"
    )


def _country_items(services: list[tuple[ServiceObservation, list[Finding]]], top: int = 8):
    counts = Counter(m.country or "unknown" for obs, _ in services for m in obs.models)
    ranked = counts.most_common()
    if len(ranked) > top:
        rest = sum(n for _, n in ranked[top - 1 :])
        ranked = [*ranked[: top - 1], ("other", rest)]
    return [(country, n, _BAR) for country, n in ranked]


def _developer_map(services: list[tuple[ServiceObservation, list[Finding]]]) -> str:
    counts = Counter(m.country for obs, _ in services for m in obs.models if m.country)
    if not counts:
        return ""
    chart = world_map("models by developer country (map)", counts, width=640, noun="models")
    return f"<figure><figcaption>Models by developer country</figcaption>{chart}</figure>"


def _auth_badge(auth: object, prefix: str = "auth: ") -> str:
    kind = str(auth) if str(auth) in _AUTH_COLOURS else "other"
    return f'<span class="auth auth-{kind}">{prefix}{_e(auth)}</span>'


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _worst(findings: list[Finding]) -> str:
    if not findings:
        return '<span class="muted">none</span>'
    sev = Severity(min(findings, key=sort_key).severity)
    return _sev_badge(sev)


def _sev_badge(sev: Severity) -> str:
    return f'<span class="sev sev-{sev}">{_e(sev)}</span>'


def _table(kind: str, headers: list[str], *, unique: bool = True) -> str:
    """The opening of a table of `kind` (its column widths in _WIDTHS), up to <tbody>."""
    assert len(headers) == len(_WIDTHS[kind])
    cols = "<col>" * len(headers)
    head = "".join(f"<th>{h}</th>" for h in headers)
    table_id = f' id="{kind}"' if unique else ""
    return (
        f'<table{table_id} class="{kind}"><colgroup>{cols}</colgroup>'
        f"<thead><tr>{head}</tr></thead><tbody>"
    )


def _finding_row(f: Finding) -> str:
    sev = Severity(f.severity)
    refs = " ".join(_e(r) for r in [*f.owasp, *f.cwe, *f.cve])
    evidence = "".join(f"<li><code>{_e(line)}</code></li>" for line in f.evidence)
    model = f"<div>model: {_e(f.model)}</div>" if f.model else ""
    return (
        f"<tr><td>{_sev_badge(sev)}</td>"
        f'<td class="id">{_e(f.id)}</td>'
        f"<td>{_e(f.subject)}<br>{_e(f.product)} {_e(f.version)}{model}</td>"
        f"<td><b>{_e(f.title)}</b><br>{_e(f.detail)}"
        f'<div class="muted">{refs} · confidence: {_e(f.confidence)}</div>'
        f'<p class="fix"><b>Fix:</b> {_e(f.remediation)}</p></td>'
        f"<td><ul>{evidence}</ul></td></tr>"
    )


def _host_section(obs: ServiceObservation, findings: list[Finding]) -> list[str]:
    out = [
        f'<section class="host"><h3>{_e(service_url(obs))} — {_e(obs.product)} '
        f"{_e(obs.version)} {_auth_badge(obs.auth)} "
        f'<span class="muted">{_plural(len(findings), "finding")}</span></h3>'
    ]
    if not obs.models:
        out.append("<p>No models listed.</p></section>")
        return out
    headers = ["Model", "Developer", "Country", "Licence", "Base model", "Capabilities",
               "Size / quantization"]  # fmt: skip
    out.append(_table("models", headers, unique=False))
    for m in obs.models:
        base = ""
        if m.base and (m.base.developer or m.base.country):
            base = f"{_e(m.base.developer)} ({_e(m.base.country)})"
        who = _e(m.developer or "unknown")
        if m.matched_by:  # what the attribution rests on: a family match is the weaker one
            who += (
                f" <small>(matched by {_e(m.matched_by)}, {m.attribution_confidence:.2f})</small>"
            )
        out.append(
            f"<tr><td>{_e(m.name)}</td><td>{who}</td>"
            f"<td>{_e(m.country or '??')}</td><td>{_e(m.licence or m.licence_name)}</td>"
            f"<td>{base}</td><td>{_e(', '.join(m.capabilities))}</td>"
            f"<td>{_e(m.parameter_size)} {_e(m.quantization)}</td></tr>"
        )
    out.append("</tbody></table></section>")
    return out


def render_html(assessed: Assessed) -> str:
    findings = sorted(assessed.findings, key=sort_key)
    counts = severity_counts(findings)
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<link rel="icon" href="data:,">',
           f"<title>aicensus report</title><style>{_CSS}</style></head><body>",
           f'<h1>aicensus report</h1><p class="muted">aicensus {_e(__version__)}']  # fmt: skip
    if assessed.scan is not None:
        out.append(
            f" · scan {assessed.scan.scan_id} ({_e(assessed.scan.kind)}, "
            f"{_e(assessed.scan.started_at.isoformat())})"
        )
    out.append(
        f" · {_plural(len(assessed.services), 'service')} · {_plural(len(findings), 'finding')}"
    )
    if assessed.policy is not None:
        out.append(
            f" · policy {_e(assessed.policy.name)}: "
            f"{_plural(len(assessed.policy.denied_models), 'model')} denied"
        )
    out.append(f" · {_e(bundle_line())}</p>")
    out.append('<div class="charts">')
    out.append(_bar_chart("findings by severity", [(s, n, _COLOURS[s]) for s, n in counts.items()]))
    out.append(_bar_chart("models by developer country", _country_items(assessed.services)))
    out.append("</div>")
    out.append(_developer_map(assessed.services))

    out.append("<h2>Services</h2>")
    out.append(
        _table("services", ["Service", "Product", "Auth", "Models", "Findings", "Most severe"])
    )
    for obs, fs in assessed.services:
        out.append(
            f"<tr><td>{_e(service_url(obs))}</td><td>{_e(obs.product)} {_e(obs.version)}</td>"
            f"<td>{_auth_badge(obs.auth, prefix='')}</td><td>{len(obs.models)}</td><td>{len(fs)}</td>"
            f"<td>{_worst(fs)}</td></tr>"
        )
    out.append("</tbody></table>")

    out.extend(_honeypot_section(assessed))
    out.append("<h2>Findings</h2>")
    out.append(_table("findings", ["Severity", "ID", "Service", "Finding", "Evidence"]))
    out.extend(_finding_row(f) for f in findings)
    out.append("</tbody></table>")
    if assessed.policy is not None:
        out.extend(_denied_section(assessed.policy))
    out.append("<h2>Hosts and models</h2>")
    for obs, fs in assessed.services:
        out.extend(_host_section(obs, fs))
    out.append("</body></html>\n")
    return "".join(out)


def _honeypot_section(assessed: Assessed) -> list[str]:
    """The hosts the honeypot classifier names or finds suspicious, with their evidence."""
    named = [v for v in assessed.honeypots.values() if v.verdict != NONE]
    count = sum(v.verdict == HONEYPOT for v in named)
    out = [
        "<h2>Honeypots</h2>",
        f"<p>{_plural(count, 'host')} named honeypot, {len(named) - count} suspicious.</p>",
    ]
    if not named:
        return out
    out.append(_table("honeypots", ["Host", "Ports", "Verdict", "Score", "Evidence"]))
    for v in named:
        evidence = "; ".join(f"{e.kind} ({e.weight:.2f}): {e.detail}" for e in v.evidence)
        out.append(
            f"<tr><td>{_e(v.ip)}</td><td>{_e(', '.join(map(str, v.ports)))}</td>"
            f"<td>{_e(v.verdict)}</td><td>{v.score:.2f}</td><td>{_e(evidence)}</td></tr>"
        )
    out.append("</tbody></table>")
    return out


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>" if items else ""


def _origin(name: str | None, country: str | None) -> str:
    return f"{_e(name or 'unknown')} ({_e(country or '??')})"


def _card_table(card: CardSummary) -> str:
    rows: list[tuple[str, str]] = []
    if card.status != "attributed":
        rows.append(("Attribution", f"{_e(card.status)}: {_e(card.message)}"))
    if card.family is not None:
        rows.append(("Developer", _origin(card.developer, card.country)))
        rows.append(("Legal entity", _e(card.legal_entity or "unknown")))
        if card.headquarters:
            rows.append(("Headquarters", _e(card.headquarters)))
        licence = _e(card.licence or "unknown")
        if card.licence_class:
            licence += f" ({_e(card.licence_class)})"
        rows.append(("Licence", licence + _list(card.restrictions)))
        rows.append(("Restriction lists",
                     _list(card.restriction_lists) or '<span class="muted">none recorded in '
                     "the catalog</span>"))  # fmt: skip
        if card.advisories:
            rows.append(("Advisories", _list(card.advisories)))
        if card.guardrails_removed:
            rows.append(("Guardrails", "removed"))
        base = card.base
        if base is None:
            rows.append(("Base model", '<span class="muted">none (original weights)</span>'))
        else:
            rows.append(("Base model", f"{_e(base.name)}: {_origin(base.developer, base.country)}"))
        rows.append(("Model family", f"{_e(card.family_name)} ({_e(card.family)})"))
        rows.append(("Sources", _list(card.sources)))
        rows.append(("Catalog", _e(card.catalog_version)))
    body = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
    return f'<table class="card"><tbody>{body}</tbody></table>'


def _denied_model(d: DeniedModel) -> list[str]:
    where = _e(d.path) if d.kind == "file" else _e(d.where)
    reasons = "".join(
        f'<li><span class="id">{_e(r.rule)}</span> {_e(r.message)}</li>' for r in d.reasons
    )
    out = [
        f'<section class="denied"><h3>{_e(d.model)} <span class="muted">on {where}'
        f"{' (' + _e(d.product) + ')' if d.product else ''}</span></h3>"
        f'<ul class="why">{reasons}</ul><h4>Card summary</h4>{_card_table(d.card)}'
    ]
    excluding = ", ".join(d.alternatives_excluding)
    out.append(f"<h4>Alternatives{' (excluding ' + _e(excluding) + ')' if excluding else ''}</h4>")
    if d.alternatives:
        out.append(_table("alternatives", ["#", "Model", "Developer", "Licence", "Closeness",
                                           "Why"], unique=False))  # fmt: skip
        for i, a in enumerate(d.alternatives, 1):
            out.append(
                f"<tr><td>{i}</td><td>{_e(a.name)}</td><td>{_origin(a.developer, a.country)}</td>"
                f"<td>{_e(a.licence or 'unknown')} ({_e(a.licence_class)})</td>"
                f"<td>{a.closeness:.2f}</td><td>{_e(a.reason)}</td></tr>"
            )
        out.append("</tbody></table>")
    if d.alternatives_note:
        out.append(f'<p class="muted">{_e(d.alternatives_note)}</p>')
    out.append("</section>")
    return out


def _denied_section(report: PolicyReport) -> list[str]:
    denied = report.denied_models
    out = [
        '<h2 id="denied">Models your policy denies</h2>'
        f"<p>Policy <b>{_e(report.name)}</b>: {_plural(len(denied), 'model')} denied, "
        f"{_plural(len(report.violations), 'violation')} in all.</p>"
    ]
    if report.description:
        out.append(f'<p class="muted">{_e(report.description)}</p>')
    if not denied:
        out.append("<p>No model is denied by this policy.</p>")
    for d in denied:
        out.extend(_denied_model(d))
    return out


def write_html(out: IO[str], assessed: Assessed) -> None:
    out.write(render_html(assessed))
