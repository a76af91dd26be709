"""Load the provenance catalog from its YAML files and validate it; the packaged copy is cached.

A malformed entry raises :class:`aicensus.errors.CatalogError` whose message names the file, the
entry and the field, e.g. "families/alibaba.yaml: family 'qwen2.5': field 'licence': Expected `str`,
got `int`".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

from aicensus.attribute.names import name_tokens
from aicensus.attribute.schema import (
    AliasRule,
    Architecture,
    CatalogMeta,
    Developer,
    Family,
    HfRule,
    Licence,
    Markers,
    OllamaRule,
)
from aicensus.errors import CatalogError

T = TypeVar("T")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_AT = re.compile(r"\s*-\s*at\s*`\$\.?([^`]*)`$")


@dataclass(frozen=True)
class Catalog:
    meta: CatalogMeta
    developers: dict[str, Developer]
    families: dict[str, Family]
    architectures: dict[str, Architecture]
    markers: Markers
    files: dict[str, str] = field(default_factory=dict)  # family id -> file it came from
    licences: dict[str, Licence] = field(default_factory=dict)  # licences.yaml (due diligence)


@functools.cache
def default_catalog() -> Catalog:
    """The catalog shipped inside the package, loaded and validated once per process."""
    return load_catalog(resources.files("aicensus.attribute") / "catalog")


def load_catalog(root: Traversable | Path) -> Catalog:
    """Load and validate a catalog directory (the packaged one, or a copy under test)."""
    meta = _convert(_read(root, "catalog.yaml"), CatalogMeta, "catalog.yaml", "catalog", "")
    developers = _load_entries(root, "developers.yaml", "developers", Developer, "developer")
    architectures = _load_entries(
        root, "architectures.yaml", "architectures", Architecture, "architecture"
    )
    markers = _convert(_read(root, "markers.yaml"), Markers, "markers.yaml", "markers", "")
    families: dict[str, Family] = {}
    files: dict[str, str] = {}
    for label, node in _family_files(root):
        for fam in _load_entries_from(
            _read_node(node, label), label, "families", Family, "family"
        ).values():
            if fam.id in families:
                raise CatalogError(
                    f"{label}: family '{fam.id}': field 'id': already defined in {files[fam.id]}"
                )
            families[fam.id] = fam
            files[fam.id] = label
    licences = (
        _load_entries(root, "licences.yaml", "licences", Licence, "licence")
        if (root / "licences.yaml").is_file()
        else {}
    )
    catalog = Catalog(meta, developers, families, architectures, markers, files, licences)
    validate(catalog)
    return catalog


def _family_files(root: Traversable | Path) -> Iterator[tuple[str, Traversable | Path]]:
    folder = root / "families"
    nodes = sorted((n for n in folder.iterdir() if n.name.endswith(".yaml")), key=lambda n: n.name)
    if not nodes:
        raise CatalogError("families/: no family files found")
    for node in nodes:
        yield f"families/{node.name}", node


def _read(root: Traversable | Path, name: str) -> Any:
    return _read_node(root / name, name)


def _read_node(node: Traversable | Path, label: str) -> Any:
    try:
        return yaml.load(node.read_text(encoding="utf-8"), Loader=_LOADER)
    except FileNotFoundError as exc:
        raise CatalogError(f"{label}: file is missing") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"{label}: not valid YAML: {' '.join(str(exc).split())}") from exc


def _load_entries(
    root: Traversable | Path, name: str, key: str, type_: type[T], kind: str
) -> dict[str, T]:
    return _load_entries_from(_read(root, name), name, key, type_, kind)


def _load_entries_from(doc: Any, label: str, key: str, type_: type[T], kind: str) -> dict[str, T]:
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        raise CatalogError(f"{label}: expected a top-level '{key}' list")
    out: dict[str, T] = {}
    for index, raw in enumerate(doc[key]):
        entry_id = raw.get("id") if isinstance(raw, dict) else None
        name = str(entry_id) if entry_id is not None else f"#{index + 1}"
        item = _convert(raw, type_, label, kind, name)
        if name in out:
            raise CatalogError(f"{label}: {kind} '{name}': field 'id': duplicate id")
        out[name] = item
    return out


def _convert(raw: Any, type_: type[T], label: str, kind: str, name: str) -> T:
    try:
        return msgspec.convert(raw, type_, strict=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _AT.search(message)
        where = f"{kind} '{name}': " if name else ""
        if match:
            problem = message[: match.start()]
            path = match.group(1)
            fld = f"field '{path}': " if path else ""
            raise CatalogError(f"{label}: {where}{fld}{problem}") from exc
        raise CatalogError(f"{label}: {where}{message}") from exc


def _fail(catalog: Catalog, family: Family, fld: str, problem: str) -> CatalogError:
    return CatalogError(
        f"{catalog.files.get(family.id, 'families')}: family '{family.id}': field '{fld}': {problem}"
    )


def validate(catalog: Catalog) -> None:
    """Cross-reference checks that a single entry cannot make on its own."""
    for family in catalog.families.values():
        _check_family_refs(catalog, family)
    _check_unique_aliases(catalog)
    _check_unique_ollama(catalog)
    _check_base_cycles(catalog)
    _check_markers(catalog.markers)
    _check_diligence(catalog)


def _check_diligence(catalog: Catalog) -> None:
    """Variants name the family's own Ollama names and sizes; licence names match one entry only."""
    for family in catalog.families.values():
        names = {(r.name if isinstance(r, OllamaRule) else r).lower() for r in family.ollama}
        for index, variant in enumerate(family.variants):
            where = f"variants[{index}]"
            if (variant.ollama is None) == (variant.hf is None):
                raise _fail(catalog, family, where, "give exactly one of 'ollama' or 'hf'")
            if variant.ollama is not None and variant.ollama.lower() not in names:
                problem = f"'{variant.ollama}' is not one of this family's Ollama names"
                raise _fail(catalog, family, f"{where}.ollama", problem)
            if variant.default is not None and variant.default not in variant.sizes:
                problem = f"default '{variant.default}' is not one of the sizes"
                raise _fail(catalog, family, f"{where}.default", problem)
            for size in variant.per_size:
                if size not in variant.sizes:
                    raise _fail(catalog, family, f"{where}.per_size", f"'{size}' is not a size")
    seen: dict[str, str] = {}
    for licence in catalog.licences.values():
        for text in (licence.name, *licence.match):
            owner = seen.setdefault(text.lower(), licence.id)
            if owner != licence.id:
                raise CatalogError(
                    f"licences.yaml: licence '{licence.id}': field 'match': "
                    f"'{text}' already matches licence '{owner}'"
                )


