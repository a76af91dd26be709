"""Attribution from GGUF metadata (``general.*`` keys) and, failing that, the file name.

Order of trust: the repository URL the converter recorded, the organisation plus model name, the
model name alone, the file name, the organisation alone. ``general.base_model.N.*`` gives the
lineage. ``general.organization`` is filled from the Hugging Face owner, so for re-uploads it names
the re-uploader, which the matcher knows to look past.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aicensus.attribute.index import Index, default_index
from aicensus.attribute.match import Hit, Signals, match_file, match_repo, match_tokens
from aicensus.attribute.names import gguf_stem, hf_repo_from_url, normalise_org
from aicensus.attribute.result import guardrail_signals, to_attribution
from aicensus.records import Attribution

GGUF_ORG_ONLY = 0.6
GGUF_BASE_ONLY = 0.7


class _Meta:
    def __init__(self, metadata: Mapping[str, object]) -> None:
        self._md = metadata

    def text(self, key: str) -> str | None:
        value = self._md.get(key)
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value).strip()
            return text or None
        return None

    def texts(self, key: str) -> list[str]:
        value = self._md.get(key)
        if isinstance(value, list | tuple):
            return [str(v) for v in value if isinstance(v, str | int)]
        one = self.text(key)
        return [one] if one else []

    def model_name(self, prefix: str = "general") -> str | None:
        parts = [
            self.text(f"{prefix}.{k}") for k in ("basename", "size_label", "finetune", "version")
        ]
        if parts[0]:
            return "-".join(p for p in parts if p)
        return self.text(f"{prefix}.name")

    def licence(self) -> str | None:
        value = self.text("general.license.name") or self.text("general.license")
        return None if value and value.lower() in {"other", "unknown", "none"} else value


def attribute_gguf(metadata: Mapping[str, object], filename: str | None = None) -> Attribution:
    """Attribute a GGUF file from its metadata, with the file name as a fallback."""
    idx = default_index()
    md = _Meta(metadata)
    sig = Signals(architecture=md.text("general.architecture"))
    hit = _artifact(idx, md, filename, sig)
    hit = _merge_base(idx, hit, _base_models(idx, md, sig))
    names = [md.text(k) for k in ("general.name", "general.basename", "general.finetune")]
    texts = [
        t
        for t in [*names, *md.texts("general.tags"), gguf_stem(filename) if filename else None]
        if t
    ]
    org = md.text("general.organization")
    guard = guardrail_signals(idx, texts, [normalise_org(org)] if org else [])
    return to_attribution(idx, hit, sig, guard=guard, declared_licence=md.licence())


def _artifact(idx: Index, md: _Meta, filename: str | None, sig: Signals) -> Hit | None:
    routes: list[Callable[[], Hit | None]] = [
        lambda: _from_url(idx, md.text("general.source.repo_url") or md.text("general.url"), sig),
        lambda: _from_org_and_name(idx, md.text("general.organization"), md.model_name(), sig),
        lambda: _noted(
            match_tokens(idx, md.model_name() or "", None, sig), "GGUF general.name / basename"
        ),
        lambda: (
            _noted(match_file(idx, gguf_stem(filename), sig), "GGUF file name")
            if filename
            else None
        ),
        lambda: _from_org(idx, md.text("general.organization")),
    ]
    for route in routes:
        hit = route()
        if hit is not None:
            return hit
    return None


def _from_url(idx: Index, url: str | None, sig: Signals) -> Hit | None:
    repo = hf_repo_from_url(url) if url else None
    return (
        _noted(match_repo(idx, repo[0], repo[1], None, sig), f"GGUF repo URL {url}")
        if repo
        else None
    )


def _from_org_and_name(idx: Index, org: str | None, name: str | None, sig: Signals) -> Hit | None:
    if not org or not name:
        return None
    return _noted(
        match_repo(idx, normalise_org(org), name, None, sig),
        f"GGUF organization '{org}' and name '{name}'",
    )


def _from_org(idx: Index, org: str | None) -> Hit | None:
    developer = idx.org_developer.get(normalise_org(org)) if org else None
    if developer is None:
        return None
    return Hit(
        developer=developer,
        confidence=GGUF_ORG_ONLY,
        evidence=(f"GGUF general.organization '{org}' only",),
    )


def _noted(hit: Hit | None, source: str) -> Hit | None:
    return hit.note(f"from {source}") if hit else None


def _base_models(idx: Index, md: _Meta, sig: Signals) -> list[Hit]:
    count = md.text("general.base_model.count")
    hits = []
    for i in range(int(count) if count and count.isdigit() else 0):
        key = f"general.base_model.{i}"
        url, org, name = (
            md.text(f"{key}.repo_url"),
            md.text(f"{key}.organization"),
            md.text(f"{key}.name"),
        )
        hit = _from_url(idx, url, Signals()) or _from_org_and_name(idx, org, name, Signals())
        hit = hit or _noted(match_tokens(idx, name or "", None, Signals()), f"{key}.name")
        if hit and hit.developer:
            hits.append(hit.note(f"{key} is {name or url or org}"))
    return hits


def _merge_base(idx: Index, hit: Hit | None, bases: list[Hit]) -> Hit | None:
    if not bases:
        return hit
    base = bases[0]
    if hit is None:
        note = "no name of its own matches: attributed to the family of its declared base model"
        return Hit(
            developer=base.developer,
            family=base.family,
            base_family=base.base_family,
            base_developer=base.base_developer,
            confidence=min(base.confidence, GGUF_BASE_ONLY),
            evidence=(*base.evidence, note),
        )
    if hit.conflict or base.developer == hit.developer:
        return hit
    return Hit(
        developer=hit.developer,
        family=hit.family,
        base_family=base.family,
        base_developer=base.developer,
        licence=hit.licence,
        confidence=hit.confidence,
        evidence=(*hit.evidence, *base.evidence, "the declared base model gives the lineage"),
    )
