"""What every ingest format shares: reading (plain or gzip) files, numbered JSON values, raw
HTTP responses, time grouping, and the result a reader hands back: recorded services
(`Recorded`), which `pipeline.observe_recorded` turns into observations (`FormatResult`).

A reader never raises on a bad record: it appends a `BadRecord(line, reason)` and goes on, so
one broken line never costs the good ones around it. Only a file that cannot be read at all
raises `InputFileError`.
"""

from __future__ import annotations

import gzip
import hashlib
import ipaddress
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TypeVar

import msgspec

from aicensus.errors import InputFileError, RecordError
from aicensus.records import (  # BadRecord: defined with the records, a scan summary holds them
    BadRecord,
    Exchange,
    RecordedService,
    ServiceObservation,
)

__all__ = [
    "BadRecord",
    "FormatResult",
    "RecordError",
    "Recorded",
    "batched",
    "check_ip",
    "check_port",
    "exchange_from_raw_http",
    "file_sha256",
    "group_by_time",
    "iso_from_epoch",
    "iter_json_file",
    "iter_json_values",
    "merged",
    "open_binary",
    "read_text",
]

GROUP_WINDOW_S = 3600.0  # responses for one service closer than this form one observation


class Recorded(msgspec.Struct, kw_only=True):
    """What a reader gave: recorded services (in file order) and the records it skipped."""

    services: list[RecordedService]
    bad: list[BadRecord] = msgspec.field(default_factory=list)
    records: int = 0  # source records read (lines, hosts, banners …), good and bad
    skipped: dict[str, int] = msgspec.field(default_factory=dict)  # why → count (not bad)


class FormatResult(msgspec.Struct, kw_only=True):
    """What one file gave once observed: observations (in file order) and the skipped records."""

    observations: list[ServiceObservation]
    bad: list[BadRecord] = msgspec.field(default_factory=list)
    records: int = 0  # source records read (lines, hosts, banners …), good and bad
    skipped: dict[str, int] = msgspec.field(default_factory=dict)  # why → count (not bad)


def reason(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def open_binary(path: str | Path) -> IO[bytes]:
    """The file's bytes, gunzipped when it starts with the gzip magic number."""
    try:
        handle: IO[bytes] = open(path, "rb")  # noqa: SIM115 - returned to the caller
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if handle.peek(2)[:2] == b"\x1f\x8b":  # type: ignore[attr-defined]
        return gzip.GzipFile(fileobj=handle)  # type: ignore[return-value]
    return handle


def read_text(path: str | Path) -> str:
    with open_binary(path) as handle:
        try:
            return handle.read().decode("utf-8", errors="replace")
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputFileError(f"cannot read {path}: {exc}") from None


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


_GAP = re.compile(r"[\s,\[\]]*")


def iter_json_values(text: str) -> Iterator[tuple[int, object | RecordError]]:
    """(line number, value) for each JSON value in JSON Lines, a JSON array, or values
    written one after another. A value that does not parse yields a RecordError and reading
    resumes on the next line."""
    stripped = text.lstrip()
    if not stripped.startswith("[") and not _pretty(stripped):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except (ValueError, RecursionError) as exc:
                yield number, RecordError(f"not JSON: {reason(exc)}")
        return
    decoder = json.JSONDecoder()
    pos, line_pos, lineno = 0, 0, 1
    while True:
        gap = _GAP.match(text, pos)
        pos = gap.end() if gap else pos
        if pos >= len(text):
            return
        lineno += text.count("\n", line_pos, pos)
        line_pos = pos
        try:
            value, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            yield lineno, RecordError(f"not JSON: {reason(exc)}")
            newline = text.find("\n", pos)
            if newline < 0:
                return
            pos = newline + 1
            continue
        yield lineno, value


def _pretty(text: str) -> bool:
    """Whether text starts with a JSON object spread over several lines (`jq .`, `censys view`):
    its first line is `{` alone and the object parses (else it is a broken JSON line)."""
    if text.split("\n", 1)[0].strip() != "{":
        return False
    try:
        json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):
        return False
    return True


def iter_json_file(path: str | Path) -> Iterator[tuple[int, object | RecordError]]:
    """iter_json_values over a file: JSON Lines are read a line at a time (memory stays flat
    however large the file); a JSON array or other layout is read whole."""
    with open_binary(path) as handle:
        try:
            head = handle.peek(4096)[:4096]  # type: ignore[attr-defined]
            if head.lstrip()[:1] == b"[":
                text = handle.read().decode("utf-8", errors="replace")
                yield from iter_json_values(text)
                return
            blank: list[bytes] = []
            first = handle.readline()
            while first and not first.strip():
                blank.append(first)
                first = handle.readline()
            if first.strip() == b"{":  # perhaps pretty-printed: iter_json_values decides
                text = b"".join([*blank, first, handle.read()]).decode("utf-8", errors="replace")
                yield from iter_json_values(text)
                return
            lines = itertools.chain(blank, [first] if first else [], handle)
            for number, raw in enumerate(lines, start=1):
                line = raw.decode("utf-8", errors="replace")
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except (ValueError, RecursionError) as exc:
                    yield number, RecordError(f"not JSON: {reason(exc)}")
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputFileError(f"cannot read {path}: {exc}") from None


