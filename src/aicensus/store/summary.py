"""The dashboard's summary tables: per-service, per-(model set, service) and per-model
aggregates of the observations, so that `aicensus serve` answers in well under a second on a
7-million-observation store instead of grouping every observation on each change.

A derived cache, not part of the schema: the writer creates the tables on its first refresh
and brings them up to date when a scan or an ingest finishes (Store.finish_scan), reading only
the observations stored since (obs_id above `summary_state.through`). A store without them
(written by an older aicensus, or by a run that died before finishing) is read all the same:
every reader here adds the observations past `through` to the tables itself, which is exact
and only slower. A change of SUMMARY_FORMAT rebuilds the tables from the observations.

Observations are only ever appended, in obs_id order (one writer; each batch reserves its ids
inside its transaction), so "obs_id above through" is exactly what the tables lack.
"""

from __future__ import annotations

import duckdb

SUMMARY_FORMAT = 2  # 2: summary_models.matched_by (schema 6)

# (column, type): one row per service (ip, port) with an identified observation, from its
# latest identified observation (the highest obs_id) and the counts over all of them.
SERVICE_COLUMNS = (
    ("ip", "VARCHAR"), ("port", "INTEGER"), ("obs_id", "BIGINT"), ("scan_id", "BIGINT"),
    ("scheme", "VARCHAR"), ("product", "VARCHAR"), ("version", "VARCHAR"), ("auth", "VARCHAR"),
    ("model_set", "BIGINT"), ("n_obs", "BIGINT"), ("first_seen", "TIMESTAMP"),
    ("last_seen", "TIMESTAMP"), ("n_models", "INTEGER"), ("developers", "VARCHAR[]"),
    ("countries", "VARCHAR[]"),
)  # fmt: skip
# One row per (model set, service) that any observation (any status) listed: the latest such
# observation, its product and the last time it was seen.
SERVED_COLUMNS = (
    ("set_id", "BIGINT"), ("ip", "VARCHAR"), ("port", "INTEGER"), ("last_obs", "BIGINT"),
    ("product", "VARCHAR"), ("last_seen", "TIMESTAMP"),
)  # fmt: skip
# One row per model name, as of `through`.
MODEL_COLUMNS = (
    ("name", "VARCHAR"), ("developer", "VARCHAR"), ("country", "VARCHAR"),
    ("licence", "VARCHAR"), ("family", "VARCHAR"), ("services", "BIGINT"), ("hosts", "BIGINT"),
    ("matched_by", "VARCHAR"),
)  # fmt: skip
TABLES = {
    "summary_services": SERVICE_COLUMNS,
    "summary_served": SERVED_COLUMNS,
    "summary_models": MODEL_COLUMNS,
}


