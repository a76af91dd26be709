"""Enrichment of every observed IP: country, ASN and AS organisation from an offline database
(by default the embedded GeoLite2 country data of geoip2fast with the bundled RouteViews/NRO/
DB-IP AS table of enrich/asn.py; or the user's .mmdb files), and the infrastructure tier of its
network from the bundled, sourced table data/asn_tiers.csv.

See docs/measurement.md.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from aicensus.enrich.asn import BundledAsn
from aicensus.enrich.geo import EmbeddedGeo, GeoDatabase, GeoInfo, GeoResult, MmdbGeo, open_geo
from aicensus.enrich.tiers import TIERS, Classified, TierTable, default_tiers


class Enriched(msgspec.Struct, frozen=True):
    ip: str
    country: str | None
    asn: int | None
    org: str | None
    as_key: str | None  # "AS<number>" when known, else the organisation name
    tier: str
    hyperscaler: bool
    tier_basis: str


def enrich(
    ips: Iterable[str], geo: GeoDatabase | None = None, tiers: TierTable | None = None
) -> list[Enriched]:
    geo = geo or EmbeddedGeo()
    tiers = tiers or default_tiers()
    out = []
    for ip in ips:
        try:
            found = geo.lookup(ip)
        except ValueError:
            found = GeoResult()
        klass = tiers.classify(found.org, found.asn, found.alt_org)
        key = f"AS{found.asn}" if found.asn is not None else found.org
        out.append(
            Enriched(
                ip=ip,
                country=found.country,
                asn=found.asn,
                org=found.org,
                as_key=key,
                tier=klass.tier,
                hyperscaler=klass.hyperscaler,
                tier_basis=klass.basis,
            )
        )
    return out


__all__ = [
    "TIERS",
    "BundledAsn",
    "Classified",
    "EmbeddedGeo",
    "Enriched",
    "GeoDatabase",
    "GeoInfo",
    "GeoResult",
    "MmdbGeo",
    "TierTable",
    "default_tiers",
    "enrich",
    "open_geo",
]
