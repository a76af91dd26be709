"""zgrab2 JSON (the `http` module): one JSON object per scanned host per line.

    {"ip": "192.0.2.7", "domain": "…",
     "data": {"http": {"status": "success", "protocol": "http", "timestamp": "2025-03-01T…Z",
                       "result": {"response": {"status_code": 200, "status_line": "200 OK",
                           "headers": {"content_type": ["text/plain"], "unknown": [...]},
                           "body": "Ollama is running",
                           "request": {"method": "GET",
                                       "url": {"scheme": "http", "host": "192.0.2.7:11434",
                                               "path": "/"}}},
                                  "redirect_response_chain": [...]}}}}

Mapping (docs/measurement.md): every entry of `data` whose `result.response` is an HTTP
response becomes one recorded exchange (method, path from `request.url`, status, headers,
body); zgrab2's header names (`content_type`) get their dashes back (`content-type`). Exchanges
of one (ip, port, scheme) within an hour of each other are fingerprinted together, exactly as a
live scan's responses would be, so several zgrab2 runs with different `--endpoint`s (or a
multi-module .ini run) combined in one file give one observation with models. The port comes
from the record's `port`, else `request.url.host`, else `default_port`. A module that failed
without a response (`connection-timeout` …) becomes an observation with that status; a
non-HTTP module that succeeded (ssh, redis …) is a `not-http` observation on that module's
port. zgrab2's closing `{"statuses": …}` summary line is counted as skipped, not bad.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from aicensus.ingest.common import (
    BadRecord,
    Recorded,
    RecordError,
    check_ip,
    check_port,
    group_by_time,
    iter_json_values,
    parse_time,
    read_text,
    reason,
    skip,
)
from aicensus.records import Evidence, Exchange, RecordedService, ScanStatus, Target

SOURCE = "zgrab2"
_FAILURES = {
    "connection-refused": ScanStatus.CONNECTION_REFUSED,
    "connection-timeout": ScanStatus.CONNECTION_TIMEOUT,
    "io-timeout": ScanStatus.IO_TIMEOUT,
}


class _Grab(msgspec.Struct):
    ip: str
    port: int
    scheme: str
    at: str
    exchange: Exchange | None
    failure: str | None = None
    module: str | None = None  # the zgrab2 module of a grab without an HTTP response


def _headers(raw: object) -> dict[str, str]:
    headers: dict[str, str] = {}
    if not isinstance(raw, dict):
        return headers
    for name, value in raw.items():
        if name == "unknown" and isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and isinstance(item.get("key"), str):
                    headers[item["key"]] = _joined(item.get("value"))
            continue
        headers[str(name).replace("_", "-")] = _joined(value)
    return headers


def _joined(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _url(response: dict[str, object]) -> tuple[str | None, str | None, str, str]:
    """(scheme, host, path, method) of the request behind a response."""
    request = response.get("request")
    request = request if isinstance(request, dict) else {}
    url = request.get("url")
    method = str(request.get("method") or "GET").upper()
    if isinstance(url, dict):
        path = str(url.get("path") or "/")
        if url.get("raw_query"):
            path = f"{path}?{url['raw_query']}"
        return _str(url.get("scheme")), _str(url.get("host")), path, method
    if isinstance(url, str):
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return parts.scheme or None, parts.netloc or None, path, method
    return None, None, "/", method


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _port_of(host: str | None) -> int | None:
    if not host:
        return None
    try:
        return urlsplit(f"//{host}").port
    except ValueError:
        return None


# Default ports of zgrab2's modules (each module's `AddCommand(…, port, …)`), for records of
# a module run without --port: zgrab2 writes no port then.
_MODULE_PORTS = {
    "http": 80, "ssh": 22, "ftp": 21, "telnet": 23, "smtp": 25, "pop3": 110, "imap": 143,
    "redis": 6379, "mysql": 3306, "postgres": 5432, "mssql": 1433, "mongodb": 27017,
    "memcached": 11211, "mqtt": 1883, "tls": 443, "banner": 80,
}  # fmt: skip


def _is_summary(record: dict[str, object]) -> bool:
    """zgrab2's closing line: `{"statuses": {MODULE: {"successes", "failures"}}, "start", …}`."""
    return "statuses" in record and "data" not in record and "ip" not in record


