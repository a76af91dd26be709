"""Matching a name against the catalog: each route turns one kind of signal into a :class:`Hit`.

Routes, strongest first: the official Ollama library name (with tag-level lineage), a repository
under the developer's own Hugging Face organisation, a quantizer re-upload of such a repository,
and finally family names found inside a free-form name. The architecture alone is handled by
``result.py`` as the weakest signal. Every route is pure and returns None when it has nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from aicensus.attribute.index import AliasTarget, Index, LibraryRule, RepoPattern
from aicensus.attribute.names import NameRef, name_tokens, split_owner_prefix, tokens

LIBRARY = 0.95
OFFICIAL_REPO = 0.95
REUPLOAD = 0.9
DEVELOPER_ORG = 0.85
MIRROR = 0.85
NAME_FAMILY = 0.75
NAME_DEVELOPER = 0.65
ALTERNATIVE_BUILD_PENALTY = 0.1


@dataclass(frozen=True, slots=True)
class Hit:
    developer: str | None
    family: str | None = None
    base_family: str | None = None
    base_developer: str | None = None
    licence: str | None = None
    confidence: float = 0.0
    evidence: tuple[str, ...] = ()
    conflict: tuple[str, ...] = ()  # developer ids named together with no lineage link between them
    matched_by: str = "name"  # records.Attribution.matched_by

    def note(self, *lines: str) -> Hit:
        return dataclasses.replace(
            self, evidence=self.evidence + tuple(line for line in lines if line)
        )

    def capped(self, value: float) -> Hit:
        return dataclasses.replace(self, confidence=min(self.confidence, value))


@dataclass(frozen=True, slots=True)
class Signals:
    """What the server said about a model besides its name."""

    architecture: str | None = None
    digest: str | None = None


def match_name(idx: Index, ref: NameRef, sig: Signals) -> Hit | None:
    if ref.kind == "library":
        return _library_or_name(idx, ref.model, ref.tag, sig)
    if ref.kind == "file":
        return match_file(idx, ref.model, sig)
    tag = ref.tag if ref.kind == "repo" else None
    return match_repo(idx, ref.owner or "", ref.model, tag, sig)


def _library_or_name(idx: Index, model: str, tag: str | None, sig: Signals) -> Hit | None:
    rules = idx.library.get(model.lower())
    if rules:
        return library_hit(idx, model.lower(), rules, tag, sig)
    hit = match_tokens(idx, model, tag, sig)
    return (
        hit.note(f"'{model}' is not an Ollama library name; matched on the name alone")
        if hit
        else None
    )


# --- Ollama library -------------------------------------------------------------------------


def library_hit(
    idx: Index, name: str, rules: list[LibraryRule], tag: str | None, sig: Signals
) -> Hit:
    tag = (tag or "latest").lower()
    rule, why, alternatives = select_rule(rules, tag, sig)
    family = idx.family(rule.family)
    base = rule.base or family.base
    evidence = [f"Ollama library name '{name}' is {family.name} [{family.id}]"]
    if rule.note:
        evidence.append(f"tag '{tag}': {rule.note}")
    if why:
        evidence.append(why)
    confidence = LIBRARY
    if alternatives:
        confidence -= ALTERNATIVE_BUILD_PENALTY
        evidence.append(alternatives)
    return Hit(
        developer=family.developer,
        family=family.id,
        base_family=base,
        licence=rule.licence,
        confidence=confidence,
        evidence=tuple(evidence),
    )


def select_rule(rules: list[LibraryRule], tag: str, sig: Signals) -> tuple[LibraryRule, str, str]:
    """Pick the rule for a tag; returns (rule, why it was chosen, note about other possible builds)."""
    scored = [(s, r) for r in rules if (s := r.tag_score(tag)) is not None] or [
        (-1, r) for r in rules
    ]
    if sig.digest:
        by_digest = [(s, r) for s, r in scored if any(sig.digest.startswith(d) for d in r.digests)]
        if by_digest:
            return by_digest[0][1], f"digest {sig.digest[:12]} identifies this build", ""
    arch = (sig.architecture or "").lower()
    fitting = [(s, r) for s, r in scored if not r.architectures or arch in r.architectures]
    if arch and fitting:
        top = max(s for s, _ in fitting)
        group = [r for s, r in fitting if s == top]
        rule = next((r for r in group if r.architectures), group[0])
        why = f"details.family '{arch}' selects this build" if rule.architectures else ""
        return rule, why, ""
    rule = _best(scored)
    return rule, "", _alternatives(rule, scored)


def _best(scored: list[tuple[int, LibraryRule]]) -> LibraryRule:
    top = max(s for s, _ in scored)
    return next(r for s, r in scored if s == top)


def _alternatives(rule: LibraryRule, scored: list[tuple[int, LibraryRule]]) -> str:
    if not rule.architectures:
        return ""
    top = max(s for s, _ in scored)
    others = [r for s, r in scored if s == top and r is not rule and r.base != rule.base]
    if not others:
        return ""
    notes = "; ".join(r.note or f"base {r.base}" for r in others)
    return f"no details.family to tell builds apart; another build of this tag exists: {notes}"


# --- Hugging Face repositories and Ollama community names -------------------------------------


def match_repo(idx: Index, owner: str, repo: str, tag: str | None, sig: Signals) -> Hit | None:
    low = owner.lower()
    if low in idx.quantizers:
        return match_reupload(idx, owner, repo, sig)
    official = _glob_hit(idx, idx.hf_by_owner.get(low, []), owner, repo, catch_all=False)
    if official:
        return _with_named_base(idx, official, repo)
    named = match_tokens(idx, repo, tag, sig)
    developer = idx.org_developer.get(low)
    if developer or low in idx.hf_by_owner:
        mirror = _agnostic_hit(idx, owner, repo)
        if mirror and mirror.developer != developer and not _named_wins(idx, named, mirror):
            return mirror.capped(MIRROR).note(
                f"'{owner}' re-hosts another developer's repository under its original name"
            )
        return _org_hit(idx, owner, repo, named, developer)
    if named is None:
        return None
    return named.note(
        f"uploaded by '{owner}', not by the developer: attributed to the family the name refers to"
    )


def _named_wins(idx: Index, named: Hit | None, exact: Hit) -> bool:
    """A derivative named in the repo ('Mistral-7B-OpenOrca') beats the base repository it starts like."""
    return bool(named and named.family in idx.derivative and named.developer != exact.developer)


def _glob_hit(
    idx: Index, patterns: list[RepoPattern], owner: str, repo: str, *, catch_all: bool
) -> Hit | None:
    candidates = [p for p in patterns if p.catch_all == catch_all]
    if not candidates:
        return None
    names = {repo.lower(), idx.strip_suffix(repo).lower()}
    found = [p for p in candidates if any(p.repo.match(n) for n in names)]
    if not found:
        return None
    best = max(found, key=lambda p: p.literal)
    family = idx.family(best.family)
    label = f"Hugging Face repository '{owner}/{repo}'" if owner else f"name '{repo}'"
    evidence = [f"{label} matches {best.glob} [{family.id}]"]
    if best.note:
        evidence.append(best.note)
    return Hit(
        developer=family.developer,
        family=family.id,
        base_family=best.base or family.base,
        licence=best.licence,
        confidence=OFFICIAL_REPO if not catch_all else DEVELOPER_ORG,
        evidence=tuple(evidence),
    )


def _with_named_base(idx: Index, hit: Hit, repo: str) -> Hit:
    """A derivative family's repo often names its base ('Hermes-3-Llama-3.1-8B'): use it."""
    if hit.base_family or hit.family not in idx.derivative:
        return hit
    named = match_tokens(idx, repo, None, Signals())
    if named is None or named.conflict:
        return hit
    if named.developer != hit.developer:
        base, base_dev = named.family, named.developer
    elif named.base_family or named.base_developer:
        base, base_dev = named.base_family, named.base_developer
    else:
        return hit
    described = _describe(idx, Hit(developer=base_dev or idx.developer_of(base), family=base))
    return dataclasses.replace(hit, base_family=base, base_developer=base_dev).note(
        f"the name points to {described} as the base"
    )


