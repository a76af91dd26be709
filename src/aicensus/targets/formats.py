"""Target files: plain lists, masscan -oL / -oJ / -oD and ZMap output, told apart by content.

Each reader turns its format into `Line`s: the text of one target (or, for scanner output, one
address) plus the port the scanner saw open, if the format carries it. Turning text into
addresses is parse.py's job, so this module knows nothing of key spaces.
"""

from __future__ import annotations

import csv
import enum
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from aicensus.errors import InputFileError


class Format(enum.StrEnum):
    LIST = "list"
    MASSCAN_LIST = "masscan-list"
    MASSCAN_JSON = "masscan-json"
    ZMAP_CSV = "zmap-csv"


class Line(NamedTuple):
    lineno: int
    text: str
    port: int | None = None
    scanner: bool = False  # scanner output holds address literals only, never hostnames or @files


_MASSCAN_LIST_RE = re.compile(r"(open|closed|banner)\s+(tcp|udp|sctp|icmp)\s", re.IGNORECASE)
# Old masscan ends -oJ with `{finished: 1}`, which is not JSON (unquoted key).
_FINISHED_RE = re.compile(r'\{\s*"?finished"?\s*:\s*\d+\s*\}')
_JSON_GAP_RE = re.compile(r"[\s,\[\]]*")  # masscan's array brackets and (trailing) commas


def read_lines(lines: Iterable[str], where: str) -> Iterator[Line]:
    """Detect the format from the first meaningful line, then read the whole input with it."""
    numbered = enumerate(lines, start=1)
    head: list[tuple[int, str]] = []
    fmt = Format.LIST
    for lineno, raw in numbered:
        head.append((lineno, raw))
        if (found := detect(raw)) is not None:
            fmt = found
            break
    rest = itertools.chain(head, numbered)
    if fmt is Format.MASSCAN_LIST:
        return _masscan_list(rest, where)
    if fmt is Format.MASSCAN_JSON:
        return _masscan_json("".join(raw for _, raw in rest), where)
    if fmt is Format.ZMAP_CSV:
        return _zmap_csv(rest, where)
    return _plain_list(rest, where)


def detect(line: str) -> Format | None:
    """The format a first meaningful line announces, or None for a blank or comment line."""
    text = line.strip()
    if text.lower().startswith("#masscan"):
        return Format.MASSCAN_LIST
    if not text or text.startswith("#"):
        return None
    if _MASSCAN_LIST_RE.match(text):
        return Format.MASSCAN_LIST
    # `[` alone or before `{` opens a JSON array; `[2001:db8::1]:80` is a plain IPv6 target.
    if text.startswith("{") or (text.startswith("[") and text[1:].lstrip()[:1] in ("", "{")):
        return Format.MASSCAN_JSON
    if "saddr" in (field.strip().lower() for field in text.split(",")):
        return Format.ZMAP_CSV
    return Format.LIST


def _plain_list(lines: Iterable[tuple[int, str]], where: str) -> Iterator[Line]:
    for lineno, raw in lines:
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        if len(text.split()) > 1:
            raise InputFileError(f"{where}:{lineno}: bad target {text!r}: one target per line")
        yield Line(lineno, text)


def _masscan_list(lines: Iterable[tuple[int, str]], where: str) -> Iterator[Line]:
    """`open tcp 11434 192.0.2.1 1700000000`; banner and closed lines add no new targets."""
    for lineno, raw in lines:
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.split()
        if len(fields) < 4 or not _MASSCAN_LIST_RE.match(text):
            raise InputFileError(f"{where}:{lineno}: not a masscan -oL line: {text[:80]!r}")
        status, proto, port, ip = fields[0].lower(), fields[1].lower(), fields[2], fields[3]
        # HTTP runs over TCP only, so UDP/SCTP/ICMP results are not targets.
        if status == "open" and proto == "tcp":
            yield Line(lineno, ip, _port(port, where, lineno), scanner=True)


