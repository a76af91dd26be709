"""Real Ray for the lab, inside a network namespace of its own, reached through a forwarder.

    python -m aicensus.lab.real.ray_netns --host 127.0.0.40 --port 18265 --inner-port 8265 \\
        [--token TOKEN] [--serve]

`ray start --head` binds gcs_server, raylet and the dashboard agent on every interface, and
the lab binds loopback only. So Ray runs in new network, PID and mount namespaces
(`unshare --net --pid --fork --mount-proc --kill-child`) whose only interface is their own
loopback. This process listens on the host's loopback (`--host`:`--port`, the private port
behind the lab's recording relay) *before* it joins Ray's network namespace (setns), so its
listening socket stays on the host while every connection it opens reaches Ray's loopback.

`--inner-port` picks what is relayed: 8265 the dashboard (with `--token`:
RAY_AUTH_MODE=token), 8000 the Serve proxy (`--serve` deploys one tiny echo application,
no model). When this process ends, the namespace's init is killed and the kernel ends every
Ray process with it: no `ray stop`, which would stop every Ray on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from aicensus.lab.real.netns import (
    INNER_HOST,
    forward,
    loopback_listener,
    setns_net,
    start_namespace,
    stop_namespace,
    wait_for_namespace,
)

READY_FD_ENV = "AICENSUS_RAY_READY_FD"
START_LOCK_NAME = "aicensus-ray-start.lock"
SESSION_PREFIX = "aicensus-ray-session-"
SERVE_APP = """
from ray import serve


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0})
class Echo:
    async def __call__(self, request) -> dict:
        return {"echo": request.url.path}


serve.start(http_options={"host": "127.0.0.1", "port": 8000})
serve.run(Echo.bind(), name="echo_app", route_prefix="/echo", blocking=False)
"""


def _inside(args: argparse.Namespace) -> int:
    """Runs as PID 1 of the new namespaces: loopback up, Ray head, optionally Serve."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    # Ray's session files on a tmpfs of this mount namespace, over a directory of our own: they
    # vanish with it, and no other Ray's /tmp/ray is read or written. Not over all of /tmp: the
    # checkout, and so this Python, may live there.
    session = args.session_dir
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1g", "tmpfs", session], check=True)
    os.chdir(session)
    temp_dir = os.path.join(session, "ray")
    os.environ["RAY_TMPDIR"] = temp_dir  # Ray's helpers read it, not --temp-dir
    ray = os.path.join(os.path.dirname(sys.executable), "ray")
    head = [ray, "start", "--head", "--port", "6379", "--node-ip-address", INNER_HOST,
            "--dashboard-host", INNER_HOST, "--dashboard-port", "8265", "--num-cpus", "1",
            "--temp-dir", temp_dir, "--disable-usage-stats", "--include-dashboard", "true"]  # fmt: skip
    _start_head(ray, head)
    if args.serve:
        deploy = f"import ray; ray.init(address='{INNER_HOST}:6379')\n" + SERVE_APP
        subprocess.run([sys.executable, "-c", deploy], check=True, stdout=sys.stderr)
    _say_ready()
    # PID 1 of the namespace: when it ends, so does every Ray process in it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


def _start_head(ray: str, head: list[str], attempts: int = 3) -> None:
    """`ray start` gives the raylet a fixed 30 s to register, which several heads starting
    at once on two loaded cores can miss: stop what this namespace started and try again.
    `ray stop` sees only this PID namespace's processes (/proc is mounted for it alone)."""
    for attempt in range(1, attempts + 1):
        if subprocess.run(head, stdout=sys.stderr).returncode == 0:
            return
        print(f"ray_netns: ray start failed (attempt {attempt} of {attempts})", file=sys.stderr)
        subprocess.run([ray, "stop", "--force"], stdout=sys.stderr, stderr=sys.stderr)
    raise SystemExit(f"ray_netns: ray start failed {attempts} times")


def _say_ready() -> None:
    """Tell the launcher outside that Ray (and Serve) finished starting: until then it closes
    every connection, as Ray's dashboard answers before `ray start` is sure to succeed."""
    fd = int(os.environ.get(READY_FD_ENV, "-1"))
    if fd >= 0:
        os.write(fd, b"ready\n")
        os.close(fd)


def _watch_ready(fd: int, ready: threading.Event, start_lock: int) -> None:
    """Set `ready` when the namespace says so; free the start lock either way."""
    try:
        with os.fdopen(fd, "rb") as pipe:
            if pipe.readline().strip() == b"ready":
                ready.set()
    finally:
        os.close(start_lock)  # closing the file drops its flock


def _take_start_lock() -> int:
    """One Ray head starts at a time on this machine: three heads (a dozen processes each)
    starting together on two cores miss `ray start`'s fixed 30 s registration deadline."""
    fd = os.open(os.path.join(tempfile.gettempdir(), START_LOCK_NAME), os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _sweep_sessions() -> None:
    """Remove the session directories of launchers that were killed before they could. A live
    launcher's directory looks empty from here too (its tmpfs is inside), so only those whose
    launcher pid is gone go: removing a live one would unmount its Ray's files."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), SESSION_PREFIX + "*-*")):
        pid = os.path.basename(path)[len(SESSION_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(path, ignore_errors=True)


def _outside(args: argparse.Namespace) -> int:
    listener = loopback_listener(args.host, args.port)  # on the host, before setns
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    if args.token:
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=args.token)
    inside = [sys.executable, "-m", "aicensus.lab.real.ray_netns", "--inside"]
    inside += ["--serve"] if args.serve else []
    _sweep_sessions()
    session = tempfile.mkdtemp(prefix=f"{SESSION_PREFIX}{os.getpid()}-")
    inside += ["--session-dir", session]
    start_lock = _take_start_lock()
    ready_r, ready_w = os.pipe()
    env[READY_FD_ENV] = str(ready_w)
    child = start_namespace(inside, env=env, pass_fds=(ready_w,))
    os.close(ready_w)
    ready = threading.Event()
    threading.Thread(target=_watch_ready, args=(ready_r, ready, start_lock), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        wait_for_namespace(child)
        setns_net(child.pid)
        asyncio.run(forward(listener, args.inner_port, child, ready.is_set, "ray_netns"))
    except KeyboardInterrupt:
        pass
    finally:
        stop_namespace(child)  # all of Ray with it
        shutil.rmtree(session, ignore_errors=True)  # empty on the host: the tmpfs was inside
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="host loopback address to accept on")
    parser.add_argument("--port", type=int, default=0, help="host port to accept on")
    parser.add_argument("--inner-port", type=int, default=8265, help="8265 dashboard, 8000 Serve")
    parser.add_argument("--token", default="", help="RAY_AUTH_MODE=token with this token")
    parser.add_argument("--serve", action="store_true", help="deploy a tiny Serve application")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--session-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return _inside(args) if args.inside else _outside(args)


if __name__ == "__main__":
    sys.exit(main())
