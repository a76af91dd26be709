"""Hostile model files against the real CLI (issue 14): one bad file never costs the report.

Each case puts one crafted file beside a malicious pickle and runs
`python -m aicensus audit --no-services --no-stores --path DIR --format json -o FILE` in its
own process. Every case must exit 0 with a complete JSON document in which the pickle's
critical finding survives and the hostile file carries its limit note, within a time and
memory bound: the audit's own time (`seconds` in the JSON) and the child's peak RSS
(`os.wait4`), measured against a baseline run on the pickle alone. `pytest -s -k report`
prints the figures the README quotes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.support import audit_builders as builders
from tests.support import audit_hostile_files as hostile_files

SRC = str(Path(__file__).resolve().parents[2] / "src")
ROOT = str(Path(__file__).resolve().parents[2])
RSS_GROWTH_MB = 100  # the target for a hostile file, over the baseline
AUDIT_SECONDS = 10.0  # the audit's own time, generous for a loaded 2-core machine
FIGURES: dict[str, tuple[float, float, str]] = {}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLLAMA", "HF_", "LLAMA"))}
    env["PYTHONPATH"] = os.pathsep.join([SRC, ROOT])
    env["HOME"] = "/nonexistent"
    return env


# The CLI under a wrapper that writes the process's peak RSS (VmHWM) when it exits: the
# rusage of a child counts the parent's pages it was forked with, this does not.
_WRAPPER = """
import atexit, runpy, sys
def _peak(path=sys.argv.pop(1)):
    with open("/proc/self/status") as fh:
        line = next(x for x in fh if x.startswith("VmHWM:"))
    with open(path, "w") as out:
        out.write(line.split()[1])
