"""Pieces shared by the lab emulators: loopback-only binding, Go-style JSON and
timestamps, the request log, the reverse-proxy auth shim and the ready file.

Every emulator binds loopback addresses only (127.0.0.0/8, ::1); anything else is
refused before a socket is opened.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hmac
import ipaddress
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Coroutine, Iterable
from decimal import Decimal
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import IO

from aicensus.errors import EmulatorConfigError

MAX_ADDRESSES = 65536


# --------------------------------------------------------------------------- addresses


def loopback_address(text: str) -> str:
    """The canonical form of `text` if it is a loopback IP literal, else EmulatorConfigError."""
    try:
        addr = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        raise EmulatorConfigError(f"{text!r} is not an IP address literal") from None
    if not addr.is_loopback:
        raise EmulatorConfigError(
            f"refusing to bind {addr}: emulators bind loopback addresses only (127.0.0.0/8 or ::1)"
        )
    return str(addr)


def loopback_network(text: str) -> list[str]:
    """Every address of a loopback CIDR block (network and broadcast included)."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise EmulatorConfigError(f"{text!r} is not a CIDR block") from None
    loop4 = ipaddress.ip_network("127.0.0.0/8")
    loop6 = ipaddress.ip_network("::1/128")
    inside = net.subnet_of(loop4) if net.version == 4 else net.subnet_of(loop6)  # type: ignore[arg-type]
    if not inside:
        raise EmulatorConfigError(
            f"refusing to bind {net}: emulators bind loopback addresses only (127.0.0.0/8 or ::1)"
        )
    if net.num_addresses > MAX_ADDRESSES:
        raise EmulatorConfigError(
            f"{net} has {net.num_addresses} addresses; at most {MAX_ADDRESSES}"
        )
    return [str(a) for a in net]


def collect_addresses(addresses: Iterable[str], cidrs: Iterable[str]) -> list[str]:
    """Validated, de-duplicated bind list; defaults to 127.0.0.1."""
    out: list[str] = []
    seen: set[str] = set()
    candidates = [loopback_address(a) for a in addresses]
    for cidr in cidrs:
        candidates += loopback_network(cidr)
    for item in candidates:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out or ["127.0.0.1"]


def raise_nofile_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError):
            return soft
    return soft


# --------------------------------------------------------------------------- Go encodings

_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


_LONG: dict[str, str] = {}


def _go_string(text: str) -> str:
    if len(text) > 40:  # licenses, templates, system prompts: the same few across profiles
        cached = _LONG.get(text)
        if cached is None:
            cached = _encode_string(text)
            if len(_LONG) < 4096:
                _LONG[text] = cached
        return cached
    return _encode_string(text)


def _encode_string(text: str) -> str:
    raw: str = encode_basestring(text)  # what json.dumps(text, ensure_ascii=False) returns
    if "<" in raw or ">" in raw or "&" in raw or "\u2028" in raw or "\u2029" in raw:
        for char, escaped in _GO_ESCAPES.items():
            raw = raw.replace(char, escaped)
    return raw


def _go_float(value: float) -> str:
    """Go's encoding/json float format: shortest digits, no exponent in [1e-6, 1e21)."""
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    if 1e-6 <= abs(value) < 1e21:
        return format(Decimal(repr(value)), "f")
    mantissa, exp = f"{value:e}".split("e")
    digits = repr(float(mantissa)).rstrip("0").rstrip(".")
    return f"{digits}e{int(exp):+03d}"


def go_json(obj: object) -> str:
    """JSON exactly as Go's encoding/json writes it (HTML-escaped, compact, key order kept).

    Struct-shaped dicts keep their insertion order; pass `GoMap` for Go maps, whose
    keys encoding/json sorts.
    """
    kind = type(obj)  # exact types first: the emulators encode thousands of bodies a second
    if kind is str:
        return _go_string(obj)  # type: ignore[arg-type]
    if kind is dict:
        items = obj.items()  # type: ignore[attr-defined]
        return "{" + ",".join([f"{_key(k)}:{go_json(v)}" for k, v in items]) + "}"
    if kind is int:
        return str(obj)
    if kind is list or kind is tuple:
        return "[" + ",".join([go_json(v) for v in obj]) + "]"  # type: ignore[attr-defined]
    if isinstance(obj, RawJSON):
        return str(obj)
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        return _go_float(obj)
    if isinstance(obj, str):
        return _go_string(obj)
    if isinstance(obj, GoMap):
        return "{" + ",".join(f"{_go_string(k)}:{go_json(obj[k])}" for k in sorted(obj)) + "}"
    if isinstance(obj, dict):
        return "{" + ",".join(f"{_go_string(str(k))}:{go_json(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ",".join(go_json(v) for v in obj) + "]"
    raise TypeError(f"cannot encode {type(obj).__name__}")


