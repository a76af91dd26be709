"""Adversarial HTTP servers for the reliability tests: loopback only, raw asyncio sockets.

Each case is a coroutine `handler(reader, writer)` bound on its own 127.31.0.N address (all
on one port), so one scan command can visit one case or all of them. Nothing here ever
connects anywhere: the servers only answer. A redirect "to another host" names 127.31.200.200,
where a sentinel listener counts connections, so a followed redirect would show up there
(and still never leave the machine).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import socket
import ssl
import struct
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
SENTINEL_ADDRESS = "127.31.200.200"  # "another host": a redirect there must never be followed


# ---------------------------------------------------------------------------- HTTP bits


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) < 2:
        return None
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    body = b""
    length = int(headers.get("content-length", "0") or 0)
    if 0 < length <= 1 << 20:
        try:
            body = await reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
    return Request(parts[0], parts[1], headers, body)


def response_head(
    status: int = 200, headers: list[tuple[str, str | bytes]] | None = None, reason: str = "OK"
) -> bytes:
    out = [f"HTTP/1.1 {status} {reason}\r\n".encode()]
    for key, value in headers or []:
        raw = value if isinstance(value, bytes) else value.encode("latin-1")
        out.append(key.encode() + b": " + raw + b"\r\n")
    out.append(b"\r\n")
    return b"".join(out)


def full_response(
    body: bytes,
    status: int = 200,
    content_type: str | bytes = "application/json; charset=utf-8",
    extra: list[tuple[str, str | bytes]] | None = None,
) -> bytes:
    headers: list[tuple[str, str | bytes]] = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
        *(extra or []),
    ]
    return response_head(status, headers) + body


async def send_and_close(writer: asyncio.StreamWriter, data: bytes) -> None:
    try:
        writer.write(data)
        await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer) -> None:
    """Read one request, write answer(request) (bytes; no body for HEAD), close."""
    req = await read_request(reader)
    if req is None:
        writer.close()
        return
    data = answer(req)
    if req.method == "HEAD":
        data = data[: data.index(b"\r\n\r\n") + 4]
    await send_and_close(writer, data)


# ---------------------------------------------------------------------------- an Ollama look-alike

BANNER = b"Ollama is running"


@dataclass
class OllamaLike:
    """Answers like Ollama on /, /api/version, /api/tags, /api/ps and POST /api/show, with
    whatever bodies a case wants planted in them."""

    tags: bytes = b'{"models":[]}'
    ps: bytes = b'{"models":[]}'
    show: bytes = b"{}"
    version: bytes = b'{"version":"0.12.6"}'
    content_type: str | bytes = "application/json; charset=utf-8"
    status: dict[str, int] = field(default_factory=dict)
    headers: dict[str, list[tuple[str, str | bytes]]] = field(default_factory=dict)

    def answer(self, req: Request) -> bytes:
        path = req.path.split("?", 1)[0]
        bodies = {
            "/": BANNER,
            "/api/version": self.version,
            "/api/tags": self.tags,
            "/api/ps": self.ps,
            "/api/show": self.show,
        }
        if path not in bodies:
            return full_response(b"404 page not found", 404, "text/plain; charset=utf-8")
        ctype = "text/plain; charset=utf-8" if path == "/" else self.content_type
        return full_response(
            bodies[path], self.status.get(path, 200), ctype, self.headers.get(path)
        )

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_each(reader, writer, self.answer)


def ollama_tags(models: list[dict[str, object]]) -> bytes:
    return json.dumps({"models": models}).encode()


def model_entry(name: str, **extra: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "name": name,
        "model": name,
        "modified_at": "2025-01-01T00:00:00Z",
        "size": 1000,
        "digest": "ab" * 32,
        "details": {
            "format": "gguf",
            "family": "llama",
            "families": ["llama"],
            "parameter_size": "8.0B",
            "quantization_level": "Q4_K_M",
        },
    }
    entry.update(extra)
    return entry


# ---------------------------------------------------------------------------- the cases


async def tarpit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts and never reads or answers."""
    await asyncio.sleep(3600)


async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await send_and_close(writer, b"SSH-2.0-OpenSSH_9.6p1\r\n" + bytes(range(256)))


DRIBBLE_EVERY = 0.25  # seconds per byte: under the read timeout, so only the total one stops it


async def dribble(writer: asyncio.StreamWriter, data: Iterator[bytes] | bytes) -> None:
    try:
        for i in range(100_000):
            byte = (
                data[i % len(data) : i % len(data) + 1] if isinstance(data, bytes) else next(data)
            )
            writer.write(byte)
            await writer.drain()
            await asyncio.sleep(DRIBBLE_EVERY)
    except (ConnectionError, StopIteration):
        pass
    finally:
        writer.close()


