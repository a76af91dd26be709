"""A byte-for-byte TCP relay that writes a request log for a server that keeps none.

llama-server does not log the requests it receives, so the lab puts this relay on the
public port and the real server behind it on a private one. Responses pass through
untouched (headers, bodies, timing), so fingerprints see the real server; the relay only
reads the client's request heads to record method, path and body.

    python -m aicensus.lab.relay --listen 127.0.0.1:8080 --upstream 127.0.0.1:18080 --log FILE
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import sys
import time
from typing import IO

MAX_HEAD = 64 * 1024


class RequestRecorder:
    """Parses the client→server byte stream into request records (keep-alive aware)."""

    def __init__(self, log: IO[str], peer: str) -> None:
        self.log = log
        self.peer = peer
        self.buffer = b""
        self.body_left = 0
        self.current: dict[str, object] | None = None
        self.body = b""

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            if self.body_left:
                take = self.buffer[: self.body_left]
                self.body += take[: 4096 - len(self.body)]
                self.body_left -= len(take)
                self.buffer = self.buffer[len(take) :]
                if not self.body_left:
                    self._emit()
                continue
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self._write({"error": "oversized request head", "peer": self.peer})
                    self.buffer = b""
                return
            self._start(self.buffer[:end].decode("latin-1"))
            self.buffer = self.buffer[end + 4 :]
            if not self.body_left:
                self._emit()

    def _start(self, head: str) -> None:
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        self.current = {
            "ts": time.time(),
            "peer": self.peer,
            "method": parts[0] if parts else "",
            "path": parts[1] if len(parts) > 1 else "",
            "user_agent": headers.get("user-agent"),
        }
        self.body = b""
        try:
            self.body_left = max(0, int(headers.get("content-length", "0")))
        except ValueError:
            self.body_left = 0

    def _emit(self) -> None:
        if self.current is not None:
            self.current["body"] = self.body.decode("utf-8", errors="replace")
            self._write(self.current)
        self.current = None

    def _write(self, record: dict[str, object]) -> None:
        self.log.write(json.dumps(record) + "\n")
        self.log.flush()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                recorder: RequestRecorder | None) -> None:
    try:
        while data := await reader.read(65536):
            if recorder is not None:
                recorder.feed(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def serve(listen: tuple[str, int], upstream: tuple[str, int], log: IO[str]) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        peer = str(client_w.get_extra_info("peername"))
        try:
            up_r, up_w = await asyncio.open_connection(*upstream)
        except OSError:
            client_w.close()
            return
        recorder = RequestRecorder(log, peer)
        await asyncio.gather(_pipe(client_r, up_w, recorder), _pipe(up_r, client_w, None))

    server = await asyncio.start_server(handle, listen[0], listen[1], backlog=1024)
    async with server:
        await server.serve_forever()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not ipaddress.ip_address(host.strip("[]")).is_loopback:
        raise SystemExit(f"relay: {host} is not a loopback address; the lab binds loopback only")
    return host.strip("[]"), int(port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="loopback host:port to accept on")
    parser.add_argument("--upstream", required=True, help="loopback host:port of the real server")
    parser.add_argument("--log", required=True, help="JSON Lines request log to append to")
    args = parser.parse_args(argv)
    listen, upstream = _address(args.listen), _address(args.upstream)
    with open(args.log, "a", encoding="utf-8") as log:
        try:
            asyncio.run(serve(listen, upstream, log))
        except KeyboardInterrupt:
            sys.exit(0)


if __name__ == "__main__":
    main()
