"""Own venvs resolved by uv (`resolver: uv`, `exclude_newer`) and heavy launches (`heavy:
true`, started only when asked for): aicensus.lab.venvs, layout, full, `lab setup/up --heavy`.

The uv path is real: the pinned uv that `aicensus lab setup --all` pip-installs into its tool
venv (a missing one skips here, or fails where $AICENSUS_REQUIRE_LAB_ALL is set), installing
the tiny wheel of test_lab_venvs.py with pip's index settings handed over (no network)."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from aicensus.cli.lab import lab_group
from aicensus.errors import LabError, SignatureError
from aicensus.fingerprint.load import load_directory, parse_signature
from aicensus.lab import layout, npm_installs, venvs
from aicensus.lab.full import FullLab
from aicensus.lab.venvs import VenvSpec
from tests.support.lab import ENV_REQUIRE_ALL, free_network, lab_all_required, stub_setup_builds
from tests.support.lab_tool import TOOL, build_wheel, signature


def test_the_venv_key_holds_the_resolver_and_the_date() -> None:
    pip = venvs.venv_key(["a==1", "b==2"])
    # A pip venv keeps the key it had before resolvers existed: venvs made then stay valid.
    legacy = hashlib.sha256("\n".join([venvs.python_tag(), "a==1", "b==2"]).encode())
    assert pip == f"a-{legacy.hexdigest()[:16]}"
    assert pip == venvs.venv_key(VenvSpec(("b==2", "a==1")))  # sorted either way
    uv = venvs.venv_key(VenvSpec(("a==1", "b==2"), "uv"))
    dated = venvs.venv_key(VenvSpec(("a==1", "b==2"), "uv", "2025-10-01"))
    later = venvs.venv_key(VenvSpec(("a==1", "b==2"), "uv", "2025-11-01"))
    assert len({pip, uv, dated, later}) == 4  # each resolution its own venv
    assert venvs.venv_dir(VenvSpec(("a==1",), "uv")).parent == venvs.cache_root()


def test_builtin_heavy_launches_resolve_with_uv() -> None:
    heavy = {s.name: s.launch for s in layout.full_layout() if s.launch and s.launch.heavy}
    assert {"langflow-real-open", "langflow-real-key", "letta-real-open", "letta-real-key"} <= set(
        heavy
    )
    letta = VenvSpec.of(heavy["letta-real-key"])  # type: ignore[arg-type]
    assert letta == VenvSpec(("letta[server,sqlite]==0.11.7",), "uv", "2025-10-01")
    assert VenvSpec.of(heavy["letta-real-open"]) == letta  # type: ignore[arg-type]  # one venv
    assert letta not in layout.own_venvs() and letta in layout.own_venvs(heavy=True)


def test_pip_s_index_settings_reach_uv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """uv reads no pip.conf: what pip is told here (files and $PIP_*) becomes uv's options."""
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT", "PIP_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "none.conf"))  # no files: env only
    monkeypatch.setenv("PIP_FIND_LINKS", f"{tmp_path}/w1 {tmp_path}/w2")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "file:///srv/simple")
    monkeypatch.setenv("PIP_CONSTRAINT", f"{tmp_path}/c.txt")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    args = venvs.pip_index_as_uv(venvs.pip_config())
    pairs = list(itertools.pairwise(args))
    assert ("--find-links", f"{tmp_path}/w1") in pairs
    assert ("--find-links", f"{tmp_path}/w2") in pairs
    assert ("--extra-index-url", "file:///srv/simple") in pairs
    assert ("--constraint", f"{tmp_path}/c.txt") in pairs
    assert "--no-index" in args
    # pip takes the best version over all its indexes; uv only if told so
    assert ("--index-strategy", "unsafe-best-match") in pairs


