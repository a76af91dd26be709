"""HTTP(S) exchanges with caps on time, bytes and redirects. Opens every socket the scanner opens.

The wire is the engine's own HTTP/1.1 client on asyncio (engine/http11.py: one request at a
time per connection, keep-alive, no pipelining); aiohttp's per-request machinery cost ~90 µs
of CPU a request where a bare exchange costs ~14 (docs/performance.md).

Every cap holds against a hostile peer: `total_timeout` is a wall-clock deadline on the whole
request (redirects included), so a server that trickles one byte a second still ends on time;
`read_timeout` ends any silence while a response is awaited; bodies are cut at the cap after
decompression (gzip and deflate are inflated in bounded steps, never past the cap, so a bomb
never inflates); at most 128 response headers of at most 8 KiB each; header bytes that are not
UTF-8 become U+FFFD, so no lone surrogate reaches an output encoder.

Read-only and exclusions hold on what reaches the wire: every hop (the first request and each
followed redirect) is checked by `readonly.check` on the path as written and on the request
target that is sent (yarl's normalised form), and by the exclusion guard on the address; every
socket is made by the guard's socket factory (engine/guard.py), which checks the address it
is about to connect to, whatever name it came from.

Connections: a keep-alive pool per (address, port), each connection idle at most
`keepalive_timeout` (and closed at once by `done_with`); at most `per_host_inflight`
connections in use per address; each new connection first takes a rate-limit token.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import socket
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable

from yarl import URL

from aicensus.engine import readonly
from aicensus.engine.config import EngineConfig
from aicensus.engine.guard import AddressGuard
from aicensus.engine.http11 import (
    MAX_HEADERS,
    MAX_LINE,
    Body,
    Connection,
    Head,
    Inflater,
    read_head,
)
from aicensus.engine.ratelimit import TokenBucket
from aicensus.engine.tlsinfo import tls_info_from_der
from aicensus.errors import (
    ConnectFailed,
    ExcludedAddress,
    HttpProtocolError,
    PayloadError,
    PeerDisconnected,
    ReadOnlyViolation,
)
from aicensus.records import Exchange, ProbeRequest, TLSInfo

ConnectHook = Callable[[str, int], None]
ConnectionHook = Callable[[], None]

MAX_RESPONSE_HEADERS = MAX_HEADERS  # stated here so a change is deliberate
MAX_HEADER_FIELD = MAX_LINE
Endpoint = tuple[str, int, str, str | None]  # address, port, scheme, TLS server name


def _insecure_context() -> ssl.SSLContext:
    # We record certificates rather than trust them: expired and self-signed ones are findings.
    # create_default_context's options and ciphers, without loading the system's CA store
    # (~0.13 s of CPU per scanner process) that an unverifying context never reads.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class HttpClient:
    """The scanner's HTTP client; use as `async with HttpClient(config) as client`."""

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
        self._ssl = _insecure_context()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: dict[tuple[str, int], list[Connection]] = {}
        self._open: set[Connection] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        # One clock ends every wait that passed its read timeout or its request's deadline
        # (a timer per wait cost ~3 % of the scanner's CPU); it ticks while connections are open.
        self._clock: asyncio.TimerHandle | None = None
        self._tick_s = max(0.01, min(0.1, config.read_timeout / 4, config.total_timeout / 4))
        self._in_use: dict[str, int] = {}  # connections in use per address
        self._queued: dict[str, deque[asyncio.Future[None]]] = {}
        self.connections_opened = 0
        defaults = {"User-Agent": config.user_agent, "Accept": "*/*",
                    "Accept-Encoding": "gzip, deflate"}  # fmt: skip
        self._defaults = defaults
        self._default_block = "".join(f"{k}: {v}\r\n" for k, v in defaults.items())

    async def __aenter__(self) -> HttpClient:
        self._loop = asyncio.get_running_loop()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for timer in (self._sweeper, self._clock):
            if timer is not None:
                timer.cancel()
        self._sweeper = self._clock = None
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports' close callbacks run

    def done_with(self, ip: str, port: int) -> None:
        """A target is finished: close its idle keep-alive connections now, not at the
        keep-alive timeout (at thousands of new hosts a second, those add up to thousands
        of open descriptors and megabytes of buffers)."""
        for conn in self._idle.pop((ip, port), ()):
            self._discard(conn)

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
        assert self._loop is not None, "use HttpClient as an async context manager"
        # The request's deadline: every wait below (a slot, a token, the connection, each
        # read) ends by it, so a peer that trickles one byte a second still ends on time.
        limit, silence = self.config.total_timeout, self.config.read_timeout
        if probe.wait is not None:  # a probe the server answers slowly the first time
            limit, silence = max(limit, probe.wait), max(silence, probe.wait)
        deadline = self._loop.time() + limit
        try:
            await self._fetch_following(
                ip, port, scheme, probe, host, exchange, cap, product, (deadline, silence)
            )
        except TimeoutError:
            exchange.error = "timeout"
        except ExcludedAddress:
            exchange.error = "excluded address: not contacted"
        except ConnectionRefusedError:
            exchange.error = "connection-refused"
        except PeerDisconnected:
            exchange.error = "disconnected"
        except ConnectFailed as exc:
            exchange.error = _clean(str(exc))[:200]
        except PayloadError as exc:
            exchange.error = _clean(f"PayloadError: {exc}")[:200]
        except HttpProtocolError as exc:
            exchange.error = _clean(f"protocol: {exc}")[:200]
        except (ssl.SSLError, OSError, ValueError, UnicodeError) as exc:
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
        limits: tuple[float, float],
    ) -> None:
        authority = _authority(ip, port)
        path = probe.path
        host_header = _host_header(ip, port, scheme, host)
        body = json.dumps(probe.json_body).encode() if probe.json_body is not None else None
        sni = host or None
        for hop in range(self.config.max_redirects + 1):
            target = _wire_path(path)  # what goes on the wire (yarl's normalised form)
            wire = ProbeRequest(method=probe.method, path=target, json_body=probe.json_body)
            readonly.check(wire, product=product)
            if hop and self._connect_hook is not None:
                self._connect_hook(ip, port)  # a redirect hop is a request like the first
            data = self._request_bytes(probe.method, target, host_header, probe.headers, body)
            endpoint = (ip, port, scheme, sni)
            head = await self._exchange(endpoint, probe.method, data, exchange, cap, limits)
            location = exchange.header("Location")
            next_path = _same_host_redirect(location, authority, scheme, head.status)
            if next_path is None or probe.method != "GET":
                break
            refused = _refusal(ProbeRequest(method="GET", path=next_path), product)
            if refused is not None:  # recorded, never followed
                exchange.error = _clean(f"redirect not followed: {refused}")[:200]
                break
            path = next_path
        exchange.path = path if path == probe.path else f"{probe.path} -> {path}"

    def _request_bytes(
        self,
        method: str,
        target: str,
        host_header: str,
        headers: tuple[tuple[str, str], ...],
        body: bytes | None,
    ) -> bytes:
        block = self._default_block
        if headers:  # the probe's own override the defaults (names compared without case)
            merged = dict(self._defaults)
            for name, value in headers:
                for known in [k for k in merged if k.lower() == name.lower()]:
                    del merged[known]
                merged[name] = value
            block = "".join(f"{k}: {v}\r\n" for k, v in merged.items())
            if any(c in block.replace("\r\n", "") for c in "\r\n\0"):
                raise ValueError("a request header holds a line break")
        if body is None:
            return f"{method} {target} HTTP/1.1\r\nHost: {host_header}\r\n{block}\r\n".encode()
        typed = any(name.lower() == "content-type" for name, _ in headers)
        kind = "" if typed else "Content-Type: application/json\r\n"  # unless the probe's own
        return (
            f"{method} {target} HTTP/1.1\r\nHost: {host_header}\r\n{block}{kind}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    async def _exchange(
        self,
        endpoint: Endpoint,
        method: str,
        data: bytes,
        exchange: Exchange,
        cap: int,
        limits: tuple[float, float],
    ) -> Head:
        """One request and its response on a pooled or new connection, within the address's
        limit of connections in use. `limits`: the request's deadline (loop time) and the
        longest silence tolerated while reading."""
        ip = endpoint[0]
        deadline, silence = limits
        await self._take_slot(ip, deadline)
        conn: Connection | None = None
        reusable = False
        try:
            head, conn = await self._send(endpoint, method, data, deadline, silence)
            exchange.status = head.status
            exchange.headers = head.headers
            exchange.body, exchange.truncated, reusable = await _read_capped(
                conn, head, method, cap
            )
            return head
        finally:
            if conn is not None:
                self._release(conn, reusable)
            self._give_slot(ip)

    async def _send(
        self,
        endpoint: Endpoint,
        method: str,
        data: bytes,
        deadline: float,
        silence: float | None = None,
    ) -> tuple[Head, Connection]:
        silence = self.config.read_timeout if silence is None else silence
        conn = self._pooled(endpoint)
        if conn is not None:
            conn.deadline, conn.read_timeout = deadline, silence
            conn.send(data)
            try:
                return await read_head(conn), conn
            except (PeerDisconnected, ConnectionResetError, BrokenPipeError):
                self._discard(conn)  # the peer closed it while idle: once more, on a new one
        conn = await self._connect(endpoint, deadline)
        try:
            conn.deadline, conn.read_timeout = deadline, silence
            conn.send(data)
            return await read_head(conn), conn
        except BaseException:
            self._discard(conn)
            raise

    # ------------------------------------------------------------------ the pool

    def _pooled(self, endpoint: Endpoint) -> Connection | None:
        idle = self._idle.get((endpoint[0], endpoint[1]))
        if not idle:
            return None
        assert self._loop is not None
        oldest = self._loop.time() - self.config.keepalive_timeout
        for conn in reversed(idle):
            if conn.endpoint == endpoint:
                idle.remove(conn)
                if conn.idle_since >= oldest and conn.usable:
                    return conn
                self._discard(conn)
                return self._pooled(endpoint)
        return None

    def _release(self, conn: Connection, reusable: bool) -> None:
        if not reusable or not conn.usable or self._loop is None:
            self._discard(conn)
            return
        conn.idle_since = self._loop.time()
        self._idle.setdefault((conn.endpoint[0], conn.endpoint[1]), []).append(conn)
        if self._sweeper is None:
            self._sweeper = self._loop.call_later(self.config.keepalive_timeout, self._sweep)

    def _discard(self, conn: Connection) -> None:
        conn.close()
        self._open.discard(conn)

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        for conn in self._open:
            conn.check_wait(now)
        self._clock = self._loop.call_later(self._tick_s, self._tick) if self._open else None

    def _sweep(self) -> None:
        """Close connections idle past the keep-alive timeout (one timer for the pool)."""
        self._sweeper = None
        assert self._loop is not None
        oldest = self._loop.time() - self.config.keepalive_timeout
        for key in list(self._idle):
            conns = self._idle[key]
            keep = [c for c in conns if c.idle_since > oldest and c.usable]
            for conn in conns:
                if conn not in keep:
                    self._discard(conn)
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]
        if self._idle:
            self._sweeper = self._loop.call_later(self.config.keepalive_timeout / 2, self._sweep)

    async def _take_slot(self, ip: str, deadline: float = float("inf")) -> None:
        """At most `per_host_inflight` connections in use per address (first come, first
        served); the scheduler's HostGate bounds requests per address the same way."""
        used = self._in_use.get(ip, 0)
        if used < self.config.per_host_inflight:
            self._in_use[ip] = used + 1
            return
        assert self._loop is not None
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._queued.setdefault(ip, deque()).append(waiter)
        try:
            async with asyncio.timeout_at(deadline if deadline != float("inf") else None):
                await waiter  # the slot is handed over by _give_slot, still counted
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._give_slot(ip)
            else:
                queue = self._queued.get(ip)
                if queue is not None and waiter in queue:
                    queue.remove(waiter)
            raise

    def _give_slot(self, ip: str) -> None:
        queue = self._queued.get(ip)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._queued.pop(ip, None)
        used = self._in_use.get(ip, 1) - 1
        if used > 0:
            self._in_use[ip] = used
        else:
            self._in_use.pop(ip, None)

    async def _connect(self, endpoint: Endpoint, deadline: float = float("inf")) -> Connection:
        """A new connection: a rate-limit token, a socket from the guard's factory (which
        refuses an excluded address), then TCP and, for https, TLS within connect_timeout
        (and the request's deadline)."""
        ip, port, scheme, sni = endpoint
        assert self._loop is not None
        loop = self._loop
        if self._bucket.rate > 0:
            async with asyncio.timeout_at(deadline if deadline != float("inf") else None):
                await self._bucket.acquire()
        if self._on_connection is not None:
            self._on_connection()
        conn = Connection(loop, self.config.read_timeout)
        conn.endpoint = endpoint
        last: OSError | None = None
        connect = self.config.connect_timeout
        for info in await _addresses(loop, ip, port):
            sock = self._guard.socket_factory(info)  # raises ExcludedAddress
            try:
                sock.setblocking(False)
                async with asyncio.timeout_at(min(loop.time() + connect, deadline)):
                    await loop.sock_connect(sock, info[4])
                    if scheme == "https":
                        await loop.create_connection(
                            lambda: conn, sock=sock, ssl=self._ssl, server_hostname=sni or "",
                            ssl_handshake_timeout=self.config.connect_timeout,
                        )  # fmt: skip
                    else:
                        await loop.create_connection(lambda: conn, sock=sock)
            except BaseException as exc:
                sock.close()
                if isinstance(exc, ConnectionRefusedError | ExcludedAddress):
                    last = exc
                    continue
                if isinstance(exc, ssl.SSLError | OSError) and not isinstance(exc, TimeoutError):
                    last = ConnectFailed(f"connect: {exc}"[:200])
                    continue
                raise
            self.connections_opened += 1
            self._open.add(conn)
            if self._clock is None:
                self._clock = loop.call_later(self._tick_s, self._tick)
            return conn
        raise last or ConnectFailed(f"connect: no address for {ip}")

    # ------------------------------------------------------------------ held-open streams

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
        cap = min(self.config.max_body_bytes, max_body or self.config.max_body_bytes)
        events = EventStream(Exchange(method=probe.method, path=probe.path), cap,
                             self.config.read_timeout)  # fmt: skip
        if self._guard.refuses(ip):
            events.exchange.error = "excluded address: not contacted"
            yield events
            return
        if self._connect_hook is not None:
            self._connect_hook(ip, port)
        target = _wire_path(probe.path)
        readonly.check(ProbeRequest(method=probe.method, path=target))
        host_header = _host_header(ip, port, scheme, host)
        data = self._request_bytes(probe.method, target, host_header, probe.headers, None)
        endpoint = (ip, port, scheme, host or None)
        conn: Connection | None = None
        await self._take_slot(ip)
        try:
            try:
                head, conn = await self._send(endpoint, probe.method, data, float("inf"))
            except (TimeoutError, HttpProtocolError, OSError, ValueError) as exc:
                events.exchange.error = _clean(f"{type(exc).__name__}: {exc}")[:200]
                yield events  # nothing to read: line() answers None at once
                return
            events.exchange.status = head.status
            events.exchange.headers = head.headers
            events.body = Body(conn, head, probe.method)
            events.inflater = Inflater.for_encoding(head.encoding)
            yield events
        finally:
            if conn is not None:
                self._discard(conn)  # a stream is never read to its end: never reused
            self._give_slot(ip)

    async def certificate(
        self, ip: str, port: int, server_name: str | None = None
    ) -> TLSInfo | None:
        """The peer's certificate from one TLS handshake (on a connection of its own)."""
        if self._guard.refuses(ip):
            return None
        if self._connect_hook is not None:
            self._connect_hook(ip, port)
        try:
            conn = await self._connect((ip, port, "https", server_name or None))
        except (OSError, TimeoutError, ssl.SSLError, HttpProtocolError):
            return None
        try:
            transport = conn.transport
            ssl_object = transport.get_extra_info("ssl_object") if transport else None
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            return tls_info_from_der(der) if der else None
        finally:
            self._discard(conn)


