"""The JSON Lines responses format: one recorded HTTP response per line.

    {"ip": "192.0.2.1", "port": 11434, "scheme": "http", "path": "/api/tags",
     "status": 200, "headers": {...}, "body": "...", "method": "GET",
     "observed_at": "2025-01-01T00:00:00Z"}

Lines for the same (ip, port, scheme) less than an hour apart are fingerprinted together as
one observation, timed by the earliest (the time grouping of every ingest format): one host
recorded on 120 days gives 120 observations. A bad line is counted and reported with its
number, and the rest are kept.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import msgspec

from aicensus.errors import InputFileError
from aicensus.ingest.common import BadRecord, Recorded, group_by_time, open_binary, parse_time
from aicensus.records import Exchange, RecordedService, Target

SOURCE = "responses"
__all__ = ["BadRecord", "open_lines", "read", "read_responses"]


class _Line(msgspec.Struct):
    ip: str
    port: int
    path: str
    status: int | None = None
    scheme: str | None = "http"
    method: str = "GET"
    headers: dict[str, str] | None = None
    body: str | None = None
    observed_at: str | None = None
    request_body: str | None = None


_decoder = msgspec.json.Decoder(_Line)


SCHEMES = ("http", "https")


def endpoint_problem(ip: object, port: object, scheme: object) -> str | None:
    """Why (ip, port, scheme) cannot be stored, or None. Every stored record passes this:
    these values reach terminals, URIs (SARIF, CycloneDX) and the connections of a rescan."""
    if not isinstance(ip, str):
        return "no IP address"
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return f"bad IP address {ascii(ip)[:60]}"
    if "%" in str(ip):  # a zone id is local to one machine and can carry any text
        return f"IP address {ascii(ip)[:60]} has a zone id"
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        return f"port {ascii(port)[:20]} out of range 1-65535"
    if scheme is not None and scheme not in SCHEMES:
        return f"scheme {ascii(scheme)[:30]} is not http or https"
    return None


def _parse_line(raw: bytes) -> _Line:
    rec = _decoder.decode(raw)
    problem = endpoint_problem(rec.ip, rec.port, rec.scheme)
    if problem is not None:
        raise ValueError(problem)
    rec.ip = str(ipaddress.ip_address(rec.ip))  # one spelling per address, as the scanner's
    if not rec.path.startswith("/"):
        raise ValueError("path must start with '/'")
    return rec


def read_responses(lines: Iterable[bytes]) -> tuple[list[RecordedService], list[BadRecord]]:
    """The recorded services of these lines (grouped per service and hour) and the bad lines."""
    part = _read(lines)
    return part.services, part.bad


def _read(lines: Iterable[bytes]) -> Recorded:
    good: list[_Line] = []
    bad: list[BadRecord] = []
    records = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        records += 1
        try:
            good.append(_parse_line(raw))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            bad.append(BadRecord(line=number, reason=" ".join(str(exc).split())[:200]))
    groups = group_by_time(
        good, lambda r: (r.ip, r.port, r.scheme), lambda r: parse_time(r.observed_at)
    )
    return Recorded(services=[_service(g) for g in groups], bad=bad, records=records)


def _service(group: list[_Line]) -> RecordedService:
    first = group[0]  # the earliest: group_by_time sorts by time
    return RecordedService(
        target=Target(first.ip, first.port),
        source=SOURCE,
        observed_at=first.observed_at,
        scheme=first.scheme,
        exchanges=[
            Exchange(
                method=rec.method.upper(),
                path=rec.path,
                status=rec.status,
                headers=rec.headers or {},
                body=(rec.body or "").encode("utf-8", errors="replace"),
                request_body=rec.request_body,
            )
            for rec in group
        ],
    )


def read(path: str | Path) -> Recorded:
    """A responses file (plain or gzipped) as recorded services: the ingest reader."""
    return _read(open_lines(path))


def open_lines(path: str | Path) -> Iterator[bytes]:
    handle: IO[bytes] = open_binary(path)
    with handle:
        try:
            yield from handle
        except (OSError, EOFError) as exc:
            raise InputFileError(f"cannot read {path}: {exc}") from None
