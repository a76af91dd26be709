"""MCP servers: the protocol's own listing calls, over Streamable HTTP (at /mcp or /).

The conversation is the one every MCP client opens with (spec, basic/lifecycle and
basic/transports): POST `initialize` (the result names the server: serverInfo.name/version),
POST `notifications/initialized`, then `tools/list`, `resources/list`, `prompts/list`, each
with the `Mcp-Session-Id` the server handed out and the negotiated `MCP-Protocol-Version`.
Nothing else is ever sent (engine/readonly.py refuses any other JSON-RPC method). A POST is
answered either with JSON or with a short text/event-stream holding the JSON-RPC response.

Each tool is judged from its listing only (name, description, inputSchema property names)
by the rules in mcp_risks.yaml.
"""

from __future__ import annotations

import functools
import importlib.resources
import itertools
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping

import msgspec
import yaml

from aicensus.enumerate.base import Dialect, Exchanges, as_str
from aicensus.records import (
    AuthState,
    Evidence,
    Exchange,
    McpInventory,
    McpPrompt,
    McpResource,
    McpTool,
    ModelRecord,
    ProbeRequest,
    ServiceObservation,
)

PROTOCOL_VERSION = "2025-06-18"  # asked for; the server answers with the one it speaks
ENDPOINTS = ("/mcp", "/")  # Streamable HTTP paths tried, in order
LISTINGS = ("tools", "resources", "prompts")
MAX_ITEMS = 500  # a hostile server may list millions
_ACCEPT = ("Accept", "application/json, text/event-stream")  # both, or the SDKs answer 406
_JSON = ("Content-Type", "application/json")  # the engine sends none by default
_CLIENT = {"name": "aicensus", "version": "1"}

Send = Callable[[ProbeRequest], Awaitable[Exchange]]


def rpc(method: str, path: str, rid: int | None, params: dict[str, object] | None = None,
        headers: Iterable[tuple[str, str]] = ()) -> ProbeRequest:  # fmt: skip
    body: dict[str, object] = {"jsonrpc": "2.0", "method": method}
    if rid is not None:
        body["id"] = rid
    if params:
        body["params"] = params
    # The pipeline stamps for_product (the product it settled on) before sending.
    return ProbeRequest(
        method="POST", path=path, json_body=body, headers=(_ACCEPT, _JSON, *headers)
    )


