"""What each page shows, from the reader's snapshot: filtering, paging and exports of the
services table, and the per-service and per-model details. No SQL: the store answers."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aicensus.serve.reader import Assessed, Snapshot
from aicensus.store.dashboard import ServiceRow

PER_PAGE = 50
# The services filters: query parameter → label (in the form's order).
FILTERS = {
    "product": "product",
    "version": "version",
    "country": "host country",
    "as": "AS",
    "auth": "auth",
    "finding": "finding",
    "developer": "model developer",
    "dev_country": "developer country",
}
EXPORT_COLUMNS = (
    "ip", "port", "scheme", "product", "version", "auth", "country", "as", "models",
    "developers", "developer_countries", "findings", "worst", "observations", "first_seen",
    "last_seen",
)  # fmt: skip


@dataclass
class Row:
    """One services-table row: the store's ServiceRow plus geography and findings."""

    s: ServiceRow
    country: str | None
    as_key: str | None
    org: str | None
    findings: Assessed | None = None

    @property
    def finding_ids(self) -> tuple[str, ...]:
        return self.findings.ids if self.findings else ()

    @property
    def worst(self) -> str:
        return self.findings.worst if self.findings else ""

    @property
    def finding_count(self) -> int:
        return self.findings.count if self.findings else 0

    def values(self, key: str) -> tuple[str, ...]:
        """This row's values for a filter (several for developers and findings)."""
        s = self.s
        match key:
            case "product":
                return (s.product or "",)
            case "version":
                return (s.version or "",)
            case "country":
                return (self.country or "",)
            case "as":
                return (self.as_key or "",)
            case "auth":
                return (s.auth or "",)
            case "finding":
                return self.finding_ids
            case "developer":
                return s.developers
            case "dev_country":
                return s.developer_countries
        return ()

    def export(self) -> dict[str, Any]:
        s = self.s
        return {
            "ip": s.ip, "port": s.port, "scheme": s.scheme, "product": s.product,
            "version": s.version, "auth": s.auth, "country": self.country, "as": self.as_key,
            "models": s.models, "developers": list(s.developers),
            "developer_countries": list(s.developer_countries),
            "findings": list(self.finding_ids), "worst": self.worst or None,
            "observations": s.observations,
            "first_seen": s.first_seen.isoformat() if s.first_seen else None,
            "last_seen": s.last_seen.isoformat() if s.last_seen else None,
        }  # fmt: skip


def rows(snap: Snapshot) -> list[Row]:
    out = []
    for s in snap.services:
        g = snap.geo.get(s.ip)
        out.append(
            Row(
                s,
                g.country if g else None,
                g.as_key if g else None,
                g.org if g else None,
                snap.findings.get((s.ip, s.port)),
            )
        )
    return out


def chosen(params: Mapping[str, str]) -> dict[str, str]:
    """The filters the query string sets (unknown parameters are ignored)."""
    return {k: params[k] for k in FILTERS if params.get(k)}


def matches(row: Row, filters: Mapping[str, str], query: str) -> bool:
    for key, want in filters.items():
        if want not in row.values(key):
            return False
    if query:
        q = query.casefold()
        hay = (row.s.ip, str(row.s.port), row.s.product or "", row.s.version or "",
               row.country or "", row.as_key or "", row.org or "", *row.s.developers)  # fmt: skip
        return any(q in h.casefold() for h in hay)
    return True


_RANK = {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1, "": 0}
# The services table's orders: name → (label, key); rows start in (ip, port) order and the
# sort is stable, so ties keep that order.
SORTS: dict[str, tuple[str, Callable[[Row], Any]]] = {
    "address": ("address", lambda r: 0),
    "severity": ("most severe finding", lambda r: (-_RANK[r.worst], -r.finding_count)),
    "recent": ("last seen", lambda r: -(r.s.last_seen.timestamp() if r.s.last_seen else 0)),
    "models": ("most models", lambda r: -r.s.models),
}


def select(all_rows: Iterable[Row], params: Mapping[str, str]) -> list[Row]:
    """The rows the filters and search keep, in the order `sort` asks (address by default)."""
    filters = chosen(params)
    query = params.get("q", "").strip()
    found = [r for r in all_rows if matches(r, filters, query)]
    sort = params.get("sort", "address")
    if sort in SORTS and sort != "address":
        found.sort(key=SORTS[sort][1])
    return found


def options(all_rows: list[Row], limit: int = 200) -> dict[str, list[tuple[str, int]]]:
    """Each filter's values with their counts, most common first (the form's choices)."""
    out = {}
    for key in FILTERS:
        counts = Counter(v for r in all_rows for v in r.values(key) if v)
        out[key] = counts.most_common(limit)
    return out


def page_of(items: list[Row], page: int) -> tuple[list[Row], int, int]:
    """(the rows of page `page` (1-based, clamped), that page, the number of pages)."""
    pages = max(1, -(-len(items) // PER_PAGE))
    page = min(max(page, 1), pages)
    return items[(page - 1) * PER_PAGE : page * PER_PAGE], page, pages


def to_csv(selected: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for r in selected:
        data = r.export()
        writer.writerow(
            [_csv_cell(";".join(v) if isinstance(v, list) else v) for v in data.values()]
        )
    return out.getvalue()


def _csv_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading quote (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def to_json(selected: list[Row], filters: Mapping[str, str], query: str) -> str:
    doc = {"filters": dict(filters), "q": query, "count": len(selected),
           "services": [r.export() for r in selected]}  # fmt: skip
    return json.dumps(doc, ensure_ascii=False, indent=1)
