"""What the honeypot classifier (assess/honeypot.py) needs from stored observations, read on
demand: no table is written and the schema is unchanged.

* host evidence: the `honeypot:*` items (and fingerprint.choose's `honeypot` item) that the
  pipeline kept in each observation's `evidence` JSON;
* population groups: addresses sharing one model inventory (names with digests or sizes,
  the same identity as `assess.honeypot.inventory_key`), and among those, addresses whose
  answers were byte-identical (every logged request's status and length, canary aside, with
  product and version: `assess.honeypot.banner_key`).

Every query runs over a population table with the columns obs_id, ip, port, model_set,
product and version (the study's `study_obs`, or `population_table`'s `honeypot_obs`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import duckdb

from aicensus.store.db import Store

CANARY_LIKE = "%aicensus-canary-%"
_TABLE_NAMES = frozenset({"study_obs", "honeypot_obs"})


class HoneypotRows(NamedTuple):
    host: list[tuple[str, int, str]]  # ip, port, evidence JSON (a list of Evidence objects)
    inventory: list[tuple[str, int]]  # ip, addresses that share its inventory
    banner: list[tuple[str, int]]  # ip, addresses with byte-identical answers
    # ip, port, product, version, path: a 2xx answer to a route of a version_routes rule, by
    # a service whose (product, version) the caller named (older than the route)
    routes: list[tuple[str, int, str, str, str]]


# (product, version) -> the routes it cannot serve: assess.honeypot.stale_routes
StaleRoutes = Callable[[Sequence[tuple[str, str]]], list[tuple[str, str, str]]]


def _q(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> list[Any]:
    return con.execute(sql, list(params)).fetchall()


def honeypot_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    min_addresses: int,
    stale: StaleRoutes | None = None,
) -> HoneypotRows:
    """The classifier's inputs over the population in `table`. `stale` names, from the
    population's (product, version) pairs, the routes each cannot serve: their 2xx answers in
    the request log come back in `routes` (so stores written before the classifier, or merged
    from elsewhere, are judged on them too)."""
    if table not in _TABLE_NAMES:  # a table name cannot be a parameter: only known ones
        raise ValueError(f"unknown population table {table!r}")
    host = [
        (ip, int(port), str(evidence))
        for ip, port, evidence in _q(
            con,
            f"""SELECT o.ip, o.port, CAST(b.evidence AS VARCHAR) FROM {table} o
                JOIN observations b USING (obs_id)
                WHERE CAST(b.evidence AS VARCHAR) LIKE '%"kind":"honeypot%'""",
        )
    ]
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE honeypot_inv AS
        WITH sets AS (
            SELECT m.set_id,
                   md5(string_agg(m.name || '|' || coalesce(m.digest, '') || '|'
                                  || coalesce(CAST(m.size_bytes AS VARCHAR), ''), chr(10)
                                  ORDER BY m.name, m.digest, m.size_bytes)) AS inv
            FROM set_models m WHERE m.set_id IN (SELECT DISTINCT model_set FROM {table})
            GROUP BY m.set_id
            HAVING bool_or(m.digest IS NOT NULL OR m.size_bytes IS NOT NULL)),
        per AS (SELECT o.obs_id, o.ip, s.inv FROM {table} o JOIN sets s
                ON s.set_id = o.model_set),
        grp AS (SELECT inv, count(DISTINCT ip) AS n FROM per GROUP BY inv HAVING n >= $1)
        SELECT per.obs_id, per.ip, per.inv, grp.n FROM per JOIN grp USING (inv)""",
        [min_addresses],
    )
    inventory = [
        (ip, int(n)) for ip, n in _q(con, "SELECT DISTINCT ip, n FROM honeypot_inv ORDER BY ip")
    ]
    banner = [
        (ip, int(n))
        for ip, n in _q(
            con,
            f"""WITH prof AS (
                    SELECT h.obs_id, h.ip, md5(concat_ws(chr(10), o.product, o.version, h.inv,
                        string_agg(l.method || ' ' || l.path || ' '
                                   || coalesce(CAST(l.status AS VARCHAR), 'None') || ' '
                                   || CAST(l.bytes AS VARCHAR), chr(10)
                                   ORDER BY l.method, l.path, l.status, l.bytes))) AS k
                    FROM honeypot_inv h JOIN {table} o USING (obs_id)
                    LEFT JOIN request_log l ON l.obs_id = h.obs_id
                        AND l.error IS NULL AND l.path NOT LIKE '{CANARY_LIKE}'
                    GROUP BY h.obs_id, h.ip, h.inv, o.product, o.version),
                grp AS (SELECT k, count(DISTINCT ip) AS n FROM prof GROUP BY k HAVING n >= $1)
                SELECT DISTINCT prof.ip, grp.n FROM prof JOIN grp USING (k) ORDER BY 1""",
            [min_addresses],
        )
    ]
    routes = _route_rows(con, table, stale) if stale is not None else []
    return HoneypotRows(host, inventory, banner, routes)


