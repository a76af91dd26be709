"""The study's answers from the store (store/study.py), one typed record per figure: plain
numbers and row tuples, in the order the queries return them."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from aicensus.records import ServiceObservation


class Scale(NamedTuple):
    observations: int
    hosts: int
    services: int
    host_days: int
    first: datetime | None  # naive UTC
    last: datetime | None
    countries: int
    asns: int
    as_orgs: int


class ClassRow(NamedTuple):
    hosts: int
    observations: int | None
    mean_days: float | None
    mean_uptime: float | None


class Persistence(NamedTuple):
    hosts: int
    observations: int | None
    classes: dict[str, ClassRow]  # seen_once / transient / persistent (absent: none)
    bins: dict[str, tuple[int, int]]  # PERSISTENCE_BINS label -> (hosts, observations)
    mean_window_availability: float | None
    mean_span_availability: float | None
    median_days: float | None


class Uptime(NamedTuple):
    hosts: int
    mean_uptime: float | None
    mean_running: float | None


class TierRow(NamedTuple):
    hosts: int
    mean_observations: float | None
    mean_uptime: float | None
    running_share: float | None
    mean_inventory: float | None


class Tiers(NamedTuple):
    tiers: dict[str, TierRow]
    hyperscaler_hosts: int
    basis: dict[str, int]  # how each host's tier was decided -> hosts


class Families(NamedTuple):
    observations: int
    host_days: int
    # family, hosts, observations, host-days, rank by each of the three
    ranked: list[tuple[str, int, int, int, int, int, int]]
    top3: list[list[str]]  # by hosts, by observations, by host-days
    multi_family_hosts: int
    pairs: list[tuple[str, int]]  # "a + b", hosts


class Quantization(NamedTuple):
    levels: list[tuple[str, int]]  # level, hosts
    reported: int  # instances that report a quantization
    classes: list[tuple[str, int]]  # bit-width class, instances
    by_tier: list[tuple[str, str, int]]  # tier, most common level, its hosts


class Capabilities(NamedTuple):
    with_data: int  # hosts where ≥1 model reported capabilities
    hosts: dict[str, int]  # capability -> hosts
    exact: int  # hosts with a model whose capabilities are exactly the given set


class Inventory(NamedTuple):
    bins: dict[str, int]  # INVENTORY_BINS label -> hosts
    monthly: list[tuple[str, float, int, int]]  # month, mean models, observations, hosts
    first_seen: dict[str, int]  # month -> hosts first seen then


class Running(NamedTuple):
    hosts: int
    observations: int
    running_observations: int
    mean_running: float | None
    mean_running_when_any: float | None


class Auth(NamedTuple):
    latest: dict[str, int]  # state of the host's latest observation -> hosts
    observations: int
    by_observation: dict[str, int]


class Prompts(NamedTuple):
    prompt_hosts: int
    guardrails_removed_hosts: int
    instances: int
    prompt_instances: int


class Services(NamedTuple):
    services: int
    latest: list[ServiceObservation]  # the latest observation of each sampled service
