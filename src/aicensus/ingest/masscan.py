"""masscan output: -oJ (a JSON array), -oD (ndjson: one port record per line, `rec_type`),
-oX (nmap-like XML, with banners) and -oL (lines).

    -oL:  open tcp 11434 192.0.2.7 1740787200
          banner tcp 11434 192.0.2.7 1740787201 http HTTP/1.0 200 OK\\x0d\\x0aContent-Type: …
    -oJ:  {"ip": "192.0.2.7", "timestamp": "1740787200",
           "ports": [{"port": 11434, "proto": "tcp", "status": "open", "reason": "syn-ack"}]}
          {"ip": "192.0.2.7", "timestamp": "1740787201",
           "ports": [{"port": 11434, "proto": "tcp",
                      "service": {"name": "http", "banner": "HTTP/1.0 200 OK\\r\\n…"}}]}

Mapping: the records of one TCP (ip, port) within an hour form one observation, timed by the
earliest. An HTTP banner (`--banners`, which sends `GET /`) becomes the exchange `GET /` and is
fingerprinted like a scan's root response, so `Ollama is running` identifies Ollama. A port that
was only seen open is stored with status `unidentified`, no scheme and the error "port open; no
HTTP response recorded": masscan knows nothing about what listens there. Closed ports and UDP,
SCTP and ICMP records are counted as skipped (not bad) and not stored.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import msgspec

from aicensus.ingest import nmap
from aicensus.ingest.common import (
    BadRecord,
    Recorded,
    RecordError,
    check_ip,
    check_port,
    exchange_from_raw_http,
    group_by_time,
    iso_from_epoch,
    iter_json_values,
    parse_time,
    read_text,
    reason,
    skip,
    unescape_banner,
)
from aicensus.records import Evidence, RecordedService, Target

SOURCE = "masscan"
OPEN_ONLY_ERROR = "port open; no HTTP response recorded"


class _Seen(msgspec.Struct):
    ip: str
    port: int
    at: str
    service: str | None = None
    banner: str | None = None


def _when(seen: _Seen) -> datetime | None:
    return parse_time(seen.at)


def _not_stored(proto: str, state: str) -> str | None:
    """Why a record is counted but not stored (UDP, SCTP, ICMP, a closed port), or None."""
    if proto != "tcp":
        return f"{proto or 'unknown-protocol'} records"
    if state != "open":
        return f"{state or 'unknown-state'} ports"
    return None


def _list_line(text: str, part: Recorded) -> _Seen | None:
    fields = text.split(None, 6)
    if len(fields) < 5:
        raise RecordError("not a masscan -oL line")
    kind, proto = fields[0].lower(), fields[1].lower()
    if kind not in ("open", "closed", "banner"):
        raise RecordError(f"unknown record type {fields[0][:20]!r}")
    if (why := _not_stored(proto, "open" if kind == "banner" else kind)) is not None:
        skip(part, why)  # before the port check: an ICMP record's port is 0
        return None
    port, ip, at = check_port(fields[2]), check_ip(fields[3]), iso_from_epoch(fields[4])
    if kind == "banner":
        if len(fields) < 6:
            raise RecordError("banner line without a service name")
        banner = unescape_banner(fields[6]) if len(fields) > 6 else ""
        return _Seen(ip, port, at, fields[5].lower(), banner)
    return _Seen(ip, port, at)


def _ndjson_ports(record: dict[str, object]) -> list[object]:
    """masscan -oD (`--output-format ndjson`, src/out-ndjson.c) writes one port per line:
    `{"ip", "timestamp", "port", "proto", "rec_type": "status"|"banner", "data": {…}}`, with
    `data` `{"status", "reason", "ttl"}` or `{"service_name", "banner"}`; as a -oJ port entry."""
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    assert isinstance(data, dict)
    entry: dict[str, object] = {"port": record.get("port"), "proto": record.get("proto", "tcp")}
    if record.get("rec_type") == "banner":
        entry["service"] = {"name": data.get("service_name"), "banner": data.get("banner")}
    else:
        entry["status"] = data.get("status", "open")
    return [entry]


def _json_record(record: object, part: Recorded) -> list[_Seen]:
    if not isinstance(record, dict):
        raise RecordError("expected a JSON object")
    if "finished" in record and "ip" not in record:
        skip(part, "end-of-scan records")
        return []
    ip = check_ip(record.get("ip"))
    at = iso_from_epoch(record.get("timestamp"))
    ports = record.get("ports")
    if ports is None and "port" in record:
        ports = _ndjson_ports(record)
    if not isinstance(ports, list) or not ports:
        raise RecordError("no 'ports' list and no 'port'")
    seen: list[_Seen] = []
    for entry in ports:
        if not isinstance(entry, dict):
            raise RecordError("a 'ports' entry is not an object")
        state = "open" if "service" in entry else str(entry.get("status", "open")).lower()
        why = _not_stored(str(entry.get("proto", "tcp")).lower(), state)
        if why is not None:
            skip(part, why)  # before the port check: an ICMP record's port is 0
            continue
        port = check_port(entry.get("port"))
        service = entry.get("service")
        if isinstance(service, dict):
            banner = service.get("banner")
            seen.append(
                _Seen(
                    ip,
                    port,
                    at,
                    str(service.get("name") or "").lower() or None,
                    unescape_banner(banner) if isinstance(banner, str) else None,
                )
            )
        else:
            seen.append(_Seen(ip, port, at))
    return seen


def _is_list_format(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#masscan"):
            return True
        if stripped and not stripped.startswith("#"):
            return not stripped.startswith(("{", "["))
    return False


# Old masscan ends -oJ with `{finished: 1}`, which is not JSON (unquoted key).
_FINISHED = re.compile(r'\{\s*"?finished"?\s*:\s*\d+\s*\}')


def read(path: str | Path) -> Recorded:
    text = _FINISHED.sub(lambda m: " " * len(m.group()), read_text(path))
    part = Recorded(services=[])
    bad = part.bad
    seen: list[_Seen] = []
    records = 0
    if text.lstrip().startswith("<"):
        seen, records = _xml(text, part)
    elif _is_list_format(text):
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            records += 1
            try:
                if (item := _list_line(stripped, part)) is not None:
                    seen.append(item)
            except RecordError as exc:
                bad.append(BadRecord(line=number, reason=reason(exc)))
    else:
        for number, value in iter_json_values(text):
            records += 1
            try:
                if isinstance(value, RecordError):
                    raise value
                seen.extend(_json_record(value, part))
            except RecordError as exc:
                bad.append(BadRecord(line=number, reason=reason(exc)))
    groups = group_by_time(seen, lambda s: (s.ip, s.port), _when)
    part.services = [_service(g) for g in groups]
    part.records = records
    part.bad.sort(key=lambda b: b.line)
    return part


def _xml(text: str, part: Recorded) -> tuple[list[_Seen], int]:
    """masscan -oX (src/out-xml.c): nmap-like XML, one `<host endtime>` per port and record,
    a banner as `<service name banner>` (\\xNN escapes, like -oL)."""
    seen: list[_Seen] = []
    records = 0
    for line, host, run_start in nmap.hosts(text, part.bad):
        records += 1
        try:
            seen.extend(_xml_host(host, run_start, part))
        except RecordError as exc:
            part.bad.append(BadRecord(line=line, reason=reason(exc)))
    return seen, records


def _xml_host(host: ET.Element, run_start: str | None, part: Recorded) -> list[_Seen]:
    ip = nmap.address(host)
    at = iso_from_epoch(host.get("endtime") or host.get("starttime") or run_start)
    seen: list[_Seen] = []
    for port in host.findall("ports/port"):
        state = port.find("state")
        why = _not_stored(
            (port.get("protocol") or "").lower(),
            (state.get("state") or "") if state is not None else "",
        )
        if why is not None:
            skip(part, why)
            continue
        number = check_port(port.get("portid"))
        service = port.find("service")
        banner = service.get("banner") if service is not None else None
        name = (service.get("name") or "").lower() if service is not None else ""
        seen.append(
            _Seen(ip, number, at, name or None, unescape_banner(banner) if banner else None)
        )
    return seen


def _service(group: list[_Seen]) -> RecordedService:
    first = group[0]
    target = Target(first.ip, first.port)
    banners = [s for s in group if s.banner and s.service and s.service.startswith("http")]
    for item in banners:
        exchange = exchange_from_raw_http(item.banner or "")
        if exchange is not None:
            scheme = "https" if "ssl" in (item.service or "") else "http"
            return RecordedService(
                target=target,
                source=SOURCE,
                observed_at=first.at,
                scheme=scheme,
                exchanges=[exchange],
            )
    # Banners that are no HTTP response (an HTML `title`, `http.server`, `ssh`, ...) are kept
    # as what the source saw, not fingerprinted: a page title alone names no product.
    seen = [
        Evidence(
            kind="banner", probe="masscan", marker=f"{s.service}: {s.banner[:200]}", weight=0.0
        )
        for s in group
        if s.banner and s.service
    ]
    return RecordedService(
        target=target,
        source=SOURCE,
        observed_at=first.at,
        evidence=[
            Evidence(kind="port", probe="masscan", marker=f"tcp/{first.port} open", weight=0.0),
            *seen,
        ],
        error=OPEN_ONLY_ERROR,
    )