def _check_family_refs(catalog: Catalog, family: Family) -> None:
    if family.developer is not None and family.developer not in catalog.developers:
        raise _fail(
            catalog,
            family,
            "developer",
            f"unknown developer '{family.developer}' (not in developers.yaml)",
        )
    for fld, base in _bases(family):
        if base not in catalog.families:
            raise _fail(catalog, family, fld, f"unknown base family '{base}'")
    for fld, arch in _archs(family):
        if arch not in catalog.architectures:
            raise _fail(
                catalog, family, fld, f"unknown architecture '{arch}' (not in architectures.yaml)"
            )
    for index, rule in enumerate(family.ollama):
        for tag in rule.tags if isinstance(rule, OllamaRule) else ():
            if not re.fullmatch(r"[A-Za-z0-9._*?-]+", tag):
                raise _fail(catalog, family, f"ollama[{index}].tags", f"bad tag glob '{tag}'")


def _bases(family: Family) -> Iterable[tuple[str, str]]:
    if family.base:
        yield "base", family.base
    for group, rules in (("ollama", family.ollama), ("hf", family.hf), ("aliases", family.aliases)):
        for index, rule in enumerate(rules):
            base = rule.base if isinstance(rule, OllamaRule | HfRule | AliasRule) else None
            if base:
                yield f"{group}[{index}].base", base


def _archs(family: Family) -> Iterable[tuple[str, str]]:
    for index, arch in enumerate(family.architectures):
        yield f"architectures[{index}]", arch
    for index, rule in enumerate(family.ollama):
        for arch in rule.architectures if isinstance(rule, OllamaRule) else ():
            yield f"ollama[{index}].architectures", arch


def _check_unique_aliases(catalog: Catalog) -> None:
    owner: dict[tuple[str, ...], str] = {}
    for dev in catalog.developers.values():
        for alias in dev.aliases:
            owner.setdefault(name_tokens(alias), f"developer '{dev.id}'")
    for family in catalog.families.values():
        for index, rule in enumerate(family.aliases):
            text = rule.alias if isinstance(rule, AliasRule) else rule
            key = name_tokens(text)
            if not key:
                raise _fail(
                    catalog, family, f"aliases[{index}]", f"alias '{text}' has no letters or digits"
                )
            previous = owner.setdefault(
                key, f"family '{family.id}' ({catalog.files.get(family.id)})"
            )
            if not previous.startswith(f"family '{family.id}'"):
                raise _fail(
                    catalog,
                    family,
                    f"aliases[{index}]",
                    f"alias '{text}' is already used by {previous}",
                )


def _check_unique_ollama(catalog: Catalog) -> None:
    plain: dict[str, str] = {}
    for family in catalog.families.values():
        for index, rule in enumerate(family.ollama):
            if isinstance(rule, OllamaRule) and (rule.tags or rule.architectures or rule.digests):
                continue
            name = (rule.name if isinstance(rule, OllamaRule) else rule).lower()
            owner = plain.setdefault(name, family.id)
            if owner != family.id:
                where = catalog.files.get(owner)
                problem = f"'{name}' (all tags) is already claimed by '{owner}' ({where})"
                raise _fail(catalog, family, f"ollama[{index}]", problem)


def _check_base_cycles(catalog: Catalog) -> None:
    for family in catalog.families.values():
        seen = {family.id}
        current = family.base
        while current:
            if current in seen:
                raise _fail(catalog, family, "base", f"base chain loops back to '{current}'")
            seen.add(current)
            current = catalog.families[current].base


def _check_markers(markers: Markers) -> None:
    for index, pattern in enumerate(markers.reupload_suffixes):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise CatalogError(
                f"markers.yaml: field 'reupload_suffixes[{index}]': bad pattern: {exc}"
            ) from exc
