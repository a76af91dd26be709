"""Find the imports a pickle would make when loaded — without loading it.

The opcodes are walked here (`_Walk`), bounded: picklescan's own walk keeps every opcode of
a stream in a list and looks back through it at each STACK_GLOBAL, so a 20 MB stream of
tiny opcodes cost it 71 s and 2.1 GB. Every GLOBAL / INST / STACK_GLOBAL import is listed and
classed with picklescan's lists (the maintained ones Hugging Face runs on uploads) as
dangerous (os.system, builtins.eval, subprocess …), innocuous (the torch/numpy rebuild
functions) or suspicious (anything else). Nothing is ever unpickled.

* every protocol is read, 0 to 5: a protocol 0 or 1 pickle has no PROTO opcode, and
  torch.load without weights_only runs one from any .bin/.pt/.pth/.ckpt file;
* PyTorch zip checkpoints are opened with `zipfile` (after their entry count is checked) and
  every pickle member is analysed on its own; the raw tensor storages are not read; a legacy
  PyTorch file's consecutive pickles are analysed up to its raw storages;
* the limits of `limits.py` (opcodes, bytes, memo, strings, lines, imports) bound time and
  memory; payloads are skipped by their length, never read; a limit reached makes the scan
  incomplete, with the limit named;
* picklescan's log messages are kept off the user's terminal.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import pickletools
import struct
import zipfile
from pathlib import Path
from typing import IO

from picklescan import scanner as _scanner

from aicensus.audit.formats import open_zip
from aicensus.audit.limits import (
    MAX_PICKLE_BYTES,
    MAX_PICKLE_LINE,
    MAX_PICKLE_MEMO_BYTES,
    MAX_PICKLE_OPCODES,
    MAX_PICKLE_STRING,
    MAX_ZIP_PICKLES,
)
from aicensus.audit.records import PickleScan
from aicensus.errors import PickleStreamError

ANALYSER = "picklescan"
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

# The opcode table, from the standard library's own description of the pickle format:
# code byte -> (name, argument size: >= 0 fixed; -1 a line (two for GLOBAL/INST); -2, -3,
# -4, -5 a 1-, 4- (signed), 4- or 8-byte length, then that many bytes).
_OPCODES: dict[int, tuple[str, int | None]] = {
    op.code.encode("latin-1")[0]: (op.name, op.arg.n if op.arg else None)
    for op in pickletools.opcodes
}
_LENGTH = {-2: struct.Struct("<B"), -3: struct.Struct("<i"), -4: struct.Struct("<I"),
           -5: struct.Struct("<Q")}  # fmt: skip
_STRING_OPS = frozenset({
    "SHORT_BINUNICODE", "UNICODE", "BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING",
    "SHORT_BINSTRING",
})  # fmt: skip
_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_UNKNOWN = "unknown"  # what picklescan calls an import it cannot resolve (dangerous)
MAX_PICKLE_GLOBALS = 10_000  # distinct imports kept of one file


class _Walk:
    """The imports of the pickles in one file, found by walking their opcodes.

    Bounded by the limits in `limits.py`: a shared opcode budget, a memo of strings only
    (MAX_PICKLE_MEMO_BYTES), string arguments decoded up to MAX_PICKLE_STRING characters and
    skipped past beyond, text arguments up to MAX_PICKLE_LINE bytes. Nothing is kept per
    opcode, so memory does not grow with the length of the stream. STACK_GLOBAL is resolved
    as picklescan resolves it: the two nearest values before it (memo stores skipped, memo
    fetches followed); a value that is not a string is `unknown`, which is dangerous."""

    def __init__(self) -> None:
        self.globals: set[tuple[str, str]] = set()
        self.opcodes_left = MAX_PICKLE_OPCODES
        self.limits: list[str] = []  # limits reached: the scan is incomplete

    def note(self, text: str) -> None:
        if text not in self.limits:
            self.limits.append(text)

    def add(self, module: str, name: str) -> None:
        if len(self.globals) >= MAX_PICKLE_GLOBALS:
            self.note(f"more than {MAX_PICKLE_GLOBALS} distinct imports: the first kept")
            return
        self.globals.add((module[:256], name[:256]))

    def stream(
        self, fh: IO[bytes], size: int, max_bytes: int, *, pickles: int | None = None
    ) -> None:
        """Walk consecutive pickles (at most `pickles`) of a `size`-byte stream until its end,
        bytes that do not start a pickle, a limit, or a malformed pickle (raised)."""
        pos, done = 0, 0
        while pickles is None or done < pickles:
            try:
                pos = self._pickle(fh, pos, size, max_bytes)
            except PickleStreamError as exc:
                if str(exc) == "end" or (done and str(exc) == "not a pickle"):
                    return
                raise
            done += 1
            if pos < 0:
                return  # a limit stopped it

    def _pickle(self, fh: IO[bytes], pos: int, size: int, max_bytes: int) -> int:
        memo: dict[int, str] = {}
        memo_count = memo_bytes = 0
        values: list[str] = []  # the two nearest values before the current opcode
        previous: str | None = None  # the previous opcode's string value
        start = True
        while True:
            if pos >= max_bytes:
                self.note(f"only the first {max_bytes} bytes of the stream were analysed")
                return -1
            if self.opcodes_left <= 0:
                self.note(f"stopped after {MAX_PICKLE_OPCODES} opcodes (limit)")
                return -1
            self.opcodes_left -= 1
            code = fh.read(1)
            if not code:
                raise PickleStreamError("end" if start else "the pickle stream is truncated")
            op = _OPCODES.get(code[0])
            if op is None:
                raise PickleStreamError(
                    "not a pickle" if start else "the pickle stream is malformed"
                )
            start = False
            name, argsize = op
            pos += 1
            if argsize is None:
                arg = b""
            elif argsize >= 0:
                arg = self._read(fh, argsize)
                pos += argsize
            elif argsize == -1:
                lines = 2 if name in ("GLOBAL", "INST") else 1
                arg = b"".join(self._line(fh) for _ in range(lines))
                pos += len(arg)
            else:
                header = _LENGTH[argsize]
                (length,) = header.unpack(self._read(fh, header.size))
                if length < 0:
                    raise PickleStreamError("the pickle stream is malformed (a negative length)")
                pos += header.size + length
                if pos > size:
                    raise PickleStreamError("the pickle stream is truncated")
                keep = min(length, MAX_PICKLE_STRING * 4) if name in _STRING_OPS else 0
                arg = self._read(fh, keep)
                self._skip(fh, length - keep)
            if name == "STOP":
                return pos
            if name in ("GLOBAL", "INST"):
                module, _, rest = arg.decode("utf-8", "replace").partition("\n")
                self.add(module, rest.rstrip("\n"))
            elif name == "STACK_GLOBAL":
                got = values if len(values) == 2 else [_UNKNOWN, _UNKNOWN]
                self.add(got[0], got[1])
            if name in _PUTS or name == "MEMOIZE":
                key = memo_count if name == "MEMOIZE" else _memo_key(name, arg)
                memo_count += 1
                if previous is not None and memo_bytes < MAX_PICKLE_MEMO_BYTES:
                    memo[key] = previous
                    memo_bytes += len(previous) + 64
                elif previous is not None:
                    self.note(f"memo beyond {MAX_PICKLE_MEMO_BYTES} bytes: imports unresolved")
                continue  # a store is not a value (picklescan skips it too)
            value = None
            if name in _STRING_OPS:
                value = _string(name, arg)[:MAX_PICKLE_STRING]
            elif name in _GETS:
                value = memo.get(_memo_key(name, arg), _UNKNOWN)
            previous = value
            values = [values[-1], value or _UNKNOWN] if values else [value or _UNKNOWN]

    @staticmethod
    def _read(fh: IO[bytes], n: int) -> bytes:
        data = fh.read(n) if n else b""
        if len(data) < n:
            raise PickleStreamError("the pickle stream is truncated")
        return data

    @staticmethod
    def _skip(fh: IO[bytes], n: int) -> None:
        """Step over `n` bytes of a payload (known to be there) without keeping them."""
        if n <= 0:
            return
        if fh.seekable():
            fh.seek(n, os.SEEK_CUR)
            return
        while n > 0:
            chunk = fh.read(min(n, 1024 * 1024))
            if not chunk:
                raise PickleStreamError("the pickle stream is truncated")
            n -= len(chunk)

    def _line(self, fh: IO[bytes]) -> bytes:
        line = fh.readline(MAX_PICKLE_LINE)
        if not line.endswith(b"\n"):
            if len(line) >= MAX_PICKLE_LINE:
                self.note(f"a text argument longer than {MAX_PICKLE_LINE} bytes")
            raise PickleStreamError("the pickle stream is malformed (an unterminated line)")
        return line


def _memo_key(name: str, arg: bytes) -> int:
    if name in ("PUT", "GET"):
        try:
            return int(arg)
        except ValueError:
            return -1
    return int.from_bytes(arg, "little")


def _string(name: str, arg: bytes) -> str:
    if name == "STRING":  # protocol 0: a quoted, escaped repr
        body = arg.rstrip(b"\n")
        if len(body) >= 2 and body[:1] == body[-1:] and body[:1] in (b"'", b'"'):
            body = body[1:-1]
        try:
            decoded: bytes = codecs.escape_decode(body)[0]  # type: ignore[attr-defined]
            return decoded.decode("latin-1")
        except ValueError:
            return body.decode("latin-1")
    if name == "UNICODE":
        return arg.rstrip(b"\n").decode("raw-unicode-escape", "replace")
    if name in ("BINSTRING", "SHORT_BINSTRING"):
        return arg.decode("latin-1")
    return arg.decode("utf-8", "replace")


def _merge(scan: PickleScan, walk: _Walk, file_id: str, error: str | None) -> None:
    """Class the imports found so far (picklescan's lists) into the scan."""
    result = _scanner._build_scan_result_from_raw_globals(walk.globals, file_id, bool(error))
    for g in sorted(result.globals, key=lambda g: (g.module, g.name)):
        ref = f"{g.module}.{g.name}"
        safety = g.safety.value
        if safety == "suspicious" and (g.module, g.name) in ROUTINE_IMPORTS:
            safety = "innocuous"
        bucket = {"dangerous": scan.dangerous, "suspicious": scan.suspicious}.get(
            safety, scan.innocuous
        )
        if ref not in bucket:
            bucket.append(ref)
    if error:
        scan.complete = False
        scan.error = scan.error or f"{file_id}: {error}"[:300]


def _scan_stream(
    scan: PickleScan,
    walk: _Walk,
    raw: IO[bytes],
    size: int,
    file_id: str,
    limit: int,
    *,
    torch: bool,
) -> None:
    before = set(walk.globals)
    error = None
    try:
        # A legacy PyTorch file: the magic number, protocol, sys_info, the model and the
        # storage keys are pickles, then raw storages (not pickles) follow.
        walk.stream(raw, size, limit, pickles=5 if torch else None)
    except PickleStreamError as exc:
        error = str(exc) + (" after the imports listed" if walk.globals - before else "")
    except OSError as exc:
        error = f"cannot read: {exc}"
    except Exception as exc:  # the walker's own failure: report it, never crash the audit
        error = f"the analysis failed: {type(exc).__name__}: {exc}"
    _merge(scan, walk, file_id, error)


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
    path: str | Path,
    *,
    max_bytes: int = MAX_PICKLE_BYTES,
    torch: bool | None = None,
    notes: list[str] | None = None,
) -> PickleScan:
    """The imports a pickle-based file (plain pickle, legacy or zip PyTorch) would make.

    `torch`: read it as a legacy PyTorch file (several pickles, then raw storages); by
    default when its suffix is .bin, .pt, .pth or .ckpt. The limits reached are added to
    `notes`. Raises LimitExceeded for a zip
    archive with more than MAX_ZIP_ENTRIES entries."""
    path = Path(path)
    if torch is None:
        torch = path.suffix.lower() in TORCH_SUFFIXES
    scan = PickleScan(analyser=ANALYSER)
    walk = _Walk()
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
            _scan_zip(scan, walk, fh, path.name, max_bytes)
        else:
            size = os.fstat(fh.fileno()).st_size
            _scan_stream(scan, walk, fh, size, path.name, max_bytes, torch=torch)
    if walk.limits:
        scan.complete = False
        scan.error = scan.error or "; ".join(walk.limits)[:300]
        if notes is not None:
            notes += walk.limits
    return scan