async def slowloris_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The status line and headers, one byte at a time, never finished."""
    if await read_request(reader) is not None:
        await dribble(writer, b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 100_000)


async def slowloris_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Headers at once, then a gigabyte promised and one byte sent at a time."""
    if await read_request(reader) is not None:
        writer.write(response_head(200, [("Content-Length", str(10**9))]))
        await dribble(writer, b"{")


def slowloris_after_banner() -> Handler:
    """Ollama's banner and version at once; every other path trickles forever."""
    fast = OllamaLike()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await read_request(reader)
        if req is None:
            writer.close()
        elif req.path in ("/", "/api/version"):
            await send_and_close(writer, fast.answer(req))
        else:
            writer.write(response_head(200, [("Content-Length", str(10**9))]))
            await dribble(writer, b'{"models":[')

    return handle


async def stream_forever(writer: asyncio.StreamWriter, chunks: Iterator[bytes]) -> None:
    try:
        for _ in range(1_000_000):  # bounded: ends long after any client gives up
            writer.write(next(chunks))
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def zeros(size: int = 1 << 20) -> Iterator[bytes]:
    block = b"\0" * size
    while True:
        yield block


_BOMBS: dict[int, tuple[bytes, bytes]] = {}


def compressed_zeros(wbits: int) -> Iterator[bytes]:
    """An endless deflate stream of zeros, ~1,000:1: every 8 KiB sent inflates to 8 MiB.

    After a full flush the compressor keeps no history, so the second flushed block can be
    repeated forever; both are computed once, so serving a bomb costs the server no CPU.
    """
    if wbits not in _BOMBS:
        comp = zlib.compressobj(9, zlib.DEFLATED, wbits)
        block = b"\0" * (8 << 20)
        first = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
        _BOMBS[wbits] = (first, comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH))
    first, repeat = _BOMBS[wbits]
    yield first
    while True:
        yield repeat


async def infinite_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    req = await read_request(reader)
    if req is not None and req.method == "HEAD":
        await send_and_close(writer, response_head(200, [("Connection", "close")]))
    elif req is not None:
        writer.write(response_head(200, [("Content-Type", "application/json")]))
        await stream_forever(writer, zeros())


def bomb(encoding: str, wbits: int) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req = await read_request(reader)
        headers = [("Content-Type", "application/json"), ("Content-Encoding", encoding)]
        if req is not None and req.method == "HEAD":
            await send_and_close(writer, response_head(200, [*headers, ("Connection", "close")]))
        elif req is not None:
            writer.write(response_head(200, headers))
            await stream_forever(writer, compressed_zeros(wbits))

    return handle


async def many_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    headers: list[tuple[str, str | bytes]] = [(f"X-Pad-{i}", "v") for i in range(10_000)]
    await serve_each(
        reader,
        writer,
        lambda _req: (
            response_head(200, [*headers, ("Content-Length", "2"), ("Connection", "close")]) + b"ok"
        ),
    )


async def endless_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if await read_request(reader) is not None:
        writer.write(b"HTTP/1.1 200 OK\r\n")

        def lines() -> Iterator[bytes]:
            n = 0
            while True:
                n += 1
                yield b"".join(b"X-H-%d: v\r\n" % (n * 1000 + i) for i in range(1000))

        await stream_forever(writer, lines())