def _route_rows(
    con: duckdb.DuckDBPyConnection, table: str, stale: StaleRoutes
) -> list[tuple[str, int, str, str, str]]:
    # The distinct versions first (few), so the request log is read only for the services
    # whose version is older than a route in the rules (fewer still).
    pairs = [
        (str(p), str(v))
        for p, v in _q(
            con,
            f"SELECT DISTINCT product, version FROM {table} "
            "WHERE product IS NOT NULL AND version IS NOT NULL",
        )
    ]
    wanted = stale(pairs)
    if not wanted:
        return []
    products, versions, paths = (list(c) for c in zip(*wanted, strict=True))
    return [
        (ip, int(port), product, version, path)
        for ip, port, product, version, path in _q(
            con,
            f"""WITH r AS (SELECT unnest($1::VARCHAR[]) AS product,
                                  unnest($2::VARCHAR[]) AS version,
                                  unnest($3::VARCHAR[]) AS path)
                SELECT DISTINCT o.ip, o.port, o.product, o.version, l.path
                FROM {table} o JOIN r ON r.product = o.product AND r.version = o.version
                JOIN request_log l ON l.obs_id = o.obs_id AND l.path = r.path
                WHERE l.status BETWEEN 200 AND 299 ORDER BY 1, 2""",
            [products, versions, paths],
        )
    ]


def population_table(store: Store, scan_id: int | None = None) -> str:
    """TEMP table honeypot_obs: the observations that answered as an AI product or as a
    suspected honeypot (of one scan, or all). Returns its name, for honeypot_rows."""
    where = "status IN ('identified', 'suspected-honeypot')"
    params: list[object] = []
    if scan_id is not None:
        where += " AND scan_id = $1"
        params.append(scan_id)
    store._con.execute(
        "CREATE OR REPLACE TEMP TABLE honeypot_obs AS SELECT obs_id, ip, port, model_set, "
        f"product, version, status FROM observations WHERE {where}",
        params,
    )
    return "honeypot_obs"


def store_honeypot_rows(
    store: Store,
    min_addresses: int,
    scan_id: int | None = None,
    stale: StaleRoutes | None = None,
) -> HoneypotRows:
    """honeypot_rows over a whole store (or one scan): the ingest pass."""
    return honeypot_rows(store._con, population_table(store, scan_id), min_addresses, stale)


def honeypot_status_ips(
    con: duckdb.DuckDBPyConnection, window: Sequence[str], params: Sequence[object]
) -> list[str]:
    """Distinct addresses of the `suspected-honeypot` observations inside a study's window
    (`window`: its conditions other than the status, built with parameters only)."""
    where = " AND ".join(["status = 'suspected-honeypot'", *window])
    return [r[0] for r in _q(con, f"SELECT DISTINCT ip FROM observations WHERE {where}", params)]
