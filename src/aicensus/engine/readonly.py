"""The one place that decides whether a request may be sent.

The scanner is read-only by construction: GET and HEAD to any path that is not a write
route, POST only to the paths below with a body of the documented shape and only to a service
already identified as the product that defines it, and HEAD (never anything else) to the few
write routes on the route-existence allowlist. Everything else raises ReadOnlyViolation before
a byte leaves the machine, whatever a signature file or a redirect asks for.

Write routes are recognised on the path as a server may route it, not as it is written:
`route_of` drops the query and fragment, percent-decodes (repeatedly), removes dot segments,
empty segments, trailing dots and `;params`, whitespace and control characters, folds case
and Unicode compatibility forms. A path whose route is a write route is refused, whatever
spelling carried it (`/api/gener%61te`, `/api/pull/../pull`, `/shutdown/.`, `/api/chat\t`).
The engine checks the path as written and the request target that goes on the wire, on every
hop of a redirect.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from urllib.parse import unquote

from aicensus.errors import ReadOnlyViolation
from aicensus.records import ProbeRequest

SAFE_METHODS = frozenset({"GET", "HEAD"})


def _ollama_show_body(body: Mapping[str, object] | None) -> bool:
    # /api/show only reads a manifest; "model" is current, "name" is the pre-2024 field.
    if not body or not set(body) <= {"model", "name", "verbose"}:
        return False
    names_ok = all(isinstance(body[k], str) for k in ("model", "name") if k in body)
    return names_ok and isinstance(body.get("verbose", False), bool)


def _empty_body(body: Mapping[str, object] | None) -> bool:
    return not body


# path → validator of the JSON body. Each entry is a documented read-only POST.
READ_ONLY_POSTS: dict[str, Callable[[Mapping[str, object] | None], bool]] = {
    "/api/show": _ollama_show_body,  # Ollama: model details, template, system prompt
    "/v2/repository/index": _empty_body,  # Triton: model repository listing
}

# path → the products (signature ids) that define the POST. A POST is read-only on its own
# product only; on another server the same path may run anything (a catch-all app, a proxy,
# a honeypot), so it goes only to a service already identified as one of these.
POST_OWNERS: dict[str, frozenset[str]] = {
    "/api/show": frozenset({"ollama"}),
    "/v2/repository/index": frozenset({"triton"}),
}

# MCP (JSON-RPC 2.0 over HTTP): the protocol's own listing calls, which only read the server's
# self-description. Any other JSON-RPC method (tools/call, resources/read, prompts/get, ...) is
# refused here, and these are sent only to a service the pipeline already identified as MCP
# (ProbeRequest.for_product), at whatever path its transport uses (/mcp, /, /messages/?...).
MCP_LISTING_METHODS = frozenset(
    {"initialize", "notifications/initialized", "tools/list", "resources/list", "prompts/list"}
)
_MCP_PARAMS = {  # method → the params keys a listing call may carry
    "initialize": {"protocolVersion", "capabilities", "clientInfo"},
    "notifications/initialized": set(),
    "tools/list": {"cursor"},
    "resources/list": {"cursor"},
    "prompts/list": {"cursor"},
}


def _mcp_refusal(probe: ProbeRequest, product: str | None) -> str | None:
    """Why a JSON-RPC POST is refused, or None for an allowed MCP listing call. `product` is
    the product the engine identified the service as (the probe's own mark when not given)."""
    body = probe.json_body or {}
    method = body.get("method")
    if method not in MCP_LISTING_METHODS:
        return f"JSON-RPC method {method!r} is not an MCP listing call"
    if (product if product is not None else probe.for_product) != "mcp":
        return "MCP listing calls go only to a service identified as MCP"
    if not set(body) <= {"jsonrpc", "id", "method", "params"} or body.get("jsonrpc") != "2.0":
        return "not a plain JSON-RPC 2.0 request"
    params = body.get("params", {})
    if not isinstance(params, Mapping) or not set(params) <= _MCP_PARAMS[str(method)]:
        return f"unexpected params for {method}"
    return None


# Route-existence probes: (method, exact path) → the upstream fact that makes it safe.
#
# A management finding is proven from the product's documented lack of auth plus a read-only
# request that shows the write route is there, never by sending the write. These products
# register the route for POST/DELETE only, and their router answers another method with 405
# before any handler runs, so `HEAD <route>` → 405 proves the route exists (and, where the
# product has an API key, that no key was asked for: its auth check runs before routing).
# The request is a bodiless HEAD, so even a server that ignored the method would get no
# JSON to act on. Only exact paths (no query, no trailing slash) and no body; every other
# method or path on a write route stays refused.
#
# llama.cpp is deliberately absent: its /slots and /lora-adapters are registered for GET
# (read) as well as POST, so HEAD runs the read handler (200, no body sent back) and needs no
# exemption; its POST-only /slots/:id_slot answers HEAD with 404 (cpp-httplib has no 405),
# which proves nothing, so it is not probed.
ROUTE_EXISTENCE_PROBES: dict[tuple[str, str], str] = {
    ("HEAD", "/api/pull"): (
        'Ollama server/routes.go GenerateRoutes: r.POST("/api/pull") only, and '
        "r.HandleMethodNotAllowed = true, so gin answers 405 without calling PullHandler "
        "(the OLLAMA_EXPERIMENT=client2 registry.Local handler returns 405 on r.Method != "
        "POST first). Releases before gin 405s answer 404."
    ),
    ("HEAD", "/v1/load_lora_adapter"): (
        'vLLM serve/lora/api_router.py: @router.post("/v1/load_lora_adapter") only, '
        "registered only with VLLM_ALLOW_RUNTIME_LORA_UPDATING; Starlette answers another "
        "method on a POST-only route with 405 (404 when the feature is off), and with "
        "--api-key the AuthenticationMiddleware answers /v1 paths with 401 first."
    ),
}

# Paths whose names say they change state; refused even for GET, as a second guard.
_WRITE_WORDS = (
    "/api/pull", "/api/push", "/api/delete", "/api/create", "/api/copy", "/api/blobs",
    "/api/generate", "/api/chat", "/api/embed", "/models/load", "/models/unload", "/model/load",
    "/model/unload", "/lora/load", "/load_lora_adapter", "/unload_lora_adapter", "/sleep", "/wake_up",
    "/reset", "/shutdown", "/apply", "/env-dump", "/reboot", "/server-kill", "/download",
    "/completions", "/generate", "/prompt", "/collective_rpc",
)  # fmt: skip


_DECODE_ROUNDS = 4  # a server (or a proxy in front of it) may decode more than once
_INVISIBLE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u061c\u115f\u1160\u180e\u200b-\u200f"
                        r"\u2028-\u202e\u2060-\u206f\u3164\ufeff\uffa0]")  # fmt: skip


