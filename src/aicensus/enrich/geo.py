"""IP → country, ASN and AS organisation, offline.

* `EmbeddedGeo` (the default): the country from the MaxMind GeoLite2 Country+ASN data that the
  `geoip2fast` package ships (IPv4, plus IPv6 when an IPv6 address is looked up), the AS number
  and organisation from the bundled table of `aicensus.enrich.asn` (RouteViews, NRO and DB-IP
  via `@ip-location-db/asn`, CC BY 4.0). Where that table has no AS for an address, the
  organisation is GeoLite2's and the number None. GeoLite2's organisation name is kept as
  `alt_org` for the tier table, which is spelled as GeoLite2 spells it.
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
from typing import Any, Protocol

import msgspec

from aicensus.errors import InputFileError


class GeoResult(msgspec.Struct, frozen=True):
    country: str | None = None
    asn: int | None = None
    org: str | None = None
    alt_org: str | None = None  # another database's name for the network (tier lookup only)


class GeoInfo(msgspec.Struct, kw_only=True):
    name: str  # every source, with its version and the date of its data
    date: str | None  # date of the data, YYYY-MM-DD; of several sources, the oldest
    files: list[str]
    has_asn_numbers: bool


class GeoDatabase(Protocol):
    def lookup(self, ip: str) -> GeoResult: ...

    def describe(self) -> GeoInfo: ...


_DATE = re.compile(r"(20\d{2})(\d{2})(\d{2})")


class EmbeddedGeo:
    """Country from geoip2fast's bundled GeoLite2 data (IPv6 data loads on the first IPv6
    lookup); AS number and organisation from the bundled table (`aicensus.enrich.asn`)."""

    V4 = "geoip2fast-asn.dat.gz"
    V6 = "geoip2fast-asn-ipv6.dat.gz"

    def __init__(self) -> None:
        try:
            from geoip2fast import GeoIP2Fast  # type: ignore[import-untyped]
        except ImportError:  # pragma: no cover - a declared dependency
            raise InputFileError(
                "the embedded GeoIP data needs the geoip2fast package (pip install geoip2fast)"
            ) from None
        from aicensus.enrich.asn import bundled_asn

        self._cls = GeoIP2Fast
        self._v4 = GeoIP2Fast(geoip2fast_data_file=self.V4, verbose=False)
        self._v6: Any | None = None
        self._info = self._v4.get_database_info()
        self._asn = bundled_asn()

    def _reader(self, ip: str) -> object:
        if ":" not in ip:
            return self._v4
        if self._v6 is None:
            # geoip2fast keeps its tables in module globals: the IPv6 file replaces the IPv4
            # one, and holds IPv4 networks too, so from here on it answers both.
            self._v6 = self._cls(geoip2fast_data_file=self.V6, verbose=False)
            self._v4 = self._v6
            self._info = self._v6.get_database_info()
        return self._v6

    def lookup(self, ip: str) -> GeoResult:
        if not is_public(ip):
            return GeoResult()  # private, reserved, documentation: no country, no network
        if ":" in ip:
            mapped = ipaddress.IPv6Address(ip).ipv4_mapped  # ::ffff:a.b.c.d is a.b.c.d
            if mapped is not None:
                return self.lookup(str(mapped))
        result = self._reader(ip).lookup(ip)  # type: ignore[attr-defined]
        country = getattr(result, "country_code", "") or ""
        if len(country) != 2 or not country.isalpha():
            country = ""  # "--" private/reserved, "" not found
        geolite_org = getattr(result, "asn_name", "") or None
        found = self._asn.lookup(ip)
        if found is None:  # no AS in the bundled table: GeoLite2's organisation, no number
            return GeoResult(country=country.upper() or None, org=geolite_org)
        asn, org = found
        return GeoResult(
            country=country.upper() or None,
            asn=asn,
            org=org or geolite_org,
            alt_org=geolite_org if org and geolite_org != org else None,
        )

    def describe(self) -> GeoInfo:
        import geoip2fast  # type: ignore[import-untyped]

        source = str(self._info.get("source_info", ""))
        found = _DATE.search(source)
        country_date = f"{found.group(1)}-{found.group(2)}-{found.group(3)}" if found else None
        asn_date = self._asn.date()
        return GeoInfo(
            # the ASN source first, so that the report's "…, data of <date>" follows GeoLite2's
            name=(
                f"AS numbers and organisations: {self._asn.describe()}, data of {asn_date}; "
                f"country: geoip2fast {getattr(geoip2fast, '__version__', '?')} ({source})"
            ),
            date=min(filter(None, (country_date, asn_date)), default=None),
            files=[str(self._info.get("database_fullpath", "")), *self._asn.files()],
            has_asn_numbers=True,
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
                asn = record["autonomous_system_number"]  # type: ignore[assignment]  # int: checked
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
            has_asn_numbers=any("ASN" in name.upper() for name in names),
        )


def open_geo(mmdb: list[str | Path] | None = None) -> GeoDatabase:
    """The user's .mmdb files when given, else the embedded data."""
    return MmdbGeo(list(mmdb)) if mmdb else EmbeddedGeo()


def is_public(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_global
    except ValueError:
        return False
