"""Writing the SYNTHETIC benchmark dataset of `aicensus lab synth` (lab/synth.py draws the
hosts; this expands them into observations and model sets and writes the Parquet dataset, in
the layout of longitudinal.py). Everything runs in a private in-memory DuckDB, not in a store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import duckdb

from aicensus.store import longitudinal as lon
from aicensus.store import rows
from aicensus.store.db import mapped_errors

# Per-host columns lab/synth.py draws, with their types.
HOST_COLUMNS = (
    ("host", "INTEGER"), ("ip", "VARCHAR"), ("k", "INTEGER"), ("first_s", "BIGINT"),
    ("span_s", "BIGINT"), ("p_run", "DOUBLE"), ("version", "VARCHAR"), ("auth", "VARCHAR"),
)  # fmt: skip
# Columns of a catalogue model: every model-set column but seq (which is its place on a host).
CATALOGUE_FIELDS = tuple(f for f in lon.MODEL_FIELDS if f != "seq")


class SyntheticShape(NamedTuple):
    """What to write. hosts: one list per HOST_COLUMNS name (host i observed k times, evenly
    over span_s seconds from first_s, running a model with probability p_run); host_models:
    (host, seq, catalogue index) lists, the inventory of each host; catalogue: one row per
    model in CATALOGUE_FIELDS order."""

    hosts: Mapping[str, Sequence[object]]
    host_models: tuple[Sequence[int], Sequence[int], Sequence[int]]
    catalogue: Sequence[tuple[object, ...]]
    start: datetime
    shard: str  # the dataset's shard name
    source: str  # every observation's source
    marker: str  # every observation's evidence marker
    port: int = 11434
    product: str = "ollama"


def _quote(text: str) -> str:
    return text.replace("'", "''")


def write_synthetic(
    out: Path, shape: SyntheticShape, metadata: dict[str, str], memory_limit: str | None = None
) -> tuple[int, int]:
    """Write the dataset to out (a new or empty directory); returns (observations, models)."""
    with mapped_errors(f"cannot write the synthetic dataset to {out}"):
        con = duckdb.connect()
        try:
            return _write(con, out, shape, metadata, memory_limit)
        finally:
            con.close()


def _write(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    shape: SyntheticShape,
    metadata: dict[str, str],
    memory_limit: str | None,
) -> tuple[int, int]:
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
    con.execute("SET preserve_insertion_order = false")
    model_types = dict(rows.MODEL_COLUMNS)
    fields = CATALOGUE_FIELDS
    con.execute(
        "CREATE TABLE cat (idx INTEGER, " + ", ".join(f"{f} {model_types[f]}" for f in fields) + ")"
    )
    con.executemany(
        f"INSERT INTO cat VALUES (?, {', '.join('?' for _ in fields)})",
        [(i, *row) for i, row in enumerate(shape.catalogue)],
    )
    con.execute(
        "CREATE TABLE hm AS SELECT unnest($1::INTEGER[]) AS host, unnest($2::INTEGER[]) AS seq, "
        "unnest($3::INTEGER[]) AS idx",
        [list(c) for c in shape.host_models],
    )
    con.execute(
        "CREATE TABLE h AS SELECT "
        + ", ".join(f"unnest(${i}::{t}[]) AS {n}" for i, (n, t) in enumerate(HOST_COLUMNS, 1)),
        [list(shape.hosts[n]) for n, _ in HOST_COLUMNS],
    )
    start_sql = shape.start.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    con.execute(
        f"""CREATE TABLE o AS
        SELECT h.host, r.i, (h.host::BIGINT << 20) + r.i AS ref, h.ip, h.version, h.auth,
               TIMESTAMP '{start_sql}' + to_seconds(h.first_s + (r.i * h.span_s) // h.k
                                                    + hash(h.host, 'tod') % 3600) AS observed_at,
               CASE WHEN n.n > 0 AND (hash(h.host, r.i, 'run') % 1000) < h.p_run * 1000
                    THEN hash(h.host, r.i, 'which') % n.n END AS run_idx,
               coalesce(n.n, 0) AS n_models
        FROM h LEFT JOIN (SELECT host, count(*) AS n FROM hm GROUP BY host) n USING (host),
             LATERAL (SELECT unnest(range(h.k)) AS i) r"""
    )
    shard, source, marker = _quote(shape.shard), _quote(shape.source), _quote(shape.marker)
    month = "strftime(o.observed_at, '%Y-%m') AS month"
    model_cols = ", ".join(
        ("hm.seq" if f == "seq" else
         "coalesce(hm.seq = u.run_idx, false)" if f == "running" else
         "CASE WHEN hm.seq = u.run_idx THEN c.size_bytes END" if f == "vram_bytes" else
         f"c.{f}") + f" AS {f}"
        for f in lon.MODEL_FIELDS
    )  # fmt: skip
    # One model set per host and running model (or none running): the inventories it shows.
    set_key = "CAST({t}.host AS VARCHAR) || ':' || coalesce(CAST({t}.run_idx AS VARCHAR), '-')"
    queries = {
        "observations": f"""
            SELECT '{shard}' AS shard, o.ref, o.ip, {int(shape.port)} AS port, 'http' AS scheme,
                   'identified' AS status, '{_quote(shape.product)}' AS product, o.version,
                   1.0::DOUBLE AS confidence, o.auth, o.observed_at,
                   strftime(o.observed_at, '%Y-%m-%dT%H:%M:%SZ') AS observed_at_text,
                   NULL::VARCHAR AS hostname, NULL::JSON AS tls,
                   '[{{"kind":"match","probe":"synthetic","marker":"{marker}","weight":1.0}}]'::JSON
                       AS evidence,
                   '[]'::JSON AS auth_evidence, NULL::VARCHAR AS error, '{source}' AS source,
                   CASE WHEN o.n_models > 0 THEN {set_key.format(t="o")} END AS set_key,
                   {month}
            FROM o""",
    }
    sets_query = f"""
        SELECT '{shard}' AS shard, {set_key.format(t="u")} AS set_key, {model_cols}
        FROM (SELECT DISTINCT host, run_idx FROM o WHERE n_models > 0) u
        JOIN hm ON hm.host = u.host JOIN cat c ON c.idx = hm.idx"""
    months = [
        r[0]
        for r in con.execute("SELECT DISTINCT strftime(observed_at, '%Y-%m') FROM o").fetchall()
    ]
    lon.write_dataset(con, out, queries, months, metadata)
    lon.write_table(con, out / "model_sets", sets_query, metadata)
    found = con.execute("SELECT count(*), sum(n_models) FROM o").fetchone() or (0, 0)
    return int(found[0] or 0), int(found[1] or 0)
