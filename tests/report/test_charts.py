"""report/charts.py: the inline SVG charts and world map shared by the reports and the
dashboard."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from aicensus.report.charts import bar_chart, column_chart, visible, world, world_map


class _Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(markup: str) -> _Parsed:
    p = _Parsed()
    p.feed(markup)
    return p


def test_shapes_ship_with_their_source_and_cover_the_world() -> None:
    data = world()
    assert "Natural Earth" in data["source"] and "public domain" in data["licence"]
    isos = {c["iso"] for c in data["countries"]}
    assert {"US", "CN", "DE", "BR", "AU", "RU", "IN", "ZA", "FJ", "XK"} <= isos
    assert len(isos) > 170
    for c in data["countries"]:  # projected paths inside the map's box
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", c["d"])]
        assert numbers and min(numbers) >= 0
        xs, ys = numbers[0::2], numbers[1::2]
        assert max(xs) <= data["width"] + 0.5 and max(ys) <= data["height"] + 0.5, c["name"]


def test_world_map_colours_counted_countries_only() -> None:
    svg = world_map("hosts by country", {"US": 100, "CN": 10, "DE": 1, "SG": 5, "??": 2})
    tags = _parse(svg).tags
    fills = {a["data-iso"]: a["fill"] for t, a in tags if t == "path"}
    assert fills["FR"] == "#eeeeee" and fills["US"] != "#eeeeee"
    assert fills["US"] != fills["DE"]  # the log scale tells 100 from 1
    assert {iso for iso, f in fills.items() if f != "#eeeeee"} == {"US", "CN", "DE"}
    assert "Not on the map: SG 5, ?? 2" in svg  # no shape at 1:110m: listed, not lost
    assert tags[0] == ("svg", tags[0][1]) and tags[0][1]["role"] == "img"


def test_labels_are_text_never_markup() -> None:
    hostile = '<script>alert(1)</script>\u202e"x'
    for svg in (
        bar_chart("t", [(hostile, 3, None)]),
        column_chart("t", [(hostile, 2)]),
        world_map(hostile, {"US": 1}, noun=hostile),
    ):
        parsed = _parse(svg)
        assert {t for t, _ in parsed.tags} <= {"svg", "title", "text", "rect", "g", "path",
                                               "line", "p"}  # fmt: skip
        assert "\u202e" not in svg and "\\u202e" in "".join(parsed.text)
    assert visible("a\x1bb") == "a\\x1bb"


def test_bar_chart_scales_to_the_peak() -> None:
    tags = _parse(bar_chart("t", [("a", 10, None), ("b", 5, "#c00"), ("c", 0, None)])).tags
    widths = [float(a["width"] or 0) for t, a in tags if t == "rect"]
    assert widths[0] == 2 * widths[1] and widths[2] == 0


def test_reports_carry_the_map_inline() -> None:
    from aicensus.assess import assess
    from aicensus.report.html import render_html
    from aicensus.report.source import Assessed
    from aicensus.report.study_html import study_body
    from tests.support.assess_cases import hostile_models, open_ollama

    obs = [open_ollama(), hostile_models()]
    page = render_html(Assessed(scan=None, services=[(o, assess(o)) for o in obs]))
    fills = {a["data-iso"]: a["fill"] for t, a in _parse(page).tags if t == "path"}
    assert fills["CN"] != "#eeeeee" and fills["US"] != "#eeeeee" and fills["FR"] == "#eeeeee"
    study = {
        "meta": {},
        "comparison": [],
        "figures": [{"id": "countries", "title": "Top 20 countries", "definition": "d",
                     "columns": ["country", "hosts", "share of hosts"],
                     "rows": [["DE", 3, 0.75], ["JP", 1, 0.25]], "chart": "share of hosts"}],
    }  # fmt: skip
    body = study_body(study)
    fills = {a["data-iso"]: a["fill"] for t, a in _parse(body).tags if t == "path"}
    assert {iso for iso, f in fills.items() if f != "#eeeeee"} == {"DE", "JP"}