class EventStream:
    """Lines of an open response, each read within `timeout`, all within the body cap."""

    def __init__(self, exchange: Exchange, cap: int, timeout: float) -> None:
        self.exchange = exchange
        self.body: Body | None = None
        self.inflater: Inflater | None = None
        self.cap = cap
        self.timeout = timeout
        self._read: list[bytes] = []
        self._size = 0
        self._pending = bytearray()

    async def line(self) -> str | None:
        """The next line without its end, or None at the end, a timeout or the cap."""
        if self.body is None or self._size >= self.cap:
            return None
        try:
            async with asyncio.timeout(self.timeout):
                raw = await self._next_line()
        except (TimeoutError, HttpProtocolError, OSError, ValueError):
            return None
        if not raw:
            return None
        self._read.append(raw)
        self._size += len(raw)
        self.exchange.body = b"".join(self._read)[: self.cap]
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")

    async def _next_line(self) -> bytes:
        assert self.body is not None
        pending = self._pending
        while True:
            end = pending.find(b"\n")
            if end >= 0:
                raw = bytes(pending[: end + 1])
                del pending[: end + 1]
                return raw
            if len(pending) > self.cap - self._size:
                return b""  # a line longer than the cap: the stream ends here
            piece = await self.body.read()
            if not piece:
                raw = bytes(pending)
                pending.clear()
                return raw
            if self.inflater is not None:
                piece = self.inflater.feed(piece, self.cap - self._size - len(pending) + 1)
            pending += piece


