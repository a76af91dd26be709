"""Charts as inline SVG, drawn on the server: bars, a day-by-day column chart and a world map.

Shared by the HTML reports (report/html.py, report/study_html.py) and the dashboard
(aicensus/serve/). No script, no external load: each function returns one `<svg>` element whose
every text comes from `visible()`, so a label from a server (a model developer, a product) is
text, never markup. The world map's country shapes are Natural Earth 1:110m, projected once by
scripts/build_world_map.py into report/data/world.json (public domain; source note inside).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from html import escape
from importlib import resources
from typing import Any

_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff]"
)
BAR = "#1565c0"
# Sequential blues for the map, lightest first (ColorBrewer Blues, 7 classes).
_RAMP = ("#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#084594")
_NO_DATA = "#eeeeee"


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: object) -> str:
    """value as text with control, zero-width and bidi characters shown as escapes (not yet
    HTML-escaped)."""
    return _CONTROL.sub(_escape_char, "" if value is None else str(value))


def text(value: object) -> str:
    """value for HTML or SVG text: visible() and then escaped."""
    return escape(visible(value), quote=True)


def _svg(label: str, width: float, height: float, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{text(label)}" '
        f'width="{width:g}" height="{height:g}" viewBox="0 0 {width:g} {height:g}">'
        f"<title>{text(label)}</title>{body}</svg>"
    )


def bar_chart(
    label: str,
    items: Sequence[tuple[object, float, str | None]],
    *,
    value_format: str = "{:,}",
    width: int = 260,
    label_chars: int = 24,
) -> str:
    """Horizontal bars: items are (label, value, colour or None for the default); labels longer
    than `label_chars` are cut with an ellipsis (the tooltip has the whole label)."""
    row = 22
    left = 170 + max(0, label_chars - 24) * 7  # about 7px a character at 13px
    peak = max((v for _, v, _ in items), default=0) or 1
    height = row * max(len(items), 1) + 6
    parts = []
    for i, (name, value, colour) in enumerate(items):
        y = i * row + 3
        w = max(1.0, width * value / peak) if value else 0
        shown = visible(name)
        shown = shown if len(shown) <= label_chars else shown[: label_chars - 1] + "…"
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(shown)}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{colour or BAR}"><title>{text(name)}: {text(value_format.format(value))}'
            f'</title></rect><text x="{left + w + 5:.1f}" y="{y + 14}">'
            f"{text(value_format.format(value))}</text>"
        )
    if not items:
        parts.append(f'<text x="{left}" y="16">no data</text>')
    return _svg(label, left + width + 80, height, "".join(parts))


def column_chart(label: str, points: Sequence[tuple[object, int]], *, height: int = 140) -> str:
    """Columns over time (points in order: (day, count)); the first and last day are labelled."""
    width = 640
    n = max(len(points), 1)
    peak = max((v for _, v in points), default=0) or 1
    step = min(width / n, 24.0)  # a few days: narrow columns, not one wide block
    top, base = 16, height - 20
    parts = [f'<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="#999"/>']
    for i, (day, value) in enumerate(points):
        h = (base - top) * value / peak
        parts.append(
            f'<rect x="{i * step:.1f}" y="{base - h:.1f}" width="{max(step - 1, 1):.1f}" '
            f'height="{h:.1f}" fill="{BAR}"><title>{text(day)}: {value:,}</title></rect>'
        )
    if points:
        parts.append(f'<text x="0" y="{height - 4}">{text(points[0][0])}</text>')
        parts.append(
            f'<text x="{width}" y="{height - 4}" text-anchor="end">{text(points[-1][0])}</text>'
        )
        parts.append(f'<text x="0" y="11">peak {peak:,}</text>')
    else:
        parts.append(f'<text x="0" y="{base - 4}">no data</text>')
    return _svg(label, width, height, "".join(parts))


@functools.cache
def world() -> dict[str, Any]:
    """The projected country shapes (report/data/world.json)."""
    raw = resources.files("aicensus.report").joinpath("data/world.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(raw)
    return data


def _shade(value: int, peak: int) -> str:
    if value <= 0:
        return _NO_DATA
    # Log scale: host counts span orders of magnitude between countries.
    level = math.log1p(value) / math.log1p(peak) if peak > 0 else 1
    return _RAMP[min(len(_RAMP) - 1, int(level * (len(_RAMP) - 1) + 0.5))]


def world_map(
    label: str, counts: Mapping[str, int], *, width: int = 720, noun: str = "hosts"
) -> str:
    """A choropleth of counts by ISO 3166 alpha-2 country code; each country's tooltip says its
    name and count. Codes with no shape (e.g. small islands) are listed under the map."""
    data = world()
    scale = width / data["width"]
    height = data["height"] * scale
    peak = max(counts.values(), default=0)
    shapes = {c["iso"] for c in data["countries"]}
    parts = [f'<g transform="scale({scale:.4f})" stroke="#fff" stroke-width="0.5">']
    for c in data["countries"]:
        n = counts.get(c["iso"], 0) if c["iso"] else 0
        parts.append(
            f'<path d="{c["d"]}" fill="{_shade(n, peak)}" data-iso="{text(c["iso"])}">'
            f"<title>{text(c['name'])} ({text(c['iso'] or '?')}): {n:,} {text(noun)}</title></path>"
        )
    parts.append("</g>")
    legend_y = height - 14
    for i, colour in enumerate(_RAMP):
        parts.append(
            f'<rect x="{10 + i * 18}" y="{legend_y}" width="18" height="10" fill="{colour}"/>'
        )
    parts.append(
        f'<text x="{10 + len(_RAMP) * 18 + 6}" y="{legend_y + 9}">1 … {peak:,} {text(noun)} '
        "(log scale)</text>"
    )
    missing = sorted((k for k in counts if k and k not in shapes), key=lambda k: -counts[k])
    svg = _svg(label, width, round(height, 1), "".join(parts))
    if missing:
        extra = ", ".join(f"{text(k)} {counts[k]:,}" for k in missing[:20])
        svg += f'<p class="note">Not on the map: {extra}</p>'
    return svg
