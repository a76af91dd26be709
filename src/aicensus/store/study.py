"""The study report's queries (report/study*.py): the population of a store as temporary tables
and one typed answer per figure. The SQL is here because only the store speaks SQL; the report
turns these rows into figures with their definitions.

Use: ``with Store.open(db, read_only=True) as store: q = StudyQueries(store)``, then
`select_population`, `add_geo`, `prepare` (in that order), then any figure query.

Tables (TEMP, on the store's connection; nothing is written to the store):

* study_obs — the population: one row per observation, with hid = hash(ip);
* study_geo — one row per IP: country, AS and tier (given by the report's enrichment);
* study_hosts — one row per host with its persistence class (longitudinal.build_hosts);
* study_obs_models — per observation: models listed and running (from its model set);
* study_instances — one row per (host, model name) over the window;
* study_host_models — per host: largest inventory, ever running;
* study_family — per model family: hosts, observations, host-days.

Hosts are keyed by hid = hash(ip) (64 bits: a collision among 10^6 hosts has odds of about
1 in 10^7), which makes the 25-million-row aggregations several times faster than strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aicensus.records import ServiceObservation
from aicensus.store import honeypots, rows
from aicensus.store import longitudinal as lon
from aicensus.store.db import Store, apply_limits
from aicensus.store.honeypots import HoneypotRows
from aicensus.store.study_records import (
    Auth,
    Capabilities,
    ClassRow,
    Families,
    Inventory,
    Persistence,
    Prompts,
    Quantization,
    Running,
    Scale,
    Services,
    TierRow,
    Tiers,
    Uptime,
)

# Labels the queries produce, in display order.
PARAM_BANDS = ("<1B", "1–3B", "4–7B", "8–14B", "15–34B", "35–70B", ">70B")
INVENTORY_BINS = ("0", "1", "2–3", "4–9", "10–19", "≥20")
PERSISTENCE_BINS = ("1", "2–5", "6–10", "11–50", "51–100", "101–200", ">200")
PERSISTENCE_CLASSES = ("seen_once", "transient", "persistent")
TIERS = ("cloud/hosting", "telecom/residential", "enterprise", "education", "unknown")
AUTH_STATES = ("open", "partial", "auth_required", "unknown")
# Columns of study_geo after ip, in the order `add_geo` takes them.
GEO_COLUMNS = (
    ("ip", "VARCHAR"), ("country", "VARCHAR"), ("asn", "BIGINT"), ("org", "VARCHAR"),
    ("as_key", "VARCHAR"), ("tier", "VARCHAR"), ("hyperscaler", "BOOLEAN"),
    ("tier_basis", "VARCHAR"),
)  # fmt: skip


def param_band_sql(b: str) -> str:
    """SQL for the band of b, the floor of the parameter count in billions."""
    return f"""CASE
    WHEN {b} IS NULL THEN NULL WHEN {b} < 1 THEN '<1B' WHEN {b} <= 3 THEN '1–3B'
    WHEN {b} <= 7 THEN '4–7B' WHEN {b} <= 14 THEN '8–14B' WHEN {b} <= 34 THEN '15–34B'
    WHEN {b} <= 70 THEN '35–70B' ELSE '>70B' END"""


def quant_class_sql(q: str) -> str:
    """SQL for the bit-width class of q, an upper-cased quantization_level (published mapping;
    case-insensitive prefix rules; the report's QUANT_CLASS_DEFINITION spells it out)."""
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


# ---------------------------------------------------------------- the queries


class StudyQueries:
    """The study's tables and queries over one open store (read-only is enough)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._con = store._con  # the store's own connection; it never leaves this object
        self._window: tuple[list[str], list[object]] = ([], [])
        apply_limits(self._con)

    def _q(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._con.execute(sql, list(params)).fetchall()

    def _one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...]:
        row = self._con.execute(sql, list(params)).fetchone()
        return row if row is not None else ()

    # ------------------------------------------------------------ population

    def select_population(
        self,
        products: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> str:
        """Make study_obs: identified observations with a timestamp, of these products (all
        when empty), observed in [since, until). Returns the WHERE clause, for the record."""
        where = ["status = 'identified'", "observed_at IS NOT NULL"]
        params: list[object] = []
        if products:
            where.append("product IN (SELECT unnest($1::VARCHAR[]))")
            params.append(list(products))
        if since is not None:
            params.append(since.astimezone(UTC).replace(tzinfo=None))
            where.append(f"observed_at >= ${len(params)}")
        if until is not None:
            params.append(until.astimezone(UTC).replace(tzinfo=None))
            where.append(f"observed_at < ${len(params)}")
        text = " AND ".join(where)
        self._window = (where[1:], params)  # for the honeypots of the same window
        self._con.execute(
            "CREATE OR REPLACE TEMP TABLE study_obs AS "
            "SELECT obs_id, ip, hash(ip) AS hid, port, observed_at, "
            "CAST(observed_at AS DATE) AS day, product, "
            f"version, auth, source, model_set FROM observations WHERE {text}",
            params,
        )
        return text

    # ------------------------------------------------------------ honeypots

    def honeypot_rows(
        self, min_addresses: int, stale: honeypots.StaleRoutes | None = None
    ) -> HoneypotRows:
        """The honeypot classifier's inputs over the population (store/honeypots.py)."""
        return honeypots.honeypot_rows(self._con, "study_obs", min_addresses, stale)

    def honeypot_status_ips(self) -> list[str]:
        """Addresses in the window whose observations were `suspected-honeypot` (never in
        the population: they name no product)."""
        window, params = self._window
        return honeypots.honeypot_status_ips(self._con, window, params)

    def exclude_hosts(self, ips: Sequence[str]) -> tuple[int, int]:
        """Take these addresses out of the population (before `prepare`); how many hosts and
        observations went."""
        if not ips:
            return 0, 0
        hosts, n = self._one(
            "SELECT count(DISTINCT ip), count(*) FROM study_obs "
            "WHERE ip IN (SELECT unnest($1::VARCHAR[]))",
            [list(ips)],
        )
        self._con.execute(
            "DELETE FROM study_obs WHERE ip IN (SELECT unnest($1::VARCHAR[]))", [list(ips)]
        )
        return int(hosts), int(n)

    def size(self) -> tuple[int, int]:
        """(observations, hosts) of the population."""
        obs, hosts = self._one("SELECT count(*), count(DISTINCT hid) FROM study_obs")
        return int(obs), int(hosts)

    def by_source(self) -> dict[str, int]:
        return dict(self._q("SELECT source, count(*) FROM study_obs GROUP BY ALL ORDER BY 1"))

    def hosts_by_product(self) -> dict[str, int]:
        return dict(
            self._q(
                "SELECT product, count(DISTINCT hid) FROM study_obs GROUP BY ALL ORDER BY 2 DESC"
            )
        )

    def _files(self) -> list[lon.SourceFile]:
        # A pull's page entries (ingest/pull.py) mark progress; each page's file has its own row.
        return [f for f in lon.sources(self._store) if not f.sha256.startswith("pull:")]

    def ingested_files(self) -> int:
        return len(self._files())

    def ingest_by_format(self) -> dict[str, dict[str, Any]]:
        """Per ingest format, from the ledger: files, records read, observations stored
        (used), duplicates (read again, not stored twice), bad records and records skipped
        (not stored: UDP/QUIC services, non-TCP banners …), with why → how many."""
        by: dict[str, dict[str, Any]] = {}
        for f in self._files():
            row = by.setdefault(
                f.format,
                {"files": 0, "records": 0, "observations": 0, "duplicates": 0, "bad": 0,
                 "skipped": {}},
            )  # fmt: skip
            row["files"] += 1
            for key in ("records", "observations", "duplicates", "bad"):
                row[key] += getattr(f, key)
            for why, n in f.skipped.items():
                row["skipped"][why] = row["skipped"].get(why, 0) + n
        return by

    def ips(self) -> list[str]:
        """The population's distinct IP addresses (for the report's enrichment)."""
        return [r[0] for r in self._q("SELECT DISTINCT ip FROM study_obs")]

    def add_geo(self, found: Sequence[tuple[Any, ...]]) -> None:
        """Make study_geo from one tuple per IP, in GEO_COLUMNS order."""
        self._con.execute(
            "CREATE OR REPLACE TEMP TABLE study_geo ("
            + ", ".join(f"{name} {kind}" for name, kind in GEO_COLUMNS)
            + ")"
        )
        if found:
            columns = list(zip(*found, strict=True))
            self._con.execute(
                "INSERT INTO study_geo SELECT "
                + ", ".join(
                    f"unnest(${i}::{kind}[])" for i, (_, kind) in enumerate(GEO_COLUMNS, 1)
                ),
                [list(c) for c in columns],
            )
        self._con.execute("ALTER TABLE study_geo ADD COLUMN hid UBIGINT")
        self._con.execute("UPDATE study_geo SET hid = hash(ip)")

    def prepare(self, rule: lon.PersistenceRule) -> None:
        """Make study_hosts (persistence classes by rule) and the model tables."""
        lon.build_hosts(self._con, rule, source="study_obs")
        self._con.execute("ALTER TABLE study_hosts ADD COLUMN hid UBIGINT")
        self._con.execute("UPDATE study_hosts SET hid = hash(ip)")
        self._model_tables()

    def _model_tables(self) -> None:
        """Per-observation model counts, one row per (host, model name) instance, and per-host
        inventory and running state."""
        # Models are stored once per distinct inventory (model set, store/sets.py): aggregate
        # the population per (host, set) first, then expand each set's few rows.
        self._con.execute(
            """CREATE OR REPLACE TEMP TABLE study_obs_models AS
            SELECT o.obs_id, s.n_models, s.n_running
            FROM study_obs o JOIN model_sets s ON s.set_id = o.model_set"""
        )
        # Per (host, model name): flags over the window, details from the latest observation.
        self._con.execute(
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
                            TRY_CAST(regexp_extract(m.parameter_size, '^\s*([0-9.]+)', 1)
                                     AS DOUBLE)
                            * CASE upper(regexp_extract(m.parameter_size, '([KMBT])\s*$', 1))
                                WHEN 'K' THEN 1e3 WHEN 'M' THEN 1e6 WHEN 'B' THEN 1e9
                                WHEN 'T' THEN 1e12 END) AS parameters,
                   list_sort(m.capabilities) AS capabilities,
                   m.developer, m.country AS dev_country, m.matched_by
            FROM last l JOIN set_models m ON m.set_id = l.last_set AND m.name = l.name
            QUALIFY row_number() OVER (PARTITION BY l.hid, l.name ORDER BY m.seq) = 1"""
        )
        self._con.execute(
            """CREATE OR REPLACE TEMP TABLE study_host_models AS
            SELECT o.hid, max(coalesce(m.n_models, 0)) AS inventory,
                   bool_or(coalesce(m.n_running, 0) > 0) AS running
            FROM study_obs o LEFT JOIN study_obs_models m USING (obs_id) GROUP BY o.hid"""
        )

    # ------------------------------------------------------------ hosts over time

    def scale(self) -> Scale:
        obs, hosts, services, host_days, first, last = self._one(
            "SELECT count(*), count(DISTINCT hid), count(DISTINCT (hid, port)), "
            "count(DISTINCT (hid, day)), min(observed_at), max(observed_at) FROM study_obs"
        )
        countries, asns, orgs = self._one(
            "SELECT count(DISTINCT country), count(DISTINCT asn), count(DISTINCT as_key) "
            "FROM study_geo"
        )
        return Scale(obs, hosts, services, host_days, first, last, countries, asns, orgs)

    def persistence(self, window_days: int) -> Persistence:
        total_hosts, total_obs = self._one("SELECT count(*), sum(observations) FROM study_hosts")
        classes = {
            r[0]: ClassRow(*r[1:])
            for r in self._q(
                "SELECT persistence, count(*), sum(observations), avg(days_observed), "
                "avg(days_observed / span_days) FROM study_hosts GROUP BY persistence"
            )
        }
        bins = self._q(
            """SELECT CASE WHEN observations = 1 THEN '1' WHEN observations <= 5 THEN '2–5'
                      WHEN observations <= 10 THEN '6–10' WHEN observations <= 50 THEN '11–50'
                      WHEN observations <= 100 THEN '51–100'
                      WHEN observations <= 200 THEN '101–200'
                      ELSE '>200' END AS bin, count(*), sum(observations)
               FROM study_hosts GROUP BY bin"""
        )
        mean_window, mean_span, med_days = self._one(
            "SELECT avg(days_observed / $1), avg(days_observed / span_days), "
            "median(days_observed) FROM study_hosts",
            [max(window_days, 1)],
        )
        return Persistence(
            total_hosts, total_obs, classes, {b: (h, o) for b, h, o in bins},
            mean_window, mean_span, med_days,
        )  # fmt: skip

    def uptime_subset(self, threshold: float) -> Uptime:
        """Hosts with a `tools` model, seen across ≥7 days, up (days observed / span) at least
        threshold of the time; with their mean running models per observation."""
        return Uptime(
            *self._one(
                """WITH tools AS (SELECT DISTINCT hid FROM study_instances
                                  WHERE list_contains(capabilities, 'tools')),
                        h AS (SELECT h.hid, h.days_observed / h.span_days AS uptime
                              FROM study_hosts h SEMI JOIN tools t ON h.hid = t.hid
                              WHERE h.days_observed / h.span_days >= $1 AND h.span_days >= 7)
                   SELECT count(*), avg(uptime),
                          (SELECT avg(coalesce(m.n_running, 0)) FROM study_obs o
                           LEFT JOIN study_obs_models m USING (obs_id)
                           SEMI JOIN h ON o.hid = h.hid)
                   FROM h""",
                [threshold],
            )
        )

    # ------------------------------------------------------------ networks

    def tiers(self) -> Tiers:
        found = {
            r[0]: TierRow(*r[1:])
            for r in self._q(
                """SELECT g.tier, count(*), avg(h.observations),
                          avg(h.days_observed / h.span_days),
                          avg(CAST(r.running AS INTEGER)), avg(r.inventory)
                   FROM study_geo g JOIN study_hosts h USING (hid)
                   LEFT JOIN study_host_models r USING (hid) GROUP BY g.tier"""
            )
        }
        (hyper,) = self._one("SELECT count(*) FILTER (WHERE hyperscaler) FROM study_geo")
        basis = dict(self._q("SELECT tier_basis, count(*) FROM study_geo GROUP BY tier_basis"))
        return Tiers(found, hyper, basis)

    def top_countries(self, top: int) -> list[tuple[str, int]]:
        return self._q(
            "SELECT coalesce(country, '(unknown)'), count(*) AS n FROM study_geo "
            "GROUP BY ALL ORDER BY n DESC, 1 LIMIT $1",
            [top],
        )

    def top_networks(self, top: int) -> list[tuple[str, str | None, str | None, int]]:
        """(AS key, organisation, tier, hosts) of the most common networks."""
        return self._q(
            "SELECT coalesce(as_key, '(unknown)'), any_value(org), any_value(tier), "
            "count(*) AS n FROM study_geo GROUP BY as_key ORDER BY n DESC, 1 LIMIT $1",
            [top],
        )

    # ------------------------------------------------------------ models

    def families(self, top: int) -> Families:
        obs_total, host_days = self._one(
            "SELECT count(*), count(DISTINCT (hid, day)) FROM study_obs"
        )
        # (observation, family) pairs first, so two llama-family models in one observation
        # count once; then per (family, host): observations and distinct days; then per family.
        self._con.execute(
            """CREATE OR REPLACE TEMP TABLE study_family AS
            SELECT family, count(*) AS hosts, sum(n_obs) AS observations,
                   sum(n_days) AS host_days
            FROM (SELECT p.family, o.hid, count(*) AS n_obs, count(DISTINCT o.day) AS n_days
                  FROM (SELECT DISTINCT set_id, lower(family) AS family FROM set_models
                        WHERE family IS NOT NULL AND family <> '') p
                  JOIN study_obs o ON p.set_id = o.model_set
                  GROUP BY p.family, o.hid)
            GROUP BY family"""
        )
        ranked = self._q(
            """SELECT family, hosts, observations, host_days,
                      rank() OVER (ORDER BY hosts DESC), rank() OVER (ORDER BY observations DESC),
                      rank() OVER (ORDER BY host_days DESC)
               FROM study_family ORDER BY hosts DESC, family LIMIT $1""",
            [top],
        )
        top3 = [
            [r[0] for r in self._q(
                f"SELECT family FROM study_family ORDER BY {w} DESC, family LIMIT 3")]
            for w in ("hosts", "observations", "host_days")
        ]  # fmt: skip
        (multi,) = self._one(
            "SELECT count(*) FROM (SELECT hid FROM study_instances WHERE family IS NOT NULL "
            "GROUP BY hid HAVING count(DISTINCT family) >= 2)"
        )
        pairs = self._q(
            """WITH f AS (SELECT DISTINCT hid, family FROM study_instances
                          WHERE family IS NOT NULL)
               SELECT a.family || ' + ' || b.family, count(*) AS n
               FROM f a JOIN f b ON a.hid = b.hid AND a.family < b.family
               GROUP BY ALL ORDER BY n DESC, 1 LIMIT 10"""
        )
        return Families(obs_total, host_days, ranked, top3, multi, pairs)

    def instances(self) -> int:
        """(host, model name) instances over the window."""
        (n,) = self._one("SELECT count(*) FROM study_instances")
        return int(n)

    def attribution(self, by: str, top: int) -> list[tuple[str, int, int]]:
        """(developer or developer's country, hosts, instances) of the served models;
        by is "developer" or "country". Models attributed by their family alone (schema 6
        `matched_by`) have no developer: they are counted apart from those not attributed."""
        column = {"developer": "developer", "country": "dev_country"}[by]
        return self._q(
            f"""SELECT coalesce({column}, CASE matched_by WHEN 'family'
                       THEN '(family only, developer unknown)' ELSE '(unattributed)' END) AS k,
                       count(DISTINCT hid),
                       count(*) FROM study_instances GROUP BY k
                ORDER BY 2 DESC, 1 LIMIT $1""",
            [top],
        )

    def quantization(self, top: int) -> Quantization:
        levels = self._q(
            "SELECT quantization, count(DISTINCT hid) AS n FROM study_instances "
            "WHERE quantization IS NOT NULL AND quantization <> '' GROUP BY ALL "
            "ORDER BY n DESC, 1 LIMIT $1",
            [top],
        )
        (reported,) = self._one(
            "SELECT count(*) FROM study_instances WHERE coalesce(quantization, '') <> ''"
        )
        classes = self._q(
            f"""SELECT cls, count(*) FROM (SELECT {quant_class_sql("quantization")} AS cls
                                          FROM study_instances)
                WHERE cls <> 'unknown' GROUP BY cls ORDER BY 2 DESC"""
        )
        by_tier = self._q(
            """SELECT tier, arg_max(quantization, n), max(n) FROM (
                   SELECT g.tier, i.quantization, count(DISTINCT i.hid) AS n
                   FROM study_instances i JOIN study_geo g USING (hid)
                   WHERE coalesce(i.quantization, '') <> '' GROUP BY ALL)
               GROUP BY tier ORDER BY 1"""
        )
        return Quantization(levels, reported, classes, by_tier)

    def parameter_bands(self) -> dict[str, int]:
        """PARAM_BANDS label -> hosts with ≥1 model in the band."""
        return dict(
            self._q(
                f"""SELECT band, count(DISTINCT hid) FROM (
                        SELECT hid, {param_band_sql("floor(parameters / 1e9)")} AS band
                        FROM study_instances) WHERE band IS NOT NULL GROUP BY band"""
            )
        )

    def capabilities(self, names: Sequence[str], exact: Sequence[str]) -> Capabilities:
        (with_caps,) = self._one(
            "SELECT count(DISTINCT hid) FROM study_instances WHERE len(capabilities) > 0"
        )
        hosts = {
            cap: self._one(
                "SELECT count(DISTINCT hid) FROM study_instances "
                "WHERE list_contains(capabilities, $1)",
                [cap],
            )[0]
            for cap in names
        }
        (n_exact,) = self._one(
            "SELECT count(DISTINCT hid) FROM study_instances WHERE capabilities = $1",
            [sorted(exact)],
        )
        return Capabilities(with_caps, hosts, n_exact)

    def inventory(self) -> Inventory:
        bins = dict(
            self._q(
                """SELECT CASE WHEN inventory = 0 THEN '0' WHEN inventory = 1 THEN '1'
                          WHEN inventory <= 3 THEN '2–3' WHEN inventory <= 9 THEN '4–9'
                          WHEN inventory <= 19 THEN '10–19' ELSE '≥20' END AS bin, count(*)
                   FROM study_host_models GROUP BY bin"""
            )
        )
        monthly = self._q(
            """SELECT strftime(o.observed_at, '%Y-%m') AS month, avg(coalesce(m.n_models, 0)),
                      count(*), count(DISTINCT o.hid)
               FROM study_obs o LEFT JOIN study_obs_models m USING (obs_id)
               GROUP BY month ORDER BY month"""
        )
        first = dict(
            self._q(
                "SELECT strftime(first_seen, '%Y-%m') AS m, count(*) FROM study_hosts GROUP BY m"
            )
        )
        return Inventory(bins, monthly, first)

    def running(self) -> Running:
        (hosts,) = self._one("SELECT count(*) FROM study_host_models WHERE running")
        obs, running_obs, mean_running, mean_when = self._one(
            """SELECT count(*), count(*) FILTER (WHERE coalesce(m.n_running, 0) > 0),
                      avg(coalesce(m.n_running, 0)),
                      avg(m.n_running) FILTER (WHERE m.n_running > 0)
               FROM study_obs o LEFT JOIN study_obs_models m USING (obs_id)"""
        )
        return Running(hosts, obs, running_obs, mean_running, mean_when)

    # ------------------------------------------------------------ exposure

    def auth(self) -> Auth:
        latest = dict(
            self._q(
                "SELECT auth, count(*) FROM (SELECT hid, arg_max(auth, observed_at) AS auth "
                "FROM study_obs GROUP BY hid) GROUP BY auth"
            )
        )
        (obs_total,) = self._one("SELECT count(*) FROM study_obs")
        by_obs = dict(self._q("SELECT auth, count(*) FROM study_obs GROUP BY auth"))
        return Auth(latest, obs_total, by_obs)

    def prompts(self) -> Prompts:
        return Prompts(
            *self._one(
                """SELECT count(DISTINCT hid) FILTER (WHERE system_prompt),
                          count(DISTINCT hid) FILTER (WHERE guardrails_removed), count(*),
                          count(*) FILTER (WHERE system_prompt) FROM study_instances"""
            )
        )

    def latest_services(self, sample: int) -> Services:
        """The latest observation of each service (IP, port), at most sample of them, chosen
        by a hash of IP:port (so the sample is fixed); models and request log included."""
        (services,) = self._one("SELECT count(DISTINCT (hid, port)) FROM study_obs")
        ids = [
            r[0]
            for r in self._q(
                """SELECT arg_max(obs_id, observed_at) FROM study_obs GROUP BY hid, port
                   ORDER BY md5(any_value(ip) || ':' || any_value(port)) LIMIT $1""",
                [sample],
            )
        ]
        return Services(services, self._load(ids))

    def _load(self, ids: list[int]) -> list[ServiceObservation]:
        """The observations with these ids, models and request log included (three queries)."""
        if not ids:
            return []
        names = tuple(name for name, _ in rows.OBS_COLUMNS)
        model_names = tuple(name for name, _ in rows.MODEL_COLUMNS)
        log_names = tuple(name for name, _ in rows.LOG_COLUMNS)
        wanted = "SELECT unnest($1::BIGINT[])"
        found = self._q(
            f"SELECT {', '.join(names)} FROM observations WHERE obs_id IN ({wanted}) "
            "ORDER BY obs_id",
            [ids],
        )
        models: dict[int, list[dict[str, Any]]] = {}
        for r in self._q(
            f"SELECT {', '.join(model_names)} FROM models WHERE obs_id IN ({wanted}) "
            "ORDER BY obs_id, seq",
            [ids],
        ):
            models.setdefault(r[0], []).append(dict(zip(model_names, r, strict=True)))
        logs: dict[int, list[dict[str, Any]]] = {}
        for r in self._q(
            f"SELECT {', '.join(log_names)} FROM request_log WHERE obs_id IN ({wanted}) "
            "ORDER BY obs_id, seq",
            [ids],
        ):
            logs.setdefault(r[0], []).append(dict(zip(log_names, r, strict=True)))
        out = []
        for r in found:
            cells = dict(zip(names, r, strict=True))
            obs_id = cells["obs_id"]
            out.append(rows.observation_from_cells(cells, models.get(obs_id), logs.get(obs_id)))
        return out
