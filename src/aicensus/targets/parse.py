"""Target tokens: addresses, CIDR blocks, ranges, hostnames, host:port, @file and `-` (stdin).

Parsing never touches the network: IP literals become key intervals right away, and hostnames
are kept as names for plan() to resolve with the caller's resolver.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from aicensus.errors import InputFileError, TargetError
from aicensus.targets.addresses import Address, address_key, interval_keys
from aicensus.targets.formats import Line, read_lines

_LABEL_RE = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
# Shaped like an IP literal: such a token is a typo, never a hostname to look up.
_IPISH_RE = re.compile(r"\d+(?:\.\d+){3}|[0-9a-f]*:[0-9a-f:.]*", re.IGNORECASE)
_BRACKET_RE = re.compile(r"\[([^\]]*)\](?::(\d*))?")
_SPLIT_RE = re.compile(r"[,\s]+")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One address with its own port, e.g. from masscan output or `192.0.2.1:11434`."""

    key: int
    port: int


@dataclass(frozen=True, slots=True)
class HostName:
    """A name to resolve at plan time; port is None when --ports applies."""

    name: str
    port: int | None = None


@dataclass(frozen=True, slots=True)
class TargetSet:
    """Parsed targets (or exclusions): key intervals, fixed-port endpoints and hostnames."""

    intervals: tuple[tuple[int, int], ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    hostnames: tuple[HostName, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.intervals or self.endpoints or self.hostnames)


@dataclass(slots=True)
class _Builder:
    intervals: list[tuple[int, int]] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    hostnames: list[HostName] = field(default_factory=list)

    def add(self, entry: Entry) -> None:
        if isinstance(entry, Endpoint):
            self.endpoints.append(entry)
        elif isinstance(entry, HostName):
            self.hostnames.append(entry)
        else:
            self.intervals.extend(entry)

    def freeze(self) -> TargetSet:
        return TargetSet(tuple(self.intervals), tuple(self.endpoints), tuple(self.hostnames))


Entry = list[tuple[int, int]] | Endpoint | HostName


def parse_targets(tokens: Iterable[str], *, stdin: Iterable[str] | None = None) -> TargetSet:
    """Parse command-line tokens; a token may hold several targets separated by commas.

    `-` reads `stdin` (any iterable of lines; sys.stdin when None).
    """
    builder = _Builder()
    for raw in tokens:
        for token in _split(raw):
            if token == "-":
                _read_stream(stdin if stdin is not None else sys.stdin, "<stdin>", builder)
            elif token.startswith("@"):
                _read_file(token[1:], builder)
            else:
                builder.add(parse_target(token))
    return builder.freeze()


def _split(raw: str) -> list[str]:
    text = raw.strip()
    if text.startswith("@"):
        return [text]  # a file name may contain commas or spaces
    tokens = [t for t in _SPLIT_RE.split(text) if t]
    if not tokens:
        raise TargetError(f"bad target {raw!r}: it is empty")
    return tokens


def _read_file(path: str, builder: _Builder) -> None:
    if not path:
        raise TargetError("bad target '@': missing file name after @")
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as stream:
            _read_stream(stream, path, builder)
    except OSError as exc:
        raise InputFileError(f"cannot read target file {path!r}: {exc.strerror or exc}") from exc


def _read_stream(stream: Iterable[str], where: str, builder: _Builder) -> None:
    try:
        for line in read_lines(stream, where):
            builder.add(_parse_line(line, where))
    except UnicodeDecodeError as exc:
        raise InputFileError(f"cannot read target file {where!r}: not UTF-8 text") from exc


def _parse_line(line: Line, where: str) -> Entry:
    try:
        if line.scanner:
            return _scanner_entry(line)
        if line.text == "-" or line.text.startswith("@"):
            raise TargetError(f"bad target {line.text!r}: @file and - cannot be nested in a file")
        return parse_target(line.text)
    except TargetError as exc:
        raise InputFileError(f"{where}:{line.lineno}: {exc}") from exc


def _scanner_entry(line: Line) -> Entry:
    """Scanner output holds addresses only: a name there means a corrupt file, not a host."""
    address = _address(line.text)
    if address is None:
        raise TargetError(f"bad address {line.text!r} in scanner output")
    if line.port is None:
        return interval_keys(address, address)
    return Endpoint(address_key(address), line.port)


def parse_target(token: str) -> Entry:
    """One target token; raises TargetError naming the token."""
    token = token.strip()
    if "%" in token:
        raise _bad(token, "IPv6 zone ids (%) are not supported")
    if "/" in token:
        return _cidr(token)
    if (address := _address(token)) is not None:
        return interval_keys(address, address)
    if "-" in token and _IPISH_RE.fullmatch(token.split("-", 1)[0].strip()):
        return _range(token)
    if token.startswith("[") or token.count(":") == 1:
        return _host_port(token)
    if ":" in token:
        raise _bad(token, "not a valid IPv6 address (write [address]:port for a port)")
    if _IPISH_RE.fullmatch(token):
        raise _bad(token, "not a valid IP address")
    return HostName(_hostname(token))


def _cidr(token: str) -> list[tuple[int, int]]:
    text, _, prefix = token.partition("/")
    address = _address(text)
    if address is None:
        raise _bad(token, f"{text!r} is not an IP address")
    longest = address.max_prefixlen
    if not prefix.isdigit() or int(prefix) > longest:
        raise _bad(token, f"prefix must be a number from 0 to {longest}")
    # strict=False: 192.0.2.7/24 means the /24 around it, as in nmap and masscan.
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return interval_keys(network[0], network[-1])


def _range(token: str) -> list[tuple[int, int]]:
    first_text, last_text = (part.strip() for part in token.split("-", 1))
    first = _address(first_text)
    if first is None:
        raise _bad(token, f"range start {first_text!r} is not an IP address")
    last = _range_end(first, last_text, token)
    if first > last:  # type: ignore[operator]  # _range_end returns first's family
        raise _bad(token, "range start is after its end")
    return interval_keys(first, last)


def _range_end(first: Address, text: str, token: str) -> Address:
    # `192.0.2.1-20` is nmap shorthand for a last-octet range.
    if first.version == 4 and text.isdigit() and int(text) <= 255:
        return ipaddress.IPv4Address((int(first) & ~0xFF) | int(text))
    last = _address(text)
    if last is None:
        raise _bad(token, f"range end {text!r} is not an IP address")
    if last.version != first.version:
        raise _bad(token, "range mixes IPv4 and IPv6")
    return last


def _host_port(token: str) -> Entry:
    if match := _BRACKET_RE.fullmatch(token):
        host, port_text = match[1], match[2]
        if _address(host) is None:
            raise _bad(token, f"{host!r} in brackets is not an IP address")
    elif token.startswith("["):
        raise _bad(token, "expected [address] or [address]:port")
    else:
        host, _, port_text = token.rpartition(":")
    address = _address(host)
    if port_text is None and address is not None:  # `[2001:db8::1]` without a port
        return interval_keys(address, address)
    port = _port(port_text or "", token)
    if address is not None:
        return Endpoint(address_key(address), port)
    if _IPISH_RE.fullmatch(host):
        raise _bad(token, f"{host!r} is not a valid IP address")
    return HostName(_hostname(host, token), port)


def _port(text: str, token: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise _bad(token, f"port {text!r} is not a number from 1 to 65535")
    return int(text)


def _hostname(text: str, token: str | None = None) -> str:
    """A lower-cased ASCII hostname; IP-like or malformed names are errors, not DNS lookups."""
    shown = token if token is not None else text
    name = text.rstrip(".").lower()
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        raise _bad(shown, "not a valid hostname") from None
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        raise _bad(shown, "not an IP address, CIDR block, range or hostname")
    if labels[-1].isdigit():  # 192.0.2.300 or 10.1 would otherwise reach the resolver
        raise _bad(shown, "not a valid IP address")
    return name


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _bad(token: str, why: str) -> TargetError:
    return TargetError(f"bad target {token!r}: {why}")
