"""One data-driven emulator for every product the lab does not run for real.

    python -m aicensus.lab.emulators.generic \\
        --site vllm open 127.0.0.30 8000 --site vllm key 127.0.0.31 8000 \\
        --request-log requests.jsonl --ready-file ready.json

Each `--site PRODUCT VARIANT ADDRESS PORT` binds one loopback address:port and answers
like PRODUCT (a route table in `emulators/products/PRODUCT.yaml`, or in a `--tables`
directory; `tables.py` loads them, `answers.py` answers from them) in its `open` or `key`
(auth-enabled) variant. One process serves every site; answers depend on which address
and port a request arrived at.

A route table holds what the real product answers, from its sources (fingerprints.md,
upstream code): status, headers, body per route, what its web framework answers for an
unknown path or a wrong method (FastAPI `{"detail":"Not Found"}`, gin `404 page not
found`, aiohttp `404: Not Found`, Express `Cannot GET /x`, …), its `Server` header, and
how its authentication refuses a request without credentials. See `products/README.md`.

Write and compute routes (generation, model load, pull, delete, settings) are routed,
so a wrong method still gets the framework's 405, but never act: they answer 400 with a
JSON error naming the emulator and are logged with `"refused": true`.

Every request is logged as one JSON line: ts, site, product, variant, local, port,
remote, method, path, query, body_len, body, status, user_agent, authorization, refused.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE

from aicensus.lab.emulators.answers import NO_CONTENT_TYPE, Site, parse_site, respond
from aicensus.lab.emulators.common import (
    EmulatorConfigError,
    RequestLog,
    raise_nofile_limit,
    run_emulator,
    write_ready_file,
)
from aicensus.lab.emulators.tables import (
    LAB_KEY,
    LAB_PASSWORD,
    LAB_USER,
    PRODUCTS_DIR,
    available_products,
    load_table,
)

# Re-exported: the emulator's table and answer API in one place for its users.
__all__ = [
    "LAB_KEY",
    "LAB_PASSWORD",
    "LAB_USER",
    "PRODUCTS_DIR",
    "GenericEmulator",
    "available_products",
    "load_table",
    "main",
    "parse_site",
    "respond",
]


class GenericEmulator:
    """Serves every site from one aiohttp application; `await start()`, `await stop()`."""

    def __init__(
        self,
        sites: Sequence[Site],
        *,
        request_log: str | os.PathLike[str] | None = None,
        quiet: bool = False,
    ) -> None:
        if not sites:
            raise EmulatorConfigError("no --site given")
        self.sites = {(s.address, s.port): s for s in sites}
        if len(self.sites) != len(sites):
            raise EmulatorConfigError("two sites share one address:port")
        self.log = RequestLog(request_log)
        self.quiet = quiet
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_response_prepare.append(_fix_server_header)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        for site in self.sites.values():
            tcp = web.TCPSite(self._runner, site.address, site.port, reuse_address=True)
            await tcp.start()
            if site.port == 0:
                server = tcp._server  # aiohttp has no public accessor for the bound socket
                site.port = int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        self.sites = {(s.address, s.port): s for s in self.sites.values()}

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.log.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await _read_body(request)
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        key = (str(sockname[0]), int(sockname[1])) if sockname else ("", 0)
        site = self.sites.get(key)
        if site is None:  # cannot happen: every socket belongs to a site
            return web.Response(status=421, text="misdirected")
        resp, refused, _route = respond(site, request.method, request.path, request.headers)
        self._log(site, request, body, resp.status, refused)
        return resp

    def _log(
        self, site: Site, request: web.Request, body: bytes, status: int, refused: bool
    ) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.log.write(
            {
                "site": site.name,
                "product": site.product,
                "variant": site.variant,
                "local": site.address,
                "port": site.port,
                "remote": peer[0] if peer else None,
                "method": request.method,
                "path": request.path,
                "query": request.query_string,
                "body_len": len(body),
                "body": body[:4096].decode("utf-8", errors="replace"),
                "status": status,
                "user_agent": request.headers.get("User-Agent"),
                "authorization": any(
                    h in request.headers for h in ("Authorization", "X-Api-Key", "Api-Key")
                ),
                "refused": refused,
            }
        )
        if refused and not self.quiet:
            print(
                f"generic-emulator: REFUSED {request.method} {request.path} on {site.name}",
                file=sys.stderr,
            )


async def _read_body(request: web.Request) -> bytes:
    if not request.body_exists:
        return b""
    try:
        return await request.read()
    except (web.HTTPException, ConnectionError, asyncio.IncompleteReadError):
        return b""


async def _fix_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """aiohttp adds its own Server header (and a default Content-Type); keep only what the
    product sends."""
    if response.headers.get("Server") == SERVER_SOFTWARE:
        del response.headers["Server"]
    if response.headers.pop(NO_CONTENT_TYPE, None) is not None:
        response.headers.pop("Content-Type", None)


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m aicensus.lab.emulators.generic",
        description="Emulate AI products from route tables on loopback addresses.",
    )
    p.add_argument(
        "--site",
        nargs=4,
        action="append",
        default=[],
        metavar=("PRODUCT", "VARIANT", "ADDRESS", "PORT"),
        help="serve PRODUCT (open|key) on ADDRESS:PORT (repeatable)",
    )
    p.add_argument(
        "--tables",
        action="append",
        default=[],
        metavar="DIR",
        help="also look for route tables in DIR, before the built-in ones (repeatable)",
    )
    p.add_argument("--request-log", default=None, help="append one JSON line per request")
    p.add_argument("--ready-file", default=None, help="write this JSON file once all are bound")
    p.add_argument("--quiet", action="store_true", help="no warnings for refused routes")
    p.add_argument("--list", action="store_true", help="list the products and exit")
    return p


async def serve(args: argparse.Namespace) -> None:
    tables = tuple(args.tables)
    sites = [parse_site(prod, var, addr, port, tables) for prod, var, addr, port in args.site]
    raise_nofile_limit()
    emu = GenericEmulator(sites, request_log=args.request_log, quiet=args.quiet)
    await emu.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready = {
        "pid": os.getpid(),
        "sites": [
            {"product": s.product, "variant": s.variant, "address": s.address, "port": s.port}
            for s in emu.sites.values()
        ],
    }
    if args.ready_file:
        write_ready_file(args.ready_file, ready)
    print(f"generic-emulator: {len(sites)} site(s) listening", file=sys.stderr, flush=True)
    try:
        await stop.wait()
    finally:
        await emu.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        print("\n".join(available_products()))
        return 0
    return run_emulator("generic-emulator", serve(args))


if __name__ == "__main__":
    sys.exit(main())
