"""`aicensus report study`: the measurement-study figures of a store, computed in DuckDB SQL,
each with its exact definition, and set beside the published studies' figures.

Units (docs/measurement.md):

* observation — one stored observation of an identified AI service (status `identified`) with
  a timestamp, inside the population (product filter, time window);
* host — one distinct IP address among them; service — one distinct (IP, port);
* host-day — one distinct (host, UTC date) with at least one observation;
* window — [first observation, last observation]; its length in days counts both ends;
* (host, model) instance — one distinct model name on one host over the window.

`compute_study()` returns a JSON-ready dict: `meta`, `figures` (a list of figure tables) and
`comparison` (ours beside the published value). Nothing here sends a request.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import duckdb
import msgspec

from aicensus.assess import Severity, assess
from aicensus.enrich import default_tiers, enrich, open_geo
from aicensus.errors import StoreError
from aicensus.store import Store, rows
from aicensus.store import longitudinal as lon
from aicensus.version import __version__

Figure = dict[str, Any]

PARAM_BANDS = ("<1B", "1–3B", "4–7B", "8–14B", "15–34B", "35–70B", ">70B")


def param_band_sql(b: str) -> str:
    """SQL for the band of b, the floor of the parameter count in billions."""
    return f"""CASE
    WHEN {b} IS NULL THEN NULL WHEN {b} < 1 THEN '<1B' WHEN {b} <= 3 THEN '1–3B'
    WHEN {b} <= 7 THEN '4–7B' WHEN {b} <= 14 THEN '8–14B' WHEN {b} <= 34 THEN '15–34B'
    WHEN {b} <= 70 THEN '35–70B' ELSE '>70B' END"""


PARAM_BAND_DEFINITION = (
    "Band of floor(parameters in billions), from the model's parameter_count (else its "
    "parameter_size, e.g. '7.6B' → 7, '70.6B' → 70, '751.63M' → 0): <1B = 0, 1–3B = 1–3, "
    "4–7B = 4–7, 8–14B = 8–14, 15–34B = 15–34, 35–70B = 35–70, >70B = 71 and more. Share of "
    "hosts with at least one model in the band."
)
# quantization_level → bit-width class (published mapping; case-insensitive prefix rules).


def quant_class_sql(q: str) -> str:
    """SQL for the bit-width class of q, an upper-cased quantization_level."""
    return f"""CASE
    WHEN {q} IS NULL OR {q} = '' THEN 'unknown'
    WHEN {q} LIKE 'Q1%' OR {q} LIKE 'IQ1%' THEN '1-bit'
    WHEN {q} LIKE 'Q2%' OR {q} LIKE 'IQ2%' THEN '2-bit'
    WHEN {q} LIKE 'Q3%' OR {q} LIKE 'IQ3%' THEN '3-bit'
    WHEN {q} LIKE 'Q4%' OR {q} LIKE 'IQ4%' OR {q} = 'MXFP4' OR {q} = 'INT4' THEN '4-bit'
    WHEN {q} LIKE 'Q5%' OR {q} LIKE 'IQ5%' THEN '5-bit'
    WHEN {q} LIKE 'Q6%' THEN '6-bit'
    WHEN {q} LIKE 'Q8%' OR {q} LIKE 'FP8%' OR {q} = 'INT8' THEN '8-bit'
    WHEN {q} IN ('F16', 'BF16', 'FP16') THEN '16-bit'
    WHEN {q} IN ('F32', 'FP32') THEN '32-bit'
    ELSE 'other' END"""


QUANT_CLASS_DEFINITION = (
    "Bit-width class of quantization_level: 4-bit = Q4_*, IQ4_*, MXFP4, INT4; 8-bit = Q8_*, "
    "FP8_* (e.g. FP8_E4M3), INT8; 16-bit = F16, BF16, FP16; 32-bit = F32; n-bit = Qn_*/IQn_* "
    "for n = 1, 2, 3, 5, 6; unknown = not reported. Share of (host, model) instances that "
    "report a quantization — the denominator is model instances, not hosts."
)
CAPABILITIES = ("completion", "tools", "vision", "thinking", "embedding", "insert")
INVENTORY_BINS = ("0", "1", "2–3", "4–9", "10–19", "≥20")
PERSISTENCE_BINS = ("1", "2–5", "6–10", "11–50", "51–100", "101–200", ">200")


class StudyOptions(msgspec.Struct, kw_only=True):
    products: list[str] = msgspec.field(default_factory=list)  # empty: every product
    since: datetime | None = None
    until: datetime | None = None
    rule: lon.PersistenceRule = msgspec.field(default_factory=lon.PersistenceRule)
    mmdb: list[str] = msgspec.field(default_factory=list)
    top: int = 20
    findings_sample: int = 5_000
    uptime_threshold: float = 0.8


# ---------------------------------------------------------------- helpers


def _share(part: float | int | None, whole: float | int | None) -> float | None:
    if not whole:
        return None
    return round((part or 0) / whole, 4)


def _q(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> tuple:
    row = con.execute(sql, list(params)).fetchone()
    return row if row is not None else ()


def _figure(
    fid: str,
    title: str,
    definition: str,
    columns: list[str],
    table: list[list[Any]],
    *,
    chart: str | None = None,
    label: int = 0,
    notes: list[str] | None = None,
) -> Figure:
    """One figure: a table whose column `chart` (a share 0–1) is drawn as bars."""
    return {
        "id": fid,
        "title": title,
        "definition": definition,
        "columns": columns,
        "rows": table,
        "chart": chart,
        "label": label,
        "notes": notes or [],
    }


# ---------------------------------------------------------------- population


def _population(con: duckdb.DuckDBPyConnection, options: StudyOptions) -> str:
    where = ["status = 'identified'", "observed_at IS NOT NULL"]
    params: list[object] = []
    if options.products:
        where.append("product IN (SELECT unnest($1::VARCHAR[]))")
        params.append(list(options.products))
    if options.since is not None:
        params.append(options.since.astimezone(UTC).replace(tzinfo=None))
        where.append(f"observed_at >= ${len(params)}")
    if options.until is not None:
        params.append(options.until.astimezone(UTC).replace(tzinfo=None))
        where.append(f"observed_at < ${len(params)}")
    text = " AND ".join(where)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE study_obs AS "
        "SELECT obs_id, ip, hash(ip) AS hid, port, observed_at, CAST(observed_at AS DATE) AS day, "
        "product, "
        f"version, auth, source, model_set FROM observations WHERE {text}",
        params,
    )
    return text


def _model_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Per-observation model counts, and one row per (host, model name) instance.

    Hosts are keyed by hid = hash(ip) (64 bits: a collision among 10^6 hosts has odds of about
    1 in 10^7), which makes the 25-million-row aggregations several times faster than strings.
    """
    # Models are stored once per distinct inventory (model set, store/sets.py): aggregate the
    # population per (host, set) first, then expand each set's few rows.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE study_obs_models AS
        SELECT o.obs_id, s.n_models, s.n_running
        FROM study_obs o JOIN model_sets s ON s.set_id = o.model_set"""
    )
    # Per (host, model name): flags over the window, details from the latest observation.
    con.execute(
        r"""CREATE OR REPLACE TEMP TABLE study_instances AS
        WITH per_set AS (
            SELECT hid, model_set, count(*) AS n, max(observed_at) AS last_at
            FROM study_obs WHERE model_set IS NOT NULL GROUP BY hid, model_set),
        last AS (
            SELECT p.hid, m.name, arg_max(m.set_id, p.last_at) AS last_set,
                   sum(p.n) AS observations,
                   bool_or(m.system_prompt_sha256 IS NOT NULL) AS system_prompt,
                   bool_or(m.guardrails_removed) AS guardrails_removed,
                   bool_or(m.running) AS ever_running
            FROM per_set p JOIN set_models m ON m.set_id = p.model_set
            GROUP BY p.hid, m.name)
        SELECT l.*, nullif(lower(m.family), '') AS family,
               nullif(upper(m.quantization), '') AS quantization,
               coalesce(m.parameter_count,
                        TRY_CAST(regexp_extract(m.parameter_size, '^\s*([0-9.]+)', 1) AS DOUBLE)
                        * CASE upper(regexp_extract(m.parameter_size, '([KMBT])\s*$', 1))
                            WHEN 'K' THEN 1e3 WHEN 'M' THEN 1e6 WHEN 'B' THEN 1e9
                            WHEN 'T' THEN 1e12 END) AS parameters,
               list_sort(m.capabilities) AS capabilities,
               m.developer, m.country AS dev_country
        FROM last l JOIN set_models m ON m.set_id = l.last_set AND m.name = l.name
        QUALIFY row_number() OVER (PARTITION BY l.hid, l.name ORDER BY m.seq) = 1"""
    )


def _enrichment(con: duckdb.DuckDBPyConnection, options: StudyOptions) -> dict[str, Any]:
    geo = open_geo(list(options.mmdb) or None)
    ips = [r[0] for r in _q(con, "SELECT DISTINCT ip FROM study_obs")]
    found = enrich(ips, geo, default_tiers())
    con.execute(
        "CREATE OR REPLACE TEMP TABLE study_geo (ip VARCHAR, country VARCHAR, asn BIGINT, "
        "org VARCHAR, as_key VARCHAR, tier VARCHAR, hyperscaler BOOLEAN, tier_basis VARCHAR)"
    )
    if found:
        columns = list(zip(*(msgspec.structs.astuple(e) for e in found), strict=True))
        con.execute(
            "INSERT INTO study_geo SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), "
            "unnest($3::BIGINT[]), unnest($4::VARCHAR[]), unnest($5::VARCHAR[]), "
            "unnest($6::VARCHAR[]), unnest($7::BOOLEAN[]), unnest($8::VARCHAR[])",
            [list(c) for c in columns],
        )
    con.execute("ALTER TABLE study_geo ADD COLUMN hid UBIGINT")
    con.execute("UPDATE study_geo SET hid = hash(ip)")
    info = geo.describe()
    table = default_tiers()
    return {
        "database": info.name,
        "date": info.date,
        "files": info.files,
        "asn_numbers": info.has_asn_numbers,
        "tier_table": f"aicensus/enrich/data/asn_tiers.csv ({len(table.entries)} AS organisations)",
    }


# ---------------------------------------------------------------- figures


def _scale(con: duckdb.DuckDBPyConnection, meta: dict[str, Any]) -> Figure:
    obs, hosts, services, host_days, first, last = _one(
        con,
        "SELECT count(*), count(DISTINCT hid), count(DISTINCT (hid, port)), "
        "count(DISTINCT (hid, day)), min(observed_at), max(observed_at) FROM study_obs",
    )
    countries, asns, orgs = _one(
        con,
        "SELECT count(DISTINCT country), count(DISTINCT asn), count(DISTINCT as_key) "
        "FROM study_geo",
    )
    days = (last.date() - first.date()).days + 1 if first and last else 0
    meta["window"] = {
        "first": first.isoformat() + "Z" if first else None,
        "last": last.isoformat() + "Z" if last else None,
        "days": days,
    }
    meta["counts"] = {"observations": obs, "hosts": hosts}
    asn_row = (
        ["ASNs", asns, "distinct AS numbers of unique hosts (ASN database below)"]
        if meta["enrichment"]["asn_numbers"]
        else [
            "ASNs (AS organisations)",
            orgs,
            "distinct AS organisations of unique hosts: the GeoIP database below gives no AS "
            "numbers, so ASNs of one organisation count once (give an ASN .mmdb for numbers)",
        ]
    )
    return _figure(
        "scale",
        "Scale",
        "Counts over the population: identified AI services with a timestamp.",
        ["figure", "value", "definition"],
        [
            ["observations", obs, "stored observations of an identified service in the window"],
            ["unique hosts", hosts, "distinct IP addresses among those observations"],
            ["services", services, "distinct (IP, port) pairs"],
            ["host-days", host_days, "distinct (IP, UTC date) pairs with ≥1 observation"],
            ["window days", days, "days from the first to the last observation, both counted"],
            ["first observation", meta["window"]["first"], "earliest observed_at (UTC)"],
            ["last observation", meta["window"]["last"], "latest observed_at (UTC)"],
            ["countries", countries, "distinct countries of unique hosts (GeoIP, below)"],
            asn_row,
            [
                "observations per host-day",
                round(obs / host_days, 3) if host_days else None,
                "scan cadence: observations / host-days (1.0 = at most one sighting a day)",
            ],
        ],
    )


def _persistence(
    con: duckdb.DuckDBPyConnection, rule: lon.PersistenceRule, window_days: int
) -> list[Figure]:
    total_hosts, total_obs = _one(con, "SELECT count(*), sum(observations) FROM study_hosts")
    by_class = {
        r[0]: r[1:]
        for r in _q(
            con,
            "SELECT persistence, count(*), sum(observations), avg(days_observed), "
            "avg(days_observed / span_days) FROM study_hosts GROUP BY persistence",
        )
    }
    described = rule.describe()
    table = []
    for klass in ("seen_once", "transient", "persistent"):
        hosts, obs, days, _uptime = by_class.get(klass, (0, 0, None, None))
        table.append(
            [
                klass.replace("_", " "),
                hosts,
                _share(hosts, total_hosts),
                int(obs or 0),
                _share(obs, total_obs),
                round(days, 2) if days is not None else None,
                described[klass],
            ]
        )
    classes = _figure(
        "persistence",
        "Persistence classes",
        "Each host's observation count k_h over the window decides its class "
        f"(thresholds configurable: --once-max {rule.once_max_observations}, "
        f"--persistent-min {rule.persistent_min_observations}, --persistent-days "
        f"{rule.persistent_min_days}). Share of hosts, and the class's share of all "
        "observations. They depend on scan cadence; the host-day view below does not.",
        ["class", "hosts", "share of hosts", "observations", "share of observations",
         "mean days observed", "rule"],
        table,
        chart="share of hosts",
    )  # fmt: skip
    bins = _q(
        con,
        """SELECT CASE WHEN observations = 1 THEN '1' WHEN observations <= 5 THEN '2–5'
                  WHEN observations <= 10 THEN '6–10' WHEN observations <= 50 THEN '11–50'
                  WHEN observations <= 100 THEN '51–100' WHEN observations <= 200 THEN '101–200'
                  ELSE '>200' END AS bin, count(*), sum(observations)
           FROM study_hosts GROUP BY bin""",
    )
    found = {b: (h, o) for b, h, o in bins}
    histogram = _figure(
        "persistence_histogram",
        "Observations per host (k_h)",
        "Histogram of k_h, the number of observations of each host over the window: share of "
        "hosts and share of observations per bin.",
        ["k_h", "hosts", "share of hosts", "share of observations"],
        [
            [b, found.get(b, (0, 0))[0], _share(found.get(b, (0, 0))[0], total_hosts),
             _share(found.get(b, (0, 0))[1], total_obs)]
            for b in PERSISTENCE_BINS
        ],
        chart="share of hosts",
    )  # fmt: skip
    mean_window, mean_span, med_days = _one(
        con,
        "SELECT avg(days_observed / $1), avg(days_observed / span_days), "
        "median(days_observed) FROM study_hosts",
        [max(window_days, 1)],
    )
    cadence_free = _figure(
        "host_days",
        "Cadence-free persistence (host-days)",
        "Host-day measures that do not depend on how often hosts were scanned.",
        ["figure", "value", "definition"],
        [
            ["mean availability over the window", _round(mean_window),
             "mean over hosts of days observed / window days"],
            ["mean availability over the host's span", _round(mean_span),
             "mean over hosts of days observed / days from its first to its last sighting"],
            ["median days observed", med_days, "median over hosts of distinct UTC days seen"],
        ],
    )  # fmt: skip
    return [classes, histogram, cadence_free]


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _uptime_subset(con: duckdb.DuckDBPyConnection, threshold: float) -> Figure:
    hosts, uptime, running = _one(
        con,
        """WITH tools AS (SELECT DISTINCT hid FROM study_instances
                          WHERE list_contains(capabilities, 'tools')),
                h AS (SELECT h.hid, h.days_observed / h.span_days AS uptime
                      FROM study_hosts h SEMI JOIN tools t ON h.hid = t.hid
                      WHERE h.days_observed / h.span_days >= $1 AND h.span_days >= 7)
           SELECT count(*), avg(uptime),
                  (SELECT avg(coalesce(m.n_running, 0)) FROM study_obs o
                   LEFT JOIN study_obs_models m USING (obs_id) SEMI JOIN h ON o.hid = h.hid)
           FROM h""",
        [threshold],
    )
    return _figure(
        "uptime_subset",
        "High-capability, high-availability subset",
        f"Hosts with ≥1 model advertising `tools` and uptime ≥ {threshold:.0%}, where uptime = "
        "days observed / days from first to last sighting, over hosts seen across at least 7 "
        "days. Mean running models = mean over their observations of models in /api/ps.",
        ["figure", "value"],
        [["hosts", hosts], ["mean uptime", _round(uptime)],
         ["mean running models per observation", _round(running, 2)]],
    )  # fmt: skip


def _tiers(con: duckdb.DuckDBPyConnection, hosts: int) -> list[Figure]:
    found = {
        r[0]: r[1:]
        for r in _q(
            con,
            """SELECT g.tier, count(*), avg(h.observations), avg(h.days_observed / h.span_days),
                      avg(CAST(r.running AS INTEGER)), avg(r.inventory)
               FROM study_geo g JOIN study_hosts h USING (hid) LEFT JOIN study_host_models r
               USING (hid) GROUP BY g.tier""",
        )
    }
    table = []
    for tier in ("cloud/hosting", "telecom/residential", "enterprise", "education", "unknown"):
        n, obs, uptime, running, inventory = found.get(tier, (0, None, None, None, None))
        table.append(
            [tier, n, _share(n, hosts), _round(obs, 1), _round(uptime), _round(running),
             _round(inventory, 2)]
        )  # fmt: skip
    hyper = _one(con, "SELECT count(*) FILTER (WHERE hyperscaler) FROM study_geo")[0]
    table.append(
        ["hyperscalers (within cloud/hosting)", hyper, _share(hyper, hosts), None, None, None,
         None]
    )  # fmt: skip
    basis = dict(_q(con, "SELECT tier_basis, count(*) FROM study_geo GROUP BY tier_basis"))
    tiers = _figure(
        "tiers",
        "Infrastructure tiers",
        "Share of unique hosts by the tier of their network (AS), from the bundled table "
        "aicensus/enrich/data/asn_tiers.csv (by AS number, else organisation name, else the "
        "documented name rules; else unknown). Per tier: mean observations per host, mean "
        "uptime (days observed / span), running share (hosts with ≥1 running model in ≥1 "
        "observation) and mean inventory (max models listed in one observation). The last "
        "row, hyperscalers (AWS, Azure, Google Cloud, Alibaba Cloud, Tencent Cloud, Oracle, "
        "IBM Cloud, Huawei Cloud), is a subset of cloud/hosting, not a sixth tier.",
        ["tier", "hosts", "share of hosts", "mean observations", "mean uptime", "running share",
         "mean inventory"],
        table,
        chart="share of hosts",
        notes=[
            "classified by " + ", ".join(f"{k}: {v}" for k, v in sorted(basis.items())),
        ],
    )  # fmt: skip
    return [tiers]


def _geography(con: duckdb.DuckDBPyConnection, hosts: int, top: int) -> list[Figure]:
    countries = _q(
        con,
        "SELECT coalesce(country, '(unknown)'), count(*) AS n FROM study_geo "
        "GROUP BY ALL ORDER BY n DESC, 1 LIMIT $1",
        [top],
    )
    asns = _q(
        con,
        "SELECT coalesce(as_key, '(unknown)'), any_value(org), any_value(tier), count(*) AS n "
        "FROM study_geo GROUP BY as_key ORDER BY n DESC, 1 LIMIT $1",
        [top],
    )
    return [
        _figure(
            "countries",
            f"Top {top} countries",
            "Share of unique hosts by the country of their IP address (GeoIP database below).",
            ["country", "hosts", "share of hosts"],
            [[c, n, _share(n, hosts)] for c, n in countries],
            chart="share of hosts",
        ),
        _figure(
            "asns",
            f"Top {top} networks (ASNs)",
            "Share of unique hosts by network: the AS number when the database has it, else "
            "the AS organisation.",
            ["AS", "organisation", "tier", "hosts", "share of hosts"],
            [[k, o, t, n, _share(n, hosts)] for k, o, t, n in asns],
            chart="share of hosts",
            label=0,
        ),
    ]


def _families(con: duckdb.DuckDBPyConnection, hosts: int, top: int) -> list[Figure]:
    obs_total, host_days = _one(con, "SELECT count(*), count(DISTINCT (hid, day)) FROM study_obs")
    # (observation, family) pairs first, so two llama-family models in one observation count
    # once; then per (family, host): observations and distinct days; then per family.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE study_family AS
        SELECT family, count(*) AS hosts, sum(n_obs) AS observations, sum(n_days) AS host_days
        FROM (SELECT p.family, o.hid, count(*) AS n_obs, count(DISTINCT o.day) AS n_days
              FROM (SELECT DISTINCT set_id, lower(family) AS family FROM set_models
                    WHERE family IS NOT NULL AND family <> '') p
              JOIN study_obs o ON p.set_id = o.model_set
              GROUP BY p.family, o.hid)
        GROUP BY family"""
    )
    ranked = _q(
        con,
        """SELECT family, hosts, observations, host_days,
                  rank() OVER (ORDER BY hosts DESC), rank() OVER (ORDER BY observations DESC),
                  rank() OVER (ORDER BY host_days DESC)
           FROM study_family ORDER BY hosts DESC, family LIMIT $1""",
        [top],
    )
    table = [
        [f, h, _share(h, hosts), o, _share(o, obs_total), d, _share(d, host_days), rh, ro, rd]
        for f, h, o, d, rh, ro, rd in ranked
    ]
    top3 = [
        [
            r[0]
            for r in _q(con, f"SELECT family FROM study_family ORDER BY {w} DESC, family LIMIT 3")
        ]
        for w in ("hosts", "observations", "host_days")
    ]
    families = _figure(
        "families",
        f"Top {top} model families",
        "details.family (the GGUF architecture: llama, qwen2, gemma2 …, not the name prefix), "
        "weighted three ways: unique hosts with ≥1 model of the family; observations listing "
        "≥1 such model; host-days (host, UTC date) with ≥1 such observation. Shares are of all "
        "hosts, observations and host-days. Ranks per weighting.",
        ["family", "hosts", "share of hosts", "observations", "share of observations",
         "host-days", "share of host-days", "rank (hosts)", "rank (observations)",
         "rank (host-days)"],
        table,
        chart="share of hosts",
        notes=[
            "top 3 by hosts / observations / host-days: "
            + " | ".join(", ".join(t) for t in top3)
            + ("; identical (zero rank volatility)" if top3[0] == top3[1] == top3[2] else "")
        ],
    )  # fmt: skip
    (multi,) = _one(
        con,
        "SELECT count(*) FROM (SELECT hid FROM study_instances WHERE family IS NOT NULL "
        "GROUP BY hid HAVING count(DISTINCT family) >= 2)",
    )
    pairs = _q(
        con,
        """WITH f AS (SELECT DISTINCT hid, family FROM study_instances WHERE family IS NOT NULL)
           SELECT a.family || ' + ' || b.family, count(*) AS n
           FROM f a JOIN f b ON a.hid = b.hid AND a.family < b.family
           GROUP BY ALL ORDER BY n DESC, 1 LIMIT 10""",
    )
    codeploy = _figure(
        "codeployment",
        "Co-deployed family pairs",
        "Hosts serving ≥1 model of each of two families (over the window), among hosts with "
        "≥2 distinct families; share = pair hosts / multi-family hosts.",
        ["pair", "hosts", "share of multi-family hosts"],
        [[p, n, _share(n, multi)] for p, n in pairs],
        chart="share of multi-family hosts",
        notes=[f"multi-family hosts: {multi} ({_share(multi, hosts)} of hosts)"],
    )
    return [families, codeploy]