async def huge_header(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    big = b"A" * (4 << 20)
    await serve_each(
        reader,
        writer,
        lambda _r: (
            response_head(200, [("X-Big", big), ("Content-Length", "2"), ("Connection", "close")])
            + b"ok"
        ),
    )


def redirect_loop() -> Handler:
    def answer(req: Request) -> bytes:
        target = {"/": "/loop-a", "/loop-a": "/loop-b", "/loop-b": "/loop-a"}.get(
            req.path, req.path
        )
        return full_response(b"", 302, "text/plain", [("Location", target)])

    return lambda r, w: serve_each(r, w, answer)


def redirect_away(port: int, sentinel: int) -> Handler:
    """Redirects to another host in every spelling; none may be followed."""
    away = [
        f"http://{SENTINEL_ADDRESS}:{sentinel}/",
        f"//{SENTINEL_ADDRESS}:{sentinel}/x",
        f"https://{SENTINEL_ADDRESS}:{sentinel}/",
        f"http://127.31.0.14:{port}@{SENTINEL_ADDRESS}:{sentinel}/",
        f"http://{SENTINEL_ADDRESS}:{sentinel}\\@127.31.0.14:{port}/",
        f"HTTP://{SENTINEL_ADDRESS}:{sentinel}/",
        f"\\\\{SENTINEL_ADDRESS}:{sentinel}/",
        f"http:/\\{SENTINEL_ADDRESS}:{sentinel}/",
    ]

    def answer(req: Request) -> bytes:
        target = away[sum(req.path.encode()) % len(away)]
        return full_response(b"moved", 301, "text/plain", [("Location", target)])

    return lambda r, w: serve_each(r, w, answer)


def bad_utf8() -> Handler:
    """Invalid UTF-8 in bodies and in header values, JSON content type."""
    body = b'{"models":[{"name":"\xff\xfe\xc3\x28","digest":"\xed\xa0\x80"}]}'
    junk: list[tuple[str, str | bytes]] = [
        ("Server", b"nginx\xff\xfe/1.0"),
        ("X-Junk", b"\xc0\xaf"),
    ]
    return lambda r, w: serve_each(r, w, lambda _req: full_response(body, 200, extra=junk))


def ollama_bad_utf8() -> Handler:
    """Ollama look-alike whose auth gate answers 401 with a challenge full of invalid bytes
    and escapes (it reaches auth_evidence), and whose /api/ps is not UTF-8."""
    return OllamaLike(
        ps=b'{"models":[{"name":"\xff\xfe"}]}',
        status={"/api/tags": 401},
        headers={
            "/api/tags": [("WWW-Authenticate", b'Bearer realm="\xff\xfe\x1b[31mred\x1b[0m\x07"')]
        },
    )


def ollama_wrong_types() -> Handler:
    tags = ollama_tags([model_entry("llama3.1:8b"), model_entry("qwen2.5:7b")])
    return OllamaLike(tags=tags, content_type="image/png")


def ollama_deep_json() -> Handler:
    depth = 100_000
    return OllamaLike(
        tags=b'{"models":' + b"[" * depth + b"]" * depth + b"}",
        ps=b'{"a":' * depth + b"1" + b"}" * depth,
        show=b"[" * depth,
    )


def ollama_huge_numbers() -> Handler:
    huge = "1" + "0" * 5000
    beyond = str(2**64 + 1)
    tags = (
        '{"models":['
        + json.dumps(model_entry("huge:1b"))[:-1]
        + f',"size":{huge}}},'
        + json.dumps(model_entry("beyond:1b"))[:-1]
        + f',"size":{beyond}}},'
        + json.dumps(model_entry("negative:1b"))[:-1]
        + f',"size":-{huge}}},'
        + json.dumps(model_entry("float:1b"))[:-1]
        + ',"size":1e400}'
        + "]}"
    ).encode()
    show = (
        '{"model_info":{"general.architecture":"llama","general.parameter_count":'
        + huge
        + ',"llama.context_length":'
        + beyond
        + "}}"
    ).encode()
    ps = ('{"models":[{"name":"beyond:1b","size_vram":' + beyond + "}]}").encode()
    return OllamaLike(tags=tags, ps=ps, show=show)


HOSTILE_NAMES = [
    "\x1b[2J\x1b[31mred-alert\x1b[0m:latest",
    "bell\x07back\x08space\rreturn\nnewline:1b",
    "nul\x00byte:1b",
    "<script>alert(1)</script>:7b",
    '<img src=x onerror="alert(1)">',
    '=HYPERLINK("http://127.0.0.1/","x")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\u202egguf.exe",
    "tab\tname\x7f\x9b31m",
    "\x1b]8;;http://127.0.0.1/\x1b\\link\x1b]8;;\x1b\\",
]


def ollama_hostile_names() -> Handler:
    tags = ollama_tags([model_entry(name) for name in HOSTILE_NAMES])
    show = json.dumps({"license": "\x1b[31mMIT\x1b[0m\n", "template": "<script>{{ .Prompt }}"})
    return OllamaLike(tags=tags, show=show.encode())


async def reset_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Promises 100 kB, sends 5 kB, then resets the connection (RST, not FIN)."""
    if await read_request(reader) is None:
        writer.close()
        return
    writer.write(
        response_head(200, [("Content-Type", "application/json"), ("Content-Length", "100000")])
    )
    writer.write(b'{"models":[' + b" " * 5000)
    try:
        await writer.drain()
        await asyncio.sleep(0.05)
    except ConnectionError:
        pass
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# ---------------------------------------------------------------------------- TLS


def make_certificates(directory: Path) -> dict[str, ssl.SSLContext]:
    """Server contexts: an expired self-signed certificate, a valid self-signed one, and one
    issued by a throwaway CA for another name (mismatched for an IP address)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def build(cn: str, sans: list[str], days: tuple[int, int], issuer=None):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        signer_name, signer_key = issuer if issuer else (subject, key)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(signer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=days[0]))
            .not_valid_after(now + dt.timedelta(days=days[1]))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False
            )
            .sign(signer_key, hashes.SHA256())
        )
        return key, cert

    def context(name: str, key, cert) -> ssl.SSLContext:
        (directory / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{name}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(directory / f"{name}.crt", directory / f"{name}.key")
        return ctx

    ca_key, ca_cert = build("aicensus hostile test CA", ["ca.aicensus.test"], (-30, 365))
    return {
        "expired": context(
            "expired", *build("expired.aicensus.test", ["expired.aicensus.test"], (-60, -1))
        ),
        "self-signed": context(
            "selfsigned", *build("self.aicensus.test", ["self.aicensus.test"], (-1, 30))
        ),
        "mismatched": context(
            "mismatched",
            *build("other.example", ["other.example"], (-1, 30), issuer=(ca_cert.subject, ca_key)),
        ),
    }


# ---------------------------------------------------------------------------- running them


@dataclass
class Case:
    name: str
    address: str
    handler: Handler
    ssl: ssl.SSLContext | None = None


class HostileFarm:
    """Every case on its own loopback address, one port for all, in a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.servers: list[asyncio.base_events.Server] = []
        self.sentinel_hits = 0
        self.port = 0
        self.sentinel_port = 0

    def start(self) -> None:
        self.thread.start()

    def run(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def bind(self, cases: list[Case], port: int) -> None:
        for case in cases:
            if ipaddress.ip_address(case.address) not in LOOPBACK:
                raise ValueError(f"refusing to bind {case.address}: loopback only")
            self.servers.append(
                self.run(
                    asyncio.start_server(
                        _quietly(case.handler), case.address, port, ssl=case.ssl, reuse_address=True
                    )
                )
            )

    def start_sentinel(self) -> int:
        async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.sentinel_hits += 1
            writer.close()

        server = self.run(asyncio.start_server(count, SENTINEL_ADDRESS, 0))
        self.servers.append(server)
        self.sentinel_port = server.sockets[0].getsockname()[1]
        return self.sentinel_port

    def stop(self) -> None:
        async def close() -> None:
            for server in self.servers:
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        self.run(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _quietly(handler: Handler) -> Handler:
    """A handler that ends without a traceback when the client leaves or the farm stops."""

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (asyncio.CancelledError, ConnectionError, ssl.SSLError, OSError):
            writer.transport.abort()

    return run


def free_port_on(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


@contextmanager
def hostile_farm(cert_dir: Path) -> Iterator[tuple[HostileFarm, dict[str, Case]]]:
    """Start every case; yields the farm (with .port) and the cases by name."""
    farm = HostileFarm()
    farm.start()
    sentinel = farm.start_sentinel()
    port = free_port_on("127.31.0.1")
    farm.port = port
    tls = make_certificates(cert_dir)
    specs: list[tuple[str, Handler, ssl.SSLContext | None]] = [
        ("tarpit", tarpit, None),
        ("close-at-once", close_at_once, None),
        ("not-http", not_http, None),
        ("slowloris-head", slowloris_head, None),
        ("slowloris-body", slowloris_body, None),
        ("slowloris-after-banner", slowloris_after_banner(), None),
        ("infinite-body", infinite_body, None),
        ("gzip-bomb", bomb("gzip", 31), None),
        ("deflate-bomb", bomb("deflate", 15), None),
        ("many-headers", many_headers, None),
        ("endless-headers", endless_headers, None),
        ("huge-header", huge_header, None),
        ("redirect-loop", redirect_loop(), None),
        ("redirect-away", redirect_away(port, sentinel), None),
        ("bad-utf8", bad_utf8(), None),
        ("ollama-bad-utf8", ollama_bad_utf8(), None),
        ("ollama-wrong-types", ollama_wrong_types(), None),
        ("ollama-deep-json", ollama_deep_json(), None),
        ("ollama-huge-numbers", ollama_huge_numbers(), None),
        ("ollama-hostile-names", ollama_hostile_names(), None),
        ("reset-mid-body", reset_mid_body, None),
        ("tls-expired", OllamaLike(), tls["expired"]),
        ("tls-self-signed", OllamaLike(), tls["self-signed"]),
        ("tls-mismatched", OllamaLike(), tls["mismatched"]),
    ]
    cases = {
        name: Case(name, f"127.31.0.{i}", handler, ctx)
        for i, (name, handler, ctx) in enumerate(specs, start=1)
    }
    try:
        farm.bind(list(cases.values()), port)
        yield farm, cases
    finally:
        farm.stop()
