"""SillyTavern for the lab: `node server.js` of the npm package, after its start-up chores.

    python -m aicensus.lab.real.sillytavern --package NODE_MODULES/sillytavern \\
        --config DATA/config.yaml --data-root DATA/st [--user-password PW] -- [server.js options...]

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
* User accounts with a password (`--user-password`): SillyTavern creates its passwordless
  `default-user` at its first start, and a password is only ever set afterwards (the admin
  panel, or the package's own recovery tool `recover.js`). Before the server starts, the
  wrapper runs that tool's code, `src/recover-password.js` recoverPassword() of the installed
  package, against the data root: it creates the default user as the server would
  (src/users.js initUserStorage, line 556: node-persist under DATA_ROOT/_storage, key
  `user:default-user`) and stores the password as the login checks it (src/users.js
  getPasswordHash, line 644: scrypt of the NFC password with a random 16-byte salt, 64 bytes,
  base64). The product's own code rather than a copy of its hashing, so it cannot drift.
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


# recover.js (the package root) with the config path as an argument: it reads ./config.yaml only.
# setConfigFilePath first, as recover.js does: users.js reads the config when it is imported.
SEED_PASSWORD_JS = """
import process from "node:process";
import { setConfigFilePath } from "./src/util.js";
const [config, handle] = process.argv.slice(1);
setConfigFilePath(config);
const { recoverPassword } = await import("./src/recover-password.js");
await recoverPassword(config, handle, process.env.AICENSUS_ST_PASSWORD);
"""
DEFAULT_USER = "default-user"  # src/constants.js DEFAULT_USER.handle


def seed_password(package: Path, config: Path, password: str, node: str) -> None:
    """Give the default user `password` with SillyTavern's own recovery code (see above)."""
    argv = [node, "--input-type=module", "-e", SEED_PASSWORD_JS, str(config), DEFAULT_USER]
    env = {**os.environ, "AICENSUS_ST_PASSWORD": password}
    done = subprocess.run(
        argv, cwd=package, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        sys.exit(f"sillytavern: setting the {DEFAULT_USER} password failed: {last[0]}")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    server_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--package", required=True, type=Path)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--data-root", required=True, type=Path)
    parser.add_argument("--user-password", help="the default user's password (user accounts)")
    args = parser.parse_args(argv)
    package = args.package.resolve()
    if not (package / "server.js").is_file():
        sys.exit(f"sillytavern: no server.js in {package} (aicensus lab setup --all)")
    prepare(package, args.data_root.resolve())
    node = shutil.which("node") or "node"
    config = str(args.config.resolve())
    if args.user_password:
        seed_password(package, Path(config), args.user_password, node)
    os.chdir(package)  # Docker-detected runs keep their webpack cache under ./dist
    os.execv(node, [node, "server.js", "--configPath", config, *server_args])


if __name__ == "__main__":
    main()
