"""A real lab product may run from a venv of its own (`install:` in its launch recipe,
aicensus.lab.venvs): made by pip from pinned requirements under the cache, keyed by them and
the Python version, ready only once its marker is written, named as missing until then.

Real installs, no network: a tiny wheel built here (`acme-lab-tool`, a console script that
serves one page saying which interpreter runs it), `pip --no-index --find-links`."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from aicensus.cli.lab import lab_group
from aicensus.errors import SignatureError
from aicensus.fingerprint.load import load_directory, parse_signature
from aicensus.lab import layout, npm_installs, venvs
from aicensus.lab.full import FullLab
from tests.support.lab import free_network, stub_setup_builds
from tests.support.lab_tool import TOOL, TOOL2, build_wheel, signature


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv cache of our own, and pip that only sees the wheel built here."""
    root = tmp_path_factory.mktemp("venvs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(venvs.ENV_ROOT, str(root / "cache"))
        mp.setenv("PIP_NO_INDEX", "1")
        build_wheel(root / "wheels", "1.0")
        mp.setenv("PIP_FIND_LINKS", str(build_wheel(root / "wheels", "1.1").parent))
        yield root / "cache"


@pytest.fixture(scope="module")
def tool_venv(offline: Path) -> Path:
    return venvs.create_venv([TOOL])


def test_a_venv_is_made_under_the_cache_keyed_by_requirements_and_python(
    offline: Path, tool_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tool_venv.parent == offline and tool_venv.name.startswith("acme-lab-tool-")
    assert venvs.find_venv([TOOL]) == tool_venv
    marker = json.loads((tool_venv / venvs.MARKER).read_text())
    assert marker["requirements"] == [TOOL] and marker["python"] == venvs.python_tag()
    assert (venvs.bin_dir(tool_venv) / "acme-lab-tool").exists()
    assert venvs.venv_dir(["b==1", "a==2"]) == venvs.venv_dir(["a==2", "b==1"])
    assert venvs.venv_dir(["a==2"]) != venvs.venv_dir(["a==3"])
    monkeypatch.setattr(venvs, "python_tag", lambda: "cpython-3.99.0")
    assert venvs.venv_dir([TOOL]) != tool_venv
    assert venvs.find_venv([TOOL]) is None  # another Python: that venv is not this one's


def test_a_half_made_venv_is_not_ready_and_is_made_again(offline: Path) -> None:
    reqs = [TOOL2]
    venv = venvs.create_venv(reqs)
    (venv / venvs.MARKER).unlink()  # as if pip had been killed before the marker
    assert venvs.find_venv(reqs) is None
    launch = parse_signature(signature(reqs), "acme-venv.yaml").lab.real[0]  # type: ignore[union-attr]
    assert layout.missing_for(launch)[0].startswith(f"its own venv ({', '.join(reqs)})")
    stale = venv / "stale-file"
    stale.write_text("left by the killed install")
    assert venvs.create_venv(reqs) == venv and venvs.find_venv(reqs) == venv
    assert not stale.exists()  # started again from scratch, not trusted


def test_a_failed_install_is_one_line_and_leaves_nothing_ready(offline: Path) -> None:
    with pytest.raises(Exception) as caught:
        venvs.create_venv(["acme-lab-tool==9.9"])
    message = str(caught.value)
    assert "\n" not in message and "pip install acme-lab-tool==9.9 failed (exit 1)" in message
    assert "ERROR:" in message and "log: " in message
    assert venvs.find_venv(["acme-lab-tool==9.9"]) is None
    failed = venvs.create_all([["acme-lab-tool==9.9"], [TOOL]])
    assert list(failed) == [venvs.venv_key(["acme-lab-tool==9.9"])]  # the other was made


def test_a_launch_with_its_own_venv_is_missing_until_made_then_runs_from_it(
    offline: Path, tool_venv: Path, tmp_path: Path
) -> None:
    reqs = [TOOL, "never-made==3"]
    sigs = tmp_path / "sigs"
    sigs.mkdir()
    (sigs / "acme-venv.yaml").write_text(signature(reqs))
    lab = FullLab(tmp_path / "x", network=free_network(), only="acme-venv", signatures=sigs)
    assert list(lab.missing) == ["acme-venv-open"]  # never made: named, not started
    assert "its own venv" in lab.missing["acme-venv-open"][0]

    (sigs / "acme-venv.yaml").write_text(signature([TOOL]))  # the set tool_venv holds
    assert layout.own_venvs(load_directory(sigs)) == [venvs.VenvSpec((TOOL,))]
    lab = FullLab(tmp_path / "all", network=free_network(), only="acme-venv", signatures=sigs)
    assert lab.missing == {}
    lab.up()
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(lab.url("acme-venv-open") + "/", timeout=10) as resp:
            assert resp.read().decode() == f"acme-lab-tool 1.0 on {tool_venv}"
        comp = lab.state().components["acme-venv-open"]
        server = comp.argv[comp.argv.index("--") + 1 :]
        assert server[0] == str(venvs.bin_dir(tool_venv) / "acme-lab-tool")
    finally:
        lab.down()
    launch = lab.service("acme-venv-open")
    values = lab._values(launch, private_port=1)
    assert values.get("python", None) == str(venvs.python_of(tool_venv))
    assert values.get("lab_python", None) != values.get("python", None)


@pytest.mark.parametrize(
    ("install", "requires", "problem"),
    [
        (["label-studio>=1.23"], [], "is not pinned as name==version"),
        (["label-studio"], [], "is not pinned"),
        (["x==1", "X==2"], [], "a distribution listed twice"),
        (["label-studio==1.23.2"], ["label_studio"], "not in the launch's own venv"),
    ],
)
def test_install_lists_are_validated_on_load(
    install: list[str], requires: list[str], problem: str
) -> None:
    text = signature(install).replace("      ready: ok\n", f"      requires: {requires}\n")
    with pytest.raises(SignatureError, match=problem):
        parse_signature(text, "acme-venv.yaml")


def test_setup_all_names_each_failed_venv_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    stub_setup_builds(monkeypatch)
    asked: list[list[tuple[str, ...]]] = []

    def create_all(sets: list[tuple[str, ...]], echo: object) -> dict[str, str]:
        asked.append(list(sets))
        return {"label-studio-0123": "pip install label-studio==1.23.2 failed (exit 1): …"}

    monkeypatch.setattr(venvs, "create_all", create_all)
    monkeypatch.setattr(venvs, "setup_uv", lambda echo: {})  # test_lab_uv.py makes it for real
    monkeypatch.setattr(npm_installs, "create_all", lambda sets, echo: {})  # lab/npm_installs.py
    result = CliRunner().invoke(lab_group, ["setup", "--all"])
    assert result.exit_code == 2
    last = result.output.splitlines()[-1]
    assert last.startswith(
        "aicensus: error: 1 own venv(s) or npm install(s) of lab products failed: label-studio"
    )
    assert "Traceback" not in result.output
    assert asked == [layout.own_venvs()]
