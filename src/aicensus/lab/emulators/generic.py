"""One data-driven emulator for every product the lab does not run for real.

    python -m aicensus.lab.emulators.generic \\
        --site vllm open 127.0.0.30 8000 --site vllm key 127.0.0.31 8000 \\
        --request-log requests.jsonl --ready-file ready.json

Each `--site PRODUCT VARIANT ADDRESS PORT` binds one loopback address:port and answers
like PRODUCT (a route table in `emulators/products/PRODUCT.yaml`) in its `open` or `key`
(auth-enabled) variant. One process serves every site; answers depend on which address
and port a request arrived at.

A route table holds what the real product answers, from its sources (fingerprints.md,
upstream code): status, headers, body per route, what its web framework answers for an
unknown path or a wrong method (FastAPI `{"detail":"Not Found"}`, gin `404 page not
found`, aiohttp `404: Not Found`, Express `Cannot GET /x`, …), its `Server` header, and
how its authentication refuses a request without credentials. See `products/README.md`.

Write and compute routes (generation, model load, pull, delete, settings) are routed,
so a wrong method still gets the framework's 405, but never act: they answer 400 with a
JSON error naming the emulator and are logged with `"refused": true`.

Every request is logged as one JSON line: ts, site, product, variant, local, port,
remote, method, path, query, body_len, body, status, user_agent, authorization, refused.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import hmac
import json
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE

from aicensus.lab.emulators.common import (
    EmulatorConfigError,
    RequestLog,
    go_json,
    loopback_address,
    raise_nofile_limit,
    run_emulator,
    write_ready_file,
)

PRODUCTS_DIR = Path(__file__).with_name("products")
VARIANTS = ("open", "key")
LAB_KEY = "aicensus-lab-key"
LAB_USER = "aicensus"
LAB_PASSWORD = "aicensus-lab-password"

# --------------------------------------------------------------------------- frameworks

# What each web framework answers on its own: Server header, JSON encoding, content
# types, and its answers for an unknown path (404) or a known path with a wrong method.
_EXPRESS_404 = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
    "</head>\n<body>\n<pre>Cannot ${method} ${path}</pre>\n</body>\n</html>\n"
)
_NGINX_404 = (
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    "<center><h1>404 Not Found</h1></center>\r\n<hr><center>${server}</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_NGINX_405 = (
    "<html>\r\n<head><title>405 Not Allowed</title></head>\r\n<body>\r\n"
    "<center><h1>405 Not Allowed</h1></center>\r\n<hr><center>${server}</center>\r\n"
    "</body>\r\n</html>\r\n"
)

FRAMEWORKS: dict[str, dict[str, Any]] = {
    # Starlette/FastAPI under uvicorn: HEAD follows GET; 405 carries Allow.
    "fastapi": {
        "server": "uvicorn",
        "json": "compact",
        "json_type": "application/json",
        "text_type": "text/plain; charset=utf-8",
        "html_type": "text/html; charset=utf-8",
        "head_from_get": True,
        "not_found": {"status": 404, "json": {"detail": "Not Found"}},
        "method_not_allowed": {"status": 405, "json": {"detail": "Method Not Allowed"}},
    },
    # Go gin: no Server header; 405 only where the app sets HandleMethodNotAllowed.
    "gin": {
        "server": None,
        "json": "go",
        "json_type": "application/json; charset=utf-8",
        "text_type": "text/plain; charset=utf-8",
        "html_type": "text/html; charset=utf-8",
        "head_from_get": False,
        "not_found": {"status": 404, "text": "404 page not found", "content_type": "text/plain"},
        "method_not_allowed": None,
    },
    # go-openapi / go-swagger (Weaviate): JSON errors with code and message.
    "go-swagger": {
        "server": None,
        "json": "go",
        "json_type": "application/json",
        "text_type": "text/plain; charset=utf-8",
        "html_type": "text/html; charset=utf-8",
        "head_from_get": False,
        "not_found": {
            "status": 404,
            "json": {"code": 404, "message": "path ${path} was not found"},
        },
        "method_not_allowed": {
            "status": 405,
            "json": {"code": 405, "message": "method ${method} is not allowed, but [${allow}] are"},
        },
    },
    # Go Echo v4 (LocalAI): the app's HTTPErrorHandler shapes the errors.
    "echo": {
        "server": None,
        "json": "go",
        "json_type": "application/json",
        "text_type": "text/plain; charset=UTF-8",
        "html_type": "text/html; charset=UTF-8",
        "head_from_get": False,
        "not_found": {"status": 404, "json": {"message": "Not Found"}},
        "method_not_allowed": {"status": 405, "json": {"message": "Method Not Allowed"}},
    },
    # Rust axum (TGI router, Chroma frontend): empty 404, empty 405 with Allow.
    "axum": {
        "server": None,
        "json": "compact",
        "json_type": "application/json",
        "text_type": "text/plain; charset=utf-8",
        "html_type": "text/html; charset=utf-8",
        "head_from_get": True,
        "not_found": {"status": 404, "text": ""},
        "method_not_allowed": {"status": 405, "text": ""},
    },
    # Rust actix-web (Qdrant): empty 404; wrong method on a resource answers 405 empty.
    "actix": {
        "server": None,
        "json": "compact",
        "json_type": "application/json",
        "text_type": "text/plain; charset=utf-8",
        "html_type": "text/html; charset=utf-8",
        "head_from_get": True,
        "not_found": {"status": 404, "text": ""},
        "method_not_allowed": {"status": 405, "text": ""},
    },
    # Rust hyper hand-written router (Jan's proxy).
    "hyper": {
        "server": None,
        "json": "compact",
        "json_type": "application/json",
        "text_type": "text/plain",
        "html_type": "text/html",
        "head_from_get": False,
        "not_found": {"status": 404, "text": "Not Found"},
        "method_not_allowed": None,
    },
    # Node Express: X-Powered-By, HEAD follows GET, unknown → "Cannot GET /x" HTML.
    "express": {
        "server": None,
        "headers": {"X-Powered-By": "Express"},
        "json": "compact",
        "json_type": "application/json; charset=utf-8",
        "text_type": "text/plain; charset=utf-8",
        "html_type": "text/html; charset=utf-8",
        "head_from_get": True,
        "not_found": {
            "status": 404,
            "html": _EXPRESS_404,
            "headers": {
                "Content-Security-Policy": "default-src 'none'",
                "X-Content-Type-Options": "nosniff",
            },
        },
        "method_not_allowed": None,
    },
    # aiohttp (ComfyUI, Ray dashboard): Server Python/x aiohttp/y, HEAD follows GET.
    "aiohttp": {
        "server": "Python/3.12 aiohttp/3.11.18",
        "json": "spaced",
        "json_type": "application/json; charset=utf-8",
        "text_type": "text/plain; charset=utf-8",
        "html_type": "text/html; charset=utf-8",
        "head_from_get": True,
        "not_found": {"status": 404, "text": "404: Not Found"},
        "method_not_allowed": {"status": 405, "text": "405: Method Not Allowed"},
    },
    # Python http.server subclass (KoboldCpp): json.dumps with spaces, no 405.
    "python-http": {
        "server": "ConcedoLlamaForKoboldServer",
        "json": "spaced",
        "json_type": "application/json",
        "text_type": "text/html",
        "html_type": "text/html",
        "head_from_get": False,
        "not_found": {"status": 404, "text": "", "content_type": "text/html"},
        "method_not_allowed": None,
    },
    # C++ servers with their own router (Triton's libevhtp, llamafiler).
    "cpp": {
        "server": None,
        "json": "compact",
        "json_type": "application/json",
        "text_type": "text/plain",
        "html_type": "text/html",
        "head_from_get": False,
        "not_found": {"status": 404, "text": ""},
        "method_not_allowed": None,
    },
    # nginx serving static files (decoys, NIM's health front).
    "nginx": {
        "server": "nginx/1.24.0",
        "json": "compact",
        "json_type": "application/json",
        "text_type": "text/plain",
        "html_type": "text/html",
        "head_from_get": True,
        "not_found": {"status": 404, "html": _NGINX_404},
        "method_not_allowed": {"status": 405, "html": _NGINX_405},
    },
}

# --------------------------------------------------------------------------- tables


@dataclass
class Route:
    methods: tuple[str, ...]
    pattern: str
    regex: re.Pattern[str]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = "text"  # json | text | html | raw | empty
    body: Any = None
    content_type: str | None = None
    variant: str | None = None  # only in this variant
    refused: bool = False  # write/compute route: never acts
    auth: str | None = None  # "public" | "guarded" overrides the table's rule
    refusal: dict[str, Any] | None = None  # this route's own auth refusal (else the table's)


@dataclass
class AuthRule:
    """How the `key` variant asks for credentials."""

    schemes: tuple[str, ...]  # bearer | x-api-key | api-key | basic
    scope: str  # "middleware": any path (unknown ones too); "route": routed paths only
    guarded: tuple[re.Pattern[str], ...]  # empty: every path
    public: tuple[re.Pattern[str], ...]
    refusal: dict[str, Any]
    key: str = LAB_KEY


@dataclass
class Table:
    product: str | None  # the signature id it should be identified as (None: a decoy)
    framework: dict[str, Any]
    server: str | None
    routes: list[Route]
    auth: AuthRule | None
    vars: dict[str, Any]
    headers: dict[str, str]
    match: str = "exact"  # "suffix": a route matches any path ending in its pattern
    strip_slash: bool = False
    catch_all: Route | None = None
    expect: Mapping[str, Any] = field(default_factory=dict)
    host_check: Mapping[str, Any] | None = None  # Host allow-list before routing (Jan)
    variants: tuple[str, ...] = VARIANTS


def _compile(pattern: str, match: str) -> re.Pattern[str]:
    out = []
    for piece in re.split(r"(/:[A-Za-z_]+|\*)", pattern):
        if piece == "*":
            out.append(".*")
        elif piece.startswith("/:"):
            out.append(f"/(?P<{piece[2:]}>[^/]+)")
        else:
            out.append(re.escape(piece))
    body = "".join(out)
    return re.compile(f".*{body}$" if match == "suffix" else f"^{body}$")


def _route(raw: Mapping[str, Any], match: str) -> Route:
    methods = raw.get("method", "GET")
    methods = tuple(m.upper() for m in ([methods] if isinstance(methods, str) else methods))
    kind, body = "empty", None
    for key in ("json", "text", "html", "raw"):
        if key in raw:
            kind, body = key, raw[key]
    return Route(
        methods=methods,
        pattern=raw["path"],
        regex=_compile(raw["path"], raw.get("match", match)),
        status=int(raw.get("status", 200)),
        headers={str(k): str(v) for k, v in (raw.get("headers") or {}).items()},
        kind=kind,
        body=body,
        content_type=raw.get("content_type"),
        variant=raw.get("variant"),
        refused=bool(raw.get("refused", False)),
        auth=raw.get("auth"),
        refusal=raw.get("refusal"),
    )


def _auth(raw: Mapping[str, Any] | None) -> AuthRule | None:
    if not raw:
        return None
    schemes = raw.get("schemes", ["bearer"])
    return AuthRule(
        schemes=tuple(schemes),
        scope=raw.get("scope", "middleware"),
        guarded=tuple(_compile(p, "exact") for p in raw.get("guarded", [])),
        public=tuple(_compile(p, "exact") for p in raw.get("public", [])),
        refusal=dict(raw["refusal"]),
        key=str(raw.get("key", LAB_KEY)),
    )


@cache
def load_table(product: str) -> Table:
    """The route table of `product` (a file name under products/, without .yaml)."""
    path = PRODUCTS_DIR / f"{product}.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise EmulatorConfigError(f"no emulator table for {product!r} ({path})") from None
    if raw.get("merge"):
        return _merged(product, raw)
    match = raw.get("match", "exact")
    framework = dict(FRAMEWORKS[raw.get("framework", "fastapi")])
    for key in ("not_found", "method_not_allowed", "head_from_get"):
        if key in raw:  # the product's own handler for what its framework would answer
            framework[key] = raw[key]
    catch_all = _route({"path": "*", **raw["catch_all"]}, "exact") if raw.get("catch_all") else None
    return Table(
        product=raw.get("product"),
        framework=framework,
        server=raw.get("server", framework["server"]),
        routes=[_route(r, match) for r in raw.get("routes", [])],
        auth=_auth(raw.get("auth")),
        vars=dict(raw.get("vars") or {}),
        headers={**framework.get("headers", {}), **(raw.get("headers") or {})},
        match=match,
        strip_slash=bool(raw.get("strip_slash", False)),
        catch_all=catch_all,
        expect=raw.get("expect") or {},
        host_check=raw.get("host_check"),
        variants=tuple(raw.get("variants", VARIANTS if raw.get("auth") else ("open",))),
    )


def _merged(product: str, raw: Mapping[str, Any]) -> Table:
    """A honeypot: the open-variant routes of many products in one table (first wins)."""
    base = dict(raw)
    base.pop("merge")
    framework = dict(FRAMEWORKS[raw.get("framework", "fastapi")])
    routes: list[Route] = [_route(r, "exact") for r in raw.get("routes", [])]
    variables: dict[str, Any] = dict(raw.get("vars") or {})
    for other in raw["merge"]:
        table = load_table(other)
        for r in table.routes:
            if r.variant in (None, "open"):
                # the product's headers travel with its routes (Server included)
                headers = dict(table.headers)
                if table.server:
                    headers.setdefault("Server", table.server)
                headers.update(r.headers)
                body = _render(r.body, {**table.vars, **variables}) if r.kind == "json" else r.body
                if r.kind in ("text", "html", "raw") and isinstance(body, str):
                    body = _substitute(body, {**table.vars, **variables})
                routes.append(
                    Route(
                        methods=r.methods,
                        pattern=r.pattern,
                        regex=_compile(r.pattern, "exact"),
                        status=r.status,
                        headers=headers,
                        kind=r.kind,
                        body=body,
                        content_type=r.content_type or _content_type(table, r.kind),
                        refused=r.refused,
                    )
                )
    return Table(
        product=raw.get("product"),
        framework=framework,
        server=raw.get("server", framework["server"]),
        routes=routes,
        auth=None,
        vars=variables,
        headers=dict(raw.get("headers") or {}),
        expect=raw.get("expect") or {},
        variants=("open",),
    )


def available_products() -> list[str]:
    return sorted(p.stem for p in PRODUCTS_DIR.glob("*.yaml"))


# --------------------------------------------------------------------------- rendering

_VAR = re.compile(r"\$\{([a-z_]+)\}")


def _substitute(text: str, values: Mapping[str, Any]) -> str:
    return _VAR.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)


def _render(obj: Any, values: Mapping[str, Any]) -> Any:
    """Fill ${var} placeholders; a string that is exactly one placeholder keeps its type."""
    if isinstance(obj, str):
        whole = _VAR.fullmatch(obj)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return _substitute(obj, values)
    if isinstance(obj, list):
        return [_render(v, values) for v in obj]
    if isinstance(obj, dict):
        return {_substitute(str(k), values): _render(v, values) for k, v in obj.items()}
    return obj


def encode_json(obj: Any, style: str) -> bytes:
    if style == "go":
        return go_json(obj).encode()
    if style == "spaced":
        return json.dumps(obj).encode()
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _content_type(table: Table, kind: str) -> str | None:
    fw = table.framework
    return {
        "json": fw["json_type"],
        "text": fw["text_type"],
        "html": fw["html_type"],
    }.get(kind)


# --------------------------------------------------------------------------- the server


@dataclass
class Site:
    product: str
    variant: str
    address: str
    port: int
    table: Table
    started: float = field(default_factory=time.time)

    @property
    def name(self) -> str:
        return f"{self.product}:{self.variant}@{self.address}:{self.port}"


def parse_site(product: str, variant: str, address: str, port: str) -> Site:
    if variant not in VARIANTS:
        raise EmulatorConfigError(f"site variant {variant!r}: use one of {', '.join(VARIANTS)}")
    table = load_table(product)
    if variant not in table.variants:
        raise EmulatorConfigError(
            f"{product} has no {variant!r} variant (it has: {', '.join(table.variants)})"
        )
    try:
        number = int(port)
    except ValueError:
        raise EmulatorConfigError(f"site port {port!r} is not a number") from None
    return Site(product, variant, loopback_address(address), number, table)


class GenericEmulator:
    """Serves every site from one aiohttp application; `await start()`, `await stop()`."""

    def __init__(
        self,
        sites: Sequence[Site],
        *,
        request_log: str | os.PathLike[str] | None = None,
        quiet: bool = False,
    ) -> None:
        if not sites:
            raise EmulatorConfigError("no --site given")
        self.sites = {(s.address, s.port): s for s in sites}
        if len(self.sites) != len(sites):
            raise EmulatorConfigError("two sites share one address:port")
        self.log = RequestLog(request_log)
        self.quiet = quiet
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_response_prepare.append(_fix_server_header)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        for site in self.sites.values():
            tcp = web.TCPSite(self._runner, site.address, site.port, reuse_address=True)
            await tcp.start()
            if site.port == 0:
                server = tcp._server  # aiohttp has no public accessor for the bound socket
                site.port = int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        self.sites = {(s.address, s.port): s for s in self.sites.values()}

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.log.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await _read_body(request)
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        key = (str(sockname[0]), int(sockname[1])) if sockname else ("", 0)
        site = self.sites.get(key)
        if site is None:  # cannot happen: every socket belongs to a site
            return web.Response(status=421, text="misdirected")
        resp, refused, _route = respond(site, request.method, request.path, request.headers)
        self._log(site, request, body, resp.status, refused)
        return resp

    def _log(
        self, site: Site, request: web.Request, body: bytes, status: int, refused: bool
    ) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.log.write(
            {
                "site": site.name,
                "product": site.product,
                "variant": site.variant,
                "local": site.address,
                "port": site.port,
                "remote": peer[0] if peer else None,
                "method": request.method,
                "path": request.path,
                "query": request.query_string,
                "body_len": len(body),
                "body": body[:4096].decode("utf-8", errors="replace"),
                "status": status,
                "user_agent": request.headers.get("User-Agent"),
                "authorization": any(
                    h in request.headers for h in ("Authorization", "X-Api-Key", "Api-Key")
                ),
                "refused": refused,
            }
        )
        if refused and not self.quiet:
            print(
                f"generic-emulator: REFUSED {request.method} {request.path} on {site.name}",
                file=sys.stderr,
            )


def respond(
    site: Site, method: str, path: str, headers: Mapping[str, str]
) -> tuple[web.Response, bool, Route | None]:
    """The answer of `site` to one request (pure apart from the clock)."""
    table = site.table
    if table.strip_slash and path != "/":
        path = path.rstrip("/") or "/"
    values = _values(site, method, path)
    if table.host_check and not _host_trusted(table.host_check, path, headers, values):
        return _build(table, table.host_check["refusal"], values, method), False, None
    route, allowed = _find(table, site.variant, method, path)
    known = route is not None or bool(allowed)
    if (
        site.variant == "key"
        and table.auth is not None
        and _guarded(table.auth, route, path, known=known)
        and not _authorized(table.auth, headers)
    ):
        refusal = (route.refusal if route is not None else None) or table.auth.refusal
        return _build(table, refusal, values, method), False, None
    if route is None:
        if allowed and table.framework.get("method_not_allowed"):
            values["allow"] = ", ".join(sorted(allowed))
            spec = dict(table.framework["method_not_allowed"])
            spec.setdefault("headers", {})
            spec["headers"] = {**spec["headers"], "Allow": ", ".join(sorted(allowed))}
            return _build(table, spec, values, method), False, None
        if table.catch_all is not None:
            return _from_route(table, table.catch_all, values, method), False, table.catch_all
        return _build(table, table.framework["not_found"], values, method), False, None
    if route.refused:
        message = (
            f"aicensus lab emulator: {method} {path} is a write/compute route of "
            f"{site.product}; it is routed but never executed"
        )
        spec = {"status": 400, "json": {"error": message}}
        return _build(table, spec, values, method), True, route
    return _from_route(table, route, values, method), False, route


def _host_trusted(
    check: Mapping[str, Any], path: str, headers: Mapping[str, str], values: Mapping[str, Any]
) -> bool:
    if path in check.get("whitelist", ()):
        return True
    host = headers.get("Host", "")
    name = host.rsplit(":", 1)[0].strip("[]") if host.count(":") <= 1 else host.strip("[]")
    trusted = {_substitute(str(t), values) for t in check.get("trusted", ())}
    return bool(name) and name in trusted


def _values(site: Site, method: str, path: str) -> dict[str, Any]:
    now = time.time()
    return {
        **site.table.vars,
        "method": method,
        "path": path,
        "address": site.address,
        "port": site.port,
        "now": int(now),
        "now_ns": int(now * 1e9),
        "now_float": round(now - site.started, 6) or 0.000001,
        "started": int(site.started),
        "session": secrets.token_hex(16),
        "server": site.table.server or "",
    }


def _find(table: Table, variant: str, method: str, path: str) -> tuple[Route | None, set[str]]:
    allowed: set[str] = set()
    head_ok = table.framework.get("head_from_get", False)
    for route in table.routes:
        if route.variant not in (None, variant):
            continue
        if not route.regex.match(path):
            continue
        methods = set(route.methods)
        if head_ok and "GET" in methods:
            methods.add("HEAD")
        if method in methods:
            return route, allowed
        allowed |= methods
    return None, allowed


def _guarded(rule: AuthRule, route: Route | None, path: str, *, known: bool) -> bool:
    if route is not None and route.auth == "public":
        return False
    if route is not None and route.auth == "guarded":
        return True
    if rule.scope == "route" and not known:
        return False
    if any(p.match(path) for p in rule.public):
        return False
    return not rule.guarded or any(p.match(path) for p in rule.guarded)


def _authorized(rule: AuthRule, headers: Mapping[str, str]) -> bool:
    for scheme in rule.schemes:
        if scheme == "bearer":
            kind, _, value = headers.get("Authorization", "").partition(" ")
            if kind.lower() == "bearer" and hmac.compare_digest(value.strip(), rule.key):
                return True
        elif scheme in ("x-api-key", "api-key") or scheme.startswith("header:"):
            name = scheme.split(":", 1)[1] if scheme.startswith("header:") else scheme
            value = headers.get(name, "")
            if value and hmac.compare_digest(value, rule.key):
                return True
        elif scheme == "basic":
            kind, _, value = headers.get("Authorization", "").partition(" ")
            if kind.lower() != "basic":
                continue
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, ValueError):
                continue
            if hmac.compare_digest(decoded, f"{LAB_USER}:{LAB_PASSWORD}"):
                return True
    return False


def _from_route(table: Table, route: Route, values: Mapping[str, Any], method: str) -> web.Response:
    spec: dict[str, Any] = {
        "status": route.status,
        "headers": route.headers,
        "content_type": route.content_type,
    }
    if route.kind != "empty":
        spec[route.kind] = route.body
    return _build(table, spec, values, method)


def _build(
    table: Table, spec: Mapping[str, Any], values: Mapping[str, Any], method: str
) -> web.Response:
    headers: dict[str, str] = dict(table.headers)
    if table.server:
        headers["Server"] = table.server
    content_type = spec.get("content_type")
    body = b""
    if "json" in spec:
        body = encode_json(_render(spec["json"], values), table.framework["json"])
        content_type = content_type or table.framework["json_type"]
    elif "html" in spec:
        body = _substitute(str(spec["html"]), values).encode()
        content_type = content_type or table.framework["html_type"]
    elif "text" in spec:
        body = _substitute(str(spec["text"]), values).encode()
        content_type = content_type or (table.framework["text_type"] if body else None)
    elif "raw" in spec:
        body = _substitute(str(spec["raw"]), values).encode()
    headers.update({k: _substitute(v, values) for k, v in (spec.get("headers") or {}).items()})
    if spec.get("content_type") == "":  # the product sends none
        headers[_NO_CONTENT_TYPE] = "1"
    elif content_type:
        headers["Content-Type"] = content_type
    status = int(spec.get("status", 200))
    if method == "HEAD":  # the GET's headers, Content-Length included, and no body
        headers["Content-Length"] = str(len(body))
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, body=body, headers=headers)


async def _read_body(request: web.Request) -> bytes:
    if not request.body_exists:
        return b""
    try:
        return await request.read()
    except (web.HTTPException, ConnectionError, asyncio.IncompleteReadError):
        return b""


_NO_CONTENT_TYPE = "X-Aicensus-No-Content-Type"  # internal marker, never sent


async def _fix_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """aiohttp adds its own Server header (and a default Content-Type); keep only what the
    product sends."""
    if response.headers.get("Server") == SERVER_SOFTWARE:
        del response.headers["Server"]
    if response.headers.pop(_NO_CONTENT_TYPE, None) is not None:
        response.headers.pop("Content-Type", None)


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m aicensus.lab.emulators.generic",
        description="Emulate AI products from route tables on loopback addresses.",
    )
    p.add_argument(
        "--site",
        nargs=4,
        action="append",
        default=[],
        metavar=("PRODUCT", "VARIANT", "ADDRESS", "PORT"),
        help="serve PRODUCT (open|key) on ADDRESS:PORT (repeatable)",
    )
    p.add_argument("--request-log", default=None, help="append one JSON line per request")
    p.add_argument("--ready-file", default=None, help="write this JSON file once all are bound")
    p.add_argument("--quiet", action="store_true", help="no warnings for refused routes")
    p.add_argument("--list", action="store_true", help="list the products and exit")
    return p


async def serve(args: argparse.Namespace) -> None:
    sites = [parse_site(*spec) for spec in args.site]
    raise_nofile_limit()
    emu = GenericEmulator(sites, request_log=args.request_log, quiet=args.quiet)
    await emu.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready = {
        "pid": os.getpid(),
        "sites": [
            {"product": s.product, "variant": s.variant, "address": s.address, "port": s.port}
            for s in emu.sites.values()
        ],
    }
    if args.ready_file:
        write_ready_file(args.ready_file, ready)
    print(f"generic-emulator: {len(sites)} site(s) listening", file=sys.stderr, flush=True)
    try:
        await stop.wait()
    finally:
        await emu.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        print("\n".join(available_products()))
        return 0
    return run_emulator("generic-emulator", serve(args))


if __name__ == "__main__":
    sys.exit(main())
