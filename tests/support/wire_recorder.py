"""A loopback HTTP server that records every raw request target it receives, and answers with
redirects a test sets (tests/hostile/test_wire.py, tests/fuzz/test_wire_property.py)."""

from __future__ import annotations

import asyncio
import threading

from aicensus.engine import readonly
from tests.support import hostile_servers as servers


class Recorder:
    """A loopback server that records each raw request target and answers from `answer`."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.received: list[tuple[str, str]] = []
        self.connections = 0
        self.redirects: dict[str, str] = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0

    def answer(self, req: servers.Request) -> bytes:
        self.received.append((req.method, req.path))
        location = self.redirects.get(req.path)
        if location is not None:
            return servers.full_response(b"moved", 302, "text/plain", [("Location", location)])
        if req.path == "/":
            return servers.full_response(b"Ollama is running", 200, "text/plain")
        return servers.full_response(b'{"detail":"Not Found"}', 404)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while True:  # keep-alive: the client may send several requests on one connection
            req = await servers.read_request(reader)
            if req is None:
                writer.close()
                return
            data = self.answer(req)
            data = data.replace(b"Connection: close\r\n", b"")
            if req.method == "HEAD":
                data = data[: data.index(b"\r\n\r\n") + 4]
            writer.write(data)
            await writer.drain()

    def __enter__(self) -> Recorder:
        self.thread.start()
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, self.address, 0), self.loop
        ).result(10)
        self.server = server
        self.port = int(server.sockets[0].getsockname()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def writes(self) -> list[tuple[str, str]]:
        """Requests a server may route to a write route (allow-listed HEAD probes aside)."""
        return [
            (m, p)
            for m, p in self.received
            if readonly.is_write_route(p) and not readonly.is_route_existence_probe(m, p)
        ]