def batched(parts: Iterator[FormatResult], size: int) -> Iterator[FormatResult]:
    """Per-record results gathered into results of about `size` observations each (each
    record observed first: a batch holds observations, not the exchanges behind them)."""
    batch = FormatResult(observations=[])
    for part in parts:
        batch.observations.extend(part.observations)
        batch.bad.extend(part.bad)
        batch.records += part.records
        add_counts(batch.skipped, part.skipped)
        if len(batch.observations) >= size:
            yield batch
            batch = FormatResult(observations=[])
    if batch.observations or batch.bad or batch.records:
        yield batch


def merged(parts: Iterator[Recorded]) -> Recorded:
    """Every record's part of a file as one result."""
    whole = Recorded(services=[])
    for part in parts:
        whole.services.extend(part.services)
        whole.bad.extend(part.bad)
        whole.records += part.records
        add_counts(whole.skipped, part.skipped)
    return whole


def add_counts(into: dict[str, int], more: dict[str, int]) -> None:
    for key, count in more.items():
        into[key] = into.get(key, 0) + count


def skip(part: Recorded, why: str) -> None:
    """Count a record (or service) that is deliberately not stored: UDP, ICMP, closed ports,
    summary lines. Not bad: the file says what it should; aicensus stores TCP services only."""
    part.skipped[why] = part.skipped.get(why, 0) + 1


def record_of_items(
    number: int,
    value: object,
    items_of: Callable[[object], list[object]],
    service_of: Callable[[object], RecordedService | None],
    skipped_as: Callable[[object], str],
) -> Recorded:
    """One line (or array element) holding several banners: each a service, a skipped count
    (`skipped_as` names it, e.g. "udp banners") or a bad record; a bad line is one bad record."""
    part = Recorded(services=[], records=1)
    try:
        items = items_of(value)
    except RecordError as exc:
        part.bad.append(BadRecord(line=number, reason=reason(exc)))
        return part
    for item in items:
        try:
            recorded = service_of(item)
        except RecordError as exc:
            part.bad.append(BadRecord(line=number, reason=reason(exc)))
            continue
        if recorded is None:
            skip(part, skipped_as(item))
        else:
            part.services.append(recorded)
    return part


def check_ip(value: object) -> str:
    if not isinstance(value, str):
        raise RecordError("no IP address")
    try:
        return str(ipaddress.ip_address(value.strip().strip("[]")))
    except ValueError:
        raise RecordError(f"bad IP address {value[:60]!r}") from None


def check_port(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise RecordError(f"bad port {str(value)[:20]!r}")
    return value


def iso_from_epoch(value: object) -> str:
    """Seconds since the epoch (number or digits) as ISO 8601 UTC."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError, OSError):
        raise RecordError(f"bad timestamp {str(value)[:40]!r}") from None


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_time(text: object) -> str:
    """An ISO 8601 timestamp as given (validated), or RecordError."""
    if not isinstance(text, str) or parse_time(text) is None:
        raise RecordError(f"bad timestamp {str(text)[:40]!r}")
    return text.strip()


_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def unescape_banner(text: str) -> str:
    """masscan writes banner bytes as \\xNN escapes."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


_STATUS_LINE = re.compile(r"^HTTP/\d(?:\.\d)?\s+(\d{3})\b")


def exchange_from_raw_http(
    raw: str, *, method: str = "GET", path: str = "/", body: str | None = None
) -> Exchange | None:
    """A raw HTTP response ('HTTP/1.1 200 OK\\r\\nHeader: v\\r\\n\\r\\nbody') as an Exchange, or
    None when it does not start with a status line. `body`, when given, replaces the body."""
    text = raw.lstrip()
    status = _STATUS_LINE.match(text)
    if status is None:
        return None
    head, sep, rest = text.replace("\r\n", "\n").partition("\n\n")
    headers: dict[str, str] = {}
    for line in head.split("\n")[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip():
            key = name.strip()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    payload = body if body is not None else (rest if sep else "")
    return Exchange(
        method=method,
        path=path,
        status=int(status.group(1)),
        headers=headers,
        body=payload.encode("utf-8", errors="replace"),
    )


T = TypeVar("T")


def group_by_time(
    items: Iterable[T],
    key: Callable[[T], tuple[object, ...]],
    when: Callable[[T], datetime | None],
    window_s: float = GROUP_WINDOW_S,
) -> Iterator[list[T]]:
    """Items of one key, in time order, split where one is more than window_s after the
    first of its group: one service scanned on two days gives two observations."""
    by_key: dict[tuple[object, ...], list[T]] = {}
    for item in items:
        by_key.setdefault(key(item), []).append(item)
    epoch = datetime.fromtimestamp(0, UTC)
    for members in by_key.values():
        members.sort(key=lambda m: when(m) or epoch)
        group: list[T] = []
        start: datetime | None = None
        for member in members:
            at = when(member)
            late = at is not None and start is not None and (at - start).total_seconds() > window_s
            if group and late:
                yield group
                group, start = [], None
            if not group:
                start = at
            group.append(member)
        if group:
            yield group
