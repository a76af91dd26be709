"""Lookup tables built once from the catalog, so that attributing one name costs a few dictionary hits."""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, field

from aicensus.attribute.load import Catalog, default_catalog
from aicensus.attribute.names import name_tokens, normalise_org, tokens
from aicensus.attribute.schema import AliasRule, Developer, Family, HfRule, OllamaRule


@dataclass(frozen=True, slots=True)
class AliasTarget:
    """What an alias found in a name points at: a family, or only a developer ('qwen', 'llama')."""

    text: str
    developer: str | None
    family: str | None = None
    base: str | None = None


@dataclass(frozen=True, slots=True)
class LibraryRule:
    family: str
    name: str
    tag_globs: tuple[str, ...]
    tag_patterns: tuple[re.Pattern[str], ...]
    architectures: frozenset[str]
    digests: tuple[str, ...]
    base: str | None
    licence: str | None
    note: str | None

    def tag_score(self, tag: str) -> int | None:
        """How specifically this rule names the tag: None if it does not apply, -1 for 'every tag'."""
        if not self.tag_globs:
            return -1
        scores = [
            _glob_score(g)
            for g, p in zip(self.tag_globs, self.tag_patterns, strict=True)
            if p.match(tag)
        ]
        return max(scores) if scores else None


@dataclass(frozen=True, slots=True)
class RepoPattern:
    family: str
    glob: str
    repo: re.Pattern[str]
    literal: int
    catch_all: bool
    base: str | None
    licence: str | None
    note: str | None


def _glob_score(glob: str) -> int:
    literal = len(glob.replace("*", "").replace("?", ""))
    return literal + (1000 if "*" not in glob and "?" not in glob else 0)


def _compile(glob: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(glob.lower()))


@dataclass
class Index:
    catalog: Catalog
    aliases: dict[tuple[str, ...], AliasTarget] = field(default_factory=dict)
    max_alias: int = 1
    library: dict[str, list[LibraryRule]] = field(default_factory=dict)
    library_keys: dict[tuple[str, ...], str] = field(default_factory=dict)
    hf_by_owner: dict[str, list[RepoPattern]] = field(default_factory=dict)
    hf_by_token: dict[str, list[RepoPattern]] = field(default_factory=dict)
    org_developer: dict[str, str] = field(default_factory=dict)
    known_owners: frozenset[str] = frozenset()
    arch_families: dict[str, list[str]] = field(default_factory=dict)
    derivative: frozenset[str] = frozenset()
    quantizers: frozenset[str] = frozenset()
    strong_publishers: frozenset[str] = frozenset()
    weak_publishers: frozenset[str] = frozenset()
    strong_tokens: dict[tuple[str, ...], str] = field(default_factory=dict)
    weak_tokens: dict[tuple[str, ...], str] = field(default_factory=dict)
    strong_prefixes: tuple[str, ...] = ()
    suffix: re.Pattern[str] = re.compile(r"(?!)")

    def family(self, family_id: str) -> Family:
        return self.catalog.families[family_id]

    def developer(self, developer_id: str | None) -> Developer | None:
        return self.catalog.developers.get(developer_id) if developer_id else None

    def developer_of(self, family_id: str | None) -> str | None:
        return self.catalog.families[family_id].developer if family_id else None

    def root_base(self, family_id: str) -> str:
        """Follow default bases to the family whose weights everything else came from."""
        seen = {family_id}
        current = family_id
        while (nxt := self.catalog.families[current].base) and nxt not in seen:
            seen.add(nxt)
            current = nxt
        return current

    def strip_suffix(self, repo: str) -> str:
        return self.suffix.sub("", repo)


@functools.cache
def default_index() -> Index:
    return build_index(default_catalog())


def build_index(catalog: Catalog) -> Index:
    idx = Index(catalog=catalog)
    _index_aliases(idx)
    _index_library(idx)
    _index_hf(idx)
    _index_orgs(idx)
    _index_architectures(idx)
    _index_markers(idx)
    idx.derivative = frozenset(f.id for f in catalog.families.values() if _is_derivative(f))
    return idx


