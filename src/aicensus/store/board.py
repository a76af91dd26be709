"""The dashboard's working copy of the services (`aicensus serve`): an in-memory DuckDB table
of every service from the store's summary (store/summary.py), to which the dashboard adds each
host's geography and each service's findings as it learns them. Its pages filter, search,
sort, page and count in SQL here, so a page costs milliseconds on 175,000 services, and only
the rows a page shows become Python objects.

Not the store: nothing here writes the store file, and the copy is read while the store is open
(read-only) for a moment only, so a scan can take the store between two pages.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb

from aicensus.store.dashboard import ServiceRow
from aicensus.store.db import Store, apply_limits, mapped_errors
from aicensus.store.longitudinal import _connection
from aicensus.store.summary import SERVICE_COLUMNS, Summary, empty_relation

_EMPTY_SERVICES = empty_relation(SERVICE_COLUMNS)
SEVERITIES = ("critical", "high", "medium", "low", "info")  # most severe first
_RANK = "CASE worst " + " ".join(
    f"WHEN '{s}' THEN {len(SEVERITIES) - i}" for i, s in enumerate(SEVERITIES)
) + " ELSE 0 END"  # fmt: skip
# Filter → (column, is a list).
FILTER_COLUMNS = {
    "product": ("product", False),
    "version": ("version", False),
    "country": ("country", False),
    "as": ("as_key", False),
    "auth": ("auth", False),
    "finding": ("finding_ids", True),
    "developer": ("developers", True),
    "dev_country": ("countries", True),
}
SORT_ORDERS = {
    "address": "ip, port",
    "severity": "rank DESC, finding_count DESC, ip, port",
    "recent": "last_seen DESC NULLS LAST, ip, port",
    "models": "n_models DESC, ip, port",
}


# What the search looks in, lower-cased; chr(31) keeps a match from spanning two fields.
_HAY = (
    "lower(concat_ws(chr(31), ip, CAST(port AS VARCHAR), product, version, country, as_key, "
    "org, array_to_string(developers, chr(31))))"
)


def _quote(text: str) -> str:
    return text.replace("'", "''")


class BoardRow(ServiceRow, kw_only=True, frozen=True):
    """One service as the services table shows it: its summary row and where it is."""

    country: str | None
    as_key: str | None
    org: str | None
    finding_ids: tuple[str, ...]
    worst: str
    finding_count: int


_ROW_COLUMNS = (
    "ip, port, scheme, product, version, auth, obs_id, scan_id, n_obs, first_seen, last_seen, "
    "n_models, developers, countries, country, as_key, org, finding_ids, worst, finding_count"
)


def _row(r: tuple[Any, ...]) -> BoardRow:
    return BoardRow(
        ip=r[0], port=r[1], scheme=r[2], product=r[3], version=r[4], auth=r[5], obs_id=r[6],
        scan_id=r[7], observations=r[8],
        first_seen=r[9].replace(tzinfo=UTC) if r[9] is not None else None,
        last_seen=r[10].replace(tzinfo=UTC) if r[10] is not None else None,
        models=r[11], developers=tuple(r[12] or ()), developer_countries=tuple(r[13] or ()),
        country=r[14], as_key=r[15], org=r[16], finding_ids=tuple(r[17] or ()),
        worst=r[18] or "", finding_count=r[19] or 0,
    )  # fmt: skip


class Board:
    """Every service of one snapshot of the store, in memory; thread-safe."""

    def __init__(self) -> None:
        self._con = duckdb.connect(":memory:")
        self._lock = threading.Lock()  # the pages' connection, one statement group at a time
        self._writer = threading.Lock()  # one background change at a time (on its cursor)
        self._hay = _HAY  # what a search looks in: the expression, until _join keeps a column
        self._con.execute(
            "CREATE TABLE geo (ip VARCHAR, country VARCHAR, as_key VARCHAR, org VARCHAR)"
        )
        self._con.execute(
            "CREATE TABLE findings (ip VARCHAR, port INTEGER, finding_ids VARCHAR[], "
            "worst VARCHAR, finding_count INTEGER, "
            + ", ".join(f"{s} INTEGER" for s in SEVERITIES)
            + ")"
        )

    @classmethod
    def empty(cls) -> Board:
        """A board with no service (a snapshot's, until it is read)."""
        board = cls()
        board._con.execute(
            "CREATE TABLE board AS SELECT *, NULL::VARCHAR AS country, NULL::VARCHAR AS as_key, "
            "NULL::VARCHAR AS org, []::VARCHAR[] AS finding_ids, '' AS worst, "
            f"0 AS finding_count, 0 AS rank, NULL::VARCHAR AS hay FROM {_EMPTY_SERVICES}"
        )
        return board

    @classmethod
    def load(cls, store: Store) -> Board:
        """The store's services, copied by this in-memory database itself: it attaches the
        store file read-only for the copy (while `store` holds it open, so no writer can take
        it meanwhile) and detaches it. No Python object per row."""
        board = cls()
        summary = Summary(_connection(store))
        with mapped_errors(f"cannot read the services of {store.path}"):
            board._con.execute(f"ATTACH '{_quote(store.path)}' AS aicensus_store (READ_ONLY)")
            try:
                board._con.execute("USE aicensus_store")  # the summary's names are the store's
                apply_limits(board._con)
                board._con.execute(
                    "CREATE TABLE memory.main.board AS SELECT *, NULL::VARCHAR AS country, "
                    "NULL::VARCHAR AS as_key, NULL::VARCHAR AS org, "
                    "[]::VARCHAR[] AS finding_ids, '' AS worst, 0 AS finding_count, 0 AS rank, "
                    f"NULL::VARCHAR AS hay FROM {summary.services()}"
                )
            finally:
                board._con.execute("USE memory")
                board._con.execute("DETACH aicensus_store")
        return board

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def _join(self, cur: duckdb.DuckDBPyConnection) -> None:
        """The board again, with the geography and findings known now, built aside on the
        background's cursor while pages read the board, then swapped in (the search text is
        kept as a column from now on, not computed per search)."""
        cur.execute(
            f"""CREATE OR REPLACE TABLE board_next AS
            SELECT *, {_HAY} AS hay FROM (
                SELECT b.* EXCLUDE (country, as_key, org, finding_ids, worst, finding_count,
                                    rank, hay),
                       g.country, g.as_key, g.org,
                       coalesce(f.finding_ids, []) AS finding_ids,
                       coalesce(f.worst, '') AS worst,
                       coalesce(f.finding_count, 0) AS finding_count,
                       {_RANK.replace("worst", "coalesce(f.worst, '')")} AS rank
                FROM board b LEFT JOIN geo g USING (ip) LEFT JOIN findings f USING (ip, port))"""
        )
        with self._lock:
            self._con.execute("BEGIN TRANSACTION")
            self._con.execute("DROP TABLE board")
            self._con.execute("ALTER TABLE board_next RENAME TO board")
            self._con.execute("COMMIT")
            self._hay = "hay"

    # ------------------------------------------------------------ adding what was learnt

    def keys(self) -> list[tuple[str, int, int]]:
        """(ip, port, obs_id of the latest identified observation) of every service."""
        with self._lock:
            found = self._con.execute("SELECT ip, port, obs_id FROM board ORDER BY ip, port")
            return [(r[0], r[1], r[2]) for r in found.fetchall()]

    def set_geo(self, geo: Sequence[tuple[str, str | None, str | None, str | None]]) -> None:
        """Each host's (ip, country, as_key, org)."""
        columns = [[g[i] for g in geo] for i in range(4)]
        with self._writer, contextlib.closing(self._con.cursor()) as cur:
            cur.execute("BEGIN TRANSACTION")
            cur.execute("DELETE FROM geo")
            cur.execute(
                "INSERT INTO geo SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), "
                "unnest($3::VARCHAR[]), unnest($4::VARCHAR[])",
                columns,
            )
            cur.execute("COMMIT")
            self._join(cur)

    def set_findings(
        self, found: Sequence[tuple[str, int, Sequence[str], str, int, Mapping[str, int]]]
    ) -> None:
        """Each service's (ip, port, finding ids, worst severity, count, {severity: count}).
        The ids travel as one string per service: 3 million list items cost seconds."""
        columns = [
            [f[0] for f in found], [f[1] for f in found], ["\x1f".join(f[2]) for f in found],
            [f[3] for f in found], [f[4] for f in found],
            *([f[5].get(s, 0) for f in found] for s in SEVERITIES),
        ]  # fmt: skip
        with self._writer, contextlib.closing(self._con.cursor()) as cur:
            cur.execute("BEGIN TRANSACTION")
            cur.execute("DELETE FROM findings")
            cur.execute(
                "INSERT INTO findings SELECT ip, port, CASE WHEN ids = '' THEN []::VARCHAR[] "
                "ELSE string_split(ids, chr(31)) END, worst, n, "
                + ", ".join(SEVERITIES)
                + " FROM (SELECT unnest($1::VARCHAR[]) AS ip, unnest($2::INTEGER[]) AS port, "
                "unnest($3::VARCHAR[]) AS ids, unnest($4::VARCHAR[]) AS worst, "
                "unnest($5::INTEGER[]) AS n, "
                + ", ".join(f"unnest(${i}::INTEGER[]) AS {s}" for i, s in enumerate(SEVERITIES, 6))
                + ")",
                columns,
            )
            cur.execute("COMMIT")
            self._join(cur)

    # ------------------------------------------------------------ reading

    def count(self) -> int:
        with self._lock:
            row = self._con.execute("SELECT count(*) FROM board").fetchone()
        return int(row[0]) if row else 0

    def _where(self, filters: Mapping[str, str], query: str) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        for key, want in filters.items():
            column, is_list = FILTER_COLUMNS[key]
            params.append(want)
            if is_list:
                clauses.append(f"list_contains({column}, ${len(params)})")
            else:
                clauses.append(f"coalesce({column}, '') = ${len(params)}")
        if query:
            params.append(query.lower())
            clauses.append(f"contains({self._hay}, ${len(params)})")
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params

    def select(
        self,
        filters: Mapping[str, str],
        query: str = "",
        sort: str = "address",
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[list[BoardRow], int]:
        """(the rows the filters and search keep, in `sort` order, from offset, at most
        limit of them; how many they keep in all)."""
        where, params = self._where(filters, query)
        order = SORT_ORDERS.get(sort, SORT_ORDERS["address"])
        page = f"LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
        with self._lock:
            total = self._con.execute(f"SELECT count(*) FROM board {where}", params).fetchone()
            found = (
                self._con.execute(
                    f"SELECT {_ROW_COLUMNS} FROM board {where} ORDER BY {order} {page}", params
                ).fetchall()
                if limit != 0
                else []
            )
        return [_row(r) for r in found], int(total[0]) if total else 0

    def options(self, limit: int = 200) -> dict[str, list[tuple[str, int]]]:
        """Each filter's values with their counts, most common first."""
        out = {}
        with self._lock:
            for key, (column, is_list) in FILTER_COLUMNS.items():
                values = f"unnest({column})" if is_list else column
                out[key] = [
                    (v, n)
                    for v, n in self._con.execute(
                        f"SELECT v, count(*) AS n FROM (SELECT {values} AS v FROM board) "
                        f"WHERE v IS NOT NULL AND v <> '' GROUP BY v "
                        f"ORDER BY n DESC, v LIMIT {int(limit)}"
                    ).fetchall()
                ]
        return out

    def counts(self, key: str) -> list[tuple[str, int]]:
        """How many services have each value of one filter (products: 'unknown' for none),
        most first."""
        column, is_list = FILTER_COLUMNS[key]
        values = f"unnest({column})" if is_list else f"coalesce({column}, 'unknown')"
        with self._lock:
            return [
                (v, n)
                for v, n in self._con.execute(
                    f"SELECT v, count(*) AS n FROM (SELECT {values} AS v FROM board) "
                    "GROUP BY v ORDER BY n DESC, v"
                ).fetchall()
            ]

    def hosts(self) -> int:
        with self._lock:
            row = self._con.execute("SELECT count(DISTINCT ip) FROM board").fetchone()
        return int(row[0]) if row else 0

    def host_countries(self) -> dict[str, int]:
        """Hosts (distinct IPs) by country, where known."""
        with self._lock:
            found = self._con.execute(
                "SELECT country, count(DISTINCT ip) AS n FROM board WHERE country IS NOT NULL "
                "AND country <> '' GROUP BY country ORDER BY n DESC, country"
            ).fetchall()
        return dict(found)

    def severity_counts(self) -> dict[str, int]:
        """Findings by severity, over every service (most severe first)."""
        with self._lock:
            row = self._con.execute(
                "SELECT " + ", ".join(f"coalesce(sum({s}), 0)" for s in SEVERITIES)
                + " FROM findings"
            ).fetchone()  # fmt: skip
        return {s: int(row[i]) if row else 0 for i, s in enumerate(SEVERITIES)}

    def export(
        self,
        kind: str,
        filters: Mapping[str, str],
        query: str = "",
        sort: str = "address",
    ) -> tuple[Iterator[bytes], int]:
        """(the rows the filters and search keep, as UTF-8 chunks of CSV with a header row, or
        of JSON objects separated by ",\\n" (the caller writes the enclosing array); how many).
        DuckDB writes every row under the lock, in one statement; the chunks are then handed
        out without it, so a slow download holds up no other page. In the CSV, a text cell a
        spreadsheet would run as a formula gets a leading quote (CSV injection)."""
        where, params = self._where(filters, query)
        order = SORT_ORDERS.get(sort, SORT_ORDERS["address"])
        if kind == "csv":
            return self._export_csv(where, params, order)
        fields = ", ".join(f"'{name}', {expr}" for name, expr, _ in _EXPORT_FIELDS)
        with self._lock:
            found = self._con.execute(
                f"SELECT json_object({fields}) FROM board {where} ORDER BY {order}",
                params,
            ).fetchall()
        return _json_chunks(found), len(found)

    def _export_csv(
        self, where: str, params: list[object], order: str
    ) -> tuple[Iterator[bytes], int]:
        columns = ", ".join(
            f'{_csv_cell(expr, kind)} AS "{name}"' for name, expr, kind in _EXPORT_FIELDS
        )
        with tempfile.TemporaryDirectory(prefix="aicensus-export-") as directory:
            path = Path(directory) / "export.csv"
            with self._lock:
                total = self._con.execute(f"SELECT count(*) FROM board {where}", params).fetchone()
                self._con.execute(
                    f"COPY (SELECT {columns} FROM board {where} ORDER BY {order}) "
                    f"TO '{_quote(str(path))}' (FORMAT csv, HEADER true)",
                    params,
                )
            body = path.read_bytes()  # bytes as written: no text decoded and encoded again
        return _byte_chunks(body), int(total[0]) if total else 0


_CHUNK_ROWS = 10_000  # JSON rows per chunk of a download (few chunks: each is a thread hop)
_CHUNK_BYTES = 4 << 20  # CSV bytes per chunk of a download


def _json_chunks(found: list[tuple[Any, ...]]) -> Iterator[bytes]:
    for start in range(0, len(found), _CHUNK_ROWS):
        lead = b"" if start == 0 else b",\n"
        yield lead + ",\n".join(r[0] for r in found[start : start + _CHUNK_ROWS]).encode()


def _byte_chunks(body: bytes) -> Iterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), _CHUNK_BYTES):
        yield bytes(view[start : start + _CHUNK_BYTES])


