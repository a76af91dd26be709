"""`aicensus serve`: the local read-only web dashboard over a store (aicensus/serve/)."""

from __future__ import annotations

import ipaddress
import secrets
import sys

import click

from aicensus.errors import StoreError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.option("--db", default="aicensus.duckdb", show_default=True, help="The store to show.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback needs --token.")  # fmt: skip
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", default=None, help="Required on a non-loopback --host; "
              "'random' makes one. Open the printed URL once; a cookie keeps it.")  # fmt: skip
def serve_command(db: str, host: str, port: int, token: str | None) -> None:
    """Serve a read-only web dashboard over the store (overview and world map, services,
    models, study figures, scans). Nothing leaves the machine: no CDN, no script."""
    from aicensus import api

    if not is_loopback(host) and not token:
        click.echo(
            f"aicensus: error: --host {host} is not a loopback address: the dashboard shows "
            "every finding in the store, so give --token (or --token random) to bind it",
            err=True,
        )
        sys.exit(2)
    if token == "random":
        token = secrets.token_urlsafe(24)
    try:  # a missing or foreign file is refused now, not on the first page
        api.store_readable(db)  # False while a scan writes it: the pages say so until it is done
    except StoreError as exc:
        click.echo(f"aicensus: error: {exc}", err=True)
        sys.exit(2)
    import uvicorn

    app = api.dashboard_app(db, token=token, host=host)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    click.echo(f"aicensus: serving {db} read-only at {url} (Ctrl-C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
