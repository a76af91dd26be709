"""An MCP server from the official `mcp` SDK for the lab (MCPServer, formerly FastMCP).

    python -m aicensus.lab.real.mcp_server --host 127.0.0.22 --port 18000 \\
        --transport streamable-http|sse [--token TOKEN]

One harmless tool (`echo`) and one resource. `--token` turns on the SDK's bearer-token
resource-server mode (AuthSettings + a TokenVerifier that accepts exactly TOKEN): requests
without it get 401 with `WWW-Authenticate: Bearer ... resource_metadata=...`.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import sys


def build(token: str | None, resource_url: str):  # type: ignore[no-untyped-def]
    from mcp.server.auth.provider import AccessToken
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.mcpserver import MCPServer

    class LabTokenVerifier:
        async def verify_token(self, presented: str) -> AccessToken | None:
            if token is not None and hmac.compare_digest(presented, token):
                return AccessToken(token=presented, client_id="aicensus-lab", scopes=["lab"])
            return None

    kwargs: dict[str, object] = {}
    if token is not None:
        kwargs["token_verifier"] = LabTokenVerifier()
        kwargs["auth"] = AuthSettings(
            issuer_url="http://127.0.0.1:9/",  # never contacted: tokens are verified locally
            resource_server_url=resource_url,
            required_scopes=["lab"],
        )
    server = MCPServer("aicensus-lab", version="1.0.0", **kwargs)

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.resource("lab://readme")
    def readme() -> str:
        return "aicensus lab MCP server"

    return server


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--public-port", type=int, default=None, help="the relay's port (for URLs)")
    p.add_argument("--transport", choices=["streamable-http", "sse"], default="streamable-http")
    p.add_argument("--token", default=None)
    args = p.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        print(f"mcp_server: refusing {args.host}: loopback only", file=sys.stderr)
        return 2
    import uvicorn

    public = args.public_port or args.port
    path = "/mcp" if args.transport == "streamable-http" else "/sse"
    server = build(args.token, f"http://{args.host}:{public}{path}")
    if args.transport == "streamable-http":
        app = server.streamable_http_app(host=args.host)
    else:
        app = server.sse_app(host=args.host)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