def _org_hit(
    idx: Index, owner: str, repo: str, named: Hit | None, developer: str | None
) -> Hit | None:
    catch = _glob_hit(idx, idx.hf_by_owner.get(owner.lower(), []), owner, repo, catch_all=True)
    if developer is None and catch is None:
        return named
    if developer is None:
        developer = catch.developer if catch else None
    if named and named.developer == developer and not named.conflict:
        return dataclasses.replace(named, confidence=DEVELOPER_ORG).note(
            f"published under the developer's organisation '{owner}'"
        )
    base = named if named and not named.conflict else None
    hit = catch or Hit(developer=developer, confidence=DEVELOPER_ORG)
    hit = hit.note(f"Hugging Face organisation '{owner}' belongs to this developer")
    if base and not hit.base_family:
        hit = dataclasses.replace(hit, base_family=base.family, base_developer=base.developer)
        hit = hit.note(f"the name refers to {_describe(idx, base)}: taken as the base")
    return hit


def match_reupload(idx: Index, quantizer: str, repo: str, sig: Signals) -> Hit | None:
    prefixed = split_owner_prefix(repo, idx.known_owners)
    if prefixed:
        inner = match_repo(idx, prefixed[0], prefixed[1], None, sig)
        return _reuploaded(inner, quantizer, f"{prefixed[0]}/{prefixed[1]}")
    stripped = idx.strip_suffix(repo)
    exact = _agnostic_hit(idx, quantizer, stripped)
    named = match_tokens(idx, stripped, None, sig)
    if exact and not _named_wins(idx, named, exact):
        return _reuploaded(exact.capped(REUPLOAD), quantizer, stripped)
    return _reuploaded(named, quantizer, stripped)


