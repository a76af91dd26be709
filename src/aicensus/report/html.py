"""A single-file offline HTML report: no scripts, no CDN, inline CSS and SVG.

Everything a server said is HTML-escaped (and secrets redacted) before it is written.
"""

from __future__ import annotations

from html import escape
from typing import IO

from aicensus import __version__
from aicensus.assess import Severity, redact_secrets, sort_key
from aicensus.report.exports import service_url, severity_counts
from aicensus.report.source import Assessed

_COLOURS = {"critical": "#7b1fa2", "high": "#c62828", "medium": "#ef6c00", "low": "#f9a825",
            "info": "#607d8b"}  # fmt: skip
_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 6px;
vertical-align:top;text-align:left}th{background:#f3f3f3}.sev{color:#fff;padding:1px 6px;
border-radius:3px;font-weight:600}ul{margin:0;padding-left:1.2em}code{font-size:12px}"""


def _e(value: object) -> str:
    return escape(redact_secrets("" if value is None else str(value)) or "", quote=True)


def _chart(counts: dict[str, int]) -> str:
    peak = max(counts.values(), default=0) or 1
    bars = []
    for i, (sev, n) in enumerate(counts.items()):
        width = int(300 * n / peak)
        y = 10 + i * 28
        bars.append(
            f'<text x="0" y="{y + 15}">{sev}</text>'
            f'<rect x="80" y="{y}" width="{width}" height="20" fill="{_COLOURS[sev]}"/>'
            f'<text x="{86 + width}" y="{y + 15}">{n}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="440" height="{20 + 28 * len(counts)}"'
        f' role="img" aria-label="findings by severity">{"".join(bars)}</svg>'
    )


def render_html(assessed: Assessed) -> str:
    findings = sorted(assessed.findings, key=sort_key)
    counts = severity_counts(findings)
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
           "style-src 'unsafe-inline'; img-src data:\">",
           f"<title>aicensus report</title><style>{_CSS}</style></head><body>",
           f"<h1>aicensus report</h1><p>aicensus {_e(__version__)}"]  # fmt: skip
    if assessed.scan is not None:
        out.append(
            f" · scan {assessed.scan.scan_id} ({_e(assessed.scan.kind)}, "
            f"{_e(assessed.scan.started_at.isoformat())})"
        )
    out.append(f" · {len(assessed.services)} services · {len(findings)} findings</p>")
    out.append(_chart(counts))
    out.append(
        "<h2>Findings</h2><table><tr><th>Severity</th><th>ID</th><th>Service</th>"
        "<th>Model</th><th>Finding</th><th>Evidence</th><th>Remediation</th></tr>"
    )
    for f in findings:
        sev = Severity(f.severity)
        refs = " ".join(_e(r) for r in [*f.owasp, *f.cwe, *f.cve])
        evidence = "".join(f"<li><code>{_e(line)}</code></li>" for line in f.evidence)
        out.append(
            f'<tr><td><span class="sev" style="background:{_COLOURS[sev]}">{_e(sev)}</span></td>'
            f"<td>{_e(f.id)}</td><td>{_e(f.ip)}:{f.port}<br>{_e(f.product)} {_e(f.version)}</td>"
            f"<td>{_e(f.model or '')}</td><td><b>{_e(f.title)}</b><br>{_e(f.detail)}<br>"
            f"<small>{refs} · {_e(f.confidence)}</small></td><td><ul>{evidence}</ul></td>"
            f"<td>{_e(f.remediation)}</td></tr>"
        )
    out.append("</table><h2>Hosts and models</h2>")
    for obs, fs in assessed.services:
        out.append(
            f"<h3>{_e(service_url(obs))} — {_e(obs.product)} {_e(obs.version)} "
            f"(auth: {_e(obs.auth)}, {len(fs)} findings)</h3>"
        )
        if not obs.models:
            out.append("<p>No models listed.</p>")
            continue
        out.append(
            "<table><tr><th>Model</th><th>Developer</th><th>Country</th><th>Licence</th>"
            "<th>Base model</th><th>Capabilities</th><th>Size / quantization</th></tr>"
        )
        for m in obs.models:
            base = (
                f"{_e(m.base.developer)} ({_e(m.base.country)})"
                if m.base and (m.base.developer or m.base.country)
                else ""
            )
            out.append(
                f"<tr><td>{_e(m.name)}</td><td>{_e(m.developer or 'unknown')}</td>"
                f"<td>{_e(m.country or '??')}</td><td>{_e(m.licence or m.licence_name)}</td>"
                f"<td>{base}</td><td>{_e(', '.join(m.capabilities))}</td>"
                f"<td>{_e(m.parameter_size)} {_e(m.quantization)}</td></tr>"
            )
        out.append("</table>")
    out.append("</body></html>\n")
    return "".join(out)


def write_html(out: IO[str], assessed: Assessed) -> None:
    out.write(render_html(assessed))
