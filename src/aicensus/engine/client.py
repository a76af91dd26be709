"""HTTP(S) exchanges with caps on time, bytes and redirects. Opens every socket the scanner opens."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from types import SimpleNamespace

import aiohttp

from aicensus.engine import readonly
from aicensus.engine.config import EngineConfig
from aicensus.engine.ratelimit import TokenBucket
from aicensus.engine.tlsinfo import tls_info_from_der
from aicensus.records import Exchange, ProbeRequest, TLSInfo

ConnectHook = Callable[[str, int], None]


def _insecure_context() -> ssl.SSLContext:
    # We record certificates rather than trust them: expired and self-signed ones are findings.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class HttpClient:
    """One shared aiohttp session; use as `async with HttpClient(config) as client`."""

    def __init__(self, config: EngineConfig, *, connect_hook: ConnectHook | None = None) -> None:
        self.config = config
        self._bucket = TokenBucket(config.rate)
        self._connect_hook = connect_hook
        self._session: aiohttp.ClientSession | None = None
        self._ssl = _insecure_context()
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=config.connect_timeout, sock_read=config.read_timeout
        )

    async def __aenter__(self) -> HttpClient:
        trace = aiohttp.TraceConfig()
        trace.on_connection_create_start.append(self._on_new_connection)
        connector = aiohttp.TCPConnector(
            limit=max(64, self.config.concurrency * self.config.per_host_inflight),
            limit_per_host=self.config.per_host_inflight,
            ssl=self._ssl,
            ttl_dns_cache=300,
            enable_cleanup_closed=True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            trace_configs=[trace],
            headers={"User-Agent": self.config.user_agent, "Accept": "*/*"},
            auto_decompress=True,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("Content-Type",),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def _on_new_connection(
        self, _session: aiohttp.ClientSession, _ctx: SimpleNamespace, _params: object
    ) -> None:
        await self._bucket.acquire()

    async def fetch(
        self, ip: str, port: int, scheme: str, probe: ProbeRequest, host: str | None = None
    ) -> Exchange:
        """Send one probe; never raises for network or protocol trouble (it is in the Exchange)."""
        readonly.check(probe)
        if self._connect_hook is not None:
            self._connect_hook(ip, port)
        started = time.perf_counter()
        exchange = Exchange(method=probe.method, path=probe.path)
        if probe.json_body is not None:
            exchange.request_body = _json_text(probe.json_body)
        try:
            async with asyncio.timeout(self.config.total_timeout):
                await self._fetch_following(ip, port, scheme, probe, host, exchange)
        except TimeoutError:
            exchange.error = "timeout"
        except aiohttp.ClientConnectorError as exc:
            exchange.error = _connector_error(exc)
        except aiohttp.ServerDisconnectedError:
            exchange.error = "disconnected"
        except aiohttp.ClientResponseError as exc:
            exchange.error = f"protocol: {exc.message}"[:200]
        except (aiohttp.ClientError, ssl.SSLError, OSError, ValueError, UnicodeError) as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"[:200]
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
    ) -> None:
        assert self._session is not None, "use HttpClient as an async context manager"
        authority = _authority(ip, port)
        path = probe.path
        headers = dict(probe.headers)
        if host:
            headers["Host"] = host if port in (80, 443) else f"{host}:{port}"
        for _hop in range(self.config.max_redirects + 1):
            url = f"{scheme}://{authority}{path}"
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
                    resp, self.config.max_body_bytes
                )
                location = resp.headers.get("Location")
            next_path = _same_host_redirect(location, authority, scheme, resp.status)
            if next_path is None or probe.method != "GET":
                break
            path = next_path
        exchange.path = path if path == probe.path else f"{probe.path} -> {path}"

    async def certificate(
        self, ip: str, port: int, server_name: str | None = None
    ) -> TLSInfo | None:
        """The peer's certificate from one TLS handshake (aiohttp hides it once a body is read)."""
        await self._bucket.acquire()
        if self._connect_hook is not None:
            self._connect_hook(ip, port)
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


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await resp.content.read(65536)
        if not chunk:
            return b"".join(chunks), False
        total += len(chunk)
        if total > cap:
            chunks.append(chunk[: cap - (total - len(chunk))])
            resp.close()  # stop reading (and decompressing) now, not at the end of a bomb
            return b"".join(chunks), True
        chunks.append(chunk)


def _flatten_headers(resp: aiohttp.ClientResponse) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in resp.headers.items():
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _same_host_redirect(
    location: str | None, authority: str, scheme: str, status: int
) -> str | None:
    if status not in (301, 302, 303, 307, 308) or not location:
        return None
    if location.startswith("/") and not location.startswith("//"):
        return location
    prefix = f"{scheme}://{authority}"
    if location.startswith(prefix + "/"):
        return location[len(prefix) :]
    return None  # another host (or scheme): recorded, never followed


def _authority(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _connector_error(exc: aiohttp.ClientConnectorError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "tls-error"
    errno = getattr(exc.os_error, "errno", None)
    if errno == 111:  # ECONNREFUSED
        return "connection-refused"
    if isinstance(exc.os_error, TimeoutError):
        return "connection-timeout"
    return f"connect: {exc.os_error}"[:200]


def _json_text(body: object) -> str:
    import json

    return json.dumps(body, separators=(",", ":"))
