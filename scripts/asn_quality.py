#!/usr/bin/env python3
"""Measure the bundled AS table (aicensus.enrich.asn) against the GeoLite2 ASN data that
geoip2fast ships, offline: no packet is sent.

    python scripts/asn_quality.py [--samples 20000] [--seed 1]

Draws public IPv4 addresses from the networks of the embedded GeoLite2-ASN data (geoip2fast
1.2.2, 2024-06-18) that have an organisation, two ways:

* by address: every announced address equally likely (big networks weigh more);
* by network: every GeoLite2 network equally likely, then an address inside it.

For each, it prints:

* coverage: share of addresses with an AS in the bundled table (also without the blocks GeoLite2
  names IANA.ORG: unannounced legacy space);
* exact org match: bundled organisation == GeoLite2 organisation, after normalising both
  (case-folded, punctuation to spaces, legal forms such as Inc/LLC/Ltd/GmbH/Corp dropped);
* shared word: the two names share a word of 4+ letters (e.g. "AMAZON-02" / "Amazon.com, Inc.");
* tier-table check: of addresses whose bundled AS number is in data/asn_tiers.csv (which names
  each AS's organisation as GeoLite2 spells it), the share where that organisation is the one
  GeoLite2 gives for the address;
* tier agreement: the tier from the bundled AS (then names) equals the tier GeoLite2's
  organisation alone gave before the table existed, and both unknown shares.

Then it times the load and lookups of the table and the default enrichment of 175,000 random
public IPv4 addresses.
"""

from __future__ import annotations

import argparse
import bisect
import ipaddress
import random
import re
import time

LEGAL = {
    "inc", "llc", "ltd", "limited", "co", "corp", "corporation", "company", "gmbh", "ag", "sa",
    "s", "a", "de", "cv", "bv", "b", "v", "plc", "srl", "sas", "spa", "pte", "pty", "as", "ab",
    "oy", "oyj", "jsc", "pjsc", "ojsc", "llp", "sro", "the", "kg", "nv", "sl", "ltda", "com",
}  # fmt: skip


def normalise(name: str | None) -> str:
    words = re.sub(r"[^0-9a-z]+", " ", (name or "").casefold()).split()
    return " ".join(w for w in words if w not in LEGAL)


def words(name: str | None) -> set[str]:
    return {w for w in normalise(name).split() if len(w) >= 4 and not w.isdigit()}


def networks() -> list[tuple[int, int, str]]:
    """(first address, size, organisation) of the embedded GeoLite2-ASN IPv4 networks."""
    from aicensus.enrich.geo import EmbeddedGeo

    EmbeddedGeo()  # loads the IPv4 tables into geoip2fast's module globals
    import geoip2fast.geoip2fast as data  # type: ignore[import-untyped]

    names = data.mainListNamesASN
    out = []
    for firsts, ids, lengths in zip(
        data.mainListFirstIPASN, data.mainListIDASN, data.mainListNetlengthASN, strict=True
    ):
        for first, org_id, netlen in zip(firsts, ids, lengths, strict=True):
            if org_id and names[org_id] not in ("", "<unknown>"):
                out.append((first, 2 ** (32 - netlen), names[org_id]))
    return out


def draw(nets: list[tuple[int, int, str]], n: int, rng: random.Random, by: str) -> list[str]:
    cumulative, total = [], 0
    for _, size, _ in nets:
        total += size if by == "address" else 1
        cumulative.append(total)
    out: list[str] = []
    while len(out) < n:
        first, size, _ = nets[bisect.bisect_right(cumulative, rng.randrange(total))]
        ip = ipaddress.IPv4Address(first + rng.randrange(size))
        if ip.is_global:
            out.append(str(ip))
    return out