def _attribution(con: duckdb.DuckDBPyConnection, hosts: int, top: int) -> list[Figure]:
    (instances,) = _one(con, "SELECT count(*) FROM study_instances")
    out = []
    for column, title, fid in (
        ("developer", "Model developers", "developers"),
        ("dev_country", "Model developers' countries", "developer_countries"),
    ):
        found = _q(
            con,
            f"""SELECT coalesce({column}, '(unattributed)') AS k, count(DISTINCT hid),
                       count(*) FROM study_instances GROUP BY k
                ORDER BY 2 DESC, 1 LIMIT $1""",
            [top],
        )
        out.append(
            _figure(
                fid,
                title,
                f"Attribution of each served model to its developer (and the developer's "
                f"country) by the provenance catalog (aicensus models whois). Share of hosts "
                f"with ≥1 model by that {'developer' if column == 'developer' else 'country'}, "
                "and share of (host, model) instances; '(unattributed)' = no catalog match.",
                ["value", "hosts", "share of hosts", "instances", "share of instances"],
                [[k, h, _share(h, hosts), n, _share(n, instances)] for k, h, n in found],
                chart="share of hosts",
            )
        )
    return out


def _quantization(con: duckdb.DuckDBPyConnection, hosts: int, top: int) -> list[Figure]:
    levels = _q(
        con,
        "SELECT quantization, count(DISTINCT hid) AS n FROM study_instances "
        "WHERE quantization IS NOT NULL AND quantization <> '' GROUP BY ALL "
        "ORDER BY n DESC, 1 LIMIT $1",
        [top],
    )
    (reported,) = _one(
        con, "SELECT count(*) FROM study_instances WHERE coalesce(quantization, '') <> ''"
    )
    classes = _q(
        con,
        f"""SELECT cls, count(*) FROM (SELECT {quant_class_sql("quantization")} AS cls
                                      FROM study_instances)
            WHERE cls <> 'unknown' GROUP BY cls ORDER BY 2 DESC""",
    )
    tiers = _q(
        con,
        """SELECT tier, arg_max(quantization, n), max(n) FROM (
               SELECT g.tier, i.quantization, count(DISTINCT i.hid) AS n
               FROM study_instances i JOIN study_geo g USING (hid)
               WHERE coalesce(i.quantization, '') <> '' GROUP BY ALL) GROUP BY tier ORDER BY 1""",
    )
    return [
        _figure(
            "quantization_hosts",
            f"Top {top} quantization levels (hosts)",
            "Share of hosts with ≥1 model whose details.quantization_level is the level "
            "(upper-cased).",
            ["quantization", "hosts", "share of hosts"],
            [[q, n, _share(n, hosts)] for q, n in levels],
            chart="share of hosts",
            notes=[
                "most common level per tier: "
                + "; ".join(f"{t}: {q} ({n} hosts)" for t, q, n in tiers)
            ],
        ),
        _figure(
            "quantization_bits",
            "Quantization bit-width (model instances)",
            QUANT_CLASS_DEFINITION,
            ["class", "instances", "share of instances with a quantization"],
            [[c, n, _share(n, reported)] for c, n in classes],
            chart="share of instances with a quantization",
        ),
    ]