@pytest.fixture(scope="module")
def uv_offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The real uv of `lab setup --all`, a venv cache of our own, and pip settings (handed to
    uv) that only see the wheels built here."""
    if venvs.find_uv() is None:
        message = f"uv {venvs.UV_VERSION} is not in {venvs.uv_dir()} (aicensus lab setup --all)"
        if lab_all_required():
            pytest.fail(message + f"; ${ENV_REQUIRE_ALL} is set")
        pytest.skip(message)
    root = tmp_path_factory.mktemp("uv-venvs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(venvs.ENV_ROOT, str(root / "cache"))
        mp.setenv("PIP_NO_INDEX", "1")
        mp.delenv("PIP_CONSTRAINT", raising=False)
        build_wheel(root / "wheels", "1.0")
        mp.setenv("PIP_FIND_LINKS", str(root / "wheels"))
        yield root / "cache"


def test_a_uv_venv_is_made_by_uv_and_kept_apart_from_pip_s(uv_offline: Path) -> None:
    spec = VenvSpec((TOOL,), "uv")
    venv = venvs.create_venv(spec)
    assert venv == venvs.venv_dir(spec) != venvs.venv_dir([TOOL])
    assert venvs.find_venv(spec) == venv and venvs.find_venv([TOOL]) is None
    marker = json.loads((venv / venvs.MARKER).read_text())
    assert marker["requirements"] == [TOOL] and marker["resolver"] == "uv"
    assert (venvs.bin_dir(venv) / "acme-lab-tool").exists()
    # uv made it: `uv venv` writes its version into pyvenv.cfg and seeds no pip
    assert f"uv = {venvs.UV_VERSION}" in (venv / "pyvenv.cfg").read_text()
    assert not (venvs.bin_dir(venv) / "pip").exists()
    log = venv.with_name(venv.name + ".log").read_text()
    assert "uv pip install --no-config" in log and "--no-index" in log
    assert venvs.create_venv(spec) == venv  # made once


def test_exclude_newer_reaches_uv_and_its_failure_is_one_line(uv_offline: Path) -> None:
    # Files on a find-links folder carry no upload date; uv then ignores the date for them or
    # refuses them. Either way the date is uv's: it must reach uv, and a failure is one line.
    spec = VenvSpec(("acme-lab-tool==9.9",), "uv", "2025-10-01")
    with pytest.raises(LabError) as caught:
        venvs.create_venv(spec)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith("uv pip install acme-lab-tool==9.9 failed (exit ")
    assert "acme-lab-tool" in message.split(": ", 1)[1] and "log: " in message
    log = venvs.venv_dir(spec).with_name(venvs.venv_key(spec) + ".log").read_text()
    assert "--exclude-newer 2025-10-01" in log
    assert venvs.find_venv(spec) is None  # no marker: never used half-made


def heavy_signature(reqs: list[str]) -> str:
    text = signature(reqs)
    return text.replace(
        "      ready: ok\n", "      ready: ok\n      resolver: uv\n      heavy: true\n"
    )


def test_a_heavy_launch_is_left_out_unless_asked_for(tmp_path: Path) -> None:
    sigs = tmp_path / "sigs"
    sigs.mkdir()
    (sigs / "acme-venv.yaml").write_text(heavy_signature(["never-made==3"]))
    loaded = load_directory(sigs)
    assert layout.own_venvs(loaded) == []
    assert layout.own_venvs(loaded, heavy=True) == [VenvSpec(("never-made==3",), "uv")]
    lab = FullLab(tmp_path / "a", network=free_network(), only="acme-venv", signatures=sigs)
    # left out: neither missing nor failed, and nothing of it is started or expected
    assert list(lab.left_out) == ["acme-venv-open"] and lab.missing == {}
    assert lab.services == [] and "--heavy" in lab.left_out["acme-venv-open"]
    lab = FullLab(
        tmp_path / "b", network=free_network(), only="acme-venv", signatures=sigs, heavy=True
    )
    assert lab.left_out == {} and list(lab.missing) == ["acme-venv-open"]
    assert "never-made==3; uv" in lab.missing["acme-venv-open"][0]


def test_heavy_addresses_do_not_move_the_others() -> None:
    """Heavy launches keep their addresses: the lab's ground truth is the same either way."""
    plain = FullLab(Path("/nonexistent"), network="127.0.0.0/24")
    heavy = FullLab(Path("/nonexistent"), network="127.0.0.0/24", heavy=True)
    assert [s.address for s in plain.layout] == [s.address for s in heavy.layout]
    assert {s.name for s in heavy.selected} == {s.name for s in plain.selected}
    assert set(plain.left_out) >= {"langflow-real-open", "letta-real-key"}
    assert not set(plain.left_out) & set(plain.missing) and heavy.left_out == {}


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("      exclude_newer: '2025-10-01'\n", "needs `resolver: uv`"),
        ("      resolver: uv\n      exclude_newer: 'October'\n", "is not YYYY-MM-DD"),
    ],
)
def test_uv_fields_are_validated_on_load(extra: str, problem: str) -> None:
    text = signature(["x==1"]).replace("      ready: ok\n", "      ready: ok\n" + extra)
    with pytest.raises(SignatureError, match=problem):
        parse_signature(text, "acme-venv.yaml")
    no_install = signature(["x==1"]).replace('      install: ["x==1"]\n', "      resolver: uv\n")
    with pytest.raises(SignatureError, match="resolves an `install:` list"):
        parse_signature(no_install, "acme-venv.yaml")


def test_setup_and_up_take_heavy_with_all_only(monkeypatch: pytest.MonkeyPatch) -> None:
    stub_setup_builds(monkeypatch)
    asked: list[list[VenvSpec]] = []
    monkeypatch.setattr(venvs, "create_all", lambda sets, echo: asked.append(list(sets)) or {})
    monkeypatch.setattr(venvs, "setup_uv", lambda echo: {})
    monkeypatch.setattr(npm_installs, "create_all", lambda sets, echo: {})
    runner = CliRunner()
    assert runner.invoke(lab_group, ["setup", "--all"]).exit_code == 0
    assert runner.invoke(lab_group, ["setup", "--all", "--heavy"]).exit_code == 0
    assert asked == [layout.own_venvs(), layout.own_venvs(heavy=True)]
    assert len(asked[1]) > len(asked[0])
    for args in (["setup", "--heavy"], ["up", "--heavy"]):
        result = runner.invoke(lab_group, args)
        assert result.exit_code == 2 and "--heavy goes with --all" in result.output


def test_lab_status_says_heavy_products_are_left_out(tmp_path: Path) -> None:
    result = CliRunner().invoke(lab_group, ["status", "--all", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = [ln for ln in result.output.splitlines() if ln.startswith("langflow-real-open ")]
    assert rows and " left out " in rows[0]
    heavy = [s.name for s in layout.full_layout() if s.launch and s.launch.heavy]
    assert f"left out ({len(heavy)} heavy, not started: add --heavy): " in result.output
    doc = CliRunner().invoke(lab_group, ["status", "--all", "--dir", str(tmp_path), "--json"])
    left = json.loads(doc.output)["left_out"]
    assert set(left) == set(heavy) >= {"langflow-real-open", "letta-real-key"}
    assert not set(left) & set(json.loads(doc.output)["missing"])
