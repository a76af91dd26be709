"""Fuzzing campaigns on the audit's model readers: GGUF, safetensors, pickle, ONNX, Keras.

Property: auditing one generated file (`analyse_file`, the audit's own entry point) never
raises, gives a record that can always be written out (JSON), and stays within a time and
memory bound per file — whatever the file claims (lying lengths and counts, huge shapes,
deep nesting, endless opcodes). Files are structured (a format's grammar with hostile
values) or mutated from a valid one (bit flips, cuts, lying 64-bit numbers spliced in).

A bounded run of each is part of the suite; AICENSUS_FUZZ_EXAMPLES=2000 for a campaign.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import pickletools
import struct
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from picklescan.scanner import _list_globals

from aicensus.audit.files import analyse_file
from aicensus.audit.pickles import _Walk
from aicensus.audit.records import ModelFile
from aicensus.audit.stores import Candidate
from tests.support import audit_builders as builders

EXAMPLES = int(os.environ.get("AICENSUS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SECONDS_PER_FILE = 5.0  # generous for a loaded 2-core machine under tracemalloc
PEAK_BYTES_PER_FILE = 64 * 1024 * 1024  # Python allocations while one file is audited
LYING = [0, 1, 2**7, 2**16 - 1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**62, 2**63 - 1, 2**64 - 1]


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """A scratch folder, and the audit warmed up: the catalogs it loads once per process
    are not part of any file's bound."""
    with tempfile.TemporaryDirectory(prefix="aicensus-fuzz-") as tmp:
        folder = Path(tmp)
        for path in (builders.write_gguf(folder / "warm.gguf"),
                     builders.write_evil_pickle(folder / "warm.pkl")):  # fmt: skip
            analyse_file(Candidate(path=path, name=path.name, store="path"))
        yield folder


def audit_bytes(folder: Path, name: str, data: bytes) -> ModelFile | None:
    """Audit `data` written as `folder/name`: the property every campaign checks."""
    path = folder / name
    path.write_bytes(data)
    tracemalloc.start()
    started = time.monotonic()
    try:
        model = analyse_file(Candidate(path=path, name=name, store="path"))
    finally:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    seconds = time.monotonic() - started
    assert seconds < SECONDS_PER_FILE, f"{name}: {seconds:.1f} s"
    assert peak < PEAK_BYTES_PER_FILE, f"{name}: {peak / 2**20:.0f} MiB"
    if model is not None:
        msgspec.json.encode(model)  # it can always be written out
        assert all(len(n) <= 400 for n in model.notes)
    return model


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """Bit flips, cuts, insertions, and lying little-endian integers spliced over lengths."""
    data = bytearray(base)
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "lie32", "lie64", "dup"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[pos : draw(st.integers(pos, len(data)))]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(max_size=32))
        elif kind in ("lie32", "lie64"):
            fmt = "<I" if kind == "lie32" else "<Q"
            value = draw(st.sampled_from(LYING)) & (0xFFFFFFFF if kind == "lie32" else 2**64 - 1)
            data[pos : pos + struct.calcsize(fmt)] = struct.pack(fmt, value)
        elif kind == "dup" and data:
            data.extend(data[: draw(st.integers(0, min(len(data), 4096)))])
    return bytes(data)


# --------------------------------------------------------------------------- GGUF

_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q",
                 11: "q", 12: "d"}  # fmt: skip


