"""The one place that decides whether a request may be sent.

The scanner is read-only by construction: GET and HEAD to any path that is not a write
route, POST only to the paths below with a body of the documented shape, and HEAD (never
anything else) to the few write routes on the route-existence allowlist. Everything else
raises ReadOnlyViolation before a byte leaves the machine, whatever a signature file asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

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


def _mcp_refusal(probe: ProbeRequest) -> str | None:
    """Why a JSON-RPC POST is refused, or None for an allowed MCP listing call."""
    body = probe.json_body or {}
    method = body.get("method")
    if method not in MCP_LISTING_METHODS:
        return f"JSON-RPC method {method!r} is not an MCP listing call"
    if probe.for_product != "mcp":
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


def _is_write_path(path: str) -> bool:
    bare = path.split("?", 1)[0].rstrip("/").lower()  # some servers route case-insensitively
    return any(bare == w or bare.endswith(w) for w in _WRITE_WORDS)


def is_route_existence_probe(method: str, path: str) -> bool:
    """True for an allow-listed bodiless HEAD to a write route (see ROUTE_EXISTENCE_PROBES)."""
    return (method.upper(), path) in ROUTE_EXISTENCE_PROBES


def check(probe: ProbeRequest) -> None:
    """Raise ReadOnlyViolation unless the probe is known to be read-only."""
    method = probe.method.upper()
    if not probe.path.startswith("/"):
        raise ReadOnlyViolation(f"refused {method} {probe.path!r}: path must start with '/'")
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
        why = _mcp_refusal(probe)
        if why is not None:
            raise ReadOnlyViolation(f"refused POST {probe.path}: {why}")
        return
    if method == "POST":
        validator = READ_ONLY_POSTS.get(probe.path)
        if validator is not None and validator(probe.json_body):
            return
        raise ReadOnlyViolation(
            f"refused POST {probe.path}: not on the read-only POST allowlist "
            f"({', '.join(sorted(READ_ONLY_POSTS))})"
        )
    raise ReadOnlyViolation(f"refused {method} {probe.path}: only GET, HEAD and allow-listed POSTs")