def measure(ips: list[str]) -> dict[str, float | int]:
    from aicensus.enrich.asn import bundled_asn
    from aicensus.enrich.geo import EmbeddedGeo
    from aicensus.enrich.tiers import default_tiers

    geo, table, tiers = EmbeddedGeo(), bundled_asn(), default_tiers()

    covered = exact = shared = in_table = table_match = same_tier = iana = iana_covered = 0
    unknown_old = unknown_new = 0
    for ip in ips:
        geolite = geo._reader(ip).lookup(ip).asn_name or None  # type: ignore[attr-defined]
        found = table.lookup(ip)
        asn, org = found if found else (None, None)
        old = tiers.classify(geolite)
        new = tiers.classify(org or geolite, asn, geolite if org else None)
        same_tier += old.tier == new.tier
        unknown_old += old.tier == "unknown"
        unknown_new += new.tier == "unknown"
        if geolite == "IANA.ORG":  # GeoLite2's name for large unannounced legacy blocks
            iana += 1
            iana_covered += found is not None
        if found is None:
            continue
        covered += 1
        exact += normalise(org) == normalise(geolite)
        shared += bool(words(org) & words(geolite))
        entry = tiers.by_asn.get(asn)
        if entry is not None:
            in_table += 1
            table_match += entry.org.casefold() == (geolite or "").casefold()
    return {
        "addresses": len(ips),
        "covered": covered,
        "iana": iana,
        "iana_covered": iana_covered,
        "exact": exact,
        "shared": shared,
        "in_table": in_table,
        "table_match": table_match,
        "same_tier": same_tier,
        "unknown_old": unknown_old,
        "unknown_new": unknown_new,
    }


def pct(a: int | float, b: int | float) -> str:
    return f"{100 * a / b:.1f} %" if b else "-"


def timing(rng: random.Random) -> None:
    from aicensus.enrich import EmbeddedGeo, enrich
    from aicensus.enrich.asn import BundledAsn

    ips: list[str] = []
    while len(ips) < 175_000:
        ip = ipaddress.IPv4Address(rng.getrandbits(32))
        if ip.is_global:
            ips.append(str(ip))
    v6 = [str(ipaddress.IPv6Address((0x2 << 124) | rng.getrandbits(124))) for _ in range(50_000)]
    table = BundledAsn()
    start = time.perf_counter()
    table.lookup("8.8.8.8")
    load4 = time.perf_counter() - start
    start = time.perf_counter()
    table.lookup("2001:4860:4860::8888")
    load6 = time.perf_counter() - start
    start = time.perf_counter()
    for ip in ips:
        table.lookup(ip)
    per4 = len(ips) / (time.perf_counter() - start)
    start = time.perf_counter()
    for ip in v6:
        table.lookup(ip)
    per6 = len(v6) / (time.perf_counter() - start)
    print(f"load: IPv4 table + AS names {load4 * 1000:.0f} ms, IPv6 table {load6 * 1000:.0f} ms")
    print(f"BundledAsn.lookup: IPv4 {per4:,.0f}/s, IPv6 {per6:,.0f}/s")
    start = time.perf_counter()
    enrich(ips, EmbeddedGeo())
    took = time.perf_counter() - start
    print(f"enrich() of 175,000 public IPv4 addresses (EmbeddedGeo, tiers): {took:.2f} s "
          f"({len(ips) / took:,.0f}/s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args()
    nets = networks()
    print("| drawn | coverage | exact org match | shared word | tier-table org matches | "
          "same tier as GeoLite2 org alone | unknown tier (GeoLite2 org alone → now) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for by in ("address", "network"):
        m = measure(draw(nets, args.samples, random.Random(args.seed), by))
        n = m["addresses"]
        print(
            f"| {n:,} by {by} | {pct(m['covered'], n)} "
            f"({pct(m['covered'] - m['iana_covered'], n - m['iana'])} without IANA.ORG) | "
            f"{pct(m['exact'], m['covered'])} | "
            f"{pct(m['shared'], m['covered'])} | {pct(m['table_match'], m['in_table'])} "
            f"(of {pct(m['in_table'], m['covered'])} with the AS in the table) | "
            f"{pct(m['same_tier'], n)} | {pct(m['unknown_old'], n)} → {pct(m['unknown_new'], n)} |"
        )
    if not args.no_timing:
        timing(random.Random(args.seed))


if __name__ == "__main__":
    main()