def _parameters(con: duckdb.DuckDBPyConnection, hosts: int) -> Figure:
    found = dict(
        _q(
            con,
            f"""SELECT band, count(DISTINCT hid) FROM (
                    SELECT hid, {param_band_sql("floor(parameters / 1e9)")} AS band
                    FROM study_instances) WHERE band IS NOT NULL GROUP BY band""",
        )
    )
    return _figure(
        "parameter_bands",
        "Parameter-size bands",
        PARAM_BAND_DEFINITION,
        ["band", "hosts", "share of hosts"],
        [[b, found.get(b, 0), _share(found.get(b, 0), hosts)] for b in PARAM_BANDS],
        chart="share of hosts",
    )


def _capabilities(con: duckdb.DuckDBPyConnection, hosts: int) -> Figure:
    (with_caps,) = _one(
        con, "SELECT count(DISTINCT hid) FROM study_instances WHERE len(capabilities) > 0"
    )
    table = []
    for cap in CAPABILITIES:
        (n,) = _one(
            con,
            "SELECT count(DISTINCT hid) FROM study_instances WHERE list_contains(capabilities, $1)",
            [cap],
        )
        table.append([cap, n, _share(n, hosts), _share(n, with_caps)])
    (exact,) = _one(
        con,
        "SELECT count(DISTINCT hid) FROM study_instances "
        "WHERE capabilities = ['completion', 'tools']",
    )
    table.append(["exactly [completion, tools]", exact, _share(exact, hosts),
                  _share(exact, with_caps)])  # fmt: skip
    return _figure(
        "capabilities",
        "Capabilities",
        "Share of hosts with ≥1 model whose capabilities (Ollama POST /api/show) include the "
        "capability; 'exactly [completion, tools]' = a model whose capability set is exactly "
        "those two. Denominators: all hosts, and hosts where ≥1 model reported capabilities "
        "(old Ollama versions and Censys records carry none).",
        ["capability", "hosts", "share of hosts", "share of hosts with capability data"],
        table,
        chart="share of hosts",
        notes=[f"hosts with capability data: {with_caps} ({_share(with_caps, hosts)} of hosts)"],
    )


