"""A real lab product published on npm runs from an install of its own (`npm:` in its launch
recipe, aicensus.lab.npm_installs): made once under the cache, keyed by its pinned specs, ready
only once its marker is written, named as missing until then.

No registry here: an `npm` of our own on PATH (a shell script) stands in for the real one, so
these tests check the lab's bookkeeping; the real npm runs in the lab (SillyTavern, promptfoo)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import msgspec
import pytest
import yaml

from aicensus.errors import LabError, SignatureError
from aicensus.fingerprint.load import builtin_signatures, parse_signature
from aicensus.fingerprint.schema import LabLaunch
from aicensus.lab import full, layout, npm_installs
from aicensus.lab.full import FullLab

FAKE_NPM = """#!/bin/sh
# npm install --prefix DIR ... SPEC...: writes DIR/node_modules/NAME/package.json per spec
echo "$@" >> "$NPM_CALLS"
case "$*" in *nope@*) [ -n "$NPM_FAIL" ] && fail=1 ;; esac
if [ -n "$fail" ]; then
  echo "npm error code E404" >&2
  echo "npm error 404 Not Found - GET https://registry.npmjs.org/nope - Not found" >&2
  exit 1
fi
prefix=""; while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --*) shift ;;
    install) shift ;;
    *) name="${1%@*}"; mkdir -p "$prefix/node_modules/$name"
       echo "{\\"name\\": \\"$name\\", \\"version\\": \\"${1##*@}\\"}" \\
         > "$prefix/node_modules/$name/package.json"; shift ;;
  esac
done
"""


@pytest.fixture()
def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM)
    npm.chmod(npm.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv(npm_installs.ENV_ROOT, str(tmp_path / "cache"))
    monkeypatch.setenv("NPM_CALLS", str(tmp_path / "calls"))
    monkeypatch.delenv("NPM_FAIL", raising=False)
    return tmp_path / "calls"


def test_an_install_is_keyed_by_its_spec_and_ready_only_with_its_marker(fake_npm: Path) -> None:
    specs = ["acme-ui@1.2.3"]
    where = npm_installs.install_dir(specs)
    assert where.name == "acme-ui@1.2.3"
    assert npm_installs.install_key(["@acme/ui@1.0.0"]) == "@acme+ui@1.0.0"
    two = npm_installs.install_key(["b@1.0.0", "a@2.0.0"])
    assert two.startswith("a@2.0.0-") and two == npm_installs.install_key(["a@2.0.0", "b@1.0.0"])
    assert npm_installs.find_install(specs) is None
    launch = LabLaunch(name="acme-ui-open", command=["node", "{node_modules}/acme-ui/x.js"],
                       npm=specs)  # fmt: skip
    assert layout.missing_for(launch)[0].startswith("its npm install (acme-ui@1.2.3)")

    assert npm_installs.create_install(specs) == where
    package = json.loads((where / "node_modules" / "acme-ui" / "package.json").read_text())
    assert package == {"name": "acme-ui", "version": "1.2.3"}
    marker = json.loads((where / npm_installs.MARKER).read_text())
    assert marker["specs"] == specs and marker["seconds"] >= 0
    assert npm_installs.find_install(specs) == where
    assert layout.missing_for(launch) == []
    npm_installs.create_install(specs)  # done: npm is not run again
    assert len(fake_npm.read_text().splitlines()) == 1
    assert "--prefix" in fake_npm.read_text() and "--omit=dev" in fake_npm.read_text()


def test_a_failed_install_is_one_line_and_never_used(
    fake_npm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = ["nope@1.0.0"]
    monkeypatch.setenv("NPM_FAIL", "1")
    with pytest.raises(LabError) as err:
        npm_installs.create_install(specs)
    message = str(err.value)
    assert "\n" not in message and "npm error 404 Not Found" in message
    assert message.endswith(f"log: {npm_installs.install_dir(specs)}.log")
    assert npm_installs.find_install(specs) is None  # no marker: half-made
    failed = npm_installs.create_all([specs, ["fine@2.0.0"]])
    assert list(failed) == ["nope@1.0.0"] and npm_installs.find_install(["fine@2.0.0"])
    monkeypatch.delenv("NPM_FAIL")
    assert npm_installs.create_all([specs, ["fine@2.0.0"]]) == {}  # made from scratch now
    assert npm_installs.find_install(specs) is not None


def test_a_marker_for_other_specs_does_not_count(fake_npm: Path) -> None:
    where = npm_installs.create_install(["acme-ui@1.2.3"])
    (where / npm_installs.MARKER).write_text(json.dumps({"specs": ["acme-ui@9.9.9"]}))
    assert npm_installs.find_install(["acme-ui@1.2.3"]) is None


def _sig_with(launch: dict[str, object]) -> str:
    doc = {
        "id": "acme", "name": "Acme", "description": "d", "ports": [8000],
        "references": ["https://example.invalid/acme"], "probes": {"root": {"path": "/"}},
        "matchers": [{"name": "m", "probe": "root", "body_contains": ["acme"], "weight": 1.0,
                      "why": "the product's own page"}],
        "lab": {"real": [{"name": "acme-open", **launch}]},
    }  # fmt: skip
    return yaml.safe_dump(doc)


@pytest.mark.parametrize(
    ("launch", "problem"),
    [
        ({"command": ["node", "{node_modules}/a/x.js"], "npm": ["acme"]}, "not pinned"),
        ({"command": ["node", "{node_modules}/a/x.js"], "npm": ["acme@latest"]}, "not pinned"),
        ({"command": ["node", "{node_modules}/a/x.js"], "npm": ["acme@^1.0.0"]}, "not pinned"),
        ({"command": ["node", "{node_modules}/a/x.js"]}, "needs an `npm:` list"),
    ],
)
def test_npm_specs_must_be_pinned(launch: dict[str, object], problem: str) -> None:
    with pytest.raises(SignatureError, match=problem):
        parse_signature(_sig_with(launch), "acme.yaml")


def test_scoped_and_pinned_specs_load() -> None:
    text = _sig_with({"command": ["node", "{node_modules}/x.js"], "npm": ["@acme/ui@1.0.0-rc.1"]})
    assert parse_signature(text, "acme.yaml").lab.real[0].npm == ["@acme/ui@1.0.0-rc.1"]


def test_every_npm_install_of_the_shipped_signatures() -> None:
    assert ("sillytavern@1.19.0",) in layout.own_npm_installs()
    for specs in layout.own_npm_installs():
        assert len(specs) == len(set(specs))


def test_sillytavern_launches_render_their_mode_behind_the_relay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(full, "free_port", lambda host="127.0.0.1": 41999)
    monkeypatch.setenv(npm_installs.ENV_ROOT, str(tmp_path / "npm"))
    lab = FullLab(tmp_path / "all", network="127.0.0.0/24", only="sillytavern")
    modes, passwords = {}, {}
    for svc in [s for s in lab.layout if s.kind == "real" and s.expected_product == "sillytavern"]:
        comp = full.ComponentState(
            name=svc.name, kind="real", pid=0, host=svc.address, port=svc.port, url=svc.url,
            argv=[], log="", started_at="", health="/", request_log="",
        )  # fmt: skip
        argv, _env = lab._real_argv(comp, svc)
        server = argv[argv.index("--") + 1 :]
        assert server[1:3] == ["-m", "aicensus.lab.real.sillytavern"]
        package = server[server.index("--package") + 1]
        assert package == str(
            tmp_path / "npm" / "sillytavern@1.19.0" / "node_modules" / "sillytavern"
        )
        node_args = server[server.index("--", 3) + 1 :]
        assert node_args[node_args.index("--listenAddressIPv4") + 1] == svc.address
        assert node_args[node_args.index("--port") + 1] == "41999"
        config = yaml.safe_load(Path(server[server.index("--config") + 1]).read_text())
        modes[svc.name] = (svc.expected_auth, config)
        if "--user-password" in server:  # the wrapper's option, before the server's own
            at = server.index("--user-password")
            assert at < server.index("--", 3)
            passwords[svc.name] = server[at + 1]
    assert set(modes) == {"sillytavern-open", "sillytavern-key", "sillytavern-accounts",
                          "sillytavern-accounts-password", "sillytavern-whitelist"}  # fmt: skip
    # only the accounts-with-a-password mode seeds the default user's password
    assert passwords == {"sillytavern-accounts-password": "aicensus-lab-password"}
    auth, cfg = modes["sillytavern-key"]
    assert auth == "auth_required" and cfg["basicAuthMode"] is True
    assert cfg["basicAuthUser"] == {"username": "aicensus", "password": "aicensus-lab-password"}
    auth, cfg = modes["sillytavern-accounts"]
    assert auth == "open" and cfg["enableUserAccounts"] is True
    auth, cfg = modes["sillytavern-accounts-password"]
    assert auth == "auth_required" and cfg["enableUserAccounts"] is True
    assert "securityOverride" not in cfg  # SillyTavern itself refuses a passwordless admin
    auth, cfg = modes["sillytavern-whitelist"]
    assert auth == "auth_required" and cfg["whitelistMode"] is True
    assert not {"127.0.0.1", "::1"} & set(cfg["whitelist"]) and len(cfg["whitelist"]) >= 2
    assert modes["sillytavern-open"][1]["whitelistMode"] is False


def test_a_missing_npm_install_leaves_the_product_out_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(npm_installs.ENV_ROOT, str(tmp_path / "empty"))
    lab = FullLab(tmp_path / "all", network="127.0.0.0/24", only="sillytavern")
    assert not lab.services
    assert all("its npm install (sillytavern@1.19.0)" in v[0] for v in lab.missing.values())
    sig = next(s for s in builtin_signatures() if s.id == "sillytavern")
    assert msgspec.structs.asdict(sig.lab.real[0])["npm"] == ["sillytavern@1.19.0"]
