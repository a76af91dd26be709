"""What each page shows, from the reader's snapshot: filtering, paging and exports of the
services table. No SQL: the snapshot's board (store/board.py) filters, sorts and counts."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

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


def export(snap: Snapshot, params: Mapping[str, str], kind: str) -> Iterator[bytes]:
    """The filtered, sorted view as CSV (a header row, then one row per service) or as JSON
    ({filters, q, count, services: [...]}), in chunks to send as they come; the board writes
    the rows, all of them before the first chunk (so a download never mixes two states)."""
    filters, query = chosen(params), params.get("q", "").strip()
    body, count = snap.board.export(kind, filters, query, params.get("sort", "address"))
    if kind == "csv":
        return body
    head = json.dumps({"filters": filters, "q": params.get("q", ""), "count": count},
                      ensure_ascii=False)  # fmt: skip
    return itertools.chain([(head[:-1] + ', "services": [').encode()], body, [b"]}"])
