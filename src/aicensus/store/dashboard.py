"""The dashboard's reads (`aicensus serve`, aicensus/serve/): typed answers for its pages, so
that the web app holds no SQL. Every function reads; none writes, and a read-only store is
enough.

A *service* is one (ip, port) with at least one `identified` observation; its *latest*
observation is the one stored last (the highest obs_id: scans and ingests store in time order).
The aggregates come from the summary tables (store/summary.py) plus whatever was stored since
they were last brought up to date, so they are exact either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import msgspec

from aicensus.records import ServiceObservation
from aicensus.store.db import Store, _observation, apply_limits
from aicensus.store.longitudinal import _connection
from aicensus.store.rows import OBS_COLUMNS
from aicensus.store.summary import Summary


class ServiceRow(msgspec.Struct, kw_only=True, frozen=True):
    """One service, from its latest identified observation."""

    ip: str
    port: int
    scheme: str | None
    product: str | None
    version: str | None
    auth: str | None
    obs_id: int
    scan_id: int
    observations: int
    first_seen: datetime | None
    last_seen: datetime | None
    models: int
    developers: tuple[str, ...]
    developer_countries: tuple[str, ...]


class Totals(msgspec.Struct, kw_only=True, frozen=True):
    observations: int
    identified: int
    scans: int


class ModelSeen(msgspec.Struct, kw_only=True, frozen=True):
    """One model name over every observation: its most common attribution, where served."""

    name: str
    developer: str | None
    country: str | None
    licence: str | None
    family: str | None
    services: int
    hosts: int
    matched_by: str | None = None  # the most common: "family" when only the family matched


class ServedAt(msgspec.Struct, kw_only=True, frozen=True):
    ip: str
    port: int
    product: str | None
    last_seen: datetime | None


class TimelinePoint(msgspec.Struct, kw_only=True, frozen=True):
    """One observation of a service, reduced to what its timeline draws."""

    obs_id: int
    observed_at: datetime | None
    status: str
    product: str | None
    version: str | None
    auth: str | None
    models: int


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


def _rows(store: Store, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    con = _connection(store)
    apply_limits(con)
    return con.execute(sql, list(params)).fetchall()


def totals(store: Store) -> Totals:
    """The store's counts (identified: over the services' observations)."""
    con = _connection(store)
    summary = Summary(con)
    (row,) = _rows(
        store,
        f"SELECT (SELECT count(*) FROM observations), "
        f"(SELECT coalesce(sum(n_obs), 0) FROM {summary.services()}), "
        "(SELECT count(*) FROM scans)",
    )
    return Totals(observations=row[0], identified=int(row[1]), scans=row[2])


def services(store: Store) -> list[ServiceRow]:
    """Every service, ordered by (ip, port)."""
    summary = Summary(_connection(store))
    found = _rows(
        store,
        "SELECT ip, port, scheme, product, version, auth, obs_id, scan_id, n_obs, first_seen, "
        f"last_seen, n_models, developers, countries FROM {summary.services()} "
        "ORDER BY ip, port",
    )
    return [
        ServiceRow(
            ip=r[0],
            port=r[1],
            scheme=r[2],
            product=r[3],
            version=r[4],
            auth=r[5],
            obs_id=r[6],
            scan_id=r[7],
            observations=r[8],
            first_seen=_utc(r[9]),
            last_seen=_utc(r[10]),
            models=r[11],
            developers=tuple(r[12] or ()),
            developer_countries=tuple(r[13] or ()),
        )
        for r in found
    ]


def new_hosts_by_day(store: Store) -> list[tuple[date, int]]:
    """How many hosts (IPs) were first seen identified on each UTC day."""
    summary = Summary(_connection(store))
    return [
        (r[0], r[1])
        for r in _rows(
            store,
            f"""SELECT d, count(*) FROM (
                   SELECT CAST(min(first_seen) AS DATE) AS d FROM {summary.services()}
                   GROUP BY ip)
               WHERE d IS NOT NULL GROUP BY d ORDER BY d""",
        )
    ]


# Each table filtered by the ids' range as constants, so DuckDB skips every row group outside
# it (rows are stored in obs_id and set_id order): the correlated form of
# OBSERVATION_COLUMNS reads the whole request log for one observation (1-2 s on the study
# store).
_BY_ID = f"""
WITH o AS (
    SELECT * FROM observations
    WHERE obs_id BETWEEN $2 AND $3 AND obs_id IN (SELECT unnest($1::BIGINT[]))
), ms AS (
    SELECT m.set_id, list(m ORDER BY m.seq) AS models FROM set_models m
    WHERE m.set_id BETWEEN $4 AND $5 AND m.set_id IN (SELECT model_set FROM o)
    GROUP BY m.set_id
), rl AS (
    SELECT r.obs_id, list(r ORDER BY r.seq) AS log FROM request_log r
    WHERE r.obs_id BETWEEN $2 AND $3 AND r.obs_id IN (SELECT obs_id FROM o) GROUP BY r.obs_id
), mi AS (
    SELECT i.obs_id, i.inventory FROM mcp_inventories i
    WHERE i.obs_id BETWEEN $2 AND $3 AND i.obs_id IN (SELECT obs_id FROM o)
)
SELECT {", ".join(f"o.{n}" for n, _ in OBS_COLUMNS)}, ms.models, rl.log, mi.inventory
FROM o LEFT JOIN ms ON ms.set_id = o.model_set LEFT JOIN rl ON rl.obs_id = o.obs_id
LEFT JOIN mi ON mi.obs_id = o.obs_id
ORDER BY o.obs_id
"""


def observations_by_id(store: Store, obs_ids: Sequence[int]) -> list[ServiceObservation]:
    """These observations as records, in obs_id order (ids not stored are left out)."""
    if not obs_ids:
        return []
    ids, low, high = list(obs_ids), min(obs_ids), max(obs_ids)
    (sets,) = _rows(
        store,
        "SELECT coalesce(min(model_set), 0), coalesce(max(model_set), 0) FROM observations "
        "WHERE obs_id BETWEEN $2 AND $3 AND obs_id IN (SELECT unnest($1::BIGINT[]))",
        [ids, low, high],
    )
    return [_observation(r) for r in _rows(store, _BY_ID, [ids, low, high, sets[0], sets[1]])]


def service_timeline(store: Store, ip: str, port: int, limit: int = 2000) -> list[TimelinePoint]:
    """The service's observations (any status), oldest first; the latest `limit` of them."""
    found = _rows(
        store,
        """SELECT * FROM (
               SELECT o.obs_id, o.observed_at, o.status, o.product, o.version, o.auth,
                      coalesce(s.n_models, 0)
               FROM observations o LEFT JOIN model_sets s ON s.set_id = o.model_set
               WHERE o.ip = $1 AND o.port = $2 ORDER BY o.obs_id DESC LIMIT $3)
           ORDER BY obs_id""",
        [ip, port, limit],
    )
    return [
        TimelinePoint(
            obs_id=r[0],
            observed_at=_utc(r[1]),
            status=r[2],
            product=r[3],
            version=r[4],
            auth=r[5],
            models=r[6],
        )
        for r in found
    ]


def models_seen(store: Store) -> list[ModelSeen]:
    """Every model name any observation listed, most widely served first."""
    summary = Summary(_connection(store))
    found = _rows(
        store,
        "SELECT name, developer, country, licence, family, services, hosts, matched_by "
        f"FROM {summary.models()} ORDER BY services DESC, name",
    )
    return [
        ModelSeen(
            name=r[0],
            developer=r[1],
            country=r[2],
            licence=r[3],
            family=r[4],
            services=r[5],
            hosts=r[6],
            matched_by=r[7],
        )
        for r in found
    ]


def model_served_at(store: Store, name: str, limit: int = 500) -> list[ServedAt]:
    """The services whose observations listed a model of this name, latest first."""
    summary = Summary(_connection(store))
    found = _rows(
        store,
        f"""SELECT ip, port, arg_max(product, last_obs), max(last_seen)
           FROM {summary.served()}
           WHERE set_id IN (SELECT DISTINCT set_id FROM set_models WHERE name = $1)
           GROUP BY ip, port ORDER BY 4 DESC NULLS LAST, 1, 2 LIMIT $2""",
        [name, limit],
    )
    return [ServedAt(ip=r[0], port=r[1], product=r[2], last_seen=_utc(r[3])) for r in found]
