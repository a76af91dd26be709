"""A source-faithful emulator of the Ollama HTTP API, for the lab and the tests.

    python -m aicensus.lab.emulators.ollama --cidr 127.77.0.0/24 --port 11434 \\
        --request-log requests.jsonl --ready-file ready.json

One process answers on many loopback addresses; each address serves its own
deterministic profile (see `ollama_profiles`). Routing follows Ollama's gin
router: per-version route table, `404 page not found`, `405 method not allowed`
(from 0.7.0), trailing-slash redirects, no Server header, Go-encoded JSON,
bodies over 2 KiB sent chunked like Go's net/http does.

The write and compute routes (pull, push, delete, create, copy, blobs, generate,
chat, embed, the OpenAI/Anthropic inference routes, sign-in, web search) are
routed but never act: they answer 400 with a JSON error and are logged with
`"refused": true`, so a test can prove a scanner never sent one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from functools import cache
from typing import cast
from urllib.parse import unquote, unquote_plus

from aicensus.errors import EmulatorBadRequest
from aicensus.lab.emulators.common import (
    NGINX_VERSION,
    EmulatorConfigError,
    ProxyAuth,
    RequestLog,
    collect_addresses,
    go_json_bytes,
    raise_nofile_limit,
    run_emulator,
    write_ready_file,
)
from aicensus.lab.emulators.ollama_profiles import DEFAULT_VERSION, Profile, at_least, profile_for

DEFAULT_PORT = 11434
CHUNK_THRESHOLD = 2048  # net/http buffers this much before it must fall back to chunked
JSON_UTF8 = "application/json; charset=utf-8"
TEXT_UTF8 = "text/plain; charset=utf-8"
JSON_PLAIN = "application/json"  # what the OpenAI-compat writers set


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    since: str
    kind: str  # which handler answers; "refused" for write/compute routes

    def match(self, path: str) -> dict[str, str] | None:
        want = self.pattern.split("/")
        got = path.split("/")
        if len(want) != len(got):
            return None
        params: dict[str, str] = {}
        for w, g in zip(want, got, strict=True):
            if w.startswith(":"):
                if not g:
                    return None
                params[w[1:]] = g
            elif w != g:
                return None
        return params


# First release with each route (ollama/ollama server/routes.go history).
ROUTES: tuple[Route, ...] = tuple(
    Route(m, p, s, k)
    for m, p, s, k in (
        ("HEAD", "/", "0.0.1", "root"),
        ("GET", "/", "0.0.1", "root"),
        ("HEAD", "/api/version", "0.1.0", "version"),
        ("GET", "/api/version", "0.1.0", "version"),
        ("GET", "/api/status", "0.16.2", "status"),
        ("POST", "/api/pull", "0.0.5", "refused"),
        ("POST", "/api/push", "0.0.6", "refused"),
        ("HEAD", "/api/tags", "0.1.0", "tags"),
        ("GET", "/api/tags", "0.0.6", "tags"),
        ("POST", "/api/show", "0.0.18", "show"),
        ("DELETE", "/api/delete", "0.0.11", "refused"),
        ("POST", "/api/me", "0.12.0", "refused"),
        ("POST", "/api/signout", "0.12.1", "refused"),
        ("DELETE", "/api/user/keys/:encodedKey", "0.12.0", "refused"),
        ("POST", "/api/create", "0.0.6", "refused"),
        ("POST", "/api/blobs/:digest", "0.1.10", "refused"),
        ("HEAD", "/api/blobs/:digest", "0.1.10", "refused"),
        ("POST", "/api/copy", "0.0.12", "refused"),
        ("POST", "/api/experimental/web_search", "0.18.0", "refused"),
        ("POST", "/api/experimental/web_fetch", "0.18.0", "refused"),
        ("GET", "/api/experimental/model-recommendations", "0.22.1", "refused"),
        ("GET", "/api/ps", "0.1.38", "ps"),
        ("POST", "/api/generate", "0.0.1", "refused"),
        ("POST", "/api/chat", "0.1.14", "refused"),
        ("POST", "/api/embed", "0.2.6", "refused"),
        ("POST", "/api/embeddings", "0.0.14", "refused"),
        ("POST", "/v1/chat/completions", "0.1.24", "refused"),
        ("POST", "/v1/completions", "0.2.0", "refused"),
        ("POST", "/v1/embeddings", "0.2.6", "refused"),
        ("GET", "/v1/models", "0.2.0", "v1_models"),
        ("GET", "/v1/models/:model", "0.2.0", "v1_model"),
        ("POST", "/v1/responses", "0.13.3", "refused"),
        ("POST", "/v1/audio/transcriptions", "0.20.0", "refused"),
        ("POST", "/v1/messages", "0.14.0", "refused"),
    )
)
METHOD_NOT_ALLOWED_SINCE = "0.7.0"


@dataclass(frozen=True)
class RouteTable:
    """One version's routes: fixed paths by (method, path), patterns tried in order."""

    fixed: dict[tuple[str, str], Route]
    fixed_paths: frozenset[str]
    patterns: tuple[Route, ...]


