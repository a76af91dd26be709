"""The study report as one offline HTML file: inline CSS and SVG charts, no script, no CDN.

Every value (model names, organisations and countries come from servers and databases) is
HTML-escaped and written into text nodes only; control, zero-width and bidi characters are shown
as visible escapes. The Content-Security-Policy forbids scripts and every network load.
"""

from __future__ import annotations

import re
from html import escape
from typing import IO, Any

from aicensus.report.charts import world_map

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;padding:1.5em 2em;max-width:1200px;color:#222}
h1{margin:.2em 0}h2{margin:1.6em 0 .3em;border-bottom:2px solid #eee;padding-bottom:.2em}
table{border-collapse:collapse;margin:.4em 0 .8em;font-size:13px}
td,th{border:1px solid #d0d0d0;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f3f3f3;white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.w{max-width:28em;min-width:14em}td.s{white-space:nowrap}
.def{background:#f7f9fc;border-left:3px solid #1565c0;padding:.4em .7em;margin:.3em 0 .6em}
.note{color:#555;font-size:12px;margin:.2em 0}.meta td:first-child{font-weight:600}
.synthetic{background:#fff3e0;border:2px solid #ef6c00;padding:.6em 1em;font-weight:600}
svg text{font:12px system-ui,sans-serif;fill:#222}nav a{margin-right:.8em}
.ctl{background:#fde0dc;color:#b71c1c;font:12px ui-monospace,monospace}
"""
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff]"
)
_BAR = "#1565c0"
_PUBLISHED = "#ef6c00"


def _text(value: object) -> str:
    """Escaped text, control characters spelled out (safe in HTML and SVG text nodes)."""
    raw = "" if value is None else str(value)
    return escape(_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", raw), quote=True)


def _cell(value: object, column: str) -> str:
    if value is None:
        return '<td class="n">–</td>'
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, float) and "share" in column:
        return f'<td class="n">{value * 100:.1f}%</td>'
    if isinstance(value, int | float):
        text = f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"
        return f'<td class="n">{_text(text)}</td>'
    return (
        f'<td class="w">{_text(value)}</td>'
        if column in ("definition", "rule")
        else f"<td>{_text(value)}</td>"
    )


def _bars(labels: list[object], values: list[float | None], *, max_value: float = 1.0,
          extra: list[float | None] | None = None) -> str:  # fmt: skip
    """Horizontal bars: labels on the left, value as a percentage; extra = published marks."""
    if not labels:
        return ""
    top = max([max_value, *(v for v in values if v is not None)]) or 1.0
    row, left, width = 20, 170, 380
    height = row * len(labels) + 6
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 70}" height="{height}" '
        f'role="img">'
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = i * row + 3
        text = str(label)
        text = text if len(text) <= 26 else text[:25] + "…"
        parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{_text(text)}</text>')
        v = float(value or 0.0)
        parts.append(
            f'<rect x="{left}" y="{y}" width="{width * v / top:.1f}" height="{row - 5}" '
            f'fill="{_BAR}"/>'
        )
        parts.append(
            f'<text x="{left + width * v / top + 4:.1f}" y="{y + 13}">'
            f"{'–' if value is None else f'{v * 100:.1f}%'}</text>"
        )
        if extra is not None and extra[i] is not None:
            x = left + width * float(extra[i] or 0) / top
            parts.append(
                f'<rect x="{x:.1f}" y="{y - 1}" width="3" height="{row - 3}" fill="{_PUBLISHED}"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _figure(figure: dict[str, Any], published: dict[tuple[str, str, str], float]) -> str:
    columns: list[str] = figure["columns"]
    out = [
        f'<section id="{_text(figure["id"])}"><h2>{_text(figure["title"])}</h2>',
        f'<p class="def"><b>Definition.</b> {_text(figure["definition"])}</p>',
    ]
    chart = figure.get("chart")
    if chart and chart in columns and figure["rows"]:
        col = columns.index(chart)
        label = figure.get("label", 0)
        labels = [r[label] for r in figure["rows"]]
        values = [r[col] if isinstance(r[col], int | float) else None for r in figure["rows"]]
        marks = [published.get((figure["id"], str(lbl), chart)) for lbl in labels]
        out.append(
            "<figure>"
            + _bars(labels, values, extra=marks if any(m is not None for m in marks) else None)
            + "</figure>"
        )
        if any(m is not None for m in marks):
            out.append('<p class="note">Orange marks: the published value (table at the top).</p>')
    out.append("<table><thead><tr>")
    out.extend(f"<th>{_text(c)}</th>" for c in columns)
    out.append("</tr></thead><tbody>")
    for row in figure["rows"]:
        out.append(
            "<tr>" + "".join(_cell(v, c) for v, c in zip(row, columns, strict=True)) + "</tr>"
        )
    out.append("</tbody></table>")
    out.extend(f'<p class="note">{_text(n)}</p>' for n in figure.get("notes", []))
    out.append("</section>")
    return "".join(out)


def _value(value: object, published: object) -> str:
    if value is None:
        return "–"
    if isinstance(published, float) and published <= 1 and isinstance(value, int | float):
        return f"{float(value) * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _comparison(rows: list[dict[str, Any]]) -> str:
    out = [
        '<section id="comparison"><h2>Your figures beside the published ones</h2>',
        '<p class="def"><b>How to read.</b> "ours" is computed from this store as the measure '
        'says; its exact definition is printed with the figure it links to. "published" is '
        "the study's figure as recorded, with its source, in aicensus/report/data/published.yaml "
        "(compiled in shared/reference/studies.md), with its provenance tag ([P] primary text, "
        "[S] secondary coverage, [A] computed from the study's artifact). Studies differ in data "
        "source, window and counting unit, so differences are expected.</p>",
        "<table><thead><tr><th>figure</th><th>ours</th><th>published</th><th>study</th>"
        "<th>prov.</th><th>note</th><th>our measure</th></tr></thead><tbody>",
    ]
    for r in rows:
        out.append(
            f"<tr><td>{_text(r['figure'])}</td>"
            f'<td class="n">{_text(_value(r["ours"], r["published"]))}</td>'
            f'<td class="n">{_text(_value(r["published"], r["published"]))}</td>'
            f'<td class="s">{_text(r["study"])}</td><td>{_text(r["provenance"])}</td>'
            f'<td class="w">{_text(r["note"])}</td><td><a href="#{_text(r["figure_id"])}">'
            f"{_text(r['column'])}</a></td></tr>"
        )
    out.append("</tbody></table>")
    out.append(_sources(rows))
    out.append("</section>")
    return "".join(out)


def _sources(rows: list[dict[str, Any]]) -> str:
    """Each study once: name, date, citation and URL (as text: the page loads nothing)."""
    seen: dict[str, dict[str, Any]] = {}
    for r in rows:
        seen.setdefault(r["study"], r)
    items = "".join(
        f"<li><b>{_text(name)}</b> ({_text(r.get('date'))}): {_text(r.get('source'))}"
        + (f" — <code>{_text(r['url'])}</code>" if r.get("url") else "")
        + "</li>"
        for name, r in seen.items()
    )
    return f'<p class="note">Sources:</p><ul class="note">{items}</ul>'


def _ingest(by_format: dict[str, dict[str, Any]]) -> str:
    """Per source format: records read, used (stored), duplicates, bad, and skipped with why."""
    return (
        "; ".join(
            f"{fmt}: {r['files']} files, {r['records']} records read, {r['observations']} "
            f"observations stored, {r['duplicates']} duplicates, {r['bad']} bad records skipped"
            + _why_skipped(r.get("skipped") or {})
            for fmt, r in sorted(by_format.items())
        )
        or "none (own scans only)"
    )


def _why_skipped(skipped: dict[str, int]) -> str:
    if not skipped:
        return ""
    return ", not stored: " + ", ".join(f"{n} {why}" for why, n in sorted(skipped.items()))


def _honeypots(hp: dict[str, Any]) -> str:
    kinds = ", ".join(f"{k}: {v}" for k, v in (hp.get("by_kind") or {}).items())
    where = (
        "counted in the figures"
        if hp.get("included")
        else (
            f"{hp.get('hosts_excluded', 0)} left out of the figures "
            f"({hp.get('observations_excluded', 0)} observations)"
        )
    )
    return (
        f"{hp.get('hosts', 0)} honeypot hosts, {where}; {hp.get('suspicious_hosts', 0)} "
        f"suspicious hosts kept" + (f"; evidence: {kinds}" if kinds else "")
    )


def _meta(meta: dict[str, Any]) -> str:
    enrichment = meta.get("enrichment", {})
    window = meta.get("window", {})
    rows = [
        ("store", meta.get("store")),
        ("generated", f"{meta.get('generated_at')} by {meta.get('tool')} in {meta.get('seconds')} s"),
        ("population", meta.get("population")),
        ("honeypots", _honeypots(meta.get("honeypots") or {})),
        ("window", f"{window.get('first')} → {window.get('last')} ({window.get('days')} days)"),
        ("products (hosts)", ", ".join(f"{k}: {v}" for k, v in meta.get("products", {}).items())),
        ("sources (observations)", ", ".join(f"{k}: {v}" for k, v in meta.get("sources", {}).items())),
        ("ingested (per format)", _ingest(meta.get("ingest", {}))),
        ("GeoIP / ASN database", f"{enrichment.get('database')}, data of {enrichment.get('date')}"),
        ("infrastructure tiers", enrichment.get("tier_table")),
        ("persistence rule", ", ".join(f"{k} = {v}" for k, v in meta.get("persistence_rule", {}).items())),
    ]  # fmt: skip
    body = "".join(f"<tr><td>{_text(k)}</td><td>{_text(v)}</td></tr>" for k, v in rows)
    return f'<table class="meta"><tbody>{body}</tbody></table>'


def study_body(study: dict[str, Any]) -> str:
    """The report's content (no document shell): also the dashboard's Study page."""
    meta = study["meta"]
    published = {
        (c["figure_id"], c["label"], c["column"]): c["published"]
        for c in study["comparison"]
        if isinstance(c["published"], float) and c["published"] <= 1
    }
    parts = []
    if meta.get("synthetic"):
        parts.append(
            '<p class="synthetic">SYNTHETIC DATA: this store holds observations generated by '
            "`aicensus lab synth` for benchmarks. No figure here describes the real Internet."
            "</p>"
        )
    parts.append(_meta(meta))
    parts.append(
        "<nav>"
        + '<a href="#comparison">comparison</a>'
        + "".join(f'<a href="#{_text(f["id"])}">{_text(f["title"])}</a>' for f in study["figures"])
        + "</nav>"
    )
    parts.append(_comparison(study["comparison"]))
    for f in study["figures"]:
        parts.append(_figure(f, published))
        if f["id"] == "countries" and f["rows"]:  # the same hosts on a world map
            counts = {str(r[0]): int(r[1]) for r in f["rows"] if r[0] and r[1]}
            parts.append(
                f"<figure>{world_map('hosts by country (top countries)', counts)}</figure>"
            )
    return "".join(parts)


def write_study_html(out: IO[str], study: dict[str, Any]) -> None:
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="referrer" content="no-referrer">',
        "<title>aicensus measurement study</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>aicensus measurement study</h1>",
        study_body(study),
        "</body></html>\n",
    ]
    out.write("".join(parts))