atexit.register(_peak)
sys.argv[0] = "aicensus"
runpy.run_module("aicensus", run_name="__main__")
"""


def run_cli(
    folder: Path, out: Path, fmt: str = "json", prefix: tuple[str, ...] = ()
) -> tuple[int, str, float, float]:
    """(exit status, stderr, wall seconds, peak RSS in MiB) of one audit in its own process."""
    with tempfile.TemporaryDirectory() as tmp:
        peak = Path(tmp) / "peak"
        Path(tmp).chmod(0o777)
        argv = [*prefix, sys.executable, "-c", _WRAPPER, str(peak), "audit", "--no-services",
                "--no-stores", "--path", str(folder), "--format", fmt, "-o", str(out)]  # fmt: skip
        started = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=240)
        wall = time.monotonic() - started
        rss = int(peak.read_text()) / 1024 if peak.exists() else 0.0
    return proc.returncode, proc.stderr, wall, rss


@pytest.fixture
def folder() -> Iterator[Path]:
    """A world-readable folder (the permission case runs the CLI as nobody) holding the
    malicious pickle whose critical finding must survive every other file."""
    path = Path(tempfile.mkdtemp(prefix="aicensus-hostile-"))
    path.chmod(0o755)
    builders.write_evil_pickle(path / "evil.pkl")
    yield path
    for sub in path.rglob("*"):
        if sub.is_dir() and not sub.is_symlink():
            sub.chmod(0o755)
    shutil.rmtree(path)


@pytest.fixture(scope="module")
def baseline() -> float:
    """Peak RSS (MiB) of the CLI auditing the malicious pickle alone."""
    path = Path(tempfile.mkdtemp(prefix="aicensus-base-"))
    try:
        builders.write_evil_pickle(path / "evil.pkl")
        rc, err, _wall, rss = run_cli(path, path / "out.json")
        assert rc == 0, err
        return rss
    finally:
        shutil.rmtree(path)


def _audit(folder: Path, baseline: float, case: str) -> dict:
    out = folder.parent / f"{folder.name}.json"
    try:
        rc, err, wall, rss = run_cli(folder, out)
        assert rc == 0 and "Traceback" not in err, err
        doc = json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)
    growth = max(0.0, rss - baseline)
    FIGURES[case] = (doc["seconds"], growth, wall)
    assert doc["seconds"] < AUDIT_SECONDS, f"{case}: the audit took {doc['seconds']} s"
    assert growth < RSS_GROWTH_MB, f"{case}: peak RSS grew {growth:.0f} MiB"
    by_name = {f["name"]: f for f in doc["files"]}
    ids = {f["id"] for f in by_name["evil.pkl"]["findings"]}
    assert "AIC-FILE-PICKLE-CODE-EXEC" in ids  # the other file's report is whole
    assert any(f["id"] == "AIC-FILE-PICKLE-CODE-EXEC" for f in doc["findings"])
    return by_name


def _limited(record: dict, words: str) -> None:
    """The file carries a note naming the limit, and the finding that reports it."""
    assert any(words in n for n in record["notes"]), record["notes"]
    ids = {f["id"] for f in record["findings"]}
    assert ids & {"AIC-FILE-READ-LIMIT", "AIC-FILE-PICKLE-INCOMPLETE"}, ids


Writer = Callable[[Path], Path]
CASES: list[tuple[str, str, Writer, str]] = [
    ("safetensors shape [2**62]*240 (5 KB)", "shape.safetensors",
     hostile_files.safetensors_huge_shape, "240 dimensions"),
    ("ONNX, 135,000 packed dims of 2**40 (810 KB)", "dims.onnx",
     hostile_files.onnx_long_dims, "not counted"),
    ("GGUF, 400,000 key/value pairs (8 MB)", "kv.gguf",
     hostile_files.gguf_many_kv, "400000 key/value pairs"),
    ("GGUF, 1,024 arrays of 256 strings (2.4 MB)", "arrays.gguf",
     lambda p: hostile_files.gguf_many_short_arrays(p, 1_024), "short arrays not decoded"),
    ("GGUF, 65,537 tensors", "tensors.gguf",
     lambda p: hostile_files.gguf_many_tensors(p, 65_537), "65537 tensors"),
    ("pickle, 20 MB of NONE/POP opcodes, then os.system", "flood.pkl",
     hostile_files.pickle_opcode_flood, "opcodes (limit)"),
    ("Keras, 6.6 MB config.json, Lambda at its end", "big.keras",
     hostile_files.keras_huge_config, "searched bytewise"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "name", "write", "words"), CASES, ids=[c[1] for c in CASES])
def test_hostile_file_beside_a_malicious_pickle(
    folder: Path, baseline: float, case: str, name: str, write: Writer, words: str
) -> None:
    write(folder / name)
    files = _audit(folder, baseline, case)
    _limited(files[name], words)


def test_huge_shape_keeps_the_cyclonedx_bom_whole(folder: Path) -> None:
    """The issue's reproduction: exit 1, a traceback and a 0-byte BOM before."""
    hostile_files.safetensors_huge_shape(folder / "shape.safetensors")
    bom = folder.parent / f"{folder.name}.cdx.json"
    try:
        rc, err, _wall, _rss = run_cli(folder, bom, fmt="cyclonedx")
        assert rc == 0 and "Traceback" not in err, err
        text = bom.read_text()
    finally:
        bom.unlink(missing_ok=True)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    vulns = {v["id"] for v in json.loads(text)["vulnerabilities"]}
    assert {"AIC-FILE-PICKLE-CODE-EXEC", "AIC-FILE-READ-LIMIT"} <= vulns
    assert not list(folder.parent.glob(".aicensus-*.tmp"))  # no temporary file left behind


def test_a_file_that_stops_the_pickle_walk_keeps_what_came_before(
    folder: Path, baseline: float
) -> None:
    """os.system before 20 MB of opcodes: found, and the rest reported as not analysed."""
    path = folder / "front.pkl"
    path.write_bytes(builders.evil_pickle_bytes()[:-1] + b"N0" * (10 * 1024 * 1024) + b".")
    files = _audit(folder, baseline, "pickle, os.system then 20 MB of opcodes")
    record = files["front.pkl"]
    assert "os.system" in record["pickle"]["dangerous"]
    assert record["pickle"]["complete"] is False
    ids = {f["id"] for f in record["findings"]}
    assert {"AIC-FILE-PICKLE-CODE-EXEC", "AIC-FILE-PICKLE-INCOMPLETE"} <= ids


