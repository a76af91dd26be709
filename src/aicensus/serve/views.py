"""What each page shows, from the reader's snapshot: filtering, paging and exports of the
services table. No SQL: the snapshot's board (store/board.py) filters, sorts and counts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aicensus.serve.reader import Snapshot
from aicensus.store.board import BoardRow

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
    """One services-table row: the service, its host's geography and its findings."""

    s: BoardRow

    @property
    def country(self) -> str | None:
        return self.s.country

    @property
    def as_key(self) -> str | None:
        return self.s.as_key

    @property
    def org(self) -> str | None:
        return self.s.org

    @property
    def finding_ids(self) -> tuple[str, ...]:
        return self.s.finding_ids

    @property
    def worst(self) -> str:
        return self.s.worst

    @property
    def finding_count(self) -> int:
        return self.s.finding_count

    def export(self) -> dict[str, Any]:
        s = self.s
        return {
            "ip": s.ip, "port": s.port, "scheme": s.scheme, "product": s.product,
            "version": s.version, "auth": s.auth, "country": s.country, "as": s.as_key,
            "models": s.models, "developers": list(s.developers),
            "developer_countries": list(s.developer_countries),
            "findings": list(s.finding_ids), "worst": s.worst or None,
            "observations": s.observations,
            "first_seen": s.first_seen.isoformat() if s.first_seen else None,
            "last_seen": s.last_seen.isoformat() if s.last_seen else None,
        }  # fmt: skip


def chosen(params: Mapping[str, str]) -> dict[str, str]:
    """The filters the query string sets (unknown parameters are ignored)."""
    return {k: params[k] for k in FILTERS if params.get(k)}


# The services table's orders: name → label (rows in (ip, port) order within ties).
SORTS = {
    "address": "address",
    "severity": "most severe finding",
    "recent": "last seen",
    "models": "most models",
}


def select(
    snap: Snapshot, params: Mapping[str, str], page: int | None = None
) -> tuple[list[Row], int, int, int]:
    """(the rows the filters and search keep, in the order `sort` asks (address by default):
    page `page` of them (1-based, clamped), or all when page is None; how many they keep;
    the page; the number of pages)."""
    filters, query = chosen(params), params.get("q", "").strip()
    sort = params.get("sort", "address")
    if page is None:
        found, total = snap.board.select(filters, query, sort)
        return [Row(r) for r in found], total, 1, 1
    _, total = snap.board.select(filters, query, sort, limit=0)
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(page, 1), pages)
    found, total = snap.board.select(
        filters, query, sort, offset=(page - 1) * PER_PAGE, limit=PER_PAGE
    )
    return [Row(r) for r in found], total, page, pages


def options(snap: Snapshot, limit: int = 200) -> dict[str, list[tuple[str, int]]]:
    """Each filter's values with their counts, most common first (the form's choices)."""
    return snap.board.options(limit)


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
