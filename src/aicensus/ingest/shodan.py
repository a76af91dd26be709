"""Shodan banner JSON: one banner per line, as `shodan download` (gzipped) and `shodan parse`
write it and as the search and streaming APIs return it; also a host API response
(`/shodan/host/{ip}`: the host with its banners in a `data` array) or a search page
(`{"total", "matches": [banner, …]}`), one per line or pretty-printed.

    {"ip_str": "192.0.2.7", "port": 11434, "transport": "tcp",
     "timestamp": "2025-03-01T12:00:00.123456", "hostnames": [],
     "data": "HTTP/1.1 200 OK\\r\\nContent-Type: text/plain; charset=utf-8\\r\\n…\\r\\n\\r\\n",
     "http": {"status": 200, "html": "Ollama is running", "title": "", "server": null,
              "location": "/"},
     "ssl": {…}, "product": "…", "asn": "AS64500", "org": "…", "location": {…}}

Mapping (docs/measurement.md): one observation per banner, timed by `timestamp` (Shodan
writes UTC without a zone). `data` holds the status line and headers Shodan received for
`GET http.location` (default `/`), and `http.html` the body; together they are one exchange,
fingerprinted as a scan's root response. A banner with `ssl` is https. An `ollama` object, when
a banner carries one, is read like Censys's (models, running_models, version). A banner that
is not HTTP is stored as `not-http`; `transport: udp` is skipped. Shodan's own location, ASN
and organisation are not stored: every IP is enriched from one database at report time.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

from aicensus.ingest.censys import ollama_claim
from aicensus.ingest.common import (
    Recorded,
    RecordError,
    check_ip,
    check_port,
    check_time,
    exchange_from_raw_http,
    iter_json_file,
    merged,
    record_of_items,
)
from aicensus.records import Evidence, RecordedService, ScanStatus, Target

SOURCE = "shodan"


def _ip(banner: dict[str, object]) -> str:
    if "ip_str" in banner:
        return check_ip(banner["ip_str"])
    value = banner.get("ip")
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32:
        return str(ipaddress.IPv4Address(value))
    return check_ip(value)


def _service(banner: object) -> RecordedService | None:
    if not isinstance(banner, dict):
        raise RecordError("expected a JSON object")
    ip = _ip(banner)
    port = check_port(banner.get("port"))
    if str(banner.get("transport") or "tcp").lower() != "tcp":
        return None
    at = check_time(banner.get("timestamp"))
    data = banner.get("data")
    if not isinstance(data, str):
        raise RecordError("no 'data' string")
    http = banner.get("http") if isinstance(banner.get("http"), dict) else None
    scheme = "https" if banner.get("ssl") else "http"
    hostnames = banner.get("hostnames")
    hostname = hostnames[0] if isinstance(hostnames, list) and hostnames else None
    target = Target(ip, port, hostname if isinstance(hostname, str) else None)
    html = http.get("html") if http else None
    path = http.get("location") if http and isinstance(http.get("location"), str) else "/"
    exchange = exchange_from_raw_http(
        data, path=path or "/", body=html if isinstance(html, str) else None
    )
    ollama = banner.get("ollama")
    claim = ollama_claim(ollama, SOURCE) if isinstance(ollama, dict) else None
    if exchange is not None or claim is not None:
        return RecordedService(
            target=target,
            source=SOURCE,
            observed_at=at,
            scheme=scheme,
            exchanges=[exchange] if exchange is not None else [],
            claim=claim,
        )
    meta = banner.get("_shodan")
    module = meta.get("module") if isinstance(meta, dict) else None
    label = str(banner.get("product") or module or "non-HTTP banner")[:120]
    return RecordedService(
        target=target,
        source=SOURCE,
        observed_at=at,
        status=ScanStatus.NOT_HTTP,
        evidence=[Evidence(kind="source-label", probe="shodan", marker=label)],
    )


def records(path: str | Path) -> Iterator[Recorded]:
    """The file's records one at a time, read as they are needed (memory stays flat)."""
    return (_record(number, value) for number, value in iter_json_file(path))


def read(path: str | Path) -> Recorded:
    return merged(records(path))


def _banners(value: object) -> list[object]:
    """The banners of one JSON value: the value itself, or the `data` array of a host API
    response (`/shodan/host/{ip}`, `api.host(ip)`), each banner completed with the host's IP."""
    if isinstance(value, RecordError):
        raise value
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        host_ip = {k: value[k] for k in ("ip_str", "ip") if k in value}
        return [{**host_ip, **b} if isinstance(b, dict) else b for b in value["data"]]
    if isinstance(value, dict) and isinstance(value.get("matches"), list):
        return list(value["matches"])  # a search page (`api.search(q)`): {"total", "matches"}
    return [value]


def _record(number: int, value: object) -> Recorded:
    return record_of_items(number, value, _banners, _service, _skipped_as)


def _skipped_as(banner: object) -> str:
    transport = banner.get("transport") if isinstance(banner, dict) else None
    return f"{str(transport or 'non-tcp').lower()} banners"