def _inventory(con: duckdb.DuckDBPyConnection, hosts: int) -> list[Figure]:
    con.execute(
        """CREATE OR REPLACE TEMP TABLE study_host_models AS
        SELECT o.hid, max(coalesce(m.n_models, 0)) AS inventory,
               bool_or(coalesce(m.n_running, 0) > 0) AS running
        FROM study_obs o LEFT JOIN study_obs_models m USING (obs_id) GROUP BY o.hid"""
    )
    bins = dict(
        _q(
            con,
            """SELECT CASE WHEN inventory = 0 THEN '0' WHEN inventory = 1 THEN '1'
                      WHEN inventory <= 3 THEN '2–3' WHEN inventory <= 9 THEN '4–9'
                      WHEN inventory <= 19 THEN '10–19' ELSE '≥20' END AS bin, count(*)
               FROM study_host_models GROUP BY bin""",
        )
    )
    monthly = _q(
        con,
        """SELECT strftime(o.observed_at, '%Y-%m') AS month, avg(coalesce(m.n_models, 0)),
                  count(*), count(DISTINCT o.hid)
           FROM study_obs o LEFT JOIN study_obs_models m USING (obs_id)
           GROUP BY month ORDER BY month""",
    )
    first_month = dict(
        _q(con, "SELECT strftime(first_seen, '%Y-%m') AS m, count(*) FROM study_hosts GROUP BY m")
    )
    return [
        _figure(
            "models_per_host",
            "Models per host",
            "Per-host inventory = the largest number of models (/api/tags entries) listed in "
            "any one observation of the host (the maximum, not the latest); share of hosts per "
            "bin.",
            ["models", "hosts", "share of hosts"],
            [[b, bins.get(b, 0), _share(bins.get(b, 0), hosts)] for b in INVENTORY_BINS],
            chart="share of hosts",
        ),
        _figure(
            "monthly",
            "By month",
            "Per UTC calendar month: mean models listed per observation, observations, unique "
            "hosts, and new hosts (first seen that month).",
            ["month", "mean models per observation", "observations", "hosts", "new hosts"],
            [[m, _round(a, 2), n, h, first_month.get(m, 0)] for m, a, n, h in monthly],
        ),
    ]


