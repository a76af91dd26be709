"""IP → country, ASN and AS organisation, offline.

* `EmbeddedGeo` (the default): the MaxMind GeoLite2 Country+ASN data that the `geoip2fast`
  package ships (IPv4, plus IPv6 when an IPv6 address is looked up). Its ASN data has the AS
  organisation name but not the AS number, so `asn` is None and hosts are grouped by
  organisation.
* `MmdbGeo`: one or more MaxMind-format `.mmdb` files the user points to (GeoLite2/GeoIP2
  Country or City, and ASN; DB-IP's compatible files too), read with `maxminddb`. Country comes
  from `country.iso_code` (else `registered_country`), the AS from
  `autonomous_system_number` / `autonomous_system_organization`.

Both say which database and which build date they are (`describe()`), for the report.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import msgspec

from aicensus.errors import InputFileError


class GeoResult(msgspec.Struct, frozen=True):
    country: str | None = None
    asn: int | None = None
    org: str | None = None


class GeoInfo(msgspec.Struct, kw_only=True):
    name: str  # e.g. "geoip2fast 1.2.2 (MAXMIND:GeoLite2-CountryASN-IPv4-en-20240618)"
    date: str | None  # build date of the data, YYYY-MM-DD
    files: list[str]
    has_asn_numbers: bool


class GeoDatabase(Protocol):
    def lookup(self, ip: str) -> GeoResult: ...

    def describe(self) -> GeoInfo: ...


_DATE = re.compile(r"(20\d{2})(\d{2})(\d{2})")


class EmbeddedGeo:
    """geoip2fast's bundled GeoLite2 Country+ASN data; IPv6 data loads on first IPv6 lookup."""

    V4 = "geoip2fast-asn.dat.gz"
    V6 = "geoip2fast-asn-ipv6.dat.gz"

    def __init__(self) -> None:
        try:
            from geoip2fast import GeoIP2Fast  # type: ignore[import-untyped]
        except ImportError:  # pragma: no cover - a declared dependency
            raise InputFileError(
                "the embedded GeoIP data needs the geoip2fast package (pip install geoip2fast)"
            ) from None
        self._cls = GeoIP2Fast
        self._v4 = GeoIP2Fast(geoip2fast_data_file=self.V4, verbose=False)
        self._v6: object | None = None
        self._info = self._v4.get_database_info()

    def _reader(self, ip: str) -> object:
        if ":" not in ip:
            return self._v4
        if self._v6 is None:
            # geoip2fast keeps its tables in module globals: the IPv6 file replaces the IPv4
            # one, and holds IPv4 networks too, so from here on it answers both.
            self._v6 = self._cls(geoip2fast_data_file=self.V6, verbose=False)
            self._v4 = self._v6
            self._info = self._v6.get_database_info()  # type: ignore[attr-defined]
        return self._v6

    def lookup(self, ip: str) -> GeoResult:
        if not is_public(ip):
            return GeoResult()  # private, reserved, documentation: no country, no network
        result = self._reader(ip).lookup(ip)  # type: ignore[attr-defined]
        country = getattr(result, "country_code", "") or ""
        if len(country) != 2 or not country.isalpha():
            country = ""  # "--" private/reserved, "" not found
        org = getattr(result, "asn_name", "") or ""
        return GeoResult(country=country.upper() or None, asn=None, org=org or None)

    def describe(self) -> GeoInfo:
        import geoip2fast  # type: ignore[import-untyped]

        source = str(self._info.get("source_info", ""))
        found = _DATE.search(source)
        return GeoInfo(
            name=f"geoip2fast {getattr(geoip2fast, '__version__', '?')} ({source})",
            date=f"{found.group(1)}-{found.group(2)}-{found.group(3)}" if found else None,
            files=[str(self._info.get("database_fullpath", ""))],
            has_asn_numbers=False,
        )


class MmdbGeo:
    """MaxMind-format databases: give a country (or city) file, an ASN file, or both."""

    def __init__(self, paths: list[str | Path]) -> None:
        try:
            import maxminddb  # type: ignore[import-untyped]
        except ImportError:  # pragma: no cover - a declared dependency
            raise InputFileError("reading .mmdb files needs the maxminddb package") from None
        if not paths:
            raise InputFileError("no .mmdb file given")
        self._readers = []
        for path in paths:
            try:
                self._readers.append(maxminddb.open_database(str(path)))
            except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
                raise InputFileError(f"cannot read MaxMind database {path}: {exc}") from None
        self._paths = [str(p) for p in paths]

    def lookup(self, ip: str) -> GeoResult:
        country: str | None = None
        asn: int | None = None
        org: str | None = None
        for reader in self._readers:
            try:
                record = reader.get(ip)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            for key in ("country", "registered_country"):
                block = record.get(key)
                if country is None and isinstance(block, dict) and block.get("iso_code"):
                    country = str(block["iso_code"]).upper()
            if asn is None and isinstance(record.get("autonomous_system_number"), int):
                asn = record["autonomous_system_number"]
            if org is None and record.get("autonomous_system_organization"):
                org = str(record["autonomous_system_organization"])
        return GeoResult(country=country, asn=asn, org=org)

    def describe(self) -> GeoInfo:
        names, dates = [], []
        for reader in self._readers:
            meta = reader.metadata()
            built = datetime.fromtimestamp(meta.build_epoch, UTC).date().isoformat()
            names.append(f"{meta.database_type} (built {built})")
            dates.append(built)
        return GeoInfo(
            name=", ".join(names),
            date=max(dates) if dates else None,
            files=self._paths,
            has_asn_numbers=True,
        )


def open_geo(mmdb: list[str | Path] | None = None) -> GeoDatabase:
    """The user's .mmdb files when given, else the embedded data."""
    return MmdbGeo(list(mmdb)) if mmdb else EmbeddedGeo()


def is_public(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_global
    except ValueError:
        return False
