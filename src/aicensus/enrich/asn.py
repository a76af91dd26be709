"""IP → AS number and AS organisation from the bundled, offline table data/asn-*.

The table is built by scripts/build_asn_data.py from the npm package `@ip-location-db/asn`
(CC BY 4.0: RouteViews, the NRO's RIR statistics and DB-IP's IP to ASN Lite database; "IP
Geolocation by DB-IP", https://db-ip.com); data/asn-data.json names its version and date and
data/asn-LICENSE.txt carries the attribution.

Layout (little-endian, gzip'd): a sorted array of range starts (stored as deltas) and a parallel
array of AS numbers; entry i covers [start[i], start[i+1]); AS 0 marks addresses no AS announces.
IPv4 at address granularity, IPv6 at /64 granularity (the upper 64 bits of the address). Each
family loads on its first lookup (IPv6 only when an IPv6 address is looked up); the AS names load
with the first match. A lookup is a `bisect` on the start array.
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
from array import array
from bisect import bisect_right
from functools import cache
from importlib import resources
from itertools import accumulate
from pathlib import Path
from socket import AF_INET, AF_INET6, inet_pton
from typing import Any

_V4_FILE = "asn-ipv4.bin.gz"
_V6_FILE = "asn-ipv6.bin.gz"
_NAMES_FILE = "asn-names.tsv.gz"
_META_FILE = "asn-data.json"
_MAPPED = b"\x00" * 10 + b"\xff\xff"  # ::ffff:a.b.c.d


def _data(name: str) -> Any:
    return resources.files("aicensus.enrich").joinpath("data", name)


@cache
def asn_metadata() -> dict[str, Any]:
    """Source package, version, data date, licence and attribution of the bundled table."""
    return json.loads(_data(_META_FILE).read_text("utf-8"))  # type: ignore[no-any-return]


def _load_table(raw: bytes, code: str) -> tuple[array, array]:  # type: ignore[type-arg]
    width = array(code).itemsize
    count, rest = divmod(len(raw), width + 4)
    if rest or not count:
        raise ValueError(f"damaged ASN table ({len(raw)} bytes)")
    deltas, asns = array(code), array("I")
    deltas.frombytes(raw[: count * width])
    asns.frombytes(raw[count * width :])
    if sys.byteorder == "big":  # pragma: no cover - the files are little-endian
        deltas.byteswap()
        asns.byteswap()
    return array(code, accumulate(deltas)), asns


def _load_names(raw: bytes) -> dict[int, str]:
    names: dict[int, str] = {}
    for line in raw.decode("utf-8").splitlines():
        number, _, org = line.partition("\t")
        names[int(number)] = org
    return names


class BundledAsn:
    """Lookups in the bundled table (or in the files scripts/build_asn_data.py wrote to
    `directory`). Thread-safe; the data loads lazily, once per instance."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self._dir = Path(directory) if directory is not None else None
        self._lock = threading.Lock()
        self._v4: tuple[array, array] | None = None  # type: ignore[type-arg]
        self._v6: tuple[array, array] | None = None  # type: ignore[type-arg]
        self._names: dict[int, str] | None = None

    def _path(self, name: str) -> Any:
        return self._dir / name if self._dir is not None else _data(name)

    def _read(self, name: str) -> bytes:
        return gzip.decompress(self._path(name).read_bytes())

    def metadata(self) -> dict[str, Any]:
        if self._dir is None:
            return asn_metadata()
        return json.loads((self._dir / _META_FILE).read_text("utf-8"))  # type: ignore[no-any-return]

    def _table(self, v6: bool) -> tuple[array, array]:  # type: ignore[type-arg]
        table = self._v6 if v6 else self._v4
        if table is None:
            with self._lock:
                if v6:
                    if self._v6 is None:
                        self._v6 = _load_table(self._read(_V6_FILE), "Q")
                    table = self._v6
                else:
                    if self._v4 is None:
                        self._v4 = _load_table(self._read(_V4_FILE), "I")
                    table = self._v4
        return table

    def _org(self, asn: int) -> str | None:
        names = self._names
        if names is None:
            with self._lock:
                if self._names is None:
                    self._names = _load_names(self._read(_NAMES_FILE))
                names = self._names
        return names.get(asn)

    def asn(self, ip: str) -> int | None:
        """The AS number announcing ip, or None: unknown to the table, or not an IP address."""
        try:
            if ":" in ip:
                packed = inet_pton(AF_INET6, ip)
                v6 = packed[:12] != _MAPPED  # ::ffff:a.b.c.d is looked up as a.b.c.d
                key = int.from_bytes(packed[:8] if v6 else packed[12:], "big")
            else:
                v6 = False
                key = int.from_bytes(inet_pton(AF_INET, ip), "big")
        except (OSError, TypeError, ValueError):
            return None  # not an address (inet_pton is strict: no "127.1", no zone ids)
        starts, asns = self._table(v6)  # a missing or damaged data file raises
        index = bisect_right(starts, key) - 1
        number = asns[index] if index >= 0 else 0
        return number or None

    def lookup(self, ip: str) -> tuple[int, str | None] | None:
        """(AS number, organisation) of ip, or None. Reserved space is not filtered here."""
        number = self.asn(ip)
        if number is None:
            return None
        return number, self._org(number)

    def describe(self) -> str:
        meta = self.metadata()
        return (
            f"{meta['source']} {meta['version']} (RouteViews, NRO, DB-IP; {meta['licence']}; "
            "IP Geolocation by DB-IP, https://db-ip.com)"
        )

    def date(self) -> str:
        return str(self.metadata()["date"])

    def files(self) -> list[str]:
        return [str(self._path(name)) for name in (_V4_FILE, _V6_FILE, _NAMES_FILE)]


@cache
def bundled_asn() -> BundledAsn:
    """One shared instance, so the table loads once per process."""
    return BundledAsn()
