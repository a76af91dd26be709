"""ZoomEye asset search results (API v2, `POST /v2/search`): the API response
`{"code", "message", "total", "query", "data": [record, …]}` as saved (one per line or
pretty-printed), or the records alone, as `zoomeye search … -save` writes them (a JSON array of
the response's `data`), or one record per line.

    {"ip": "192.0.2.7", "port": 11434, "protocol": "tcp", "service": "http",
     "update_time": "2024-07-03T14:34:10", "domain": "…", "url": "http://192.0.2.7:11434",
     "header": "HTTP/1.1 200 OK\\r\\nContent-Type: text/plain; …", "body": "Ollama is running",
     "banner": "…", "product": "…", "version": "…", "title": ["…"], …}

Mapping (docs/measurement.md), the field names of the API v2 reference (knownsec/ZoomEye-python
`api.md`): one observation per record (ip, port), timed by `update_time`. ZoomEye writes it
without a zone; like Shodan's it is taken as UTC. `header` (the HTTP response head) with `body`
is one exchange, fingerprinted as a scan's root response; `https` (`service`, or an `https://`
`url`) sets the scheme. A record with no HTTP response is stored as `not-http`, labelled with
ZoomEye's `service`/`product`; `protocol: udp` is skipped. `body` and `header` are fields the
query must ask for (`fields=`), and `body` needs a commercial plan: without them a record gives
an open TCP port and ZoomEye's labels only. ZoomEye's own product, location, ASN and
organisation are not stored: every IP is enriched from one database at report time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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

SOURCE = "zoomeye"


def _text(record: dict[str, object], key: str) -> str | None:
    value = record.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _service(record: object) -> RecordedService | None:
    if not isinstance(record, dict):
        raise RecordError("expected a JSON object")
    ip = check_ip(record.get("ip"))
    port = check_port(record.get("port"))
    if str(record.get("protocol") or "tcp").lower() not in ("tcp", "tcp6"):
        return None
    at = check_time(record.get("update_time"))
    service = (_text(record, "service") or "").lower()
    url = _text(record, "url") or ""
    scheme = "https" if service == "https" or url.startswith("https://") else "http"
    target = Target(ip, port, _text(record, "domain"))
    header = _text(record, "header")
    exchange = exchange_from_raw_http(header, body=_text(record, "body")) if header else None
    if exchange is not None:
        return RecordedService(
            target=target, source=SOURCE, observed_at=at, scheme=scheme, exchanges=[exchange]
        )
    label = " ".join(x for x in (service, _text(record, "product")) if x) or "no HTTP response"
    return RecordedService(
        target=target,
        source=SOURCE,
        observed_at=at,
        status=ScanStatus.NOT_HTTP,
        evidence=[Evidence(kind="source-label", probe="zoomeye", marker=label[:120])],
    )


def _records(value: object) -> list[object]:
    """The records of one JSON value: the `data` array of an API response, or the value."""
    if isinstance(value, RecordError):
        raise value
    if isinstance(value, dict) and isinstance(value.get("data"), list) and "ip" not in value:
        return list(value["data"])
    return [value]


def _record(number: int, value: object) -> Recorded:
    return record_of_items(number, value, _records, _service, _skipped_as)


def _skipped_as(record: object) -> str:
    protocol = record.get("protocol") if isinstance(record, dict) else None
    return f"{str(protocol).lower()} records"


def records(path: str | Path) -> Iterator[Recorded]:
    """The file's records one at a time, read as they are needed (memory stays flat)."""
    return (_record(number, value) for number, value in iter_json_file(path))


def read(path: str | Path) -> Recorded:
    return merged(records(path))