def _running(con: duckdb.DuckDBPyConnection, hosts: int) -> Figure:
    (running_hosts,) = _one(con, "SELECT count(*) FROM study_host_models WHERE running")
    obs, running_obs, mean_running, mean_when = _one(
        con,
        """SELECT count(*), count(*) FILTER (WHERE coalesce(m.n_running, 0) > 0),
                  avg(coalesce(m.n_running, 0)), avg(m.n_running) FILTER (WHERE m.n_running > 0)
           FROM study_obs o LEFT JOIN study_obs_models m USING (obs_id)""",
    )
    return _figure(
        "running",
        "Running share",
        "A model is running when the server lists it as loaded (Ollama /api/ps; Censys "
        "running_models).",
        ["figure", "value", "definition"],
        [
            ["running share (hosts)", _share(running_hosts, hosts),
             "hosts with ≥1 running model in ≥1 observation / hosts"],
            ["running share (observations)", _share(running_obs, obs),
             "observations with ≥1 running model / observations"],
            ["mean running models", _round(mean_running, 3),
             "mean over observations of running models"],
            ["mean running models when any", _round(mean_when, 3),
             "the same over observations with ≥1 running model"],
        ],
    )  # fmt: skip


def _auth(con: duckdb.DuckDBPyConnection, hosts: int) -> Figure:
    latest = dict(
        _q(
            con,
            "SELECT auth, count(*) FROM (SELECT hid, arg_max(auth, observed_at) AS auth "
            "FROM study_obs GROUP BY hid) GROUP BY auth",
        )
    )
    (obs_total,) = _one(con, "SELECT count(*) FROM study_obs")
    by_obs = dict(_q(con, "SELECT auth, count(*) FROM study_obs GROUP BY auth"))
    return _figure(
        "auth",
        "Authentication state",
        "open = the model/inference routes answered without credentials; auth_required = they "
        "asked for credentials; partial = some open, some protected; unknown = not decided. "
        "Share of hosts by the state of their latest observation, and share of observations.",
        ["auth", "hosts", "share of hosts", "observations", "share of observations"],
        [
            [a, latest.get(a, 0), _share(latest.get(a, 0), hosts), by_obs.get(a, 0),
             _share(by_obs.get(a, 0), obs_total)]
            for a in ("open", "partial", "auth_required", "unknown")
        ],
        chart="share of hosts",
    )  # fmt: skip


