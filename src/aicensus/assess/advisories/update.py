"""`aicensus advisories update --from DIR_OR_ARCHIVE`: refresh the bundle from OSV records.

Accepts a directory (searched recursively for *.json and *.jsonl[.gz]), a .zip (such as
osv.dev's per-ecosystem all.zip), or a .tar/.tar.gz/.tgz. Records about packages no aicensus
product ships as are skipped; a record replaces the bundled record of the same product that
shares its id or an alias (an advisory database's record then supersedes an aggregator's).
A file that is not an OSV record is counted and named, never fatal. Nothing is downloaded.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from aicensus.assess.advisories.bundle import (
    MANIFEST,
    RECORDS,
    AdvisoryError,
    Bundle,
    Osv,
    builtin_products,
    package_index,
    products_of,
    read_dir,
)

_MAX_FILE = 16 * 1024 * 1024  # one OSV record is a few KB; refuse absurd members


@dataclass
class UpdateResult:
    read: int = 0
    added: int = 0
    replaced: int = 0
    unmapped: int = 0
    invalid: list[str] = field(default_factory=list)
    total: int = 0
    date: str = ""
    folder: str = ""


def _members(source: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every candidate file in a directory or archive."""
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file() and path.name.endswith((".json", ".jsonl", ".jsonl.gz")):
                yield str(path.relative_to(source)), path.read_bytes()
        return
    name = source.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                if not info.is_dir() and info.file_size <= _MAX_FILE:
                    yield info.filename, zf.read(info)
        return
    if name.endswith((".tar", ".tar.gz", ".tgz")):
        with tarfile.open(source) as tf:
            for member in tf:
                if member.isfile() and member.size <= _MAX_FILE:
                    fh = tf.extractfile(member)
                    if fh is not None:
                        yield member.name, fh.read()
        return
    if name.endswith((".json", ".jsonl", ".jsonl.gz")):
        yield source.name, source.read_bytes()
        return
    raise AdvisoryError(f"{source}: not a directory, .zip, .tar(.gz) or OSV .json/.jsonl file")


def _records(name: str, data: bytes) -> Iterator[Osv | str]:
    """Decoded records of one file, or an error string per bad record."""
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            yield f"{name}: not gzip"
            return
    lines = data.splitlines() if name.endswith((".jsonl", ".jsonl.gz")) else [data]
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name}:{n}" if len(lines) > 1 else name
        try:
            osv = msgspec.json.decode(line, type=Osv)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            yield f"{where}: not an OSV record ({str(exc).splitlines()[0][:120]})"
            continue
        problem = "OSV record without an id" if not osv.id else malformed(osv)
        if problem:
            yield f"{where}: {problem}"
            continue
        yield osv


_EVENT_KINDS = {"introduced", "fixed", "last_affected", "limit"}


def malformed(osv: Osv) -> str | None:
    """Why a record's `affected` is not OSV-shaped enough to match on, or None."""
    for i, aff in enumerate(osv.affected):
        pkg = aff.get("package", {})
        if not isinstance(pkg, dict) or not all(
            isinstance(pkg.get(k, ""), str) for k in ("ecosystem", "name")
        ):
            return f"affected[{i}].package is not an object with ecosystem and name"
        if not isinstance(aff.get("versions", []), list):
            return f"affected[{i}].versions is not a list"
        ranges = aff.get("ranges", [])
        if not isinstance(ranges, list):
            return f"affected[{i}].ranges is not a list"
        for j, rng in enumerate(ranges):
            events = rng.get("events") if isinstance(rng, dict) else None
            if not isinstance(events, list) or not all(
                isinstance(e, dict) and len(e) == 1 and set(e) <= _EVENT_KINDS for e in events
            ):
                return f"affected[{i}].ranges[{j}].events is not a list of single OSV events"
    return None


def _tag(osv: Osv, product: str, origin: str, name: str) -> Osv:
    meta = dict(osv.database_specific.get("aicensus") or {})
    meta.setdefault("source_kind", "update")
    meta.setdefault("source", {"repo": origin, "path": name, "commit": ""})
    meta.setdefault("confidence", "reviewed")
    meta["product"] = product
    return msgspec.structs.replace(
        osv, database_specific={**osv.database_specific, "aicensus": meta}
    )


def update(current: Bundle, source: Path, target: Path) -> UpdateResult:
    """Merge the records under `source` into `current` and write the result to `target`."""
    if not source.exists():
        raise AdvisoryError(f"{source}: no such file or directory")
    index = package_index(builtin_products())
    result = UpdateResult(folder=str(target))
    records: dict[tuple[str, str], Osv] = {(a.product, a.id): a.osv for a in current.advisories}
    alias: dict[tuple[str, str], tuple[str, str]] = {
        (a.product, i): (a.product, a.id) for a in current.advisories for i in a.ids
    }
    newest = ""
    try:
        members = list(_members(source))
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise AdvisoryError(f"{source}: cannot read: {exc}") from exc
    for name, data in members:
        for item in _records(name, data):
            if isinstance(item, str):
                result.invalid.append(item)
                continue
            result.read += 1
            products = products_of(item, index)
            if not products:
                result.unmapped += 1
                continue
            newest = max(newest, item.modified[:10]) if item.modified[:4] > "0001" else newest
            for product in products:
                osv = _tag(item, product, f"update:{source.name}", name)
                old = {alias[(product, i)] for i in (osv.id, *osv.aliases) if (product, i) in alias}
                for key in old:
                    records.pop(key, None)
                result.replaced += bool(old)
                result.added += not old
                records[(product, osv.id)] = osv
                for i in (osv.id, *osv.aliases):
                    alias[(product, i)] = (product, osv.id)
    _write(current, list(records.values()), source, result, newest, target)
    return result


def _write(
    current: Bundle, records: list[Osv], source: Path, result: UpdateResult, newest: str,
    target: Path,
) -> None:  # fmt: skip
    target.mkdir(parents=True, exist_ok=True)
    records.sort(
        key=lambda o: ((o.database_specific.get("aicensus") or {}).get("product", ""), o.id)
    )
    body = b"".join(msgspec.json.encode(r) + b"\n" for r in records)
    tmp = target / (RECORDS + ".tmp")
    tmp.write_bytes(gzip.compress(body, mtime=0))
    manifest = dict(current.manifest)
    manifest["date"] = max(str(manifest.get("date", "")), newest)
    manifest["sources"] = [
        *manifest.get("sources", []),
        {
            "from": str(source),
            "records": result.read,
            "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    ]
    manifest["advisories"] = len(records)
    result.total, result.date = len(records), manifest["date"]
    tmp.replace(target / RECORDS)
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    read_dir(target)  # what was written must load
