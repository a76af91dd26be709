"""Build src/aicensus/report/data/world.json, the country shapes of the dashboard's and the
reports' world map, from Natural Earth's 1:110m countries as shipped by the npm package
`world-atlas` (public domain data; ISC package), with ISO 3166 numeric → alpha-2 codes from the
npm package `i18n-iso-countries` (MIT). Run once when updating the shapes:

    npm pack world-atlas@2 i18n-iso-countries && tar xzf ... (both)
    python scripts/build_world_map.py world-atlas/countries-110m.json iso/codes.json

The shapes are projected here (Natural Earth I) into SVG path data, rounded to 0.1 px, so the
server only colours them: nothing is fetched or projected at run time.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

WIDTH = 960.0
EXTRA = {"Kosovo": "XK"}  # user-assigned code, used by GeoLite2
OUT = Path(__file__).resolve().parents[1] / "src/aicensus/report/data/world.json"


def natural_earth(lon: float, lat: float) -> tuple[float, float]:
    """d3-geo's naturalEarth1Raw, in radians in, unit-sphere coordinates out."""
    lam, phi = math.radians(lon), math.radians(lat)
    p2 = phi * phi
    p4 = p2 * p2
    x = lam * (0.8707 - 0.131979 * p2 + p4 * (-0.013791 + p4 * (0.003971 * p2 - 0.001529 * p4)))
    y = phi * (1.007226 + p2 * (0.015085 + p4 * (-0.044475 + 0.028874 * p2 - 0.005916 * p4)))
    return x, y


def decode_arcs(topo: dict) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(arcs: list[list[tuple[float, float]]], refs: list[int]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for ref in refs:
        arc = arcs[ref] if ref >= 0 else arcs[~ref][::-1]
        points.extend(arc[1:] if points else arc)
    return points


def unwrap(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Make longitudes continuous: a ring crossing the antimeridian jumps by ~360 degrees."""
    out = [points[0]]
    for lon, lat in points[1:]:
        prev = out[-1][0]
        while lon - prev > 180:
            lon -= 360
        while prev - lon > 180:
            lon += 360
        out.append((lon, lat))
    return out


def clip(
    points: list[tuple[float, float]], edge: float, keep_above: bool
) -> list[tuple[float, float]]:
    """Sutherland-Hodgman: the ring clipped to lon >= edge (keep_above) or lon <= edge."""

    def inside(p: tuple[float, float]) -> bool:
        return p[0] >= edge if keep_above else p[0] <= edge

    out: list[tuple[float, float]] = []
    for i, cur in enumerate(points):
        prev = points[i - 1]
        if inside(cur) != inside(prev):
            t = (edge - prev[0]) / (cur[0] - prev[0])
            out.append((edge, prev[1] + t * (cur[1] - prev[1])))
        if inside(cur):
            out.append(cur)
    return out


def pieces(points: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """The ring split at the antimeridian into pieces inside [-180, 180]."""
    ring_ = unwrap(points)
    out = []
    for shift in (0, 360, -360):
        moved = [(lon + shift, lat) for lon, lat in ring_]
        if max(p[0] for p in moved) < -180 or min(p[0] for p in moved) > 180:
            continue
        part = clip(clip(moved, -180, True), 180, False)
        if len(part) >= 3:
            out.append(part)
    return out


def main(countries_json: str, codes_json: str) -> None:
    topo = json.loads(Path(countries_json).read_text())
    alpha2 = {num: a2 for a2, _a3, num, *_ in json.loads(Path(codes_json).read_text())}
    arcs = decode_arcs(topo)
    xmax = natural_earth(180, 0)[0]
    ymax = natural_earth(0, 90)[1]
    scale = WIDTH / (2 * xmax)
    height = round((ymax - natural_earth(0, -60)[1]) * scale, 1)  # down to 60°S
    out = []
    for geom in topo["objects"]["countries"]["geometries"]:
        name = geom["properties"]["name"]
        if name == "Antarctica" or geom.get("type") is None:
            continue
        polygons = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
        parts = []
        for polygon in polygons:
            for refs in polygon:
                for piece in pieces(ring(arcs, refs)):
                    pts = []
                    for lon, lat in piece:
                        x, y = natural_earth(lon, lat)
                        pts.append((round((x + xmax) * scale, 1), round((ymax - y) * scale, 1)))
                    parts.append("M" + "L".join(f"{x:g},{y:g}" for x, y in pts) + "Z")
        iso = alpha2.get(str(geom.get("id")), "") or EXTRA.get(name, "")
        out.append({"iso": iso, "name": name, "d": "".join(parts)})
    doc = {
        "source": "Natural Earth 1:110m Admin 0 countries, via npm world-atlas 2.0.2 "
        "(countries-110m.json); ISO codes via npm i18n-iso-countries",
        "licence": "Natural Earth data: public domain. world-atlas: ISC. i18n-iso-countries: MIT.",
        "projection": "Natural Earth I, Antarctica omitted",
        "width": WIDTH,
        "height": height,
        "countries": out,
    }
    OUT.write_text(json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n")
    print(f"{OUT}: {len(out)} countries, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main(*sys.argv[1:3])
