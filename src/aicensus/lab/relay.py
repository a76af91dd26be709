"""A byte-for-byte TCP relay that writes a request log for a server that keeps none.

llama-server does not log the requests it receives, so the lab puts this relay on the
public port and the real server behind it on a private one. Responses pass through
untouched (headers, bodies, timing), so fingerprints see the real server; the relay only
reads the client's request heads to record method, path and body.

    python -m aicensus.lab.relay --host 127.0.0.1 --port 8080 --upstream-port 18080 \\
        --log FILE [-- SERVER ARGV...]

With a server command after `--`, the relay starts it as its child, and stops it on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import signal
import subprocess
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


async def pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, recorder: RequestRecorder | None
) -> None:
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


async def serve(
    listen: tuple[str, int],
    upstream: tuple[str, int],
    log: IO[str],
    child: subprocess.Popen[bytes] | None = None,
) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        peer = str(client_w.get_extra_info("peername"))
        try:
            up_r, up_w = await asyncio.open_connection(*upstream)
        except OSError:
            client_w.close()
            return
        recorder = RequestRecorder(log, peer)
        await asyncio.gather(pipe(client_r, up_w, recorder), pipe(up_r, client_w, None))

    server = await asyncio.start_server(handle, listen[0], listen[1], backlog=1024)
    async with server:
        if child is None:
            await server.serve_forever()
            return
        # The relay lives only as long as the server behind it: when the server exits
        # (a failed start included), so does the relay, and a supervisor sees it at once.
        serving = asyncio.ensure_future(server.serve_forever())
        while child.poll() is None and not serving.done():
            await asyncio.sleep(0.25)
        serving.cancel()
        print(f"relay: the server exited with status {child.returncode}", file=sys.stderr)


def _loopback(host: str) -> str:
    if not ipaddress.ip_address(host.strip("[]")).is_loopback:
        raise SystemExit(f"relay: {host} is not a loopback address; the lab binds loopback only")
    return host.strip("[]")


def _run(
    listen: tuple[str, int], upstream: tuple[str, int], log_path: str, command: list[str]
) -> None:
    child = subprocess.Popen(command) if command else None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        with open(log_path, "a", encoding="utf-8") as log:
            asyncio.run(serve(listen, upstream, log, child))
    except KeyboardInterrupt:
        pass
    finally:
        if child is not None:
            child.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(10)
            if child.poll() is None:
                child.kill()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    command: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, command = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to accept on")
    parser.add_argument("--port", type=int, required=True, help="port to accept on")
    parser.add_argument(
        "--upstream-port",
        type=int,
        required=True,
        help="port of the real server on the same loopback address",
    )
    parser.add_argument("--log", required=True, help="JSON Lines request log to append to")
    args = parser.parse_args(argv)
    host = _loopback(args.host)
    _run((host, args.port), (host, args.upstream_port), args.log, command)


if __name__ == "__main__":
    main()
