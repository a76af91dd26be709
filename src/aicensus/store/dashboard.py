"""The dashboard's reads (`aicensus serve`, aicensus/serve/): typed answers for its pages, so
that the web app holds no SQL. Every function reads; none writes, and a read-only store is
enough.

A *service* is one (ip, port) with at least one `identified` observation; its *latest*
observation is the one stored last (the highest obs_id: scans and ingests store in time order).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import msgspec

from aicensus.records import ServiceObservation
from aicensus.store.db import OBSERVATION_COLUMNS, Store, _observation, apply_limits
from aicensus.store.longitudinal import _connection


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
    (row,) = _rows(
        store,
        "SELECT (SELECT count(*) FROM observations), "
        "(SELECT count(*) FROM observations WHERE status = 'identified'), "
        "(SELECT count(*) FROM scans)",
    )
    return Totals(observations=row[0], identified=row[1], scans=row[2])


_SERVICES = """
WITH latest AS (
    SELECT ip, port, max(obs_id) AS obs_id, count(*) AS n_obs,
           min(observed_at) AS first_seen, max(observed_at) AS last_seen
    FROM observations WHERE status = 'identified' GROUP BY ip, port
), joined AS (
    SELECT l.*, o.scheme, o.product, o.version, o.auth, o.scan_id, o.model_set
    FROM latest l JOIN observations o ON o.obs_id = l.obs_id
), sets AS (
    SELECT set_id,
           list(DISTINCT developer ORDER BY developer) FILTER (developer IS NOT NULL) AS devs,
           list(DISTINCT country ORDER BY country) FILTER (country IS NOT NULL) AS countries
    FROM set_models WHERE set_id IN (SELECT model_set FROM joined) GROUP BY set_id
)
SELECT j.ip, j.port, j.scheme, j.product, j.version, j.auth, j.obs_id, j.scan_id, j.n_obs,
       j.first_seen, j.last_seen, coalesce(ms.n_models, 0), s.devs, s.countries
FROM joined j LEFT JOIN model_sets ms ON ms.set_id = j.model_set
LEFT JOIN sets s ON s.set_id = j.model_set
ORDER BY j.ip, j.port
"""


def services(store: Store) -> list[ServiceRow]:
    """Every service, ordered by (ip, port)."""
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
        for r in _rows(store, _SERVICES)
    ]


def new_hosts_by_day(store: Store) -> list[tuple[date, int]]:
    """How many hosts (IPs) were first seen identified on each UTC day."""
    return [
        (r[0], r[1])
        for r in _rows(
            store,
            """SELECT d, count(*) FROM (
                   SELECT min(CAST(observed_at AS DATE)) AS d FROM observations
                   WHERE status = 'identified' AND observed_at IS NOT NULL GROUP BY ip)
               GROUP BY d ORDER BY d""",
        )
    ]


_BY_ID = f"""
SELECT {OBSERVATION_COLUMNS}
FROM observations o
WHERE o.obs_id IN (SELECT unnest($1::BIGINT[]))
ORDER BY o.obs_id
"""


def observations_by_id(store: Store, obs_ids: Sequence[int]) -> list[ServiceObservation]:
    """These observations as records, in obs_id order (ids not stored are left out)."""
    return [_observation(r) for r in _rows(store, _BY_ID, [list(obs_ids)])] if obs_ids else []


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
    found = _rows(
        store,
        """WITH served AS (
               SELECT DISTINCT model_set AS set_id, ip, port FROM observations
               WHERE model_set IS NOT NULL)
           SELECT m.name, mode(m.developer), mode(m.country), mode(m.licence), mode(m.family),
                  count(DISTINCT (s.ip, s.port)) AS services, count(DISTINCT s.ip) AS hosts,
                  mode(m.matched_by)
           FROM set_models m JOIN served s USING (set_id)
           GROUP BY m.name ORDER BY services DESC, m.name""",
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
    found = _rows(
        store,
        """SELECT o.ip, o.port, arg_max(o.product, o.obs_id), max(o.observed_at)
           FROM observations o
           WHERE o.model_set IN (SELECT DISTINCT set_id FROM set_models WHERE name = $1)
           GROUP BY o.ip, o.port ORDER BY 4 DESC NULLS LAST, 1, 2 LIMIT $2""",
        [name, limit],
    )
    return [ServedAt(ip=r[0], port=r[1], product=r[2], last_seen=_utc(r[3])) for r in found]