@cache
def routes_of(version: str) -> RouteTable:
    served = [r for r in ROUTES if at_least(version, r.since)]
    fixed = [r for r in served if ":" not in r.pattern]
    return RouteTable(
        {(r.method, r.pattern): r for r in fixed},
        frozenset(r.pattern for r in fixed),
        tuple(r for r in served if ":" in r.pattern),
    )


def find_route(version: str, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    table = routes_of(version)
    route = table.fixed.get((method, path))
    if route is not None:
        return route, {}
    for route in table.patterns:
        if route.method == method:
            params = route.match(path)
            if params is not None:
                return route, params
    return None


def path_known(version: str, path: str) -> bool:
    table = routes_of(version)
    return path in table.fixed_paths or any(r.match(path) is not None for r in table.patterns)


# --------------------------------------------------------------------------- responses

REASONS = {
    200: "OK",
    301: "Moved Permanently",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
}


@dataclass(frozen=True, slots=True)
class Answer:
    """One response encoded once: `head` runs up to the Date header's value, which is
    added per second at send time; `payload` is what follows the blank line."""

    status: int
    head: bytes
    payload: bytes  # the body itself (shared with the profile's cache), or b"" for HEAD
    frame: bytes = b""  # the chunk-size line when the body goes as one chunk
    refused: bool = False
    cache: bool = True  # False for answers that change with time (/api/ps)
    connection: bool = False  # has its own Connection header: none is added (the auth proxy)


def encode(
    status: int,
    body: bytes,
    headers: Sequence[tuple[str, str]],
    method: str,
    *,
    chunk: bool = True,
    refused: bool = False,
    cache: bool = True,
) -> Answer:
    """Header order and framing as the emulator wrote them on aiohttp: the given headers,
    then Content-Length (up to 2 KiB) or Transfer-Encoding: chunked (one chunk, like
    net/http's flush of a larger body; neither for HEAD), then Date. No Server header."""
    lines = [f"HTTP/1.1 {status} {REASONS[status]}", *(f"{k}: {v}" for k, v in headers)]
    frame = b""
    if len(body) <= CHUNK_THRESHOLD or not chunk:
        lines.append(f"Content-Length: {len(body)}")
        payload = b"" if method == "HEAD" else body
    elif method == "HEAD":
        payload = b""
    else:
        lines.append("Transfer-Encoding: chunked")
        payload, frame = body, b"%x\r\n" % len(body)
    head = ("\r\n".join(lines) + "\r\nDate: ").encode()
    connection = any(k == "Connection" for k, _ in headers)
    return Answer(status, head, payload, frame, refused, cache, connection)


def openai_error(status: int, message: str) -> bytes:
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    err = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return go_json_bytes(err) + b"\n"


def redirect(path: str, query: str, method: str) -> Answer:
    """gin's RedirectTrailingSlash: 301 for GET, 307 otherwise (net/http's Redirect body)."""
    location = path + (f"?{query}" if query else "")
    status = 301 if method == "GET" else 307
    headers = [("Location", location)]
    if method in ("GET", "HEAD"):
        text = "Moved Permanently" if status == 301 else "Temporary Redirect"
        body = f'<a href="{location}">{text}</a>.\n\n'
        headers.append(("Content-Type", "text/html; charset=utf-8"))
        return encode(status, body.encode(), headers, method, chunk=False)
    return encode(status, b"", headers, method)


# --------------------------------------------------------------------------- the server


@dataclass(frozen=True, slots=True)
class Call:
    """One routed request: what a handler needs."""

    prof: Profile
    method: str
    path: str
    params: dict[str, str]
    body: bytes
    chunk: bool  # False for HTTP/1.0 clients (no chunked encoding; the body ends the connection)
    server: str | None  # the auth proxy's Server header on routed answers


Handler = Callable[[Call], Answer]
_ERRORS = {
    400: b"400 Bad Request",
    413: b"413 Request Entity Too Large",
    431: b"431 Request Header Fields Too Large",
}
LAST_CHUNK = b"\r\n0\r\n\r\n"
MAX_HEAD = 1 << 20  # net/http's DefaultMaxHeaderBytes
MAX_BODY = 64 * 1024 * 1024
IDLE_SECONDS = 75.0  # keep-alive connections idle this long are closed
MAX_CACHED = 200_000  # encoded answers kept (address, method, target, body)
# Routes whose answer depends on the profile's version only (not its models, times or
# settings): the banner, /api/version, the refused write routes. Unrouted paths too.
VERSION_ONLY = frozenset({"root", "version", "refused"})


class OllamaEmulator:
    """The emulator as an object: `await start()`, `await stop()`; one profile per address.

    It serves HTTP/1.1 on a bare asyncio protocol (`_Connection`) and answers from
    responses encoded once per (address, method, target, body): a scan's emulator then
    costs a fraction of what a general web framework did per request."""

    def __init__(
        self,
        addresses: Sequence[str] = ("127.0.0.1",),
        port: int = DEFAULT_PORT,
        *,
        version: str | None = None,
        auth: ProxyAuth | None = None,
        request_log: str | os.PathLike[str] | None = None,
        quiet: bool = False,
    ) -> None:
        self.addresses = collect_addresses(addresses, ())
        self.port = port
        self.version = version
        self.auth = auth
        self.log = RequestLog(request_log)
        self.logging = request_log is not None
        self.quiet = quiet
        self._profiles: dict[str, Profile] = {}
        self._servers: list[asyncio.AbstractServer] = []
        self._conns: set[_Connection] = set()
        self._answers: dict[tuple[str, str, str, bytes, bool], Answer] = {}
        # (version, method, target, body, HTTP/1.0) → the answer of a route whose bytes
        # depend on the version alone (VERSION_ONLY) or of an unrouted path
        self._by_version: dict[tuple[str, str, str, bytes, bool], Answer] = {}
        self._date_at = -1
        self._date = b""
        self._sweeper: asyncio.Task[None] | None = None
        self._handlers: dict[str, Handler] = {
            "root": self._root,
            "version": self._version,
            "status": self._status,
            "tags": self._tags,
            "ps": self._ps,
            "show": self._show,
            "v1_models": self._v1_models,
            "v1_model": self._v1_model,
            "refused": self._refused,
        }

    # ---- lifecycle
    def profile(self, address: str) -> Profile:
        prof = self._profiles.get(address)
        if prof is None:
            single = len(self.addresses) == 1
            prof = profile_for(address, single=single, version=self.version)
            self._profiles[address] = prof
        return prof

    async def start(self) -> int:
        """Bind every address (same port); returns the port (chosen by the OS if 0)."""
        loop = asyncio.get_running_loop()
        for address in self.addresses:
            server = await loop.create_server(
                lambda: _Connection(self), address, self.port, reuse_address=True, backlog=128
            )
            self._servers.append(server)
            if self.port == 0:
                self.port = int(server.sockets[0].getsockname()[1])
        self._sweeper = loop.create_task(self._sweep_idle())
        return self.port

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for server in self._servers:
            server.close()
        for conn in list(self._conns):
            conn.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers = []
        self.log.close()

    async def _sweep_idle(self) -> None:
        """Close keep-alive connections idle for IDLE_SECONDS (one timer, not one per request)."""
        while True:
            await asyncio.sleep(IDLE_SECONDS / 5)
            cutoff = time.monotonic() - IDLE_SECONDS
            for conn in [c for c in self._conns if c.last < cutoff]:
                conn.close()

    # ---- dispatch
    def date(self) -> bytes:
        now = int(time.time())
        if now != self._date_at:
            self._date_at, self._date = now, formatdate(now, usegmt=True).encode()
        return self._date

    def respond(self, conn: _Connection, request: _Request) -> None:
        method, target, body = request.method, request.target, request.body
        if self.auth is not None and not self.auth.allows(request.headers.get("authorization")):
            ans = self._unauthorized(method)
        else:
            key = (conn.local, method, target, body, request.http10)
            cached = self._answers.get(key)
            if cached is None:
                ans = self._answer(conn.local, method, request, body)
                if ans.cache:
                    if len(self._answers) >= MAX_CACHED:
                        self._answers.clear()
                    self._answers[key] = ans
            else:
                ans = cached
        tail = b"\r\n\r\n"  # aiohttp's rule: a Connection header only where none is set
        if not ans.connection and request.keep_alive == request.http10:
            tail = b"\r\nConnection: %s\r\n\r\n" % (b"keep-alive" if request.http10 else b"close")
        if ans.frame:
            wire = b"".join((ans.head, self.date(), tail, ans.frame, ans.payload, LAST_CHUNK))
        else:
            wire = ans.head + self.date() + tail + ans.payload
        if request.http10:
            wire = b"HTTP/1.0" + wire[8:]  # net/http answers in the client's version
        if self.logging or ans.refused:  # logged before it is answered: a client that has
            self._log(conn, request, ans)  # its answer finds its request in the log
        conn.send(wire, request.keep_alive)

    def _answer(self, local: str, method: str, request: _Request, body: bytes) -> Answer:
        prof = self.profile(local)
        path = request.path
        found = find_route(prof.version, method, path)
        if found is None or found[0].kind in VERSION_ONLY:
            # The same bytes for every address of this version: encoded once for all of them.
            key = (prof.version, method, request.target, body, request.http10)
            shared = self._by_version.get(key)
            if shared is None:
                if found is None:
                    shared = self._unrouted(prof, method, path, request.query)
                else:
                    shared = self._routed(prof, method, request, body, found)
                if shared.cache:
                    if len(self._by_version) >= MAX_CACHED:
                        self._by_version.clear()
                    self._by_version[key] = shared
            return shared
        return self._routed(prof, method, request, body, found)

    def _routed(
        self,
        prof: Profile,
        method: str,
        request: _Request,
        body: bytes,
        found: tuple[Route, dict[str, str]],
    ) -> Answer:
        path = request.path
        route, params = found
        server = NGINX_VERSION if self.auth is not None else None
        call = Call(prof, method, path, params, body, not request.http10, server)
        return self._handlers[route.kind](call)

    def _unrouted(self, prof: Profile, method: str, path: str, query: str) -> Answer:
        if path != "/":
            alt = path[:-1] if path.endswith("/") else path + "/"
            if find_route(prof.version, method, alt) is not None:
                return redirect(alt, query, method)
        if at_least(prof.version, METHOD_NOT_ALLOWED_SINCE) and path_known(prof.version, path):
            return encode(405, b"405 method not allowed", [("Content-Type", "text/plain")], method)
        return encode(404, b"404 page not found", [("Content-Type", "text/plain")], method)

    def _unauthorized(self, method: str) -> Answer:
        assert self.auth is not None
        headers = [
            ("Server", NGINX_VERSION),
            ("Content-Type", "text/html"),
            ("WWW-Authenticate", self.auth.challenge()),
            ("Connection", "keep-alive"),
        ]
        return encode(401, ProxyAuth.body(), headers, method)

    def _log(self, conn: _Connection, request: _Request, ans: Answer) -> None:
        body = request.body
        entry: dict[str, object] = {
            "local": conn.local,
            "port": self.port,
            "remote": conn.remote,
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "body_len": len(body),
            "body": body[:4096].decode("utf-8", errors="replace"),
            "status": ans.status,
            "user_agent": request.headers.get("user-agent"),
            "authorization": "authorization" in request.headers,
            "refused": ans.refused,
        }
        self.log.write(entry)
        if ans.refused and not self.quiet:
            where = f"{request.method} {request.path} on {conn.local}"
            print(f"ollama-emulator: REFUSED {where}", file=sys.stderr)

    # ---- handlers
    @staticmethod
    def _raw(call: Call, status: int, body: bytes, content_type: str, **kw: bool) -> Answer:
        headers = [("Content-Type", content_type)]
        if call.server is not None:
            headers.append(("Server", call.server))
        return encode(status, body, headers, call.method, chunk=call.chunk, **kw)

    def _json(self, call: Call, status: int, obj: object, **kw: bool) -> Answer:
        return self._raw(call, status, go_json_bytes(obj), JSON_UTF8, **kw)

    def _root(self, call: Call) -> Answer:
        return self._raw(call, 200, b"Ollama is running", TEXT_UTF8)

    def _version(self, call: Call) -> Answer:
        return self._raw(call, 200, call.prof.version_body, JSON_UTF8)

    def _status(self, call: Call) -> Answer:
        return self._raw(call, 200, call.prof.status_body, JSON_UTF8)

    def _tags(self, call: Call) -> Answer:
        return self._raw(call, 200, call.prof.tags_body, JSON_UTF8)

    def _ps(self, call: Call) -> Answer:
        return self._raw(call, 200, call.prof.ps_body(), JSON_UTF8, cache=False)

    def _v1_models(self, call: Call) -> Answer:
        return self._raw(call, 200, call.prof.v1_models_body, JSON_PLAIN)

    def _v1_model(self, call: Call) -> Answer:
        name = call.params["model"]
        model = call.prof.find(name)
        if model is None:
            return self._raw(call, 404, openai_error(404, f"model '{name}' not found"), JSON_PLAIN)
        body = go_json_bytes(call.prof.v1_model(name, model)) + b"\n"
        return self._raw(call, 200, body, JSON_PLAIN)

    def _show(self, call: Call) -> Answer:
        name, error = _show_request(call.body)
        if error is not None:
            return self._json(call, 400, {"error": error})
        model = call.prof.find(name)
        if model is None:
            return self._json(call, 404, {"error": f"model '{name}' not found"})
        return self._raw(call, 200, call.prof.show_body(model), JSON_UTF8)

    def _refused(self, call: Call) -> Answer:
        message = (
            f"aicensus lab emulator: {call.method} {call.path} is a write/compute "
            "route; it is routed but never executed"
        )
        return self._json(call, 400, {"error": message}, refused=True)


def _show_request(body: bytes) -> tuple[str, str | None]:
    """The model name of an /api/show body, or the error Ollama answers with."""
    if not body.strip():
        return "", "missing request body"
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "", "invalid character looking for beginning of value"
    if not isinstance(data, dict):
        return "", "json: cannot unmarshal into Go value of type api.ShowRequest"
    name = data.get("model") or data.get("name")
    if not isinstance(name, str) or not name:
        return "", "model is required"
    return name, None


# --------------------------------------------------------------------------- HTTP/1.1 wire


@dataclass(slots=True)
class _Request:
    method: str
    target: str
    path: str
    query: str
    headers: dict[str, str]
    http10: bool
    keep_alive: bool
    body: bytes = b""


def parse_head(head: bytes) -> _Request:
    """Request line and header fields (names lower-cased); EmulatorBadRequest when malformed."""
    try:
        text = head.decode("ascii") if head.isascii() else head.decode("utf-8")
    except UnicodeDecodeError:
        raise EmulatorBadRequest from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise EmulatorBadRequest
    method, target, proto = parts
    if not method.isalpha() or not method.isupper() or not target:
        raise EmulatorBadRequest
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name or "\t" in name:
            raise EmulatorBadRequest  # includes obsolete line folding
        name = name.lower()
        value = value.strip(" \t")
        if name in headers:
            if name in ("content-length", "host") and headers[name] != value:
                raise EmulatorBadRequest
            headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
    raw_path, _, query = _split_target(target).partition("?")
    path = unquote(raw_path) if "%" in raw_path else raw_path
    if "%" in query or "+" in query:
        query = unquote_plus(query)  # the log keeps the decoded query, as it did before
    http10 = proto == "HTTP/1.0"
    connection = headers.get("connection", "").lower()
    keep = "keep-alive" in connection if http10 else "close" not in connection
    return _Request(method, target, path, query, headers, http10, keep)


def _split_target(target: str) -> str:
    """The path and query of an origin-form or absolute-form request target."""
    if target.startswith("/"):
        return target.partition("#")[0]
    if target.startswith(("http://", "https://")):
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        return rest[slash:] if slash >= 0 else "/"
    raise EmulatorBadRequest


def body_length(headers: dict[str, str]) -> int:
    if "transfer-encoding" in headers:
        raise EmulatorBadRequest  # chunked request bodies: no client of this emulator sends them
    text = headers.get("content-length")
    if text is None:
        return 0
    if not text.isdigit():
        raise EmulatorBadRequest
    length = int(text)
    if length > MAX_BODY:
        raise EmulatorBadRequest(413)
    return length


class _Connection(asyncio.Protocol):
    """One client connection: parses pipelined keep-alive requests, answers each in order."""

    def __init__(self, emu: OllamaEmulator) -> None:
        self.emu = emu
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.pending: _Request | None = None  # head parsed, body still arriving
        self.need = 0
        self.local = ""
        self.remote: str | None = None
        self.last = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        sock = transport.get_extra_info("sockname")
        peer = transport.get_extra_info("peername")
        self.local = str(sock[0]) if sock else ""
        self.remote = str(peer[0]) if peer else None
        self.emu._conns.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.emu._conns.discard(self)
        self.transport = None

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()  # a client that does not read gets no more answers

    def resume_writing(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def send(self, data: bytes, keep_alive: bool) -> None:
        if self.transport is not None:
            self.transport.write(data)
            if not keep_alive:
                self.close()

    def data_received(self, data: bytes) -> None:
        self.last = time.monotonic()
        self.buf = self.buf + data if self.buf else data
        try:
            while self.transport is not None and self._next():
                pass
        except EmulatorBadRequest as exc:
            self._fail(exc.status)

    def _next(self) -> bool:
        """Answer one complete request from the buffer; False when more bytes are needed."""
        if self.pending is None:
            buf = self.buf.lstrip(b"\r\n") if self.buf[:1] in (b"\r", b"\n") else self.buf
            end = buf.find(b"\r\n\r\n")
            if end < 0 or end > MAX_HEAD:
                if len(buf) > MAX_HEAD:
                    raise EmulatorBadRequest(431)
                self.buf = buf
                return False
            self.pending = parse_head(buf[:end])
            self.need = body_length(self.pending.headers)
            self.buf = buf[end + 4 :]
        request = self.pending
        if len(self.buf) < self.need:
            if request.headers.get("expect", "").lower() == "100-continue" and not self.buf:
                assert self.transport is not None
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return False
        request.body, self.buf = self.buf[: self.need], self.buf[self.need :]
        self.pending, self.need = None, 0
        self.emu.respond(self, request)
        return bool(self.buf)

    def _fail(self, status: int) -> None:
        """net/http's answer to a malformed request, then close."""
        text = _ERRORS.get(status, _ERRORS[400])
        head = f"HTTP/1.1 {text.decode()}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        self.send(head.encode() + b"Connection: close\r\n\r\n" + text, keep_alive=False)


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m aicensus.lab.emulators.ollama",
        description="Emulate Ollama's HTTP API on loopback addresses (read routes only).",
    )
    add = p.add_argument
    add("--address", action="append", default=[], help="loopback address to bind (repeatable)")
    add("--cidr", action="append", default=[], help="bind every address of a loopback block")
    add("--port", type=int, default=DEFAULT_PORT, help="port on every address (0: OS picks)")
    add(
        "--version",
        dest="ollama_version",
        default=None,
        help=f"version every address reports (default {DEFAULT_VERSION} on the fixed profile)",
    )
    add("--request-log", default=None, help="append one JSON line per request received")
    add("--auth", default=None, help="front with an auth proxy: basic:USER:PASS | bearer:TOKEN")
    add("--ready-file", default=None, help="write this JSON file once every address is bound")
    add("--quiet", action="store_true", help="no warnings on stderr for refused routes")
    return p


async def serve(args: argparse.Namespace) -> None:
    addresses = collect_addresses(args.address, args.cidr)
    auth = ProxyAuth.parse(args.auth) if args.auth else None
    limit = raise_nofile_limit()
    if len(addresses) + 64 > limit:
        raise EmulatorConfigError(
            f"{len(addresses)} addresses need more file descriptors than the limit {limit}"
        )
    emu = OllamaEmulator(
        addresses,
        args.port,
        version=args.ollama_version,
        auth=auth,
        request_log=args.request_log,
        quiet=args.quiet,
    )
    port = await emu.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready = {"pid": os.getpid(), "port": port, "addresses": len(addresses), "first": addresses[0]}
    if args.ready_file:
        write_ready_file(args.ready_file, ready)
    where = f"{len(addresses)} address(es), port {port}"
    print(f"ollama-emulator: listening on {where}", file=sys.stderr, flush=True)
    try:
        await stop.wait()
    finally:
        await emu.stop()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_emulator("ollama-emulator", serve(args), _loop_factory())


if __name__ == "__main__":
    sys.exit(main())
