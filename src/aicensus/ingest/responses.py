"""The JSON Lines responses format: one recorded HTTP response per line.

    {"ip": "192.0.2.1", "port": 11434, "scheme": "http", "path": "/api/tags",
     "status": 200, "headers": {...}, "body": "...", "method": "GET",
     "observed_at": "2025-01-01T00:00:00Z"}

Lines for the same (ip, port, scheme) are fingerprinted together. A bad line is
counted and reported with its number, and the rest are kept.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import msgspec

from aicensus.errors import InputFileError
from aicensus.records import Exchange, RecordedService, Target

SOURCE = "responses"


class BadRecord(msgspec.Struct):
    line: int
    reason: str


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


def _parse_line(raw: bytes) -> _Line:
    rec = _decoder.decode(raw)
    ipaddress.ip_address(rec.ip)  # raises ValueError on a bad address
    if not 0 < rec.port < 65536:
        raise ValueError(f"port {rec.port} out of range")
    if not rec.path.startswith("/"):
        raise ValueError("path must start with '/'")
    return rec


def read_responses(lines: Iterable[bytes]) -> tuple[list[RecordedService], list[BadRecord]]:
    groups: dict[tuple[str, int, str | None], RecordedService] = {}
    bad: list[BadRecord] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            rec = _parse_line(raw)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            bad.append(BadRecord(line=number, reason=" ".join(str(exc).split())[:200]))
            continue
        key = (rec.ip, rec.port, rec.scheme)
        group = groups.get(key)
        if group is None:
            group = groups[key] = RecordedService(
                target=Target(rec.ip, rec.port),
                source=SOURCE,
                observed_at=rec.observed_at,
                scheme=rec.scheme,
            )
        body = (rec.body or "").encode("utf-8", errors="replace")
        group.exchanges.append(
            Exchange(
                method=rec.method.upper(),
                path=rec.path,
                status=rec.status,
                headers=rec.headers or {},
                body=body,
                request_body=rec.request_body,
            )
        )
    return list(groups.values()), bad


def open_lines(path: str | Path) -> Iterator[bytes]:
    try:
        handle: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by the generator
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        yield from handle
