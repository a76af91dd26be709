"""Where model files live on this machine, and which files there are models.

Stores looked at by default (each only if it exists):

| kind | locations |
|---|---|
| ollama | `$OLLAMA_MODELS`, `~/.ollama/models`, the `ollama` service account's `~/.ollama/models`, `/usr/share/ollama/.ollama/models` |
| huggingface | `$HF_HUB_CACHE`, `$HF_HOME/hub`, `$XDG_CACHE_HOME/huggingface/hub`, `~/.cache/huggingface/hub` |
| lm-studio | `~/.lmstudio/models`, `~/.cache/lm-studio/models` |
| gpt4all | `~/.local/share/nomic.ai/GPT4All`, `~/Library/Application Support/nomic.ai/GPT4All` |
| llama.cpp | `$LLAMA_CACHE`, `$XDG_CACHE_HOME/llama.cpp`, `~/.cache/llama.cpp` |

plus every `--path` (a directory, walked; or a file). Inside a `--path`, an Ollama store
(`manifests/` + `blobs/`) and a Hugging Face hub cache (`models--*` folders) are recognised and
read as such. Walks never follow symlinked directories, and stop after `max_entries` entries.
"""

from __future__ import annotations

import json
import os
import pwd
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aicensus.audit.records import AuditError, ModelStore

MODEL_SUFFIXES = frozenset({
    ".gguf", ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib",
    ".keras", ".h5", ".hdf5", ".onnx",
})  # fmt: skip
SKIP_DIRS = frozenset({".git", "__pycache__", "node_modules", ".tox", ".mypy_cache"})
MAX_ENTRIES = 500_000
MAX_MANIFEST = 1024 * 1024
MAX_NOTES = 1_000  # notes kept of one discovery (the rest are counted)
OLLAMA_MODEL = "application/vnd.ollama.image.model"
OLLAMA_EXTRA_GGUF = {
    "application/vnd.ollama.image.projector": "projector",
    "application/vnd.ollama.image.adapter": "adapter",
}
OLLAMA_LICENSE = "application/vnd.ollama.image.license"
OLLAMA_REGISTRY = "registry.ollama.ai"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DIGEST = re.compile(r"^sha256[:-]([0-9a-f]{64})$")


@dataclass
class Candidate:
    """A file that may be a model, with what its store says about it."""

    path: Path
    name: str
    store: str
    aliases: list[str] = field(default_factory=list)
    known_sha256: str | None = None  # the content digest the store names the file by
    repo: str | None = None  # a Hugging Face style owner/name, for attribution
    licence_hint: str | None = None  # e.g. the first line of an Ollama licence layer
    kind_hint: str | None = None  # "gguf" for an Ollama model layer
    store_path: str = ""  # the store (or --path) it was found in


@dataclass
class Location:
    kind: str
    path: Path
    source: str


@dataclass
class Discovery:
    stores: list[ModelStore] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    searched: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    entries: int = 0


# --------------------------------------------------------------------------- locations


def _service_homes() -> list[Path]:
    try:
        return [Path(pwd.getpwnam("ollama").pw_dir)]
    except (KeyError, OSError):
        return []


def _user_homes() -> list[Path]:
    homes = []
    try:
        entries = pwd.getpwall()
    except OSError:
        return []
    for entry in entries:
        if entry.pw_uid >= 1000 and entry.pw_uid != 65534 and entry.pw_dir not in ("", "/"):
            homes.append(Path(entry.pw_dir))
    return homes