def _prompts(con: duckdb.DuckDBPyConnection, hosts: int) -> Figure:
    prompt_hosts, guard_hosts, instances, prompt_instances = _one(
        con,
        """SELECT count(DISTINCT hid) FILTER (WHERE system_prompt),
                  count(DISTINCT hid) FILTER (WHERE guardrails_removed), count(*),
                  count(*) FILTER (WHERE system_prompt) FROM study_instances""",
    )
    return _figure(
        "prompts",
        "System prompts and guardrails",
        "Visible system prompt = the server returned a non-empty `system` for the model "
        "(Ollama /api/show); guardrails removed = the provenance catalog marks the model as an "
        "abliterated or uncensored derivative. Lower bounds: prompts sent per request are "
        "invisible.",
        ["figure", "value", "share"],
        [
            ["hosts with a visible system prompt", prompt_hosts, _share(prompt_hosts, hosts)],
            ["models (instances) with a visible system prompt", prompt_instances,
             _share(prompt_instances, instances)],
            ["hosts serving a guardrails-removed model", guard_hosts, _share(guard_hosts, hosts)],
        ],
    )  # fmt: skip


def _findings(con: duckdb.DuckDBPyConnection, sample: int) -> Figure:
    (services,) = _one(con, "SELECT count(DISTINCT (hid, port)) FROM study_obs")
    ids = [
        r[0]
        for r in _q(
            con,
            """SELECT arg_max(obs_id, observed_at) FROM study_obs GROUP BY hid, port
               ORDER BY md5(any_value(ip) || ':' || any_value(port)) LIMIT $1""",
            [sample],
        )
    ]
    observations = _load(con, ids)
    counts: Counter[tuple[str, str, str]] = Counter()
    flagged: Counter[str] = Counter()
    for obs in observations:
        findings = assess(obs)
        worst = max((f.severity.rank for f in findings), default=-1)
        for severity in Severity:
            if worst >= severity.rank:
                flagged[str(severity)] += 1
        for key in {(f.id, str(f.severity), f.title) for f in findings}:
            counts[key] += 1
    n = len(observations)
    table = [
        [fid, severity, title, c, _share(c, n)]
        for (fid, severity, title), c in sorted(
            counts.items(), key=lambda kv: (-Severity(kv[0][1]).rank, -kv[1], kv[0][0])
        )
    ]
    scope = "every service" if n == services else f"a sample of {n} of {services} services"
    return _figure(
        "findings",
        "Findings",
        "aicensus findings (docs/findings.md) of the latest observation of each service (IP, "
        f"port); computed over {scope} (ordered by a hash of IP:port, so the sample is fixed). "
        "Share = services with the finding / services assessed.",
        ["finding", "severity", "title", "services", "share of services"],
        table,
        chart="share of services",
        notes=[
            "services with ≥1 finding at or above: "
            + ", ".join(f"{s}: {_share(flagged.get(str(s), 0), n)}" for s in Severity)
        ],
    )


