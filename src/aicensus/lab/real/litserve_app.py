"""A LitServe server for the lab: one echo LitAPI, no model.

    python -m aicensus.lab.real.litserve_app --port 8000

LitServer.run accepts only 0.0.0.0, 127.0.0.1 or :: as host, so the lab runs this inside a
network namespace of its own (lab/real/netns.py) on that namespace's 127.0.0.1. With
LIT_SERVER_API_KEY in the environment every route needs the X-API-Key header.
"""

from __future__ import annotations

import argparse

import litserve as ls
import litserve.server


class Echo(ls.LitAPI):  # type: ignore[misc]
    def setup(self, device: str) -> None:
        pass

    def predict(self, x: object) -> object:
        return x


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    # LitServe 0.2.19 mounts its MCP endpoint when the `mcp` package is installed (the lab's
    # is) but imports it only when `fastmcp` is, and then fails with a NameError: no MCP here.
    litserve.server._MCP_AVAILABLE = False
    server = ls.LitServer(Echo(), accelerator="cpu", workers_per_device=1)
    server.run(host="127.0.0.1", port=args.port, generate_client_file=False)


if __name__ == "__main__":
    main()
