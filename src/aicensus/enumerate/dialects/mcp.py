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

from aicensus.enumerate.base import Dialect, Exchanges, Lines, Streamer, as_str
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
MAX_PAGES = 10  # pages of one listing followed (nextCursor)
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
    params: dict[str, object] = {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": _CLIENT,
    }
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
    """The first page of each listing."""
    return [page_request(path, kind, None, 0, headers) for kind in LISTINGS]


def page_request(
    path: str, kind: str, cursor: str | None, page: int, headers: tuple[tuple[str, str], ...]
) -> ProbeRequest:
    rid = 100 * (LISTINGS.index(kind) + 1) + page  # unique in the session
    return rpc(f"{kind}/list", path, rid, {"cursor": cursor} if cursor else None, headers)


def next_cursor(result: dict[str, object] | None) -> str | None:
    cursor = result.get("nextCursor") if result else None
    return cursor[:1024] if isinstance(cursor, str) and cursor else None


def rpc_message(exchange: Exchange | None) -> dict[str, object] | None:
    """The JSON-RPC response in a POST's answer: a JSON body or an event stream's data."""
    if exchange is None or exchange.status is None or not 200 <= exchange.status < 300:
        return None
    doc = exchange.json()
    if isinstance(doc, dict):
        return doc
    for _name, data in _sse_events(exchange.text()):
        try:
            msg = msgspec.json.decode(data)
        except (msgspec.DecodeError, RecursionError, ValueError):
            continue
        if isinstance(msg, dict) and ("result" in msg or "error" in msg):
            return msg
    return None


def _result(exchange: Exchange | None) -> dict[str, object] | None:
    msg = rpc_message(exchange)
    result = msg.get("result") if msg else None
    return result if isinstance(result, dict) else None


# ---------------------------------------------------------------- the conversation (I/O)


async def open_session(send: Send) -> bool:
    """Open a session at the first endpoint that accepts `initialize`, then list; False when
    no Streamable HTTP endpoint answered it.

    What comes back stays in the engine's cache; `inventory` reads it from there (pure)."""
    for path in ENDPOINTS:
        init = await send(initialize(path))
        if init.status == 401:
            await _metadata(send, init)
            return True
        result = _result(init)
        if result is None:
            continue
        headers = session_headers(init, as_str(result.get("protocolVersion"), 64))
        note = rpc("notifications/initialized", path, None, None, headers)
        await send(note)
        for kind in LISTINGS:
            cursor: str | None = None
            for page in range(MAX_PAGES):
                ex = await send(page_request(path, kind, cursor, page, headers))
                cursor = next_cursor(_result(ex))
                if cursor is None:
                    break
        return True
    return False


SSE_PATH = "/sse"
SSE_OPEN = ProbeRequest(method="GET", path=SSE_PATH, headers=(("Accept", "text/event-stream"),))
_MAX_EVENTS = 64  # events read while waiting for one answer (others: pings, notifications)


async def sse_session(send: Send, stream: Streamer) -> None:
    """The legacy HTTP+SSE transport: GET /sse names a message endpoint in its first event
    (`endpoint`); each POST there is answered 202, the JSON-RPC answer arrives on the stream."""
    async with stream(SSE_OPEN) as events:
        if events.exchange.status == 401:
            await _metadata(send, events.exchange)
            return
        name, data = await _next_event(events)
        path = _endpoint_path(data) if name == "endpoint" else None
        if path is None:
            return
        await send(initialize(path))
        answer = await _answer(events, 1)
        result = answer.get("result") if answer else None
        if not isinstance(result, dict):
            return
        await send(rpc("notifications/initialized", path, None))
        for kind in LISTINGS:
            cursor: str | None = None
            for page in range(MAX_PAGES):
                probe = page_request(path, kind, cursor, page, ())
                await send(probe)
                answer = await _answer(events, (probe.json_body or {}).get("id"))
                got = answer.get("result") if answer else None
                cursor = next_cursor(got if isinstance(got, dict) else None)
                if cursor is None:
                    break


async def _next_event(events: Lines) -> tuple[str, str]:
    """(event name, data) of the next event; ("", "") at the stream's end."""
    name, data = "message", []
    while (line := await events.line()) is not None:
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            return name, "\n".join(data)
    return "", ""


async def _answer(events: Lines, rid: object) -> dict[str, object] | None:
    for _ in range(_MAX_EVENTS):
        name, data = await _next_event(events)
        if not name:
            return None
        msg = _decode(data)
        if msg is not None and msg.get("id") == rid:
            return msg
    return None


def _decode(data: str) -> dict[str, object] | None:
    try:
        msg = msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return None
    return msg if isinstance(msg, dict) else None


def _endpoint_path(data: str) -> str | None:
    """The endpoint event's URI as a path on this server (relative, or absolute on any host:
    only this target is ever asked)."""
    data = data.strip()
    if data.startswith("/") and not data.startswith("//"):
        return data[:512]
    found = re.match(r"(?i)^https?://[^/]+(/\S*)", data)
    return found.group(1)[:512] if found else None


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
    exchanges = list(cache)
    by_call = _by_call(exchanges)
    for path in ENDPOINTS:
        init = by_call.get((path, "initialize"))
        if init is None:
            continue
        if init.status == 401:
            return _protected(path, "streamable-http", init, by_call)
        result = _result(init)
        if result is not None:
            return _listed(path, "streamable-http", result, _http_answers(path, exchanges))
    return _sse_inventory(exchanges, by_call)