def _load(con: duckdb.DuckDBPyConnection, ids: list[int]) -> list[Any]:
    """The observations with these ids, models and request log included (three queries)."""
    if not ids:
        return []
    names = tuple(name for name, _ in rows.OBS_COLUMNS)
    model_names = tuple(name for name, _ in rows.MODEL_COLUMNS)
    log_names = tuple(name for name, _ in rows.LOG_COLUMNS)
    wanted = "SELECT unnest($1::BIGINT[])"
    found = con.execute(
        f"SELECT {', '.join(names)} FROM observations WHERE obs_id IN ({wanted}) ORDER BY obs_id",
        [ids],
    ).fetchall()
    models: dict[int, list[dict[str, Any]]] = {}
    for r in con.execute(
        f"SELECT {', '.join(model_names)} FROM models WHERE obs_id IN ({wanted}) "
        "ORDER BY obs_id, seq",
        [ids],
    ).fetchall():
        models.setdefault(r[0], []).append(dict(zip(model_names, r, strict=True)))
    logs: dict[int, list[dict[str, Any]]] = {}
    for r in con.execute(
        f"SELECT {', '.join(log_names)} FROM request_log WHERE obs_id IN ({wanted}) "
        "ORDER BY obs_id, seq",
        [ids],
    ).fetchall():
        logs.setdefault(r[0], []).append(dict(zip(log_names, r, strict=True)))
    out = []
    for r in found:
        cells = dict(zip(names, r, strict=True))
        obs_id = cells["obs_id"]
        out.append(rows.observation_from_cells(cells, models.get(obs_id), logs.get(obs_id)))
    return out


# ---------------------------------------------------------------- published figures

# (figure id, row label in our figure, column, published value, study, provenance, note)
PUBLISHED: tuple[tuple[str, str, str, float, str, str, str], ...] = (
    ("scale", "observations", "value", 7_230_000, "SentinelLABS/Censys 2026", "[P]",
     "Censys records over 293 days"),
    ("scale", "unique hosts", "value", 175_108, "SentinelLABS/Censys 2026", "[P]",
     "unique Ollama hosts seen at least once"),
    ("scale", "window days", "value", 293, "SentinelLABS/Censys 2026", "[P]", ""),
    ("scale", "countries", "value", 130, "SentinelLABS/Censys 2026", "[P]", ""),
    ("scale", "ASNs", "value", 4_032, "SentinelLABS/Censys 2026", "[P]", "AS numbers"),
    ("scale", "ASNs (AS organisations)", "value", 4_032, "SentinelLABS/Censys 2026", "[P]",
     "they count AS numbers; we count organisations (embedded data has no numbers)"),
    ("persistence", "seen once", "share of hosts", 0.36, "SentinelLABS/Censys 2026", "[P]",
     "k_h = 1"),
    ("persistence", "seen once", "share of observations", 0.01, "SentinelLABS/Censys 2026",
     "[P]", "'less than 1%'"),
    ("persistence", "persistent", "share of hosts", 0.13, "SentinelLABS/Censys 2026", "[P]",
     "k_h > 100"),
    ("persistence", "persistent", "share of observations", 0.76, "SentinelLABS/Censys 2026",
     "[P]", "'nearly 76%'"),
    ("uptime_subset", "hosts", "value", 5_000, "SentinelLABS/Censys 2026", "[P]",
     "tools + high availability; their uptime definition is not published"),
    ("uptime_subset", "mean uptime", "value", 0.87, "SentinelLABS/Censys 2026", "[P]", ""),
    ("uptime_subset", "mean running models per observation", "value", 1.8,
     "SentinelLABS/Censys 2026", "[P]", ""),
    ("tiers", "telecom/residential", "share of hosts", 0.32, "SentinelLABS/Censys 2026", "[P]",
     "their tier scheme (by ASN type: telecom 56 %)"),
    ("tiers", "unknown", "share of hosts", 0.16, "SentinelLABS/Censys 2026", "[P]",
     "null tier labels"),
    ("tiers", "hyperscalers (within cloud/hosting)", "share of hosts", 0.32,
     "SentinelLABS/Censys 2026", "[P]", "their 'Hyperscaler' tier"),
    ("countries", "CN", "share of hosts", 0.30, "SentinelLABS/Censys 2026", "[S]", "≈30 %"),
    ("countries", "US", "share of hosts", 0.20, "SentinelLABS/Censys 2026", "[S]", "≈20 %"),
    ("countries", "US", "share of hosts", 0.366, "Cisco (Shodan) Sep 2025", "[S]",
     "of 1,139 instances"),
    ("countries", "CN", "share of hosts", 0.225, "Cisco (Shodan) Sep 2025", "[S]", ""),
    ("countries", "DE", "share of hosts", 0.089, "Cisco (Shodan) Sep 2025", "[S]", ""),
    ("countries", "US", "share of hosts", 0.330, "Hou et al. (FOFA) 2025", "[A]",
     "within 14 countries"),
    ("countries", "CN", "share of hosts", 0.154, "Hou et al. (FOFA) 2025", "[A]", ""),
    ("models_per_host", "2–3", "share of hosts", 0.41, "SentinelLABS/Censys 2026", "[P]", ""),
    ("models_per_host", "≥20", "share of hosts", 0.0146, "SentinelLABS/Censys 2026", "[P]", ""),
    ("codeployment", "llama + qwen2", "share of multi-family hosts", 0.52,
     "SentinelLABS/Censys 2026", "[P]", "40,694 hosts"),
    ("quantization_hosts", "Q4_K_M", "share of hosts", 0.48, "SentinelLABS/Censys 2026", "[P]",
     ""),
    ("quantization_bits", "4-bit", "share of instances with a quantization", 0.72,
     "SentinelLABS/Censys 2026", "[P]", "of all observed quantizations"),
    ("quantization_bits", "16-bit", "share of instances with a quantization", 0.19,
     "SentinelLABS/Censys 2026", "[P]", ""),
    ("parameter_bands", "8–14B", "share of hosts", 0.26, "SentinelLABS/Censys 2026", "[P]",
     "the most prevalent band; band boundaries unpublished"),
    ("capabilities", "tools", "share of hosts", 0.48, "SentinelLABS/Censys 2026", "[P]",
     "'over 48%'"),
    ("capabilities", "vision", "share of hosts", 0.22, "SentinelLABS/Censys 2026", "[P]", ""),
    ("capabilities", "thinking", "share of hosts", 0.26, "SentinelLABS/Censys 2026", "[P]", ""),
    ("capabilities", "exactly [completion, tools]", "share of hosts", 0.38,
     "SentinelLABS/Censys 2026", "[P]", "their exact definition is not published"),
    ("prompts", "hosts with a visible system prompt", "share", 0.25,
     "SentinelLABS/Reuters 2026", "[S]", "'roughly a quarter'; unit ambiguous"),
    ("running", "running share (hosts)", "value", 0.20, "Cisco (Shodan) Sep 2025", "[S]",
     "≈20 % actively hosting models (214/1,139 answered inference)"),
    ("auth", "open", "share of hosts", 0.889, "Qihoo 360 2025", "[S]",
     "'without security measures'; secondary source"),
)  # fmt: skip


