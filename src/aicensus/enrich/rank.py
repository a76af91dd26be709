"""Rank the AS organisations of the embedded GeoLite2 data by the IPv4 addresses they announce.

This is how the infrastructure-tier table (data/asn_tiers.csv) chose its entries: the 409
organisations with the most IPv4 addresses in the embedded database (GeoLite2-ASN, as shipped
by geoip2fast), plus the cloud, hosting and GPU providers named in the published studies that
rank lower. `tests/study/test_enrich.py` checks that the top 300 are all classified.
"""

from __future__ import annotations

from collections import Counter


def rank_embedded_orgs(limit: int | None = None) -> list[tuple[str, int]]:
    """(organisation, IPv4 addresses) of the embedded ASN data, largest first."""
    from aicensus.enrich.geo import EmbeddedGeo

    EmbeddedGeo()  # loads the data into geoip2fast's module globals
    import geoip2fast.geoip2fast as data  # type: ignore[import-untyped]

    counts: Counter[int] = Counter()
    for ids, lengths in zip(data.mainListIDASN, data.mainListNetlengthASN, strict=True):
        for asn_id, netlen in zip(ids, lengths, strict=True):
            counts[asn_id] += 2 ** (32 - netlen)
    names = data.mainListNamesASN
    return [(names[i], n) for i, n in counts.most_common(limit)]