# method → its results (each page's, in order), and why the first failed page failed
Answer = Callable[[str], tuple[list[dict[str, object]], str | None]]


def _http_answers(path: str, exchanges: list[Exchange]) -> Answer:
    def answer(method: str) -> tuple[list[dict[str, object]], str | None]:
        results: list[dict[str, object]] = []
        for ex in _pages(exchanges, path, method):
            result = _result(ex)
            if result is None:
                return results, _failure(ex)
            results.append(result)
        return results, None

    return answer


def _pages(exchanges: list[Exchange], path: str, method: str) -> list[Exchange]:
    """The POSTs of one JSON-RPC method at one path, in the order sent."""
    found = []
    for ex in exchanges:
        if ex.method == "POST" and ex.path == path and ex.request_body:
            body = _decode(ex.request_body)
            if body is not None and body.get("method") == method:
                found.append(ex)
    return found[:MAX_PAGES]


def _sse_inventory(
    exchanges: list[Exchange], calls: Mapping[tuple[str, str], Exchange]
) -> McpInventory | None:
    opened = next((ex for ex in exchanges if ex.method == "GET" and ex.path == SSE_PATH), None)
    if opened is None:
        return None
    if opened.status == 401:
        return _protected(SSE_PATH, "sse", opened, calls)
    events = _sse_events(opened.text())
    path = next((_endpoint_path(d) for n, d in events if n == "endpoint"), None)
    if path is None:
        return None
    answers = {}
    for _name, data in events:
        msg = _decode(data)
        if msg is not None and "id" in msg:
            answers[str(msg["id"])] = msg

    def answer(method: str) -> tuple[list[dict[str, object]], str | None]:
        results: list[dict[str, object]] = []
        for ex in _pages(exchanges, path, method):
            body = _decode(ex.request_body or "") or {}
            msg = answers.get(str(body.get("id")))
            result = msg.get("result") if msg else None
            if not isinstance(result, dict):
                error = msg.get("error") if msg else None
                why = str(error.get("message", "error"))[:100] if isinstance(error, dict) else None
                return results, why or "no answer"
            results.append(result)
        return results, None

    init, _ = answer("initialize")
    return _listed(SSE_PATH, "sse", init[0], answer) if init else None


def _sse_events(text: str) -> list[tuple[str, str]]:
    """(event name, data) of each event in a stream's text."""
    events, name, lines = [], "message", []
    for line in [*text.splitlines(), ""]:
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            lines.append(line[5:].removeprefix(" "))
        elif not line and lines:
            events.append((name, "\n".join(lines)))
            name, lines = "message", []
    return events


def _by_call(cache: Iterable[Exchange]) -> dict[tuple[str, str], Exchange]:
    calls: dict[tuple[str, str], Exchange] = {}
    for ex in cache:
        if ex.method == "GET":
            calls[(ex.path, "GET")] = ex
        if ex.method != "POST" or not ex.request_body:
            continue
        body = _decode(ex.request_body)
        if body is not None and isinstance(body.get("method"), str):
            calls.setdefault((ex.path, str(body["method"])), ex)
    return calls


def _protected(
    path: str, transport: str, challenge: Exchange, calls: Mapping[tuple[str, str], Exchange]
) -> McpInventory:
    inv = McpInventory(endpoint=path, transport=transport, auth_required=True)
    inv.resource_metadata = resource_metadata(challenge)
    meta_path = _same_server_path(inv.resource_metadata)
    meta = calls.get((meta_path, "GET")) if meta_path else None
    doc = meta.json() if meta is not None and meta.status == 200 else None
    if isinstance(doc, dict):
        inv.authorization_servers = _strings(doc.get("authorization_servers"))
        inv.scopes = _strings(doc.get("scopes_supported"))
    return inv


def _listed(path: str, transport: str, init: dict[str, object], answer: Answer) -> McpInventory:
    info = init.get("serverInfo")
    info = info if isinstance(info, dict) else {}
    inv = McpInventory(
        endpoint=path,
        transport=transport,
        server_name=as_str(info.get("name"), 200),
        server_version=as_str(info.get("version"), 100),
        protocol_version=as_str(init.get("protocolVersion"), 64),
    )
    for kind in LISTINGS:
        results, why = answer(f"{kind}/list")
        if why is not None:
            inv.errors.append(f"{kind}/list: {why}")
        entries: list[dict[str, object]] = []
        for result in results:
            items = result.get(kind)
            if isinstance(items, list):
                entries += [e for e in items[: MAX_ITEMS - len(entries)] if isinstance(e, dict)]
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
    notes = entry.get("annotations")
    if isinstance(notes, dict):
        tool.hints = [word for key, word in _HINTS.items() if notes.get(key) is True]
    return tool


_HINTS = {"readOnlyHint": "read-only", "destructiveHint": "destructive",
          "idempotentHint": "idempotent", "openWorldHint": "open-world"}  # fmt: skip


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

    async def converse(self, send: Send, stream: Streamer | None = None) -> None:
        if not await open_session(send) and stream is not None:
            await sse_session(send, stream)

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
