"""A scripted HTTP server on 127.0.0.1 for tests: answers from a path → response table."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aiohttp import web


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ScriptedServer:
    """Serves `responses[path]`; unknown paths get 404, a wrong method gets 405.

    A response is {status, headers, body, method}. Every request is logged.
    """

    def __init__(self) -> None:
        self.responses: Mapping[str, Mapping[str, Any]] = {}
        self.log: list[tuple[str, str, bytes]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.log.append((request.method, request.path_qs, body))
        spec = self.responses.get(request.path)
        if spec is None:
            return web.Response(status=404, text="not found")
        if request.method not in (spec.get("method", "GET"), "HEAD"):
            return web.Response(status=405, text="method not allowed")
        headers = dict(spec.get("headers") or {})
        return web.Response(
            status=int(spec.get("status", 200)),
            headers=headers,
            body=str(spec.get("body", "")).encode(),
        )


@contextmanager
def serve(server: ScriptedServer, host: str = "127.0.0.1") -> Iterator[int]:
    """Run the server in a background thread; yields its port."""
    port = free_port()
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, host, port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield port
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@contextmanager
def app_server(app: web.Application, ssl_ctx: ssl.SSLContext | None = None) -> Iterator[int]:
    """Run `app` on 127.0.0.1 (TLS with `ssl_ctx`) in a background thread; yields its port."""
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_ctx).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield port
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