def _masscan_json(text: str, where: str) -> Iterator[Line]:
    """masscan -oJ (array, old or new comma style), -oD (JSON lines) and ZMap -O json.

    Objects are decoded one at a time, skipping brackets and commas between them, so every
    masscan quirk (trailing comma, `{finished: 1}`, one object per line or pretty-printed) reads.
    """
    decoder = json.JSONDecoder()
    pos, line_pos, lineno = 0, 0, 1
    while True:
        pos = _skip_gap(text, pos)
        if pos >= len(text):
            return
        lineno += text.count("\n", line_pos, pos)
        line_pos = pos
        if finished := _FINISHED_RE.match(text, pos):
            pos = finished.end()
            continue
        try:
            record, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            message = f"{where}:{lineno}: not valid masscan/ZMap JSON: {exc.msg}"
            raise InputFileError(message) from exc
        yield from _json_record(record, where, lineno)


def _skip_gap(text: str, pos: int) -> int:
    gap = _JSON_GAP_RE.match(text, pos)
    return gap.end() if gap else pos


def _json_record(record: object, where: str, lineno: int) -> Iterator[Line]:
    if not isinstance(record, dict):
        raise InputFileError(f"{where}:{lineno}: expected a JSON object with an 'ip' field")
    ip = record.get("ip", record.get("saddr"))  # masscan says ip, ZMap says saddr
    if not isinstance(ip, str):
        raise InputFileError(f"{where}:{lineno}: JSON record has no 'ip' (or 'saddr') string")
    # ZMap writes failed probes too when its --output-filter lets them through.
    if record.get("success") in (0, False, "0", "false"):
        return
    ports = record.get("ports")
    if isinstance(ports, list):
        entries = [p if isinstance(p, dict) else {"port": p} for p in ports]
    elif "port" in record or "sport" in record:
        entries = [record]
    else:
        yield Line(lineno, ip, None, scanner=True)
        return
    for entry in entries:
        if (port := _json_port(entry, where, lineno)) is not None:
            yield Line(lineno, ip, port, scanner=True)


def _json_port(entry: dict[str, object], where: str, lineno: int) -> int | None:
    """The open TCP port an entry reports, or None for closed/non-TCP entries."""
    data = entry.get("data")
    status = entry.get("status", data.get("status") if isinstance(data, dict) else None)
    if str(entry.get("proto", "tcp")).lower() != "tcp" or str(status or "open").lower() != "open":
        return None
    # ZMap's sport is the port the reply came from, i.e. the scanned port; dport is ZMap's own.
    port = entry.get("port", entry.get("sport"))
    return _port(str(port), where, lineno)


def _zmap_csv(lines: Iterable[tuple[int, str]], where: str) -> Iterator[Line]:
    """ZMap CSV: a header naming `saddr` (and maybe `sport`, `success`), then one row per reply."""
    columns: list[str] | None = None
    for lineno, raw in lines:
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        row = [field.strip() for field in next(csv.reader([text]))]
        if columns is None:
            columns = [name.lower() for name in row]
            continue
        if len(row) != len(columns):
            raise InputFileError(
                f"{where}:{lineno}: ZMap CSV row has {len(row)} fields, header has {len(columns)}"
            )
        line = _zmap_row(dict(zip(columns, row, strict=True)), where, lineno)
        if line is not None:
            yield line


def _zmap_row(row: dict[str, str], where: str, lineno: int) -> Line | None:
    if row.get("success", "1").lower() in ("0", "false"):
        return None
    # sport, not dport: ZMap records the reply, whose source port is the port we scanned.
    sport = row.get("sport", "")
    port = _port(sport, where, lineno) if sport else None
    return Line(lineno, row["saddr"], port, scanner=True)


def _port(text: str, where: str, lineno: int) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InputFileError(f"{where}:{lineno}: bad port {text!r}: expected 1-65535")
    return int(text)