def _grabs(record: object, default_port: int | None, part: Recorded) -> list[_Grab]:
    if not isinstance(record, dict):
        raise RecordError("expected a JSON object")
    if _is_summary(record):
        skip(part, "zgrab2 summary lines")
        return []
    ip = check_ip(record.get("ip"))
    data = record.get("data")
    if not isinstance(data, dict) or not data:
        raise RecordError("no 'data' object")
    grabs: list[_Grab] = []
    for name, module in data.items():
        if not isinstance(module, dict):
            continue
        result = module.get("result")
        response = result.get("response") if isinstance(result, dict) else None
        at = module.get("timestamp") or record.get("timestamp")
        if not isinstance(at, str) or parse_time(at) is None:
            raise RecordError(f"bad or missing timestamp {str(at)[:40]!r}")
        if isinstance(response, dict):
            scheme, host, path, method = _url(response)
            scheme = scheme or str(module.get("protocol") or "http")
            port = module.get("port", record.get("port")) or _port_of(host) or default_port
            if port is None:
                port = 443 if scheme == "https" else 80
            status = response.get("status_code")
            body = response.get("body")
            exchange = Exchange(
                method=method,
                path=path if path.startswith("/") else f"/{path}",
                status=status if isinstance(status, int) and not isinstance(status, bool) else None,
                headers=_headers(response.get("headers")),
                body=(body if isinstance(body, str) else "").encode("utf-8", errors="replace"),
            )
            grabs.append(_Grab(ip, check_port(port), scheme, at, exchange))
        elif isinstance(module.get("status"), str):
            kind = str(module.get("protocol") or name)
            port = module.get("port", record.get("port")) or default_port or _MODULE_PORTS.get(kind)
            if port is None:
                raise RecordError(f"a {kind} grab without a port; give --port")
            status = module["status"]
            if status == "success":  # a module that is not HTTP answered: the port is not HTTP
                status = f"{kind} answered (not HTTP)"
            grabs.append(_Grab(ip, check_port(port), "http", at, None, status, kind))
    if not grabs:
        raise RecordError("no HTTP response and no scan status in 'data'")
    return grabs


def _when(grab: _Grab) -> datetime | None:
    return parse_time(grab.at)


def read(path: str | Path, *, default_port: int | None = None) -> Recorded:
    part = Recorded(services=[])
    grabs: list[_Grab] = []
    for number, value in iter_json_values(read_text(path)):
        part.records += 1
        try:
            if isinstance(value, RecordError):
                raise value
            grabs.extend(_grabs(value, default_port, part))
        except RecordError as exc:
            part.bad.append(BadRecord(line=number, reason=reason(exc)))
    part.services = [
        _service(group) for group in group_by_time(grabs, lambda g: (g.ip, g.port, g.scheme), _when)
    ]
    return part


def _service(group: list[_Grab]) -> RecordedService:
    first = group[0]
    exchanges = [g.exchange for g in group if g.exchange is not None]
    target = Target(first.ip, first.port)
    if not exchanges:
        failure = first.failure or "unknown-error"
        if first.module and failure.endswith("(not HTTP)"):
            return RecordedService(
                target=target,
                source=SOURCE,
                observed_at=first.at,
                status=ScanStatus.NOT_HTTP,
                evidence=[Evidence(kind="source-label", probe="zgrab2", marker=first.module)],
                error=f"zgrab2: {failure}",
            )
        return RecordedService(
            target=target,
            source=SOURCE,
            observed_at=first.at,
            status=_FAILURES.get(failure, ScanStatus.ERROR),
            error=f"zgrab2: {failure}",
        )
    return RecordedService(
        target=target, source=SOURCE, observed_at=first.at, scheme=first.scheme, exchanges=exchanges
    )
