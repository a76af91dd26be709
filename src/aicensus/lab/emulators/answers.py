"""How a generic-emulator site answers one request: route lookup, the key variant's auth,
the framework's 404/405, refused write routes. Pure apart from the clock (no sockets)."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from aicensus.lab.emulators.common import EmulatorConfigError, loopback_address
from aicensus.lab.emulators.tables import (
    LAB_PASSWORD,
    LAB_USER,
    VARIANTS,
    AuthRule,
    Route,
    Table,
    encode_json,
    load_table,
    render,
    substitute,
)

NO_CONTENT_TYPE = "X-Aicensus-No-Content-Type"  # internal marker, never sent


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


def parse_site(
    product: str, variant: str, address: str, port: str, extra_dirs: tuple[str, ...] = ()
) -> Site:
    if variant not in VARIANTS:
        raise EmulatorConfigError(f"site variant {variant!r}: use one of {', '.join(VARIANTS)}")
    table = load_table(product, extra_dirs)
    if variant not in table.variants:
        raise EmulatorConfigError(
            f"{product} has no {variant!r} variant (it has: {', '.join(table.variants)})"
        )
    try:
        number = int(port)
    except ValueError:
        raise EmulatorConfigError(f"site port {port!r} is not a number") from None
    return Site(product, variant, loopback_address(address), number, table)


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
    trusted = {substitute(str(t), values) for t in check.get("trusted", ())}
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
        body = encode_json(render(spec["json"], values), table.framework["json"])
        content_type = content_type or table.framework["json_type"]
    elif "html" in spec:
        body = substitute(str(spec["html"]), values).encode()
        content_type = content_type or table.framework["html_type"]
    elif "text" in spec:
        body = substitute(str(spec["text"]), values).encode()
        content_type = content_type or (table.framework["text_type"] if body else None)
    elif "raw" in spec:
        body = substitute(str(spec["raw"]), values).encode()
    headers.update({k: substitute(v, values) for k, v in (spec.get("headers") or {}).items()})
    if spec.get("content_type") == "":  # the product sends none
        headers[NO_CONTENT_TYPE] = "1"
    elif content_type:
        headers["Content-Type"] = content_type
    status = int(spec.get("status", 200))
    if method == "HEAD":  # the GET's headers, Content-Length included, and no body
        headers["Content-Length"] = str(len(body))
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, body=body, headers=headers)
