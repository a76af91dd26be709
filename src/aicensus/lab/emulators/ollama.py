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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

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


def find_route(version: str, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        if route.method == method and at_least(version, route.since):
            params = route.match(path)
            if params is not None:
                return route, params
    return None


def path_known(version: str, path: str) -> bool:
    return any(at_least(version, r.since) and r.match(path) is not None for r in ROUTES)


# --------------------------------------------------------------------------- responses


def raw(status: int, body: bytes, content_type: str | None, method: str) -> web.Response:
    """A response shaped like Go's net/http: Content-Length up to 2 KiB, chunked beyond."""
    headers = {"Content-Type": content_type} if content_type else {}
    if len(body) <= CHUNK_THRESHOLD:
        return web.Response(status=status, body=body or None, headers=headers)
    if method == "HEAD":
        return web.Response(status=status, headers=headers)
    resp = web.Response(status=status, body=body, headers=headers)
    resp.enable_chunked_encoding()
    return resp


def gin_json(status: int, obj: object, method: str) -> web.Response:
    return raw(status, go_json_bytes(obj), JSON_UTF8, method)


def openai_error(status: int, message: str) -> bytes:
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    err = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return go_json_bytes(err) + b"\n"


def redirect(path: str, query: str, method: str) -> web.Response:
    """gin's RedirectTrailingSlash: 301 for GET, 307 otherwise (net/http's Redirect body)."""
    location = path + (f"?{query}" if query else "")
    status = 301 if method == "GET" else 307
    headers = {"Location": location}
    if method in ("GET", "HEAD"):
        text = "Moved Permanently" if status == 301 else "Temporary Redirect"
        body = f'<a href="{location}">{text}</a>.\n\n'
        headers["Content-Type"] = "text/html; charset=utf-8"
        return web.Response(status=status, body=body.encode(), headers=headers)
    return web.Response(status=status, headers=headers)


# --------------------------------------------------------------------------- the server


@dataclass(frozen=True)
class Call:
    """One routed request: what a handler needs."""

    request: web.Request
    prof: Profile
    params: dict[str, str]
    body: bytes

    @property
    def method(self) -> str:
        return self.request.method


Handler = Callable[[Call], Awaitable[web.Response]]


class OllamaEmulator:
    """The emulator as an object: `await start()`, `await stop()`; one profile per address."""

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
        self.quiet = quiet
        self._profiles: dict[str, Profile] = {}
        self._runner: web.AppRunner | None = None
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

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_response_prepare.append(_strip_server_header)
        return app

    async def start(self) -> int:
        """Bind every address (same port); returns the port (chosen by the OS if 0)."""
        self._runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        for address in self.addresses:
            site = web.TCPSite(self._runner, address, self.port, reuse_address=True)
            await site.start()
            if self.port == 0:
                self.port = _bound_port(site)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.log.close()

    # ---- dispatch
    async def handle(self, request: web.Request) -> web.Response:
        body = await _read_body(request)
        local = _local_address(request)
        resp, refused = await self._dispatch(request, local, body)
        self._log(request, local, body, resp.status, refused)
        return resp

    async def _dispatch(
        self, request: web.Request, local: str, body: bytes
    ) -> tuple[web.Response, bool]:
        method = request.method
        if self.auth is not None and not self.auth.allows(request.headers.get("Authorization")):
            return self._unauthorized(method), False
        prof = self.profile(local)
        found = find_route(prof.version, method, request.path)
        if found is not None:
            route, params = found
            resp = await self._handlers[route.kind](Call(request, prof, params, body))
            if self.auth is not None:
                resp.headers["Server"] = NGINX_VERSION
            return resp, route.kind == "refused"
        return self._unrouted(prof, request), False

    def _unrouted(self, prof: Profile, request: web.Request) -> web.Response:
        method, path = request.method, request.path
        if path != "/":
            alt = path[:-1] if path.endswith("/") else path + "/"
            if find_route(prof.version, method, alt) is not None:
                return redirect(alt, request.query_string, method)
        if at_least(prof.version, METHOD_NOT_ALLOWED_SINCE) and path_known(prof.version, path):
            return raw(405, b"405 method not allowed", "text/plain", method)
        return raw(404, b"404 page not found", "text/plain", method)

    def _unauthorized(self, method: str) -> web.Response:
        assert self.auth is not None
        headers = {
            "Server": NGINX_VERSION,
            "Content-Type": "text/html",
            "WWW-Authenticate": self.auth.challenge(),
            "Connection": "keep-alive",
        }
        return web.Response(status=401, body=ProxyAuth.body(), headers=headers)

    def _log(
        self, request: web.Request, local: str, body: bytes, status: int, refused: bool
    ) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        entry: dict[str, object] = {
            "local": local,
            "port": self.port,
            "remote": peer[0] if peer else None,
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "body_len": len(body),
            "body": body[:4096].decode("utf-8", errors="replace"),
            "status": status,
            "user_agent": request.headers.get("User-Agent"),
            "authorization": "Authorization" in request.headers,
            "refused": refused,
        }
        self.log.write(entry)
        if refused and not self.quiet:
            where = f"{request.method} {request.path} on {local}"
            print(f"ollama-emulator: REFUSED {where}", file=sys.stderr)

    # ---- handlers
    async def _root(self, call: Call) -> web.Response:
        return raw(200, b"Ollama is running", TEXT_UTF8, call.method)

    async def _version(self, call: Call) -> web.Response:
        return raw(200, call.prof.version_body, JSON_UTF8, call.method)

    async def _status(self, call: Call) -> web.Response:
        return raw(200, call.prof.status_body, JSON_UTF8, call.method)

    async def _tags(self, call: Call) -> web.Response:
        return raw(200, call.prof.tags_body, JSON_UTF8, call.method)

    async def _ps(self, call: Call) -> web.Response:
        return raw(200, call.prof.ps_body(), JSON_UTF8, call.method)

    async def _v1_models(self, call: Call) -> web.Response:
        return raw(200, call.prof.v1_models_body, JSON_PLAIN, call.method)

    async def _v1_model(self, call: Call) -> web.Response:
        name = call.params["model"]
        model = call.prof.find(name)
        if model is None:
            body = openai_error(404, f"model '{name}' not found")
            return raw(404, body, JSON_PLAIN, call.method)
        body = go_json_bytes(call.prof.v1_model(name, model)) + b"\n"
        return raw(200, body, JSON_PLAIN, call.method)

    async def _show(self, call: Call) -> web.Response:
        name, error = _show_request(call.body)
        if error is not None:
            return gin_json(400, {"error": error}, call.method)
        model = call.prof.find(name)
        if model is None:
            return gin_json(404, {"error": f"model '{name}' not found"}, call.method)
        return raw(200, call.prof.show_body(model), JSON_UTF8, call.method)

    async def _refused(self, call: Call) -> web.Response:
        message = (
            f"aicensus lab emulator: {call.method} {call.request.path} is a write/compute "
            "route; it is routed but never executed"
        )
        return gin_json(400, {"error": message}, call.method)


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


async def _read_body(request: web.Request) -> bytes:
    if not request.body_exists:
        return b""
    try:
        return await request.read()
    except (web.HTTPException, ConnectionError, asyncio.IncompleteReadError):
        return b""


def _local_address(request: web.Request) -> str:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if sockname:
        return str(sockname[0])
    return request.host.rsplit(":", 1)[0].strip("[]")


def _bound_port(site: web.TCPSite) -> int:
    server = site._server  # aiohttp exposes no public accessor for the bound socket
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1])


async def _strip_server_header(request: web.Request, response: web.StreamResponse) -> None:
    if response.headers.get("Server", "").startswith("Python/"):
        del response.headers["Server"]


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
