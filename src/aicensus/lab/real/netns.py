"""Any server for the lab, inside network/PID/mount namespaces of its own, reached through a
forwarder on the host's loopback.

    python -m aicensus.lab.real.netns --host 127.0.0.41 --port 19530 --inner-port 19530 \\
        [--wait-port 9091 --wait-path /healthz] -- COMMAND...

For products that bind every interface and have no setting to stop it (Milvus 2.3's standalone
binary binds its gRPC, REST, metrics and embedded etcd ports on 0.0.0.0), while the lab binds
loopback only. COMMAND runs under `unshare --net --pid --mount-proc --kill-child`, whose only
interface is the namespace's own loopback. This process opens its listening socket on the host
(`--host`:`--port`, the private port behind the lab's recording relay) *before* it joins the
namespace (setns), so the socket stays on the host while every connection it opens reaches the
namespace's loopback. Until `--wait-path` on `--wait-port` answers 200 inside the namespace,
connections are closed (the lab's health poll tries again). When this process ends, the
namespace's init is killed, and the kernel ends every process in it.

ray_netns.py does the same for Ray, whose start needs more care (a lock, a session tmpfs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from aicensus.lab.relay import pipe

UNSHARE = ("unshare", "--net", "--pid", "--mount-proc", "--kill-child")
_PR_SET_PDEATHSIG = 1

CLONE_NEWNET = 0x40000000
INNER_HOST = "127.0.0.1"  # the namespace's own loopback
LOOPBACK_UP = 'ip link set lo up && exec "$@"'


def setns_net(pid: int) -> None:
    """Join `pid`'s network namespace (this thread only: run the forwarder on it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open(f"/proc/{pid}/ns/net", "rb") as ns:
        if libc.setns(ns.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the server's network namespace failed")


def wait_for_namespace(child: subprocess.Popen[bytes]) -> None:
    """unshare(2) happens after exec: wait until the child's netns differs from ours."""
    ours = os.stat("/proc/self/ns/net").st_ino
    for _ in range(200):
        if child.poll() is not None:
            raise SystemExit(f"netns: unshare exited with status {child.returncode}")
        with contextlib.suppress(FileNotFoundError):
            if os.stat(f"/proc/{child.pid}/ns/net").st_ino != ours:
                return
        time.sleep(0.05)
    raise SystemExit("netns: the child never entered a network namespace of its own")


def loopback_listener(host: str, port: int) -> socket.socket:
    """The host-side listening socket; refuses anything but a loopback address."""
    host = host.strip("[]")
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"netns: {host} is not a loopback address; the lab binds loopback only")
    return socket.create_server((host, port), backlog=256)


async def forward(
    listener: socket.socket,
    inner_port: int,
    child: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    label: str = "netns",
) -> None:
    """Relay every connection on `listener` to `inner_port` inside the namespace, byte for
    byte, once `ready()`; before that, close it at once."""

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if not ready():
            client_w.close()
            return
        try:
            up_r, up_w = await asyncio.open_connection(INNER_HOST, inner_port)
        except OSError:  # not up yet: the relay's health poll tries again
            client_w.close()
            return
        await asyncio.gather(pipe(client_r, up_w, None), pipe(up_r, client_w, None))

    server = await asyncio.start_server(handle, sock=listener)
    async with server:
        serving = asyncio.ensure_future(server.serve_forever())
        while child.poll() is None and not serving.done():
            await asyncio.sleep(0.25)
        serving.cancel()
    print(f"{label}: the namespace exited with status {child.returncode}", file=sys.stderr)


async def _answers_ok(port: int, path: str) -> bool:
    """One GET inside the namespace: True on a 200 status line."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(INNER_HOST, port), 2)
    except (TimeoutError, OSError):
        return False
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {INNER_HOST}\r\n\r\n".encode())
        line = await asyncio.wait_for(reader.readline(), 5)
        return line.split(b" ")[1:2] == [b"200"]
    except (TimeoutError, OSError):
        return False
    finally:
        writer.close()


async def _serve(
    args: argparse.Namespace, listener: socket.socket, child: subprocess.Popen[bytes]
) -> None:
    state = {"ready": not args.wait_path}

    async def poll() -> None:
        while not state["ready"] and child.poll() is None:
            state["ready"] = await _answers_ok(args.wait_port or args.inner_port, args.wait_path)
            await asyncio.sleep(0.5)

    waiting = asyncio.ensure_future(poll())
    await forward(listener, args.inner_port, child, lambda: state["ready"])
    waiting.cancel()


def _die_with_us() -> None:
    """In the unshare child before exec: the kernel kills it when this launcher dies by any
    means (SIGKILL included), and --kill-child then takes the whole namespace with it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def start_namespace(argv: list[str], **popen: Any) -> subprocess.Popen[bytes]:
    """`unshare --net --pid --mount-proc --kill-child ARGV...`, tied to this process's life."""
    return subprocess.Popen([*UNSHARE, *argv], preexec_fn=_die_with_us, **popen)


def stop_namespace(child: subprocess.Popen[bytes]) -> None:
    """Kill the namespace (its init gets SIGKILL through --kill-child, and every process in it
    with it). A second SIGTERM (the relay's and the lab's both reach us) must not cut this
    short: unshare ignores SIGTERM, so only this kill ends it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(3)


def run(args: argparse.Namespace, command: list[str]) -> int:
    listener = loopback_listener(args.host, args.port)  # on the host, before setns
    child = start_namespace(["sh", "-c", LOOPBACK_UP, "sh", *command])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        wait_for_namespace(child)
        setns_net(child.pid)
        asyncio.run(_serve(args, listener, child))
    except KeyboardInterrupt:
        pass
    finally:
        stop_namespace(child)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        raise SystemExit("netns: give the server's command after --")
    split = argv.index("--")
    argv, command = argv[:split], argv[split + 1 :]
    if not command:
        raise SystemExit("netns: give the server's command after --")
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="host loopback address to accept on")
    parser.add_argument("--port", type=int, required=True, help="host port to accept on")
    parser.add_argument("--inner-port", type=int, required=True, help="the server's port inside")
    parser.add_argument("--wait-port", type=int, default=0, help="readiness port (default inner)")
    parser.add_argument("--wait-path", default="", help="relay only once this path answers 200")
    return run(parser.parse_args(argv), command)


if __name__ == "__main__":
    sys.exit(main())
