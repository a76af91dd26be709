"""SillyTavern for the lab: `node server.js` of the npm package, after two start-up chores.

    python -m aicensus.lab.real.sillytavern --package NODE_MODULES/sillytavern \\
        --config DATA/config.yaml --data-root DATA/st -- [server.js options...]

The config (written by the launch's `files:`) sets the mode: open, basic auth, user accounts
or whitelist mode; the options after `--` bind the service's loopback address only (`--listen
true --listenAddressIPv4 ADDR --port P --enableIPv6 false`).

* Every start compiles the front-end libraries with webpack (35-160 s on 2 shared cores when
  cold, by load; about 10 s warm), cached under the data root (or under `./dist` when SillyTavern thinks it runs in
  Docker). One shared cache per install: the first start builds it under a lock with the
  package's own `docker/build-lib.js` (cwd = the package: `dist/_webpack`), and each server's
  data root points its `_webpack` there, so later starts find it warm.
* Whitelist mode reads its 403 page from `DATA_ROOT/_errors` once, before the first start has
  copied the default content there: a fresh data root answers an empty 403. The pages are
  copied first, as on a server that has run before.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path


def shared_webpack(package: Path) -> Path:
    """Build the front-end cache once per install (under a lock); its directory."""
    root = package / "dist" / "_webpack"
    with open(package.parent / ".aicensus-sillytavern-webpack.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not any(root.glob("*/output/*.js")):
            print("sillytavern: building the shared front-end cache once", flush=True)
            build = ["node", "docker/build-lib.js"]
            subprocess.run(build, cwd=package, check=False, stdin=subprocess.DEVNULL)
        root.mkdir(parents=True, exist_ok=True)  # a failed build: the server compiles alone
    return root


def prepare(package: Path, data_root: Path) -> None:
    data_root.mkdir(parents=True, exist_ok=True)
    link = data_root / "_webpack"
    if not link.exists() and not link.is_symlink():
        link.symlink_to(shared_webpack(package), target_is_directory=True)
    errors = data_root / "_errors"
    errors.mkdir(exist_ok=True)
    for page in (package / "default" / "content" / "errors").glob("*.html"):
        if not (errors / page.name).exists():
            shutil.copyfile(page, errors / page.name)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    server_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--package", required=True, type=Path)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--data-root", required=True, type=Path)
    args = parser.parse_args(argv)
    package = args.package.resolve()
    if not (package / "server.js").is_file():
        sys.exit(f"sillytavern: no server.js in {package} (aicensus lab setup --all)")
    prepare(package, args.data_root.resolve())
    os.chdir(package)  # Docker-detected runs keep their webpack cache under ./dist
    node = shutil.which("node") or "node"
    config = str(args.config.resolve())
    os.execv(node, [node, "server.js", "--configPath", config, *server_args])


if __name__ == "__main__":
    main()