# A text cell that a spreadsheet would run as a formula, with a leading quote.
_GUARD = (
    "CASE WHEN left({v}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || {v} ELSE {v} END"
)
# A timestamp as Python's datetime.isoformat() writes a UTC one.
_ISO = (
    "strftime({t}, '%Y-%m-%dT%H:%M:%S') || CASE WHEN microsecond({t}) % 1000000 = 0 THEN '' "
    "ELSE '.' || lpad(CAST(microsecond({t}) % 1000000 AS VARCHAR), 6, '0') END || '+00:00'"
)
# The exports' fields: (name, expression over the board, kind), in the CSV's column order.
# Kind "text" is guarded against formulas in the CSV; "list" is a JSON array, and a ";"-joined
# (guarded) cell in the CSV; "plain" is a number or a time.
_EXPORT_FIELDS = (
    ("ip", "ip", "text"), ("port", "port", "plain"), ("scheme", "scheme", "text"),
    ("product", "product", "text"), ("version", "version", "text"), ("auth", "auth", "text"),
    ("country", "country", "text"), ("as", "as_key", "text"), ("models", "n_models", "plain"),
    ("developers", "developers", "list"), ("developer_countries", "countries", "list"),
    ("findings", "finding_ids", "list"), ("worst", "nullif(worst, '')", "text"),
    ("observations", "n_obs", "plain"), ("first_seen", _ISO.format(t="first_seen"), "plain"),
    ("last_seen", _ISO.format(t="last_seen"), "plain"),
)  # fmt: skip


def _csv_cell(expr: str, kind: str) -> str:
    if kind == "list":
        expr = f"array_to_string({expr}, ';')"
    return expr if kind == "plain" else _GUARD.format(v=expr)