def default_locations(
    env: Mapping[str, str], home: Path, *, all_users: bool = False
) -> list[Location]:
    """The usual model stores, in order (existence is checked later)."""
    locs: list[Location] = []

    def add(kind: str, path: str | Path | None, source: str) -> None:
        if path:
            locs.append(Location(kind, Path(path).expanduser(), source))

    homes = [(home, "~")]
    if all_users:
        homes += [(h, f"~{h.name}") for h in _user_homes() if h != home]
    xdg_cache = env.get("XDG_CACHE_HOME")

    add("ollama", env.get("OLLAMA_MODELS"), "$OLLAMA_MODELS")
    for h, label in homes:
        add("ollama", h / ".ollama" / "models", f"{label}/.ollama/models")
    for h in _service_homes():
        add("ollama", h / ".ollama" / "models", "ollama service account")
    add("ollama", "/usr/share/ollama/.ollama/models", "ollama service account (Linux default)")

    add("huggingface", env.get("HF_HUB_CACHE"), "$HF_HUB_CACHE")
    if env.get("HF_HOME"):
        add("huggingface", Path(env["HF_HOME"]) / "hub", "$HF_HOME/hub")
    add("huggingface", env.get("TRANSFORMERS_CACHE"), "$TRANSFORMERS_CACHE")
    if xdg_cache:
        add("huggingface", Path(xdg_cache) / "huggingface" / "hub", "$XDG_CACHE_HOME")
    for h, label in homes:
        add("huggingface", h / ".cache" / "huggingface" / "hub", f"{label}/.cache/huggingface/hub")

    for h, label in homes:
        add("lm-studio", h / ".lmstudio" / "models", f"{label}/.lmstudio/models")
        add("lm-studio", h / ".cache" / "lm-studio" / "models", f"{label}/.cache/lm-studio/models")
        add("gpt4all", h / ".local/share/nomic.ai/GPT4All", f"{label}/.local/share/nomic.ai")
        add(
            "gpt4all",
            h / "Library/Application Support/nomic.ai/GPT4All",
            f"{label}/Library/Application Support/nomic.ai",
        )

    add("llama.cpp", env.get("LLAMA_CACHE"), "$LLAMA_CACHE")
    if xdg_cache:
        add("llama.cpp", Path(xdg_cache) / "llama.cpp", "$XDG_CACHE_HOME/llama.cpp")
    for h, label in homes:
        add("llama.cpp", h / ".cache" / "llama.cpp", f"{label}/.cache/llama.cpp")
    return locs


# --------------------------------------------------------------------------- walking


class _Budget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self) -> bool:
        self.used += 1
        return self.used <= self.limit


def _walk(root: Path, budget: _Budget, notes: list[str] | None = None) -> Iterator[Path]:
    """Files under root (symlinked files included, symlinked directories not followed);
    what cannot be listed or read is a line in `notes`."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            _note(notes, f"{folder}: cannot be listed ({exc.strerror or exc}): not searched")
            continue
        for entry in entries:
            if not budget.spend():
                return
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIP_DIRS:
                        stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=True):
                    yield Path(entry.path)
                else:
                    _note(notes, _not_a_file(entry))
            except OSError as exc:
                _note(notes, f"{entry.path}: cannot be read ({exc.strerror or exc})")


def _note(notes: list[str] | None, text: str) -> None:
    if notes is not None:
        notes.append(text[:400])


def _not_a_file(entry: os.DirEntry[str]) -> str:
    """Why a directory entry that is neither a folder nor a regular file is not read."""
    if entry.is_symlink() and not os.path.exists(entry.path):
        return f"{entry.path}: broken symbolic link: not read"
    return f"{entry.path}: not a regular file (FIFO, socket or device): not read"


def _is_dir(path: Path) -> bool:
    """Path.is_dir, False (not an exception) where the path cannot be looked at."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return True  # it is there, it cannot be looked into: say so where it is read


def is_ollama_store(path: Path) -> bool:
    return _is_dir(path / "manifests") and _is_dir(path / "blobs")


def is_hf_hub(path: Path) -> bool:
    try:
        return any(p.name.startswith("models--") and _is_dir(p) for p in path.iterdir())
    except OSError:
        return False


def _blob_path(blobs: Path, digest: str) -> Path | None:
    m = _DIGEST.match(digest)
    if not m:
        return None
    for name in (f"sha256-{m.group(1)}", f"sha256:{m.group(1)}"):
        candidate = blobs / name
        if _is_file(candidate):
            return candidate
    return blobs / f"sha256-{m.group(1)}"


def _ollama_name(parts: tuple[str, ...]) -> str:
    if len(parts) == 4:
        registry, namespace, model, tag = parts
        if registry == OLLAMA_REGISTRY:
            return f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
        return f"{registry}/{namespace}/{model}:{tag}"
    return "/".join(parts[:-1]) + ":" + parts[-1] if parts else "?"


