"""A hostile 'MCP server' (scripted, on 127.0.0.1): malformed listings cost only themselves."""

from __future__ import annotations

import json

from aiohttp import web

from aicensus import api
from aicensus.records import ScanStatus, ServiceObservation
from tests.support.loopback import app_server

_NOT_ACCEPTABLE = {"jsonrpc": "2.0", "id": "server-error",
                   "error": {"code": -32600,
                             "message": "Not Acceptable: Client must accept text/event-stream"}}  # fmt: skip


def _app(seen: list[str]) -> web.Application:
    async def get_mcp(_req: web.Request) -> web.Response:
        return web.json_response(_NOT_ACCEPTABLE, status=406)

    async def post_mcp(req: web.Request) -> web.Response:
        body = await req.json()
        method, rid = body.get("method"), body.get("id")
        seen.append(method)
        results: dict[str, object] = {
            "initialize": {"serverInfo": ["not", "a", "dict"], "protocolVersion": 7},
            "tools/list": {
                "tools": [{"name": 5}, "junk", {"name": "exec_cmd"}]
                + [{"name": f"t{i}", "inputSchema": {"properties": "x"}} for i in range(2000)]
            },
            "resources/list": {"resources": "not a list"},
        }
        if method == "notifications/initialized":
            return web.Response(status=202)
        if method not in results:  # prompts/list: a JSON-RPC error
            err = {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "nope"}}
            return web.json_response(err)
        msg = {"jsonrpc": "2.0", "id": rid, "result": results[method]}
        text = f"event: message\ndata: {json.dumps(msg)}\n\n"
        return web.Response(text=text, content_type="text/event-stream")

    app = web.Application()
    app.router.add_get("/mcp", get_mcp)
    app.router.add_post("/mcp", post_mcp)
    return app


def test_malformed_listings_keep_the_identification_and_what_was_readable() -> None:
    seen: list[str] = []
    found: list[ServiceObservation] = []
    with app_server(_app(seen)) as port:
        api.scan(api.plan_targets(["127.0.0.1"], ports=str(port)), on_observation=found.append)
    (obs,) = found
    assert obs.status is ScanStatus.IDENTIFIED and obs.product == "mcp", obs.error
    inv = obs.mcp
    assert inv is not None and inv.server_name is None and inv.protocol_version is None
    assert len(inv.tools) == 498  # the first MAX_ITEMS (500) entries, less the two malformed
    assert inv.tools[0].name == "exec_cmd" and inv.tools[0].risks == ["exec"]
    assert inv.resources == [] and inv.prompts == []
    assert inv.errors == ["prompts/list: nope"]
    assert set(seen) <= {"initialize", "notifications/initialized", "tools/list",
                         "resources/list", "prompts/list"}  # fmt: skip


def _paging_app(seen: list[dict[str, object]]) -> web.Application:
    """tools/list in pages (nextCursor); the last page's cursor loops forever."""

    async def get_mcp(_req: web.Request) -> web.Response:
        return web.json_response(_NOT_ACCEPTABLE, status=406)

    async def post_mcp(req: web.Request) -> web.Response:
        body = await req.json()
        seen.append(body)
        method, rid = body.get("method"), body.get("id")
        cursor = (body.get("params") or {}).get("cursor")
        if method == "notifications/initialized":
            return web.Response(status=202)
        result: dict[str, object] = {"serverInfo": {"name": "pager", "version": "1"}}
        if method == "tools/list":
            page = int(cursor or 0)
            result = {"tools": [{"name": f"tool{page}"}], "nextCursor": str(page + 1)}
        elif method in ("resources/list", "prompts/list"):
            result = {method.split("/")[0]: []}
        return web.json_response({"jsonrpc": "2.0", "id": rid, "result": result})

    app = web.Application()
    app.router.add_get("/mcp", get_mcp)
    app.router.add_post("/mcp", post_mcp)
    return app


def test_listings_are_followed_page_by_page_and_a_cursor_loop_ends() -> None:
    seen: list[dict[str, object]] = []
    found: list[ServiceObservation] = []
    with app_server(_paging_app(seen)) as port:
        api.scan(api.plan_targets(["127.0.0.1"], ports=str(port)), on_observation=found.append)
    (obs,) = found
    assert obs.mcp is not None and obs.mcp.server_name == "pager"
    assert [t.name for t in obs.mcp.tools] == [f"tool{i}" for i in range(10)]  # MAX_PAGES
    pages = [b for b in seen if b["method"] == "tools/list"]
    assert len(pages) == 10 and len({b["id"] for b in pages}) == 10