def _scan_zip(scan: PickleScan, walk: _Walk, fh: IO[bytes], name: str, max_bytes: int) -> None:
    try:
        with open_zip(fh, "the zip archive") as zf:
            members = [i for i in zf.infolist() if _member_is_pickle(zf, i)]
            for info in members[:MAX_ZIP_PICKLES]:
                # Buffered: zipfile's own read() is Python code, a call per opcode.
                with zf.open(info) as member, io.BufferedReader(member, 1 << 16) as buffered:  # type: ignore[arg-type,type-var]
                    _scan_stream(scan, walk, buffered, info.file_size, f"{name}:{info.filename}",
                                 max_bytes, torch=False)  # fmt: skip
            if len(members) > MAX_ZIP_PICKLES:
                walk.note(
                    f"{len(members)} pickles in the archive; the first {MAX_ZIP_PICKLES} analysed"
                )
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as exc:
        scan.complete = False
        scan.error = f"zip archive cannot be read: {exc}"[:300]


def looks_like_pickle(path: str | Path) -> bool:
    """A zip archive, or a stream whose first opcodes parse as a pickle — any protocol: a
    protocol 0 or 1 pickle has no PROTO opcode, and torch.load still runs it."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024)
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        return False
    if head.startswith(ZIP_MAGIC) or head.startswith(SEVEN_ZIP_MAGIC[:4]):
        return True
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    return _parses_as_pickle(head, size)


def _parses_as_pickle(head: bytes, size: int, opcodes: int = 64) -> bool:
    """The head of a `size`-byte file reaches a STOP, its own end or `opcodes` opcodes
    without a malformed one."""
    walk = _Walk()
    walk.opcodes_left = opcodes
    try:
        walk.stream(io.BytesIO(head), size, len(head), pickles=1)
    except PickleStreamError:
        return False
    return True