def route_of(path: str) -> str:
    """The route a server may take `path` for, lower-cased: see the module docstring.

    Conservative on purpose: every spelling a common server (gin, Starlette, aiohttp,
    cpp-httplib, Tomcat, IIS) would route to the same handler maps to the same route here.
    """
    text = path.split("#", 1)[0].split("?", 1)[0]
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(text, errors="replace")
        if decoded == text:
            break
        text = decoded
    text = re.split(r"[?#;]", text, maxsplit=1)[0]  # a decoded ?, # or ;param ends the route
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text)).casefold()
    segments: list[str] = []
    for segment in text.replace("\\", "/").split("/"):
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segment = segment.rstrip(".")  # "pull." is "pull" on servers that trim, "." is nothing
        if segment:
            segments.append(segment)
    return "/" + "/".join(segments)


@functools.lru_cache(maxsize=4096)  # pure; every request checks its path twice (as written, wire)
def _is_write_path(path: str) -> bool:
    route = route_of(path)
    return any(route == w or route.endswith(w) for w in _WRITE_WORDS)


def is_write_route(path: str) -> bool:
    """True when a server may route `path` (however it is spelled) to a write route."""
    return _is_write_path(path)


def is_route_existence_probe(method: str, path: str) -> bool:
    """True for an allow-listed bodiless HEAD to a write route (see ROUTE_EXISTENCE_PROBES)."""
    return (method.upper(), path) in ROUTE_EXISTENCE_PROBES