_KEYS: dict[str, str] = {}


def _key(key: object) -> str:
    """An encoded object key (memoized: the same few hundred keys recur in every body)."""
    text = key if type(key) is str else str(key)
    encoded = _KEYS.get(text)
    if encoded is None:
        encoded = _go_string(text)
        if len(_KEYS) < 65536:
            _KEYS[text] = encoded
    return encoded


def go_json_bytes(obj: object) -> bytes:
    return go_json(obj).encode()


class GoMap(dict[str, object]):
    """A dict encoded like a Go map: keys sorted."""


class RawJSON(str):
    """Already-encoded JSON that `go_json` inserts verbatim (for cached large parts)."""


def go_time(moment: dt.datetime) -> str:
    """time.Time's JSON form (RFC 3339 with up to 9 fractional digits, trailing zeros cut).

    `moment` carries microseconds; extra nanosecond digits come from `nanos` if set
    via `go_time_ns`.
    """
    return go_time_ns(moment, moment.microsecond * 1000)


_ZONES: dict[dt.timedelta | None, str] = {}


def go_time_ns(moment: dt.datetime, nanos: int) -> str:
    m = moment  # strftime's %Y-%m-%dT%H:%M:%S, without strftime (it showed in profiles)
    base = f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
    frac = f"{nanos:09d}".rstrip("0")
    offset = moment.utcoffset()
    zone = _ZONES.get(offset)
    if zone is None:
        zone = _ZONES[offset] = _zone(offset or dt.timedelta(0))
    return f"{base}.{frac}{zone}" if frac else f"{base}{zone}"


def _zone(offset: dt.timedelta) -> str:
    if offset == dt.timedelta(0):
        return "Z"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# --------------------------------------------------------------------------- request log


class RequestLog:
    """JSON lines, one per request received, flushed per line so tests can read it live."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self._fh: IO[str] | None = None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def write(self, entry: dict[str, object]) -> None:
        if self._fh is None:
            return
        entry = {"ts": round(time.time(), 6), **entry}
        self._fh.write(json.dumps(entry, separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_request_log(path: str | os.PathLike[str]) -> list[dict[str, object]]:
    """Every entry of a request log written by an emulator ([] if absent)."""
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- proxy auth

NGINX_VERSION = "nginx/1.24.0"
_NGINX_401 = (
    "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n"
    "<center><h1>401 Authorization Required</h1></center>\r\n"
    f"<hr><center>{NGINX_VERSION}</center>\r\n</body>\r\n</html>\r\n"
)


class ProxyAuth:
    """What an authenticating nginx in front of the server checks and answers."""

    def __init__(self, scheme: str, secret: str, realm: str = "Restricted") -> None:
        self.scheme = scheme  # "basic" or "bearer"
        self.secret = secret  # "user:pass" for basic, the token for bearer
        self.realm = realm

    @classmethod
    def parse(cls, spec: str) -> ProxyAuth:
        scheme, _, secret = spec.partition(":")
        scheme = scheme.lower()
        if scheme == "basic" and ":" in secret and secret.split(":", 1)[0]:
            return cls("basic", secret)
        if scheme == "bearer" and secret:
            return cls("bearer", secret)
        raise EmulatorConfigError(f"bad --auth {spec!r}: use basic:USER:PASS or bearer:TOKEN")

    def allows(self, header: str | None) -> bool:
        if not header:
            return False
        kind, _, value = header.strip().partition(" ")
        value = value.strip()
        if self.scheme == "bearer":
            return kind.lower() == "bearer" and hmac.compare_digest(value, self.secret)
        if kind.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(decoded, self.secret)

    def challenge(self) -> str:
        name = "Basic" if self.scheme == "basic" else "Bearer"
        return f'{name} realm="{self.realm}"'

    @staticmethod
    def body() -> bytes:
        return _NGINX_401.encode()


# --------------------------------------------------------------------------- ready file


def write_ready_file(path: str | os.PathLike[str], payload: dict[str, object]) -> None:
    """Atomically write the ready file a supervisor waits for."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(target)


def run_emulator(
    name: str,
    serving: Coroutine[object, object, None],
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> int:
    """Run an emulator until it stops; a bad configuration or a failed bind exits 2."""
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serving)
    except EmulatorConfigError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{name}: error: cannot bind: {exc}", file=sys.stderr)
        return 2
    return 0