def _reuploaded(hit: Hit | None, quantizer: str, original: str) -> Hit | None:
    if hit is None:
        return None
    return hit.capped(REUPLOAD).note(
        f"'{quantizer}' re-uploads other developers' models: attributed from '{original}'"
    )


def _agnostic_hit(idx: Index, owner: str, repo: str) -> Hit | None:
    """Match a repo name against every developer's official repository patterns, whoever uploaded it."""
    stripped = idx.strip_suffix(repo)
    first = tokens(stripped)[:1]
    if not first:
        return None
    patterns = idx.hf_by_token.get(first[0], [])
    return _glob_hit(idx, patterns, owner, stripped, catch_all=False)


# --- Family names inside free-form names ------------------------------------------------------


def scan_aliases(idx: Index, toks: tuple[str, ...]) -> list[tuple[int, AliasTarget]]:
    """Leftmost-longest aliases (with their token position). Developer-only aliases consume nothing."""
    found: list[tuple[int, AliasTarget]] = []
    i, n = 0, len(toks)
    while i < n:
        step = 1
        for length in range(min(idx.max_alias, n - i), 0, -1):
            target = idx.aliases.get(toks[i : i + length])
            if target:
                found.append((i, target))
                step = length if target.family else 1
                break
        i += step
    return found


def match_tokens(idx: Index, text: str, tag: str | None, sig: Signals) -> Hit | None:
    found = scan_aliases(idx, name_tokens(text))
    if not found:
        return None
    hits = [target for _, target in found]
    families = [h for h in hits if h.family]
    named = {h.developer for h in families}
    developers = _unique([h for h in hits if not h.family and h.developer not in named])
    ordered = families + developers
    artifact = next((h for h in families if h.family in idx.derivative or h.base), ordered[0])
    others = _unique([h for h in ordered if h.developer != artifact.developer])
    if others and not (artifact.family in idx.derivative or artifact.base):
        return _conflict(idx, [artifact, *others])
    hit = _alias_hit(idx, artifact, others[0] if others else None)
    leading = found[0] == (0, artifact)  # "deepseek-r1-abliterated", not "acereason-nemotron-..."
    return _refine_with_library(idx, hit, artifact, tag, sig) if leading else hit


