"""A real MCP server (the official `mcp` SDK's MCPServer) for the MCP enumeration tests.

    python tests/support/mcp_server.py --port P --transport streamable-http|sse \
        [--path /mcp|/] [--token T] --log FILE

Tools that look dangerous but do nothing (each raises if ever called) plus a benign `add`,
a resource and a prompt. A recording ASGI middleware writes every request it sees to --log
(one JSON line: HTTP method, path, JSON-RPC method), so a test can assert what the scanner
sent; the middleware stands in front of the SDK's own app.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def build(token: str | None, resource_url: str) -> Any:
    from mcp.server.auth.provider import AccessToken
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations

    class Verifier:
        async def verify_token(self, presented: str) -> AccessToken | None:
            ok = token is not None and presented == token
            return AccessToken(token=presented, client_id="t", scopes=["mcp"]) if ok else None

    kwargs: dict[str, Any] = {}
    if token is not None:
        kwargs["token_verifier"] = Verifier()
        kwargs["auth"] = AuthSettings(
            issuer_url="http://127.0.0.1:9/", resource_server_url=resource_url,
            required_scopes=["mcp"],
        )  # fmt: skip
    server = MCPServer("census-test-mcp", version="3.1.4", **kwargs)

    def never(name: str) -> None:
        raise RuntimeError(f"{name} must never be called by a scanner")

    @server.tool(annotations=ToolAnnotations(destructiveHint=True, openWorldHint=True))
    def run_shell(command: str) -> str:
        """Run a shell command on the host and return its output."""
        never("run_shell")
        return ""

    @server.tool()
    def write_file(path: str, content: str) -> str:
        """Write content to a file."""
        never("write_file")
        return ""

    @server.tool()
    def fetch_url(url: str) -> str:
        """Fetch a web page."""
        never("fetch_url")
        return ""

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @server.resource("notes://readme", name="readme", mime_type="text/plain")
    def readme() -> str:
        never("readme")
        return ""

    @server.prompt()
    def summarize(topic: str) -> str:
        """Summarize a topic."""
        never("summarize")
        return ""

    return server


def recording(app: Any, log_path: str) -> Any:
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        chunks: list[bytes] = []
        more = True
        while more:  # read the whole body, then replay it to the app
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            rpc = json.loads(body).get("method") if body else None
        except (ValueError, AttributeError):
            rpc = "<unparsed>"
        with open(log_path, "a") as log:
            log.write(
                json.dumps({"http": scope["method"], "path": scope["path"], "rpc": rpc}) + "\n"
            )
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await app(scope, replay, send)

    return wrapped


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--transport", choices=["streamable-http", "sse"], default="streamable-http")
    p.add_argument("--path", default="/mcp")
    p.add_argument("--token", default=None)
    p.add_argument("--log", required=True)
    args = p.parse_args()
    import uvicorn

    host = "127.0.0.1"  # loopback only
    server = build(args.token, f"http://{host}:{args.port}{args.path}")
    if args.transport == "streamable-http":
        app = server.streamable_http_app(host=host, streamable_http_path=args.path)
    else:
        app = server.sse_app(host=host)
    uvicorn.run(recording(app, args.log), host=host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