def _gstr(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


@st.composite
def gguf_value(draw: st.DrawFn, depth: int = 0) -> tuple[int, bytes]:
    kind = draw(st.sampled_from([*_GGUF_SCALARS, 8, 9, 13, 99]))
    if kind in _GGUF_SCALARS:
        size = struct.calcsize("<" + _GGUF_SCALARS[kind])
        return kind, draw(st.binary(min_size=size, max_size=size))
    if kind == 8:
        return kind, _gstr(draw(st.binary(max_size=64)))
    if kind == 9 and depth < 3:
        count = draw(st.integers(0, 300))
        itype, first = draw(gguf_value(depth + 1))
        claimed = draw(st.sampled_from([count, *LYING]))
        items = first * min(count, 300)
        return kind, struct.pack("<IQ", itype, claimed) + items
    return kind, draw(st.binary(max_size=16))  # an unknown type, or nesting too deep


@st.composite
def gguf_files(draw: st.DrawFn) -> bytes:
    kvs = draw(st.lists(gguf_value(), max_size=12))
    tensors = draw(st.integers(0, 6))
    body = b"".join(_gstr(b"k%d" % i) + struct.pack("<I", t) + v for i, (t, v) in enumerate(kvs))
    for i in range(tensors):
        dims = draw(st.lists(st.sampled_from([1, 4, 2**31, 2**63, 2**64 - 1]), max_size=9))
        body += (
            _gstr(b"t%d" % i)
            + struct.pack("<I", len(dims))
            + b"".join(struct.pack("<Q", d) for d in dims)
            + struct.pack("<IQ", draw(st.integers(0, 40)), draw(st.sampled_from(LYING)))
        )
    claimed_kv = draw(st.sampled_from([len(kvs), *LYING]))
    claimed_t = draw(st.sampled_from([tensors, *LYING]))
    version = draw(st.sampled_from([2, 3, 3 << 24, 1, 0]))
    head = b"GGUF" + struct.pack("<IQQ", version, claimed_t, claimed_kv)
    return head + body + b"\x00" * draw(st.integers(0, 256))


@pytest.fixture(scope="module")
def small_gguf(workdir: Path) -> bytes:
    return builders.write_gguf(workdir / "seed.gguf", vocab=300).read_bytes()


@FUZZ
@given(data=st.data())
def test_gguf_reader(workdir: Path, small_gguf: bytes, data: st.DataObject) -> None:
    raw = data.draw(st.one_of(gguf_files(), mutated(small_gguf)))
    audit_bytes(workdir, "model.gguf", raw if raw.startswith(b"GGUF") else b"GGUF" + raw)


# --------------------------------------------------------------------------- safetensors

_DIM = st.one_of(st.integers(0, 64), st.sampled_from([-1, 2**31, 2**62, 2**63, 2**64, 2**70]))


@st.composite
def safetensors_files(draw: st.DrawFn) -> bytes:
    header: dict[str, object] = {}
    for i in range(draw(st.integers(0, 8))):
        shape = draw(st.one_of(st.lists(_DIM, max_size=10), st.just([2**62] * 240)))
        start = draw(st.integers(0, 64))
        header[f"t{i}"] = draw(st.one_of(
            st.just({"dtype": "F32", "shape": shape, "data_offsets": [start, start + 4]}),
            st.just({"dtype": 7, "shape": "x", "data_offsets": [5, 1]}),
            st.just([1, 2]),
        ))  # fmt: skip
    if draw(st.booleans()):
        header["__metadata__"] = draw(st.one_of(
            st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4),
            st.just({"k": [1, {"deep": None}]}), st.just("text"),
        ))  # fmt: skip
    raw = json.dumps(header).encode()
    claimed = draw(st.sampled_from([len(raw), *LYING]))
    return struct.pack("<Q", claimed) + raw + b"\x00" * draw(st.integers(0, 128))


@FUZZ
@given(data=st.data())
def test_safetensors_reader(workdir: Path, data: st.DataObject) -> None:
    seed = builders.write_safetensors(workdir / "seed.safetensors").read_bytes()
    raw = data.draw(st.one_of(safetensors_files(), mutated(seed)))
    audit_bytes(workdir, "model.safetensors", raw)


# --------------------------------------------------------------------------- pickle

_OPS = list(pickletools.opcodes)


@st.composite
def opcode_streams(draw: st.DrawFn) -> bytes:
    """Opcodes of every protocol with arguments of the right shape and hostile values."""
    out = bytearray(draw(st.sampled_from([b"", b"\x80\x02", b"\x80\x04", b"\x80\x05"])))
    for _ in range(draw(st.integers(0, 40))):
        op = draw(st.sampled_from(_OPS))
        out += op.code.encode("latin-1")
        n = op.arg.n if op.arg else None
        if n is None:
            continue
        if n >= 0:
            out += draw(st.binary(min_size=n, max_size=n))
        elif n == pickletools.UP_TO_NEWLINE:
            lines = 2 if op.name in ("GLOBAL", "INST") else 1
            for _ in range(lines):
                out += draw(st.sampled_from([b"os", b"system", b"'x'", b"12", b"builtins"]))
                out += b"\n"
        else:
            size = {pickletools.TAKEN_FROM_ARGUMENT1: "<B", pickletools.TAKEN_FROM_ARGUMENT4: "<i",
                    pickletools.TAKEN_FROM_ARGUMENT4U: "<I",
                    pickletools.TAKEN_FROM_ARGUMENT8U: "<Q"}[n]  # fmt: skip
            payload = draw(st.sampled_from([b"os", b"system", b"posix", b"x" * 300, b""]))
            claimed = draw(st.sampled_from([len(payload), len(payload), 2**31 - 1, 2**32 - 1]))
            mask = 2 ** (8 * struct.calcsize(size)) - 1
            value = claimed & mask
            if size == "<i":
                value = min(value, 2**31 - 1)
            out += struct.pack(size, value) + payload
    if draw(st.booleans()):
        out += b"."
    return bytes(out)


