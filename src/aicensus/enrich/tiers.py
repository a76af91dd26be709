"""Infrastructure tier of an AS: cloud/hosting, telecom/residential, enterprise, education or
unknown, from the bundled, sourced table data/asn_tiers.csv.

Lookup order: the AS number (the embedded data and .mmdb ASN files give one), then the
organisation name exactly as GeoLite2 spells it (case-insensitive; the embedded data passes both
its own organisation name and GeoLite2's), then the documented name rules below, else `unknown`.
The report counts how many hosts each way classified.
"""

from __future__ import annotations

import csv
import functools
import re
from importlib import resources

import msgspec

TIERS = ("cloud/hosting", "telecom/residential", "enterprise", "education", "unknown")

# Fallback for organisations the table does not list: first match wins.
NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("education", re.compile(
        r"UNIVERSIT|UNIVERSIDAD|HOCHSCHULE|COLLEGE|\bEDU\b|EDUCATION|ACADEMIC|RESEARCH NET|"
        r"SCHOOL|INSTITUTE OF TECHNOLOGY|FORSCHUNG", re.I)),
    ("cloud/hosting", re.compile(
        r"HOSTING|\bHOST\b|CLOUD|DATA ?CENT|DATACENT|SERVER|\bVPS\b|COLOCATION|\bCOLO\b|"
        r"DEDICATED|\bIDC\b|COMPUTE", re.I)),
    ("telecom/residential", re.compile(
        r"TELECOM|TELEKOM|TELECOMUNICA|TELEFON|TELEPHONE|BROADBAND|CABLE|MOBILE|WIRELESS|"
        r"COMMUNICATION|\bISP\b|INTERNET SERVICE|FIBER|FIBRE|\bFTTH\b|\bDSL\b|VODAFONE|ORANGE|"
        r"TELIA|TELENOR|\bTELE", re.I)),
)  # fmt: skip


class TierEntry(msgspec.Struct, frozen=True):
    org: str
    asn: int | None
    tier: str
    hyperscaler: bool
    country: str | None
    rank_ipv4: int | None
    source: str


class Classified(msgspec.Struct, frozen=True):
    tier: str
    hyperscaler: bool
    basis: str  # "asn", "org", "name rule", "none"


class TierTable:
    def __init__(self, entries: list[TierEntry]) -> None:
        self.entries = entries
        self.by_org = {e.org.casefold(): e for e in entries}
        self.by_asn = {e.asn: e for e in entries if e.asn is not None}

    def classify(
        self, org: str | None, asn: int | None = None, alt_org: str | None = None
    ) -> Classified:
        """By AS number, else by organisation name (org, then alt_org: another database's name
        for the same network), else by the name rules (org, then alt_org), else unknown."""
        entry = self.by_asn.get(asn) if asn is not None else None
        if entry is not None:
            return Classified(entry.tier, entry.hyperscaler, "asn")
        names = [name for name in (org, alt_org) if name]
        for name in names:
            entry = self.by_org.get(name.casefold())
            if entry is not None:
                return Classified(entry.tier, entry.hyperscaler, "org")
        for name in names:
            for tier, rule in NAME_RULES:
                if rule.search(name):
                    return Classified(tier, False, "name rule")
        return Classified("unknown", False, "none")


def _rows(text: str) -> list[TierEntry]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    entries = []
    for row in csv.DictReader(lines):
        entries.append(
            TierEntry(
                org=row["org"],
                asn=int(row["asn"]) if row["asn"] else None,
                tier=row["tier"],
                hyperscaler=row["hyperscaler"] == "yes",
                country=row["country"] or None,
                rank_ipv4=int(row["rank_ipv4"]) if row["rank_ipv4"] else None,
                source=row["source"],
            )
        )
    return entries


@functools.cache
def default_tiers() -> TierTable:
    text = resources.files("aicensus.enrich").joinpath("data/asn_tiers.csv").read_text("utf-8")
    return TierTable(_rows(text))