def _comparison(figures: list[Figure]) -> list[dict[str, Any]]:
    by_id = {f["id"]: f for f in figures}
    out = []
    for fid, label, column, published, study, prov, note in PUBLISHED:
        figure = by_id.get(fid)
        ours = None
        definition = ""
        if figure is not None:
            columns = figure["columns"]
            col = columns.index(column) if column in columns else None
            row = next((r for r in figure["rows"] if r and r[figure["label"]] == label), None)
            if row is not None and col is not None:
                ours = row[col]
            definition = figure["definition"]
            if "definition" in columns and row is not None:
                definition = row[columns.index("definition")]
        if fid == "scale" and label.startswith("ASNs") and figure is not None and ours is None:
            continue
        out.append(
            {
                "figure": f"{figure['title'] if figure else fid}: {label}",
                "figure_id": fid,
                "label": label,
                "column": column,
                "ours": ours,
                "published": published,
                "study": study,
                "provenance": prov,
                "note": note,
                "definition": definition,
            }
        )
    return out


# ---------------------------------------------------------------- the study


def compute_study(db: str | Path, options: StudyOptions | None = None) -> dict[str, Any]:
    """Every study figure of the store at db (opened read-only)."""
    options = options or StudyOptions()
    started = time.monotonic()
    with Store.open(db, read_only=True) as store:
        con = lon.connection(store)
        lon.apply_limits(con)  # type: ignore[attr-defined]  # store/db's, via longitudinal
        population = _population(con, options)
        obs, hosts = _one(con, "SELECT count(*), count(DISTINCT hid) FROM study_obs")
        if not obs:
            raise StoreError(
                f"store {db} holds no identified observation with a timestamp"
                + (f" of {', '.join(options.products)}" if options.products else "")
            )
        sources = dict(_q(con, "SELECT source, count(*) FROM study_obs GROUP BY ALL ORDER BY 1"))
        products = dict(
            _q(
                con,
                "SELECT product, count(DISTINCT hid) FROM study_obs GROUP BY ALL ORDER BY 2 DESC",
            )
        )
        meta: dict[str, Any] = {
            "tool": f"aicensus {__version__}",
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "store": str(db),
            "population": population,
            "products": products,
            "sources": sources,
            "synthetic": "synthetic" in sources,
            "persistence_rule": msgspec.to_builtins(options.rule),
            "ingested_files": len(lon.sources(con)),
        }
        meta["enrichment"] = _enrichment(con, options)
        lon.build_hosts(con, options.rule, source="study_obs")
        con.execute("ALTER TABLE study_hosts ADD COLUMN hid UBIGINT")
        con.execute("UPDATE study_hosts SET hid = hash(ip)")
        _model_tables(con)
        figures: list[Figure] = [_scale(con, meta)]
        figures += _persistence(con, options.rule, meta["window"]["days"])
        figures += _inventory(con, hosts)
        figures.append(_running(con, hosts))
        figures += _tiers(con, hosts)
        figures += _geography(con, hosts, options.top)
        figures += _families(con, hosts, options.top)
        figures += _attribution(con, hosts, options.top)
        figures += _quantization(con, hosts, options.top)
        figures.append(_parameters(con, hosts))
        figures.append(_capabilities(con, hosts))
        figures.append(_uptime_subset(con, options.uptime_threshold))
        figures.append(_auth(con, hosts))
        figures.append(_prompts(con, hosts))
        figures.append(_findings(con, options.findings_sample))
    order = [
        "scale", "persistence", "persistence_histogram", "host_days", "tiers", "countries",
        "asns", "families", "codeployment", "developers", "developer_countries",
        "quantization_hosts", "quantization_bits", "parameter_bands", "capabilities",
        "models_per_host", "running", "uptime_subset", "auth", "prompts", "findings", "monthly",
    ]  # fmt: skip
    figures.sort(key=lambda f: order.index(f["id"]) if f["id"] in order else len(order))
    meta["seconds"] = round(time.monotonic() - started, 2)
    return {"meta": meta, "figures": figures, "comparison": _comparison(figures)}


def study_digest(study: dict[str, Any]) -> str:
    """A short hash of the figures (not the timings), for comparing two runs."""
    body = msgspec.json.encode(study["figures"])
    return hashlib.sha256(body).hexdigest()[:16]


def write_json(out: IO[str], study: dict[str, Any]) -> None:
    out.write(msgspec.json.format(msgspec.json.encode(study), indent=2).decode() + "\n")