@pytest.mark.parametrize(
    ("name", "write", "dangerous"),
    [
        ("pytorch_model.bin", hostile_files.pickle_protocol0, "os.system"),
        ("legacy.pt", hostile_files.torch_legacy_protocol1, "posix.system"),
    ],
)
def test_protocol_0_and_1_pickles_in_torch_files_are_audited(
    folder: Path, baseline: float, name: str, write: Writer, dangerous: str
) -> None:
    write(folder / name)
    record = _audit(folder, baseline, f"protocol 0/1 {name}")[name]
    assert record["format"] == "pytorch"
    assert dangerous in record["pickle"]["dangerous"]
    assert "AIC-FILE-PICKLE-CODE-EXEC" in {f["id"] for f in record["findings"]}


def test_a_bin_file_that_is_no_model_is_noted(folder: Path, baseline: float) -> None:
    (folder / "firmware.bin").write_bytes(b"\x7fELF" + b"\x00" * 100)
    out = folder.parent / f"{folder.name}.json"
    rc, err, _wall, _rss = run_cli(folder, out)
    doc = json.loads(out.read_text())
    out.unlink()
    assert rc == 0, err
    assert [f["name"] for f in doc["files"]] == ["evil.pkl"]
    assert any("firmware.bin" in n and "not audited" in n for n in doc["notes"])


def _setpriv() -> tuple[str, ...]:
    """As root, the CLI runs without the capabilities that bypass file modes, so a mode-000
    file is unreadable to it too. Still root, not `nobody`: a checkout in a folder only root
    may enter (mktemp -d makes one) stays importable."""
    tool = shutil.which("setpriv")
    if os.geteuid() != 0 or tool is None:
        return ()
    return (tool, "--bounding-set=-dac_override,-dac_read_search")


def test_unreadable_folders_and_files_are_notes(folder: Path) -> None:
    """A folder nobody may list, a file nobody may read (as root, the CLI runs without the
    capabilities that let root read everything), a FIFO and a broken link: each is a note;
    the pickle is reported."""
    locked = folder / "locked"
    locked.mkdir()
    builders.write_evil_pickle(locked / "hidden.pkl")
    builders.write_evil_pickle(folder / "secret.pkl")
    os.mkfifo(folder / "pipe.gguf")
    (folder / "dangling.safetensors").symlink_to(folder / "nowhere.safetensors")
    locked.chmod(0o000)
    (folder / "secret.pkl").chmod(0o000)
    prefix = _setpriv()
    out = Path(tempfile.mkdtemp(prefix="aicensus-out-"))
    try:
        rc, err, _wall, _rss = run_cli(folder, out / "audit.json", prefix=prefix)
        assert rc == 0 and "Traceback" not in err, err
        doc = json.loads((out / "audit.json").read_text())
    finally:
        shutil.rmtree(out)
    notes = "\n".join(doc["notes"])
    assert f"{locked}: cannot be listed (Permission denied)" in notes
    assert "secret.pkl: cannot be read (Permission denied)" in notes
    assert "pipe.gguf: not a regular file" in notes
    assert "dangling.safetensors: broken symbolic link" in notes
    assert [f["name"] for f in doc["files"]] == ["evil.pkl"]
    assert doc["summary"]["findings"]["critical"] == 1


def test_output_into_a_missing_folder_is_one_line(folder: Path) -> None:
    rc, err, _wall, _rss = run_cli(folder, folder / "missing" / "out.json")
    assert rc == 2 and "Traceback" not in err
    assert "cannot write" in err and len(err.strip().splitlines()) == 1


def test_report() -> None:
    """The figures of this module's runs (pytest -s), for the README's Reliability table."""
    for case, (seconds, growth, wall) in FIGURES.items():
        print(f"| {case} | {seconds:.2f} s | {growth:.0f} MiB | {wall:.1f} s |")
