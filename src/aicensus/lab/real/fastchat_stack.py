"""FastChat's OpenAI-compatible API server for the lab, with the controller it asks for models.

    python -m aicensus.lab.real.fastchat_stack --host 127.0.0.30 --port 18000 [--api-keys KEY]

`fastchat.serve.openai_api_server` lists models by asking its controller; without one an open
server answers /v1/models with an error. So the controller (no workers: an empty model list)
runs as a child on a free port of the same loopback address, and this process then becomes the
API server (exec), so the lab's process-group stop ends both.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import subprocess
import sys


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-keys", default=None)
    args = parser.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        print(f"fastchat_stack: {args.host} is not a loopback address", file=sys.stderr)
        return 2
    ctl_port = _free_port(args.host)
    ctl = [sys.executable, "-m", "fastchat.serve.controller", "--host", args.host]
    subprocess.Popen([*ctl, "--port", str(ctl_port)])  # the controller: same address
    api = [sys.executable, "-m", "fastchat.serve.openai_api_server", "--host", args.host]
    api += ["--port", str(args.port), "--controller-address", f"http://{args.host}:{ctl_port}"]
    if args.api_keys:
        api += ["--api-keys", args.api_keys]
    os.execv(sys.executable, api)  # becomes the API server; never returns
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