def initialize(path: str) -> ProbeRequest:
    params = {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": _CLIENT}
    return rpc("initialize", path, 1, params)


def session_headers(init: Exchange, version: str | None) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    session = init.header("mcp-session-id")
    if session:
        headers.append(("Mcp-Session-Id", session[:256]))
    if version:
        headers.append(("MCP-Protocol-Version", version[:64]))
    return tuple(headers)


def listing_requests(path: str, headers: tuple[tuple[str, str], ...]) -> list[ProbeRequest]:
    return [rpc(f"{kind}/list", path, 2 + i, None, headers) for i, kind in enumerate(LISTINGS)]


def rpc_message(exchange: Exchange | None) -> dict[str, object] | None:
    """The JSON-RPC response in a POST's answer: a JSON body or an event stream's data."""
    if exchange is None or exchange.status is None or not 200 <= exchange.status < 300:
        return None
    doc = exchange.json()
    if isinstance(doc, dict):
        return doc
    for data in _sse_data(exchange.text()):
        try:
            msg = msgspec.json.decode(data)
        except (msgspec.DecodeError, RecursionError, ValueError):
            continue
        if isinstance(msg, dict) and ("result" in msg or "error" in msg):
            return msg
    return None


def _sse_data(text: str) -> list[str]:
    """Each event's data (its data: lines joined), in order."""
    events, lines = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("data:"):
            lines.append(line[5:].removeprefix(" "))
        elif not line and lines:
            events.append("\n".join(lines))
            lines = []
    return events


def _result(exchange: Exchange | None) -> dict[str, object] | None:
    msg = rpc_message(exchange)
    result = msg.get("result") if msg else None
    return result if isinstance(result, dict) else None


# ---------------------------------------------------------------- the conversation (I/O)


async def open_session(send: Send) -> None:
    """Open a session at the first endpoint that accepts `initialize`, then list.

    What comes back stays in the engine's cache; `inventory` reads it from there (pure)."""
    for path in ENDPOINTS:
        init = await send(initialize(path))
        if init.status == 401:
            await _metadata(send, init)
            return
        result = _result(init)
        if result is None:
            continue
        headers = session_headers(init, as_str(result.get("protocolVersion"), 64))
        note = rpc("notifications/initialized", path, None, None, headers)
        await send(note)
        for probe in listing_requests(path, headers):
            await send(probe)
        return


async def _metadata(send: Send, challenge: Exchange) -> None:
    """RFC 9728 metadata named by the 401's resource_metadata, asked of this same server."""
    path = _same_server_path(resource_metadata(challenge))
    if path:
        await send(ProbeRequest(method="GET", path=path))


def resource_metadata(exchange: Exchange) -> str | None:
    found = re.search(r'resource_metadata="?([^",\s]+)', exchange.header("WWW-Authenticate") or "")
    return found.group(1)[:512] if found else None


def _same_server_path(url: str | None) -> str | None:
    """The URL's path (never another host: only this target is ever asked)."""
    found = re.match(r"(?i)^https?://[^/]+(/[^\s?#]*)", url or "")
    return found.group(1) if found else None


# ---------------------------------------------------------------- reading it back (pure)


def inventory(cache: Iterable[Exchange]) -> McpInventory | None:
    """The server's self-description from the listing calls' exchanges, if any were made."""
    by_call = _by_call(cache)
    for path in ENDPOINTS:
        init = by_call.get((path, "initialize"))
        if init is None:
            continue
        if init.status == 401:
            return _protected(path, init, by_call)
        result = _result(init)
        if result is not None:
            return _listed(path, result, by_call)
    return None


def _by_call(cache: Iterable[Exchange]) -> dict[tuple[str, str], Exchange]:
    calls: dict[tuple[str, str], Exchange] = {}
    for ex in cache:
        if ex.method == "GET":
            calls[(ex.path, "GET")] = ex
        if ex.method != "POST" or not ex.request_body:
            continue
        try:
            body = msgspec.json.decode(ex.request_body)
        except (msgspec.DecodeError, ValueError):
            continue
        if isinstance(body, dict) and isinstance(body.get("method"), str):
            calls.setdefault((ex.path, body["method"]), ex)
    return calls


def _protected(
    path: str, init: Exchange, calls: Mapping[tuple[str, str], Exchange]
) -> McpInventory:
    inv = McpInventory(endpoint=path, transport="streamable-http", auth_required=True)
    inv.resource_metadata = resource_metadata(init)
    meta_path = _same_server_path(inv.resource_metadata)
    meta = calls.get((meta_path, "GET")) if meta_path else None
    doc = meta.json() if meta is not None and meta.status == 200 else None
    if isinstance(doc, dict):
        inv.authorization_servers = _strings(doc.get("authorization_servers"))
        inv.scopes = _strings(doc.get("scopes_supported"))
    return inv


def _listed(
    path: str, init: dict[str, object], calls: Mapping[tuple[str, str], Exchange]
) -> McpInventory:
    info = init.get("serverInfo")
    info = info if isinstance(info, dict) else {}
    inv = McpInventory(
        endpoint=path,
        transport="streamable-http",
        server_name=as_str(info.get("name"), 200),
        server_version=as_str(info.get("version"), 100),
        protocol_version=as_str(init.get("protocolVersion"), 64),
    )
    for kind in LISTINGS:
        ex = calls.get((path, f"{kind}/list"))
        result = _result(ex)
        if result is None:
            if ex is not None:
                inv.errors.append(f"{kind}/list: {_failure(ex)}")
            continue
        items = result.get(kind)
        entries = (
            [e for e in items[:MAX_ITEMS] if isinstance(e, dict)] if isinstance(items, list) else []
        )
        if kind == "tools":
            inv.tools = [t for t in map(tool_from_entry, entries) if t is not None]
        elif kind == "resources":
            inv.resources = [r for r in map(_resource, entries) if r is not None]
        else:
            inv.prompts = [p for p in map(_prompt, entries) if p is not None]
    return inv


def _failure(ex: Exchange) -> str:
    msg = rpc_message(ex) or {}
    error = msg.get("error")
    if isinstance(error, dict):
        return str(error.get("message", "error"))[:100]
    return ex.error or f"status {ex.status}"


def _strings(value: object) -> list[str]:
    return [v[:256] for v in value[:32] if isinstance(v, str)] if isinstance(value, list) else []


def tool_from_entry(entry: dict[str, object]) -> McpTool | None:
    name = as_str(entry.get("name"), 200)
    if name is None:
        return None
    schema = entry.get("inputSchema")
    props = schema.get("properties") if isinstance(schema, dict) else None
    params = [k[:100] for k in list(props)[:100]] if isinstance(props, dict) else []
    description = as_str(entry.get("description"), 4000)
    tool = McpTool(name=name, description=description[:200] if description else None,
                   parameters=params)  # fmt: skip
    tool.risks, tool.why = classify(name, description or "", params)
    return tool


def _resource(entry: dict[str, object]) -> McpResource | None:
    uri = as_str(entry.get("uri"), 1000)
    if uri is None:
        return None
    return McpResource(uri=uri, name=as_str(entry.get("name"), 200),
                       mime_type=as_str(entry.get("mimeType"), 100))  # fmt: skip


def _prompt(entry: dict[str, object]) -> McpPrompt | None:
    name = as_str(entry.get("name"), 200)
    if name is None:
        return None
    args = entry.get("arguments")
    names = (
        [as_str(a.get("name"), 100) for a in args[:50] if isinstance(a, dict)]
        if isinstance(args, list)
        else []
    )
    description = as_str(entry.get("description"), 200)
    return McpPrompt(name=name, description=description, arguments=[n for n in names if n])


# ---------------------------------------------------------------- the risk rules (data)


class RiskRule(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    risk: str
    why: str
    name_words: list[str] = []
    parameters: list[str] = []
    phrases: list[str] = []


class RiskRules(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    rules: list[RiskRule]


@functools.cache
def risk_rules() -> tuple[RiskRule, ...]:
    text = (importlib.resources.files(__package__) / "mcp_risks.yaml").read_text()
    return tuple(msgspec.convert(yaml.safe_load(text), RiskRules).rules)


def name_words(name: str) -> set[str]:
    """'runShellCommand' / 'run_shell-command' → {run, shell, command, run_shell, ...}."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    words = [w for w in re.split(r"[_\-./\s:]+", spaced) if w]
    pairs = {f"{a}_{b}" for a, b in itertools.pairwise(words)}
    return set(words) | pairs | {"".join(words), "_".join(words)}


def classify(name: str, description: str, parameters: list[str]) -> tuple[list[str], list[str]]:
    """The risks a tool's listing shows, and the rule behind each (first rule per risk)."""
    words = name_words(name)
    params = {p.lower() for p in parameters}
    text = description.lower()
    risks: dict[str, str] = {}
    for rule in risk_rules():
        if rule.risk in risks or not (rule.name_words or rule.parameters or rule.phrases):
            continue
        if rule.name_words and not words & set(rule.name_words):
            continue
        if rule.parameters and not params & set(rule.parameters):
            continue
        if rule.phrases and not any(p in text for p in rule.phrases):
            continue
        risks[rule.risk] = rule.why
    return list(risks), list(risks.values())


class McpDialect(Dialect):
    """Signatures name it as `models: {dialect: mcp}`: an MCP server lists no models; its
    inventory comes from `converse` (sent once identified) and `inventory` (read back)."""

    name = "mcp"

    def parse(self, exchanges: Exchanges) -> list[ModelRecord]:
        return []

    async def converse(self, send: Send) -> None:
        await open_session(send)

    def annotate(self, obs: ServiceObservation, cache: Iterable[Exchange]) -> None:
        inv = inventory(cache)
        if inv is None:
            return
        obs.mcp = inv
        if inv.server_version and not obs.version:
            obs.version = inv.server_version
        marker = f"POST {inv.endpoint} initialize"
        if inv.auth_required:
            obs.auth = AuthState.AUTH_REQUIRED
            obs.auth_evidence.append(
                Evidence(kind="auth", probe=marker, marker="401 to initialize")
            )
        else:
            obs.auth = AuthState.OPEN
            obs.auth_evidence.append(
                Evidence(
                    kind="auth", probe=marker, marker="initialize answered without credentials"
                )
            )
