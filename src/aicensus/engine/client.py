"""HTTP(S) exchanges with caps on time, bytes and redirects. Opens every socket the scanner opens.

Every cap holds against a hostile peer: `total_timeout` is a wall-clock deadline on the whole
request (redirects included), so a server that trickles one byte a second still ends on time;
bodies are cut at the cap after decompression (aiohttp decompresses at most a bounded chunk per
read, so a gzip or deflate bomb never inflates past it); at most 128 response headers of at
most 8 KiB each; header bytes that are not UTF-8 become U+FFFD, so no lone surrogate reaches an
output encoder.

Read-only and exclusions hold on what reaches the wire: every hop (the first request and each
followed redirect) is checked by `readonly.check` on the path as written and on the request
target aiohttp will send, and by the exclusion guard on the address; the connector's socket
factory checks the address of every socket it connects (engine/guard.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest, ConnectionKey
from aiohttp.tracing import Trace
from packaging.version import Version
from yarl import URL

from aicensus.engine import readonly
from aicensus.engine.config import EngineConfig
from aicensus.engine.guard import AddressGuard
from aicensus.engine.ratelimit import TokenBucket
from aicensus.engine.tlsinfo import tls_info_from_der
from aicensus.errors import ExcludedAddress, ReadOnlyViolation
from aicensus.records import Exchange, ProbeRequest, TLSInfo

ConnectHook = Callable[[str, int], None]
ConnectionHook = Callable[[], None]

MAX_RESPONSE_HEADERS = 128  # aiohttp's default, stated here so a change is deliberate
MAX_HEADER_FIELD = 8190
# aiohttp inflates gzip/deflate in bounded steps only from 3.13.3 (CVE-2025-69223: before,
# one 64 KiB read of a bomb could inflate to 64 MB). With an older aiohttp the engine turns
# its decompression off and inflates itself, never past the body cap.
AIOHTTP_BOUNDS_DECOMPRESSION = Version(aiohttp.__version__) >= Version("3.13.3")


def _insecure_context() -> ssl.SSLContext:
    # We record certificates rather than trust them: expired and self-signed ones are findings.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class HttpClient:
    """One shared aiohttp session; use as `async with HttpClient(config) as client`."""

    def __init__(
        self,
        config: EngineConfig,
        *,
        connect_hook: ConnectHook | None = None,
        on_connection: ConnectionHook | None = None,
    ) -> None:
        """`connect_hook(ip, port)` runs before every request and certificate handshake;
        `on_connection()` each time a new connection is opened, after its rate-limit token."""
        self.config = config
        self._bucket = TokenBucket(config.rate)
        self._connect_hook = connect_hook
        self._on_connection = on_connection
        self._guard = AddressGuard(config.excluded)
        self._session: aiohttp.ClientSession | None = None
        self._connector: _Connector | None = None
        self._ssl = _insecure_context()
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=config.connect_timeout, sock_read=config.read_timeout
        )

    async def __aenter__(self) -> HttpClient:
        connector = _Connector(
            limit=max(64, self.config.concurrency * self.config.per_host_inflight),
            limit_per_host=self.config.per_host_inflight,
            ssl=self._ssl,
            ttl_dns_cache=300,
            enable_cleanup_closed=True,
            keepalive_timeout=self.config.keepalive_timeout,
            socket_factory=self._guard.socket_factory,
        )
        # The rate-limit token is taken where a connection is created, not by a trace hook:
        # trace configs cost every request several awaited signals (see docs/performance.md).
        connector.before_connect = self._on_new_connection
        self._connector = connector
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.config.user_agent, "Accept": "*/*"}
            | ({} if AIOHTTP_BOUNDS_DECOMPRESSION else {"Accept-Encoding": "gzip, deflate"}),
            auto_decompress=AIOHTTP_BOUNDS_DECOMPRESSION,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("Content-Type",),
            max_headers=MAX_RESPONSE_HEADERS,
            max_field_size=MAX_HEADER_FIELD,
            max_line_size=MAX_HEADER_FIELD,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    def done_with(self, ip: str, port: int) -> None:
        """A target is finished: close its idle keep-alive connections now, not at the
        keep-alive timeout (at thousands of new hosts a second, those add up to thousands
        of open descriptors and megabytes of buffers)."""
        if self._connector is not None:
            self._connector.close_idle(ip, port)

    async def _on_new_connection(self) -> None:
        await self._bucket.acquire()
        if self._on_connection is not None:
            self._on_connection()

    async def fetch(
        self,
        ip: str,
        port: int,
        scheme: str,
        probe: ProbeRequest,
        host: str | None = None,
        *,
        max_body: int | None = None,
        product: str | None = None,
    ) -> Exchange:
        """Send one probe; never raises for network or protocol trouble (it is in the Exchange).

        Raises ReadOnlyViolation for a probe that is not read-only (see engine/readonly.py);
        `product` is what the service is already identified as (a POST needs its owner).
        `max_body` lowers the body cap for this request (never above `config.max_body_bytes`).
        """
        readonly.check(probe, product=product)
        started = time.perf_counter()
        exchange = Exchange(method=probe.method, path=probe.path)
        if probe.json_body is not None:
            exchange.request_body = _json_text(probe.json_body)
        if self._guard.refuses(ip):
            exchange.error = "excluded address: not contacted"
            return exchange
        if self._connect_hook is not None:
            self._connect_hook(ip, port)
        cap = self.config.max_body_bytes
        if max_body is not None:
            cap = min(cap, max(0, max_body))
        try:
            async with asyncio.timeout(self.config.total_timeout):
                await self._fetch_following(ip, port, scheme, probe, host, exchange, cap, product)
        except TimeoutError:
            exchange.error = "timeout"
        except aiohttp.ClientConnectorError as exc:
            exchange.error = _connector_error(exc)
        except ExcludedAddress:
            exchange.error = "excluded address: not contacted"
        except aiohttp.ServerDisconnectedError:
            exchange.error = "disconnected"
        except aiohttp.ClientResponseError as exc:
            exchange.error = _clean(f"protocol: {exc.message}")[:200]
        except (aiohttp.ClientError, ssl.SSLError, OSError, ValueError, UnicodeError) as exc:
            exchange.error = _clean(f"{type(exc).__name__}: {exc}")[:200]
        exchange.elapsed_ms = (time.perf_counter() - started) * 1000
        return exchange

    async def _fetch_following(
        self,
        ip: str,
        port: int,
        scheme: str,
        probe: ProbeRequest,
        host: str | None,
        exchange: Exchange,
        cap: int,
        product: str | None,
    ) -> None:
        assert self._session is not None, "use HttpClient as an async context manager"
        authority = _authority(ip, port)
        path = probe.path
        headers = dict(probe.headers)
        if host:
            headers["Host"] = host if port in (80, 443) else f"{host}:{port}"
        for hop in range(self.config.max_redirects + 1):
            url = URL(f"{scheme}://{authority}{path}")
            # What goes on the wire is url.raw_path_qs (yarl re-quotes and drops dot segments).
            wire = ProbeRequest(
                method=probe.method, path=url.raw_path_qs, json_body=probe.json_body
            )
            readonly.check(wire, product=product)
            if hop and self._connect_hook is not None:
                self._connect_hook(ip, port)  # a redirect hop is a request like the first
            async with self._session.request(
                probe.method,
                url,
                json=probe.json_body,
                headers=headers,
                allow_redirects=False,
                timeout=self._timeout,
            ) as resp:
                exchange.status = resp.status
                exchange.headers = _flatten_headers(resp)
                exchange.body, exchange.truncated = await _read_capped(
                    resp, cap, inflate=not AIOHTTP_BOUNDS_DECOMPRESSION
                )
                location = exchange.header("Location")
            next_path = _same_host_redirect(location, authority, scheme, resp.status)
            if next_path is None or probe.method != "GET":
                break
            refused = _refusal(ProbeRequest(method="GET", path=next_path), product)
            if refused is not None:  # recorded, never followed
                exchange.error = _clean(f"redirect not followed: {refused}")[:200]
                break
            path = next_path
        exchange.path = path if path == probe.path else f"{probe.path} -> {path}"

    @contextlib.asynccontextmanager
    async def stream(
        self, ip: str, port: int, scheme: str, probe: ProbeRequest, host: str | None = None,
        *, max_body: int | None = None,
    ) -> AsyncIterator[EventStream]:  # fmt: skip
        """A GET held open to read an event stream line by line (MCP's legacy /sse), within
        the same read-only guard and body cap; what was read is the stream's Exchange."""
        readonly.check(probe)
        if probe.method not in ("GET", "HEAD"):
            raise ReadOnlyViolation(f"refused to stream {probe.method} {probe.path}")
        assert self._session is not None, "use HttpClient as an async context manager"
        cap = min(self.config.max_body_bytes, max_body or self.config.max_body_bytes)
        if self._guard.refuses(ip):
            refused = EventStream(Exchange(method=probe.method, path=probe.path), cap, 0.0)
            refused.exchange.error = "excluded address: not contacted"
            yield refused
            return
        if self._connect_hook is not None:
            self._connect_hook(ip, port)
        headers = dict(probe.headers)
        if host:
            headers["Host"] = host if port in (80, 443) else f"{host}:{port}"
        url = f"{scheme}://{_authority(ip, port)}{probe.path}"
        events = EventStream(Exchange(method=probe.method, path=probe.path), cap,
                             self.config.read_timeout)  # fmt: skip
        try:
            async with self._session.get(url, headers=headers, allow_redirects=False,
                                         timeout=self._timeout) as resp:  # fmt: skip
                events.exchange.status = resp.status
                events.exchange.headers = _flatten_headers(resp)
                events.response = resp
                yield events
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            events.exchange.error = _clean(f"{type(exc).__name__}: {exc}")[:200]
            if events.response is None:
                yield events  # nothing to read: line() answers None at once

    async def certificate(
        self, ip: str, port: int, server_name: str | None = None
    ) -> TLSInfo | None:
        """The peer's certificate from one TLS handshake (aiohttp hides it once a body is read)."""
        if self._guard.refuses(ip):
            return None
        if self._connect_hook is not None:
            self._connect_hook(ip, port)
        await self._bucket.acquire()
        if self._on_connection is not None:
            self._on_connection()
        try:
            _reader, writer = await asyncio.wait_for(
                asyncio.open_connection(ip, port, ssl=self._ssl, server_hostname=server_name or ""),
                timeout=self.config.connect_timeout,
            )
        except (OSError, TimeoutError, ssl.SSLError):
            return None
        try:
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            return tls_info_from_der(der) if der else None
        finally:
            writer.close()


class EventStream:
    """Lines of an open response, each read within `timeout`, all within the body cap."""

    def __init__(self, exchange: Exchange, cap: int, timeout: float) -> None:
        self.exchange = exchange
        self.response: aiohttp.ClientResponse | None = None
        self.cap = cap
        self.timeout = timeout
        self._read: list[bytes] = []

    async def line(self) -> str | None:
        """The next line without its end, or None at the end, a timeout or the cap."""
        if self.response is None or sum(map(len, self._read)) >= self.cap:
            return None
        try:
            async with asyncio.timeout(self.timeout):
                raw = await self.response.content.readline()
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
            return None
        if not raw:
            return None
        self._read.append(raw)
        self.exchange.body = b"".join(self._read)[: self.cap]
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")


class _Connector(aiohttp.TCPConnector):
    """aiohttp's connector, able to drop one endpoint's idle connections at once, and to
    run `before_connect` (the rate-limit token) before it opens each new connection.

    It reaches into the pool (`_conns`, aiohttp 3.x) by the keys of the connections it
    opened for that endpoint (a lookup, not a walk over the whole pool per finished
    target); if that ever changes shape, nothing is closed early and the keep-alive timeout
    (`EngineConfig.keepalive_timeout`) still does it.
    """

    before_connect: Callable[[], Awaitable[None]] | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._endpoint_keys: dict[tuple[str, int | None], set[ConnectionKey]] = {}

    async def _create_connection(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> ResponseHandler:
        if self.before_connect is not None:
            await self.before_connect()
        key = req.connection_key
        self._endpoint_keys.setdefault((key.host.strip("[]"), key.port), set()).add(key)
        return await super()._create_connection(req, traces, timeout)

    def close_idle(self, host: str, port: int) -> None:
        keys = self._endpoint_keys.pop((host.strip("[]"), port), ())
        pool = getattr(self, "_conns", None)
        if not isinstance(pool, dict):
            return
        for key in keys:
            for entry in pool.pop(key, ()):
                protocol = entry[0]
                transport = getattr(protocol, "transport", None)
                protocol.close()
                if getattr(key, "is_ssl", False) and transport is not None:
                    closing = getattr(self, "_cleanup_closed_transports", None)
                    if isinstance(closing, list) and not getattr(
                        self, "_cleanup_closed_disabled", True
                    ):
                        closing.append(transport)  # as aiohttp does: abort if TLS close hangs


async def _read_capped(
    resp: aiohttp.ClientResponse, cap: int, *, inflate: bool = False
) -> tuple[bytes, bool]:
    """The body, cut at `cap` bytes (after decompression), and whether it was cut.

    With `inflate`, a gzip or deflate body arrives compressed and is inflated here, at most
    up to the cap: zlib's max_length stops a bomb, whatever its ratio.
    """
    chunks: list[bytes] = []
    total = 0
    inflater = _Inflater.for_response(resp) if inflate else None
    while True:
        chunk = await resp.content.read(65536)
        if not chunk:
            return b"".join(chunks), False
        if inflater is not None:
            chunk = inflater.feed(chunk, cap - total + 1)  # one byte over the cap: "truncated"
        total += len(chunk)
        if total > cap:
            chunks.append(chunk[: cap - (total - len(chunk))])
            resp.close()  # stop reading (and decompressing) now, not at the end of a bomb
            return b"".join(chunks), True
        chunks.append(chunk)


class _Inflater:
    """gzip or deflate (zlib-wrapped, or raw as some servers send it), inflated in bounds."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._zlib: zlib._Decompress | None = None

    @classmethod
    def for_response(cls, resp: aiohttp.ClientResponse) -> _Inflater | None:
        encoding = resp.headers.get("Content-Encoding", "").strip().lower()
        return cls(encoding) if encoding in ("gzip", "x-gzip", "deflate") else None

    def feed(self, data: bytes, limit: int) -> bytes:
        if self._zlib is None:
            if self.encoding == "deflate" and not _zlib_wrapped(data):
                wbits = -zlib.MAX_WBITS
            else:
                wbits = 16 + zlib.MAX_WBITS if self.encoding != "deflate" else zlib.MAX_WBITS
            self._zlib = zlib.decompressobj(wbits)
        try:  # output stops at `limit` (the input it did not need is dropped: we are done)
            return self._zlib.decompress(data, max(1, limit))
        except zlib.error as exc:
            raise aiohttp.ClientPayloadError(f"cannot inflate {self.encoding} body: {exc}") from exc


def _zlib_wrapped(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def _clean(text: str) -> str:
    """aiohttp decodes header bytes with surrogateescape; a lone surrogate cannot be encoded
    as UTF-8 (JSON output, the terminal, the store), so undecodable bytes become U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


def _flatten_headers(resp: aiohttp.ClientResponse) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_key, raw_value in resp.headers.items():
        key, value = _clean(raw_key), _clean(raw_value)
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _same_host_redirect(
    location: str | None, authority: str, scheme: str, status: int
) -> str | None:
    if status not in (301, 302, 303, 307, 308) or not location:
        return None
    location = location.split("#", 1)[0]  # a fragment never goes on the wire
    if location.startswith("/") and not location.startswith("//"):
        return location
    prefix = f"{scheme}://{authority}"
    if location.startswith(prefix + "/"):
        return location[len(prefix) :]
    return None  # another host (or scheme): recorded, never followed


def _refusal(probe: ProbeRequest, product: str | None) -> str | None:
    """Why the guard refuses this hop (as written and as it would go on the wire), or None."""
    try:
        readonly.check(probe, product=product)
        wire = URL(f"http://h{probe.path}").raw_path_qs
        readonly.check(ProbeRequest(method=probe.method, path=wire), product=product)
    except (ReadOnlyViolation, ValueError) as exc:
        return str(exc)
    return None


def _authority(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _connector_error(exc: aiohttp.ClientConnectorError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "tls-error"
    if isinstance(exc.os_error, ExcludedAddress):  # refused by the guard's socket factory
        return "excluded address: not contacted"
    errno = getattr(exc.os_error, "errno", None)
    if errno == 111:  # ECONNREFUSED
        return "connection-refused"
    if isinstance(exc.os_error, TimeoutError):
        return "connection-timeout"
    return f"connect: {exc.os_error}"[:200]


def _json_text(body: object) -> str:
    import json

    return json.dumps(body, separators=(",", ":"))