def _names(columns: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(n for n, _ in columns)


def empty_relation(columns: tuple[tuple[str, str], ...]) -> str:
    """A relation with these columns and no row: the stand-in for a table not built yet."""
    return "(SELECT " + ", ".join(f"NULL::{t} AS {n}" for n, t in columns) + " LIMIT 0)"


class Summary:
    """The tables' names (or empty stand-ins) and `through`, as one connection sees them."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.through = state(con)
        built = self.through is not None
        self.tables = {t: (t if built else empty_relation(cols)) for t, cols in TABLES.items()}
        self.since = self.through or 0
        top = con.execute("SELECT max(obs_id) FROM observations").fetchone()
        self.newest = int(top[0]) if top and top[0] is not None else 0
        # Up to date: the tables alone are the answer.
        self.current = built and self.newest <= self.since

    def delta_services(self) -> str:
        """The summary rows of the services that observations past `through` changed."""
        return _DELTA_SERVICES.format(since=int(self.since), old=self.tables["summary_services"])

    def services(self) -> str:
        """Every service, whole: the table, with the services changed since replaced."""
        table = self.tables["summary_services"]
        if self.current:
            return table
        return (
            f"(SELECT * FROM (SELECT {_names(SERVICE_COLUMNS)} FROM {table}) "
            f"ANTI JOIN (SELECT ip, port FROM observations WHERE obs_id > {int(self.since)} "
            f"AND status = 'identified') USING (ip, port) "
            f"UNION ALL BY NAME SELECT * FROM ({self.delta_services()}))"
        )

    def delta_served(self) -> str:
        return _DELTA_SERVED.format(since=int(self.since), old=self.tables["summary_served"])

    def served(self) -> str:
        table = self.tables["summary_served"]
        if self.current:
            return table
        return (
            f"(SELECT * FROM (SELECT {_names(SERVED_COLUMNS)} FROM {table}) "
            f"ANTI JOIN (SELECT model_set AS set_id, ip, port FROM observations "
            f"WHERE obs_id > {int(self.since)} AND model_set IS NOT NULL) "
            f"USING (set_id, ip, port) "
            f"UNION ALL BY NAME SELECT * FROM ({self.delta_served()}))"
        )

    def models(self) -> str:
        """Every model name: the stored table when nothing was stored since, else computed."""
        if self.current:
            return "summary_models"
        return f"({_MODELS.format(served=self.served())})"


_DELTA_SERVICES = """
WITH d AS (
    SELECT ip, port, max(obs_id) AS obs_id, count(*) AS n_obs,
           min(observed_at) AS first_seen, max(observed_at) AS last_seen
    FROM observations WHERE obs_id > {since} AND status = 'identified' GROUP BY ip, port
), latest AS (
    SELECT d.*, o.scan_id, o.scheme, o.product, o.version, o.auth, o.model_set
    FROM d JOIN (SELECT * FROM observations WHERE obs_id > {since}) o USING (obs_id)
), sets AS (
    SELECT set_id,
           list(DISTINCT developer ORDER BY developer) FILTER (developer IS NOT NULL) AS devs,
           list(DISTINCT country ORDER BY country) FILTER (country IS NOT NULL) AS countries
    FROM set_models WHERE set_id IN (SELECT model_set FROM latest) GROUP BY set_id
)
SELECT l.ip, l.port, l.obs_id, l.scan_id, l.scheme, l.product, l.version, l.auth, l.model_set,
       l.n_obs + coalesce(s.n_obs, 0) AS n_obs,
       CASE WHEN s.first_seen IS NULL OR l.first_seen < s.first_seen THEN l.first_seen
            ELSE s.first_seen END AS first_seen,
       CASE WHEN s.last_seen IS NULL OR l.last_seen > s.last_seen THEN l.last_seen
            ELSE s.last_seen END AS last_seen,
       CAST(coalesce(ms.n_models, 0) AS INTEGER) AS n_models,
       coalesce(x.devs, []) AS developers, coalesce(x.countries, []) AS countries
FROM latest l
LEFT JOIN {old} s USING (ip, port)
LEFT JOIN model_sets ms ON ms.set_id = l.model_set
LEFT JOIN sets x ON x.set_id = l.model_set
"""

_DELTA_SERVED = """
WITH d AS (
    SELECT model_set AS set_id, ip, port, max(obs_id) AS last_obs,
           arg_max(product, obs_id) AS product, max(observed_at) AS last_seen
    FROM observations WHERE obs_id > {since} AND model_set IS NOT NULL GROUP BY ALL
)
SELECT d.set_id, d.ip, d.port, d.last_obs, d.product,
       CASE WHEN s.last_seen IS NULL OR d.last_seen > s.last_seen THEN d.last_seen
            ELSE s.last_seen END AS last_seen
FROM d LEFT JOIN {old} s USING (set_id, ip, port)
"""

_MODELS = """
SELECT m.name, mode(m.developer) AS developer, mode(m.country) AS country,
       mode(m.licence) AS licence, mode(m.family) AS family,
       count(DISTINCT (s.ip, s.port)) AS services, count(DISTINCT s.ip) AS hosts,
       mode(m.matched_by) AS matched_by
FROM set_models m JOIN (SELECT set_id, ip, port FROM {served}) s USING (set_id)
GROUP BY m.name
"""


def state(con: duckdb.DuckDBPyConnection) -> int | None:
    """The highest obs_id the tables cover; None when they are not built (or of another
    format, so to be rebuilt)."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE schema_name = 'main' AND table_name = 'summary_state'"
    ).fetchone()
    if not found or not found[0]:
        return None
    row = con.execute("SELECT format, through FROM summary_state").fetchone()
    if row is None or row[0] != SUMMARY_FORMAT:
        return None
    return int(row[1])


def refresh(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the tables up to date with every stored observation, in one transaction (the
    caller's writable connection, outside any transaction)."""
    con.execute("BEGIN TRANSACTION")
    try:
        _refresh(con)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _refresh(con: duckdb.DuckDBPyConnection) -> None:
    if state(con) is None:
        con.execute("DROP TABLE IF EXISTS summary_state")
        for table, columns in TABLES.items():
            con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute(f"CREATE TABLE {table} (" + ", ".join(f"{n} {t}" for n, t in columns) + ")")
        con.execute("CREATE TABLE summary_state (format INTEGER NOT NULL, through BIGINT NOT NULL)")
        con.execute("INSERT INTO summary_state VALUES (?, 0)", [SUMMARY_FORMAT])
    summary = Summary(con)
    if summary.current:
        return
    for table, delta in (("summary_services", summary.delta_services()),
                         ("summary_served", summary.delta_served())):  # fmt: skip
        keys = "ip, port" if table == "summary_services" else "set_id, ip, port"
        con.execute(f"CREATE OR REPLACE TEMP TABLE _aicensus_delta AS {delta}")
        on = " AND ".join(f"t.{k} = d.{k}" for k in keys.split(", "))
        con.execute(f"DELETE FROM {table} t USING _aicensus_delta d WHERE {on}")
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _aicensus_delta")
    con.execute("DROP TABLE _aicensus_delta")
    con.execute("DELETE FROM summary_models")
    con.execute(f"INSERT INTO summary_models BY NAME {_MODELS.format(served='summary_served')}")
    con.execute("UPDATE summary_state SET through = ?", [summary.newest])