async def _read_capped(
    conn: Connection, head: Head, method: str, cap: int
) -> tuple[bytes, bool, bool]:
    """The body, cut at `cap` bytes (after decompression), whether it was cut, and whether
    the connection may be reused. A gzip or deflate body is inflated here, at most up to the
    cap: zlib's max_length stops a bomb, whatever its ratio."""
    body = Body(conn, head, method)
    if body.done:
        return b"", False, body.reusable
    inflater = Inflater.for_encoding(head.encoding)
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await body.read()
        if not chunk:
            return b"".join(chunks), False, body.reusable
        if inflater is not None:
            chunk = inflater.feed(chunk, cap - total + 1)  # one byte over the cap: "truncated"
        total += len(chunk)
        if total > cap:
            chunks.append(chunk[: cap - (total - len(chunk))])
            conn.abort()  # stop reading (and inflating) now, not at the end of a bomb
            return b"".join(chunks), True, False
        chunks.append(chunk)


async def _addresses(
    loop: asyncio.AbstractEventLoop, host: str, port: int
) -> list[tuple[int, int, int, str, tuple]]:  # type: ignore[type-arg]
    """Where to connect: an address as itself (no resolver thread), a name resolved."""
    literal = host.strip("[]")
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, literal)
        except OSError:
            continue
        sockaddr: tuple = (literal, port) if family == socket.AF_INET else (literal, port, 0, 0)  # type: ignore[type-arg]
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
    infos = await loop.getaddrinfo(literal, port, type=socket.SOCK_STREAM)
    return [(f, t, p, c, a) for f, t, p, c, a in infos]


@functools.lru_cache(maxsize=4096)
def _wire_path(path: str) -> str:
    """The request target sent for a path: yarl re-quotes it and drops dot segments."""
    return URL(f"http://h{path}").raw_path_qs


def _host_header(ip: str, port: int, scheme: str, host: str | None) -> str:
    if host:
        return host if port in (80, 443) else f"{host}:{port}"
    name = f"[{ip}]" if ":" in ip else ip
    return name if port == (443 if scheme == "https" else 80) else f"{name}:{port}"


def _clean(text: str) -> str:
    """A lone surrogate cannot be encoded as UTF-8 (JSON output, the terminal, the store),
    so undecodable text becomes U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


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
        wire = _wire_path(probe.path)
        readonly.check(ProbeRequest(method=probe.method, path=wire), product=product)
    except (ReadOnlyViolation, ValueError) as exc:
        return str(exc)
    return None


def _authority(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _json_text(body: object) -> str:
    return json.dumps(body, separators=(",", ":"))