def _unique(hits: list[AliasTarget]) -> list[AliasTarget]:
    seen: set[str | None] = set()
    out = []
    for h in hits:
        if h.developer not in seen:
            seen.add(h.developer)
            out.append(h)
    return out


def _conflict(idx: Index, hits: list[AliasTarget]) -> Hit:
    names = ", ".join(f"'{h.text}'" for h in hits)
    return Hit(
        developer=None,
        confidence=0.0,
        conflict=tuple(h.developer for h in hits if h.developer),
        evidence=(
            f"the name refers to {names}: families of different developers with no known lineage between them",
        ),
    )


def _alias_hit(idx: Index, artifact: AliasTarget, other: AliasTarget | None) -> Hit:
    fam = idx.family(artifact.family) if artifact.family else None
    evidence = [
        f"name contains '{artifact.text}'"
        + (f" [{fam.id}]" if fam else f" ({_dev_name(idx, artifact.developer)})")
    ]
    base_family = artifact.base or (fam.base if fam else None)
    base_developer = None
    if other:
        base_family, base_developer = other.family, other.developer
        evidence.append(f"name also contains '{other.text}': taken as the base")
    return Hit(
        developer=artifact.developer,
        family=artifact.family,
        base_family=base_family,
        base_developer=base_developer,
        confidence=NAME_FAMILY if fam else NAME_DEVELOPER,
        evidence=tuple(evidence),
    )


def _refine_with_library(
    idx: Index, hit: Hit, artifact: AliasTarget, tag: str | None, sig: Signals
) -> Hit:
    """'huihui_ai/deepseek-r1-abliterated:70b' follows the library's tags: reuse its tag-level lineage."""
    name = idx.library_keys.get(name_tokens(artifact.text))
    if not name or not (tag or sig.architecture or sig.digest) or hit.base_developer:
        return hit
    rules = [r for r in idx.library[name] if idx.developer_of(r.family) == hit.developer]
    if not rules:
        return hit
    rule, why, _ = select_rule(rules, (tag or "latest").lower(), sig)
    if rule.family == hit.family and not rule.base:
        return hit
    fam = idx.family(rule.family)
    refined = dataclasses.replace(
        hit, family=fam.id, base_family=rule.base or fam.base, licence=rule.licence
    )
    note = f"follows the Ollama library's '{name}:{tag or 'latest'}'" + (
        f": {rule.note}" if rule.note else ""
    )
    return refined.note(note, why)


def match_file(idx: Index, stem: str, sig: Signals) -> Hit | None:
    """GGUF file names: bartowski-style 'owner_repo-Q4_K_M', or a plain repo-like name."""
    prefixed = split_owner_prefix(stem, idx.known_owners)
    if prefixed:
        hit = match_repo(idx, prefixed[0], idx.strip_suffix(prefixed[1]), None, sig)
        return hit.note(f"file name carries the original owner '{prefixed[0]}'") if hit else None
    exact = _agnostic_hit(idx, "", stem)
    named = match_tokens(idx, idx.strip_suffix(stem), None, sig)
    if exact and not _named_wins(idx, named, exact):
        return exact.capped(REUPLOAD).note("file name follows the developer's repository name")
    return named.note("matched on the file name") if named else None


def _describe(idx: Index, hit: Hit) -> str:
    if hit.family:
        return f"{idx.family(hit.family).name} [{hit.family}]"
    return _dev_name(idx, hit.developer)


def _dev_name(idx: Index, developer_id: str | None) -> str:
    dev = idx.developer(developer_id)
    return dev.name if dev else "an unknown developer"