@functools.lru_cache(maxsize=4096)
def _malformed(path: str) -> str | None:
    if not path.startswith("/"):
        return "path must start with '/'"
    if "#" in path:
        return "a fragment is never sent; the path would not be what is checked"
    if _INVISIBLE.search(path) or any(unicodedata.category(c)[0] == "C" for c in path):
        return "whitespace or control characters in the path (percent-encode them)"
    return None


def check(probe: ProbeRequest, *, product: str | None = None) -> None:
    """Raise ReadOnlyViolation unless the probe is known to be read-only.

    `product` is the signature id the service has already been identified as (None while it
    is not known); an allow-listed POST goes only to a product in POST_OWNERS for its path.
    """
    method = probe.method.upper()
    problem = _malformed(probe.path)
    if problem is not None:
        raise ReadOnlyViolation(f"refused {method} {probe.path!r}: {problem}")
    if is_route_existence_probe(method, probe.path):
        if probe.json_body is not None:
            raise ReadOnlyViolation(f"refused {method} {probe.path}: a body on a {method}")
        return
    if _is_write_path(probe.path):
        raise ReadOnlyViolation(
            f"refused {method} {probe.path}: the route changes or costs the target"
        )
    if method in SAFE_METHODS:
        if probe.json_body is not None:
            raise ReadOnlyViolation(f"refused {method} {probe.path}: a body on a {method}")
        return
    if method == "POST" and probe.json_body is not None and "jsonrpc" in probe.json_body:
        why = _mcp_refusal(probe, product)
        if why is not None:
            raise ReadOnlyViolation(f"refused POST {probe.path}: {why}")
        return
    if method == "POST":
        validator = READ_ONLY_POSTS.get(probe.path)
        if validator is None or not validator(probe.json_body):
            raise ReadOnlyViolation(
                f"refused POST {probe.path}: not on the read-only POST allowlist "
                f"({', '.join(sorted(READ_ONLY_POSTS))})"
            )
        owners = POST_OWNERS.get(probe.path, frozenset())
        if product not in owners:
            raise ReadOnlyViolation(
                f"refused POST {probe.path}: read-only only on {', '.join(sorted(owners))}, "
                f"and the service is {'not identified' if product is None else product}"
            )
        return
    raise ReadOnlyViolation(f"refused {method} {probe.path}: only GET, HEAD and allow-listed POSTs")


def received_violation(
    method: str, path: str, body: str | None = None, product: str | None = None
) -> str | None:
    """Why a request a server *received* breaks read-only, or None: the judge of every test and
    benchmark that reads a server's request log (lab emulators, real products, loopback
    servers). A GET or HEAD to a write route counts (only the allow-listed route-existence
    HEADs pass), and so does a POST the scanner would not send: off the allowlist, with
    another body, or (when `product` is given) to a product that does not define it.
    `path` is the path as the server logged it (query apart), `body` the request body text.
    """
    method = method.upper()
    if is_route_existence_probe(method, path) and not body:
        return None
    if _is_write_path(path):
        return f"{method} {path}: a write route"
    if method in SAFE_METHODS:
        return None if not body else f"{method} {path}: a body on a {method}"
    if method != "POST":
        return f"{method} {path}: only GET, HEAD and allow-listed POSTs"
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        return f"POST {path}: a body that is not JSON"
    if isinstance(doc, dict) and "jsonrpc" in doc:
        listing = ProbeRequest(method="POST", path=path, json_body=doc, for_product="mcp")
        why = _mcp_refusal(listing, product)
        return None if why is None else f"POST {path}: {why}"
    validator = READ_ONLY_POSTS.get(path)
    if validator is None:
        return f"POST {path}: not on the read-only POST allowlist"
    if (doc is not None and not isinstance(doc, dict)) or not validator(doc):
        return f"POST {path}: a body of another shape"
    if product is not None and product not in POST_OWNERS.get(path, frozenset()):
        return f"POST {path}: sent to {product}, which does not define it"
    return None
