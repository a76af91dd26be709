"""Find the imports a pickle would make when loaded — without loading it.

The analyser is `picklescan` (maintained; the scanner Hugging Face runs on uploads): it walks
the pickle's opcodes with `pickletools.genops` and lists every GLOBAL / INST / STACK_GLOBAL
import, classing each as dangerous (os.system, builtins.eval, subprocess …), innocuous (the
torch/numpy rebuild functions) or suspicious (anything else). Nothing is ever unpickled.

What this module adds around it:

* PyTorch zip checkpoints are opened with `zipfile` and every pickle member is analysed on its
  own; the raw tensor storages are not read;
* every stream is read through a cap (`max_bytes`): opcodes are collected in memory, so a
  multi-gigabyte pickle is analysed up to the cap and reported as incomplete;
* picklescan's log messages are kept off the user's terminal.
"""

from __future__ import annotations

import io
import logging
import os
import zipfile
from pathlib import Path
from typing import IO

from picklescan import scanner as _scanner
from picklescan.torch import InvalidMagicError

from aicensus.audit.records import PickleScan

ANALYSER = "picklescan"
MAX_PICKLE_BYTES = 256 * 1024 * 1024
ZIP_MAGIC = b"PK\x03\x04"
SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
PICKLE_MEMBER_SUFFIXES = (".pkl", ".pickle")
# Compressed streams (joblib's compress=…, gzip'd pickles): picklescan cannot read them and
# they are not decompressed here, so they are reported as not analysed.
COMPRESSED_MAGIC = {
    b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"\x04\x22\x4d\x18": "lz4",
    b"ZF": "joblib zlib", b"\x78\x01": "zlib", b"\x78\x5e": "zlib", b"\x78\x9c": "zlib",
    b"\x78\xda": "zlib",
}  # fmt: skip
TORCH_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")

# Rebuild helpers every ordinary PyTorch/numpy checkpoint imports; picklescan leaves some of
# them "suspicious" (not on its short safe list). They are reported as innocuous here.
ROUTINE_IMPORTS: frozenset[tuple[str, str]] = frozenset({
    ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_qtensor"),
    ("torch", "Size"), ("torch", "device"), ("torch", "float16"), ("torch", "bfloat16"),
    ("torch", "float32"), ("torch", "UntypedStorage"), ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch.serialization", "_get_layout"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"), ("numpy", "dtype"), ("builtins", "set"),
    ("collections", "OrderedDict"), ("_codecs", "encode"),
})  # fmt: skip

_log = logging.getLogger("picklescan")
_log.addHandler(logging.NullHandler())


class _Capped(io.RawIOBase):
    """A read-only, seekable view of the first `limit` bytes of a binary stream."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self._raw = raw
        self._limit = limit
        self._start = raw.tell()
        self.hit_limit = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._raw.tell() - self._start

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            target = offset
        elif whence == os.SEEK_CUR:
            target = self.tell() + offset
        else:
            end = self._raw.seek(0, os.SEEK_END) - self._start
            target = min(end, self._limit) + offset
        self._raw.seek(self._start + max(0, min(target, self._limit)))
        return self.tell()

    def read(self, size: int = -1) -> bytes:
        left = self._limit - self.tell()
        if left <= 0:
            if size != 0:
                self.hit_limit = self.hit_limit or bool(self._raw.read(1))
            return b""
        if size is None or size < 0 or size > left:
            size = left
        return self._raw.read(size)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        left = self._limit - self.tell()
        if left <= 0:
            return b""
        cap = left if size is None or size < 0 else min(size, left)
        return self._raw.readline(cap)


def _merge(scan: PickleScan, result: _scanner.ScanResult) -> None:
    for g in result.globals:
        ref = f"{g.module}.{g.name}"
        safety = g.safety.value
        if safety == "suspicious" and (g.module, g.name) in ROUTINE_IMPORTS:
            safety = "innocuous"
        bucket = {"dangerous": scan.dangerous, "suspicious": scan.suspicious}.get(
            safety, scan.innocuous
        )
        if ref not in bucket:
            bucket.append(ref)
    if result.scan_err:
        scan.complete = False
        scan.error = scan.error or "the pickle stream is malformed after the imports listed"


def _scan_stream(
    scan: PickleScan, raw: IO[bytes], file_id: str, limit: int, *, torch: bool
) -> None:
    capped = _Capped(raw, limit)
    try:
        if torch:
            try:
                result = _scanner.scan_pytorch(capped, file_id)
            except InvalidMagicError:
                capped.seek(0)
                result = _scanner.scan_pickle_bytes(capped, file_id)
        else:
            result = _scanner.scan_pickle_bytes(capped, file_id)
    except Exception as exc:  # the analyser's own failure: report it, never crash the audit
        scan.complete = False
        scan.error = f"{ANALYSER} failed: {type(exc).__name__}: {exc}"[:300]
        return
    _merge(scan, result)
    if capped.hit_limit:
        scan.complete = False
        scan.error = f"only the first {limit} bytes of {file_id} were analysed (cap)"


def _member_is_pickle(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    if info.is_dir():
        return False
    if info.filename.endswith(PICKLE_MEMBER_SUFFIXES):
        return True
    try:
        with zf.open(info) as fh:
            head = fh.read(2)
    except (zipfile.BadZipFile, RuntimeError, OSError, NotImplementedError):
        return False
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def scan_pickle_file(
    path: str | Path, *, max_bytes: int = MAX_PICKLE_BYTES, torch: bool | None = None
) -> PickleScan:
    """The imports a pickle-based file (plain pickle, legacy or zip PyTorch) would make.

    `torch`: read it as a legacy PyTorch file (several pickles, then raw storages); by
    default when its suffix is .bin, .pt, .pth or .ckpt."""
    path = Path(path)
    if torch is None:
        torch = path.suffix.lower() in TORCH_SUFFIXES
    scan = PickleScan(analyser=ANALYSER)
    with open(path, "rb") as fh:
        head = fh.read(8)
        fh.seek(0)
        if head.startswith(SEVEN_ZIP_MAGIC):
            scan.complete = False
            scan.error = "7z archive: not analysed"
            return scan
        for magic, kind in COMPRESSED_MAGIC.items():
            if head.startswith(magic):
                scan.complete = False
                scan.error = f"{kind}-compressed stream: not decompressed, not analysed"
                return scan
        if head.startswith(ZIP_MAGIC):
            try:
                with zipfile.ZipFile(fh) as zf:
                    members = [i for i in zf.infolist() if _member_is_pickle(zf, i)]
                    for info in members[:64]:
                        with zf.open(info) as member:
                            _scan_stream(
                                scan, member, f"{path.name}:{info.filename}", max_bytes, torch=False
                            )
                    if len(members) > 64:
                        scan.complete = False
                        scan.error = f"{len(members)} pickles in the archive; the first 64 analysed"
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
                scan.complete = False
                scan.error = f"zip archive cannot be read: {exc}"[:300]
            return scan
        _scan_stream(scan, fh, path.name, max_bytes, torch=torch)
    return scan


def looks_like_pickle(path: str | Path) -> bool:
    """A zip archive, or a stream that starts with a pickle PROTO opcode (protocol 2–5)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    if head.startswith(ZIP_MAGIC) or head.startswith(SEVEN_ZIP_MAGIC[:4]):
        return True
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5