def _is_derivative(family: Family) -> bool:
    rules = [*family.ollama, *family.hf, *family.aliases]
    return (
        family.derivative or family.base is not None or any(getattr(r, "base", None) for r in rules)
    )


def _index_aliases(idx: Index) -> None:
    for dev in idx.catalog.developers.values():
        for alias in dev.aliases:
            idx.aliases[name_tokens(alias)] = AliasTarget(text=alias, developer=dev.id)
    for fam in idx.catalog.families.values():
        for rule in fam.aliases:
            text, base = (rule.alias, rule.base) if isinstance(rule, AliasRule) else (rule, None)
            idx.aliases[name_tokens(text)] = AliasTarget(
                text=text, developer=fam.developer, family=fam.id, base=base
            )
    idx.max_alias = max((len(k) for k in idx.aliases), default=1)


def _index_library(idx: Index) -> None:
    for fam in idx.catalog.families.values():
        for rule in fam.ollama:
            lib = _library_rule(fam, rule)
            idx.library.setdefault(lib.name, []).append(lib)
            idx.library_keys.setdefault(name_tokens(lib.name), lib.name)


def _library_rule(fam: Family, rule: str | OllamaRule) -> LibraryRule:
    if isinstance(rule, str):
        rule = OllamaRule(name=rule)
    return LibraryRule(
        family=fam.id,
        name=rule.name.lower(),
        tag_globs=tuple(t.lower() for t in rule.tags),
        tag_patterns=tuple(_compile(t) for t in rule.tags),
        architectures=frozenset(a.lower() for a in rule.architectures),
        digests=tuple(rule.digests),
        base=rule.base,
        licence=rule.licence,
        note=rule.note,
    )


def _index_hf(idx: Index) -> None:
    for fam in idx.catalog.families.values():
        for rule in fam.hf:
            pat = _repo_pattern(fam, rule)
            owner = pat.glob.split("/", 1)[0].lower()
            idx.hf_by_owner.setdefault(owner, []).append(pat)
            first = tokens(pat.glob.split("/", 1)[1].split("*", 1)[0])
            if not pat.catch_all and first and pat.literal >= 4:
                idx.hf_by_token.setdefault(first[0], []).append(pat)


def _repo_pattern(fam: Family, rule: str | HfRule) -> RepoPattern:
    if isinstance(rule, str):
        rule = HfRule(repo=rule)
    repo_glob = rule.repo.split("/", 1)[1]
    return RepoPattern(
        family=fam.id,
        glob=rule.repo,
        repo=_compile(repo_glob),
        literal=_glob_score(repo_glob),
        catch_all=repo_glob.strip("*") == "",
        base=rule.base,
        licence=rule.licence,
        note=rule.note,
    )


def _index_orgs(idx: Index) -> None:
    for dev in idx.catalog.developers.values():
        for org in dev.hf_orgs:
            idx.org_developer[org.lower()] = dev.id
            idx.org_developer[normalise_org(org)] = dev.id
    markers = idx.catalog.markers
    idx.quantizers = frozenset(q.lower() for q in markers.quantizers)
    idx.strong_publishers = frozenset(p.lower() for p in markers.guardrails.strong_publishers)
    idx.weak_publishers = frozenset(p.lower() for p in markers.guardrails.weak_publishers)
    idx.known_owners = frozenset(
        {
            *idx.org_developer,
            *idx.hf_by_owner,
            *idx.quantizers,
            *idx.strong_publishers,
            *idx.weak_publishers,
        }
    )


def _index_architectures(idx: Index) -> None:
    for fam in idx.catalog.families.values():
        for arch in fam.architectures:
            idx.arch_families.setdefault(arch.lower(), []).append(fam.id)


def _index_markers(idx: Index) -> None:
    guard = idx.catalog.markers.guardrails
    idx.strong_tokens = {tokens(t): t for t in guard.strong_tokens}
    idx.weak_tokens = {tokens(t): t for t in guard.weak_tokens}
    idx.strong_prefixes = tuple(p.lower() for p in guard.strong_prefixes)
    suffixes = "|".join(f"(?:{s})" for s in idx.catalog.markers.reupload_suffixes)
    if suffixes:
        idx.suffix = re.compile(rf"(?:[-_.](?:{suffixes}))+$", re.IGNORECASE)