_OBJECTS = st.recursive(
    st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=20),
              st.binary(max_size=20), st.sampled_from([Path, ValueError, len, os.getcwd])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=12,
)  # fmt: skip


@FUZZ
@given(data=st.data())
def test_pickle_reader(workdir: Path, data: st.DataObject) -> None:
    dumped = data.draw(st.builds(pickle.dumps, _OBJECTS, protocol=st.integers(0, 5))).replace(
        b"builtins\nlen", b"os\nsystem"
    )
    raw = data.draw(st.one_of(opcode_streams(), mutated(dumped), st.just(dumped)))
    name = data.draw(st.sampled_from(["model.pkl", "pytorch_model.bin", "model.pt"]))
    model = audit_bytes(workdir, name, raw)
    if raw == dumped and model is not None and b"getcwd" in raw:
        assert model.pickle is not None and "posix.getcwd" in (
            model.pickle.suspicious + model.pickle.dangerous + model.pickle.innocuous
        )


@FUZZ
@given(data=st.data())
def test_torch_zip_reader(workdir: Path, data: st.DataObject) -> None:
    path = workdir / "seed.pt"
    builders.write_evil_torch_zip(path)
    raw = data.draw(mutated(path.read_bytes()))
    audit_bytes(workdir, "checkpoint.pt", raw)


# --------------------------------------------------------------------------- ONNX


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


@st.composite
def protobuf(draw: st.DrawFn, depth: int = 0) -> bytes:
    out = b""
    for _ in range(draw(st.integers(0, 6))):
        number = draw(st.sampled_from([1, 2, 5, 6, 7, 8, 10, 11, 13, 14, 15, 99]))
        wire = draw(st.sampled_from([0, 1, 2, 5, 2, 2, 3]))
        out += _varint(number << 3 | wire)
        if wire == 0:
            out += _varint(draw(st.sampled_from([*LYING, 7])))
        elif wire == 1:
            out += b"\x00" * 8
        elif wire == 5:
            out += b"\x00" * 4
        elif wire == 2:
            payload = draw(protobuf(depth + 1)) if depth < 5 else draw(st.binary(max_size=8))
            out += _varint(draw(st.sampled_from([len(payload)] * 3 + LYING[:5]))) + payload
    return out


@FUZZ
@given(data=st.data())
def test_onnx_reader(workdir: Path, data: st.DataObject) -> None:
    seed = builders.write_onnx(workdir / "seed.onnx", ["w.bin", "../../etc/passwd"]).read_bytes()
    raw = data.draw(st.one_of(protobuf(), mutated(seed)))
    audit_bytes(workdir, "model.onnx", raw)


# --------------------------------------------------------------------------- Keras

_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12),
              st.sampled_from(["Lambda", "os", "keras.layers", "subprocess"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["class_name", "config", "module", "name", "layers",
                                         "registered_name", "x"]), inner, max_size=5)),
    max_leaves=20,
)  # fmt: skip


@FUZZ
@given(data=st.data())
def test_keras_reader(workdir: Path, data: st.DataObject) -> None:
    path = workdir / "model.keras"
    with zipfile.ZipFile(path, "w") as zf:
        config = data.draw(st.one_of(_JSON.map(json.dumps), st.just("[" * 5000)))
        zf.writestr("config.json", config)
        zf.writestr(
            "metadata.json", data.draw(st.sampled_from(["{}", "[", '{"keras_version": 3}']))
        )
    raw = data.draw(st.one_of(st.just(path.read_bytes()), mutated(path.read_bytes())))
    audit_bytes(workdir, "model.keras", raw)
    h5 = b"\x89HDF\r\n\x1a\nmodel_config" + data.draw(mutated(config.encode()))
    audit_bytes(workdir, "model.h5", h5)


@FUZZ
@given(data=st.data())
def test_pickle_walk_finds_what_picklescan_finds(data: st.DataObject) -> None:
    """On any pickle Python writes, the bounded walk lists exactly picklescan's imports."""
    raw = pickle.dumps(data.draw(_OBJECTS), protocol=data.draw(st.integers(0, 5)))
    walk = _Walk()
    walk.stream(io.BytesIO(raw), len(raw), len(raw))
    assert walk.globals == _list_globals(io.BytesIO(raw))