def _first_line(path: Path, cap: int = 4096) -> str | None:
    try:
        with open(path, "rb") as fh:
            text = fh.read(cap).decode("utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return None


def read_ollama_store(root: Path, budget: _Budget, out: Discovery) -> ModelStore:
    """Candidates from an Ollama models directory: one per blob, every tag that uses it."""
    store = ModelStore(kind="ollama", path=str(root), source="")
    blobs = root / "blobs"
    by_blob: dict[Path, Candidate] = {}
    manifests = root / "manifests"
    for manifest in _walk(manifests, budget, out.notes):
        parts = manifest.relative_to(manifests).parts
        name = _ollama_name(parts)
        try:
            if manifest.stat().st_size > MAX_MANIFEST:
                raise ValueError("manifest larger than 1 MiB")
            doc = json.loads(manifest.read_bytes())
            layers = doc.get("layers") if isinstance(doc, dict) else None
            if not isinstance(layers, list):
                raise ValueError("no layers")
        except (OSError, ValueError) as exc:
            out.notes.append(f"{manifest}: not an Ollama manifest ({exc})")
            continue
        licence = None
        files: list[tuple[Path, str, str]] = []
        for layer in layers:
            if not isinstance(layer, dict):
                continue
            media, digest = layer.get("mediaType"), str(layer.get("digest") or "")
            blob = _blob_path(blobs, digest)
            if blob is None:
                continue
            if media == OLLAMA_LICENSE:
                licence = _first_line(blob)
            elif media == OLLAMA_MODEL:
                files.append((blob, name, digest))
            elif media in OLLAMA_EXTRA_GGUF:
                files.append((blob, f"{name} ({OLLAMA_EXTRA_GGUF[media]})", digest))
        for blob, label, digest in files:
            if not _is_file(blob):
                out.notes.append(f"Ollama model {name}: blob {blob.name} is missing")
                continue
            seen = by_blob.get(blob)
            if seen is not None:
                if label not in seen.aliases and label != seen.name:
                    seen.aliases.append(label)
                continue
            m = _DIGEST.match(digest)
            by_blob[blob] = Candidate(
                path=blob,
                name=label,
                store="ollama",
                known_sha256=m.group(1) if m else None,
                licence_hint=licence,
                kind_hint="gguf",
                store_path=str(root),
            )
    out.candidates.extend(by_blob.values())
    store.models = len(by_blob)
    store.size_bytes = sum(_size(p) for p in by_blob)
    return store


def read_hf_hub(root: Path, budget: _Budget, out: Discovery) -> ModelStore:
    """Candidates from a Hugging Face hub cache: snapshot files resolved to their blobs."""
    store = ModelStore(kind="huggingface", path=str(root), source="")
    seen: dict[Path, Candidate] = {}
    try:
        repos = sorted(p for p in root.iterdir() if p.name.startswith("models--") and _is_dir(p))
    except OSError as exc:
        store.error = str(exc)
        return store
    for repo_dir in repos:
        repo = repo_dir.name.removeprefix("models--").replace("--", "/", 1)
        snapshots = repo_dir / "snapshots"
        if not _is_dir(snapshots):
            continue
        for path in _walk(snapshots, budget, out.notes):
            if path.suffix.lower() not in MODEL_SUFFIXES:
                continue
            rel = path.relative_to(snapshots).parts[1:]  # drop the revision
            label = f"{repo}/{'/'.join(rel)}"
            try:
                real = path.resolve(strict=True)
            except OSError:
                out.notes.append(f"{path}: broken link into the blob store")
                continue
            if real in seen:
                if label not in seen[real].aliases and label != seen[real].name:
                    seen[real].aliases.append(label)
                continue
            seen[real] = Candidate(
                path=real,
                name=label,
                store="huggingface",
                repo=repo,
                known_sha256=real.name if _HEX64.match(real.name) else None,
                store_path=str(root),
            )
    out.candidates.extend(seen.values())
    store.models = len(seen)
    store.size_bytes = sum(_size(p) for p in seen)
    return store


def read_folder(root: Path, kind: str, budget: _Budget, out: Discovery) -> ModelStore:
    """Candidates from an ordinary folder (LM Studio, GPT4All, llama.cpp cache, --path).

    Nested Ollama stores and Hugging Face caches are read as such."""
    store = ModelStore(kind=kind, path=str(root), source="")
    found: dict[Path, Candidate] = {}
    nested: list[ModelStore] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        if folder != root and is_ollama_store(folder):
            nested.append(read_ollama_store(folder, budget, out))
            continue
        if folder.name.startswith("models--") and _is_dir(folder / "snapshots"):
            if folder.parent not in {Path(s.path) for s in nested}:
                nested.append(read_hf_hub(folder.parent, budget, out))
            continue
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if folder == root:
                store.error = str(exc)
            else:
                out.notes.append(
                    f"{folder}: cannot be listed ({exc.strerror or exc}): not searched"[:400]
                )
            continue
        for entry in entries:
            if not budget.spend():
                out.notes.append(f"{root}: stopped after {budget.limit} entries")
                stack.clear()
                break
            model_named = Path(entry.name).suffix.lower() in MODEL_SUFFIXES
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIP_DIRS:
                        stack.append(Path(entry.path))
                    continue
                if not entry.is_file(follow_symlinks=True):
                    if model_named:
                        out.notes.append(_not_a_file(entry)[:400])
                    continue
            except OSError as exc:
                out.notes.append(f"{entry.path}: cannot be read ({exc.strerror or exc})"[:400])
                continue
            path = Path(entry.path)
            if not model_named:
                continue
            try:
                real = path.resolve(strict=True)
            except OSError as exc:
                out.notes.append(f"{path}: cannot be resolved ({exc.strerror or exc})"[:400])
                continue
            rel = path.relative_to(root)
            label = str(rel) if kind == "path" else "/".join(rel.parts)
            repo = "/".join(rel.parts[:2]) if kind == "lm-studio" and len(rel.parts) >= 3 else None
            if real in found:
                found[real].aliases.append(label)
                continue
            found[real] = Candidate(
                path=real, name=label, store=kind, repo=repo, store_path=str(root)
            )
    out.candidates.extend(found.values())
    store.models = len(found)
    store.size_bytes = sum(_size(p) for p in found)
    for n in nested:
        n.source = f"inside {root}"
    out.stores.extend(nested)
    return store


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def discover(
    locations: list[Location],
    paths: list[Path],
    *,
    max_entries: int = MAX_ENTRIES,
) -> Discovery:
    """Read every existing store and every --path; candidates are de-duplicated by real path."""
    out = Discovery()
    budget = _Budget(max_entries)
    done: set[Path] = set()
    for given in paths:
        if not _exists(given):
            raise AuditError(f"--path {given}: no such file or directory")
    todo = [*locations, *(Location("path", p, "--path") for p in paths)]
    for loc in todo:
        out.searched.append(f"{loc.kind}: {loc.path}")
        try:
            real = loc.path.resolve()
        except OSError:
            continue
        if real in done or not _exists(loc.path):
            continue
        done.add(real)
        if _is_file(loc.path):
            out.candidates.append(
                Candidate(path=real, name=loc.path.name, store=loc.kind, store_path=str(loc.path))
            )
            out.stores.append(
                ModelStore(kind=loc.kind, path=str(loc.path), source=loc.source, models=1,
                           size_bytes=_size(real))
            )  # fmt: skip
            continue
        if loc.kind == "ollama" or (loc.kind == "path" and is_ollama_store(loc.path)):
            store = read_ollama_store(loc.path, budget, out)
            store.kind = "ollama"
        elif loc.kind == "huggingface" or (loc.kind == "path" and is_hf_hub(loc.path)):
            store = read_hf_hub(loc.path, budget, out)
            store.kind = "huggingface"
        else:
            store = read_folder(loc.path, loc.kind, budget, out)
        store.source = loc.source
        out.stores.append(store)
    out.entries = budget.used
    unique: dict[Path, Candidate] = {}
    for cand in out.candidates:
        try:
            key = cand.path.resolve()
        except OSError:
            key = cand.path
        if key in unique:
            first = unique[key]
            for alias in [cand.name, *cand.aliases]:
                if alias != first.name and alias not in first.aliases:
                    first.aliases.append(alias)
        else:
            unique[key] = cand
    out.candidates = list(unique.values())
    if len(out.notes) > MAX_NOTES:
        more = len(out.notes) - MAX_NOTES
        out.notes[MAX_NOTES:] = [f"… and {more} more notes like these"]
    return out
