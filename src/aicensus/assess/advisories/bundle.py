"""The advisory bundle: OSV records (one JSON object a line, gzip) plus a manifest.

The bundled copy ships in this package (data/); `aicensus advisories update --from` writes a
refreshed copy to the user's data folder ($AICENSUS_ADVISORIES_DIR, else
${XDG_DATA_HOME:-~/.local/share}/aicensus/advisories), which is then used instead. Nothing here
reaches the network.
"""

from __future__ import annotations

import functools
import gzip
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
import yaml

from aicensus.assess.advisories.cvss import base_score, rating
from aicensus.errors import AdvisoryError
from aicensus.fingerprint.load import product_ids

ENV_DIR = "AICENSUS_ADVISORIES_DIR"
RECORDS = "advisories.jsonl.gz"
MANIFEST = "manifest.json"


class Osv(msgspec.Struct, kw_only=True):
    """The OSV fields the bundle keeps (https://ossf.github.io/osv-schema/)."""

    id: str
    modified: str = ""
    published: str = ""
    withdrawn: str = ""
    aliases: list[str] = msgspec.field(default_factory=list)
    summary: str = ""
    details: str = ""
    severity: list[dict[str, str]] = msgspec.field(default_factory=list)
    affected: list[dict[str, Any]] = msgspec.field(default_factory=list)
    references: list[dict[str, str]] = msgspec.field(default_factory=list)
    database_specific: dict[str, Any] = msgspec.field(default_factory=dict)
    schema_version: str = ""


@dataclass(frozen=True)
class ProductSpec:
    slug: str
    packages: tuple[tuple[str, str], ...]
    scheme: str = "pep440"
    identified: bool = False


@dataclass(frozen=True, eq=False)
class Advisory:
    """One OSV record with what matching and reporting need, derived once at load."""

    osv: Osv
    product: str
    score: float | None  # CVSS v3 base score, when the record has a v3 vector
    severity: str  # critical/high/medium/low/none, or "unrated"
    vector: str | None
    confidence: str  # "reviewed" (an advisory database) or "aggregator" (verify the range)
    source: dict[str, str]
    known_exploited: dict[str, str] | None
    note: str = ""
    remediation: str = ""

    @property
    def id(self) -> str:
        return self.osv.id

    @property
    def ids(self) -> list[str]:
        """CVE ids first, then GHSA, then the rest (GO, PYSEC…): the order findings cite them."""
        ids = dict.fromkeys([self.osv.id, *self.osv.aliases])
        return sorted(
            ids, key=lambda i: (0 if i.startswith("CVE-") else 1 if i.startswith("GHSA-") else 2, i)
        )

    @property
    def cve(self) -> str | None:
        return next((i for i in self.ids if i.startswith("CVE-")), None)


@dataclass
class Bundle:
    manifest: dict[str, Any]
    advisories: tuple[Advisory, ...]
    products: dict[str, ProductSpec]
    location: str
    by_product: dict[str, tuple[Advisory, ...]] = field(default_factory=dict)
    by_id: dict[str, list[Advisory]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        groups: dict[str, list[Advisory]] = {}
        for adv in self.advisories:
            groups.setdefault(adv.product, []).append(adv)
            for i in adv.ids:
                self.by_id.setdefault(i.upper(), []).append(adv)
        self.by_product = {k: tuple(v) for k, v in groups.items()}

    @property
    def date(self) -> str:
        return str(self.manifest.get("date", ""))

    def lookup(self, ident: str) -> list[Advisory]:
        return self.by_id.get(ident.strip().upper(), [])


# ---------------------------------------------------------------- products


@functools.cache
def builtin_products() -> dict[str, ProductSpec]:
    text = resources.files("aicensus.assess.advisories").joinpath("products.yaml").read_text()
    data = yaml.safe_load(text)["products"]
    # A product is matched against its advisories once a signature identifies it.
    signature_products = set(product_ids())
    out = {}
    for slug, spec in data.items():
        pkgs = tuple((p.split(":", 1)[0], p.split(":", 1)[1]) for p in spec["packages"])
        out[slug] = ProductSpec(
            slug=slug,
            packages=pkgs,
            scheme=spec.get("scheme", "pep440"),
            identified=slug in signature_products,
        )
    return out


def package_index(products: Mapping[str, ProductSpec]) -> dict[tuple[str, str], str]:
    """(ecosystem, name) → product; PyPI names compare case-insensitively."""
    return {_pkg_key(e, n): slug for slug, s in products.items() for e, n in s.packages}


def _pkg_key(ecosystem: str, name: str) -> tuple[str, str]:
    return (ecosystem, name.lower() if ecosystem == "PyPI" else name)


def products_of(osv: Osv, index: Mapping[tuple[str, str], str]) -> list[str]:
    """The aicensus products a record is about: its own tag, else its affected packages."""
    tagged = (osv.database_specific.get("aicensus") or {}).get("product")
    if tagged:
        return [str(tagged)]
    found = []
    for aff in osv.affected:
        pkg = aff.get("package") or {}
        slug = index.get(_pkg_key(str(pkg.get("ecosystem", "")), str(pkg.get("name", ""))))
        if slug and slug not in found:
            found.append(slug)
    return found


# ---------------------------------------------------------------- records


def _severity(osv: Osv, meta: Mapping[str, Any]) -> tuple[float | None, str, str | None]:
    """(score, rating, vector): a v3 vector's computed score first; a vector scoring 0 with a
    source label saying otherwise is an aggregator's placeholder, so the label wins then."""
    label = str(meta.get("severity_label") or "").lower()
    for sev in osv.severity:
        vector = str(sev.get("score", ""))
        score = base_score(vector)
        if score is None:
            continue
        if score == 0 and label in ("low", "medium", "high", "critical"):
            return None, label, vector
        return score, rating(score), vector
    other = next((str(s.get("score")) for s in osv.severity if s.get("score")), None)
    if label in ("low", "medium", "high", "critical"):
        return None, label, other
    return None, "unrated", other


def advisory(osv: Osv, product: str) -> Advisory:
    meta = osv.database_specific.get("aicensus") or {}
    score, sev, vector = _severity(osv, meta)
    return Advisory(
        osv=osv,
        product=product,
        score=score,
        severity=sev,
        vector=vector,
        confidence=str(meta.get("confidence") or "reviewed"),
        source=dict(meta.get("source") or {}),
        known_exploited=meta.get("known_exploited"),
        note=str(meta.get("note") or ""),
        remediation=str(meta.get("remediation") or ""),
    )


_DECODER = msgspec.json.Decoder(Osv)


def decode_lines(lines: Iterable[bytes], where: str) -> list[Osv]:
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(_DECODER.decode(line))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise AdvisoryError(f"{where}: line {n}: not an OSV record: {exc}") from exc
    return out


def build(
    records: Iterable[Osv], manifest: dict[str, Any], location: str,
    products: Mapping[str, ProductSpec] | None = None,
) -> Bundle:  # fmt: skip
    specs = dict(products or builtin_products())
    index = package_index(specs)
    advisories = [
        advisory(osv, slug)
        for osv in records
        if not osv.withdrawn
        for slug in products_of(osv, index)
    ]
    return Bundle(manifest, tuple(advisories), specs, location)


def user_dir() -> Path:
    override = os.environ.get(ENV_DIR)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "aicensus" / "advisories"


def read_dir(folder: Path) -> Bundle:
    try:
        manifest = msgspec.json.decode((folder / MANIFEST).read_bytes())
        raw = gzip.decompress((folder / RECORDS).read_bytes())
    except (OSError, EOFError, msgspec.DecodeError) as exc:
        raise AdvisoryError(f"{folder}: not a readable advisory bundle: {exc}") from exc
    records = decode_lines(raw.splitlines(), str(folder / RECORDS))
    return build(records, manifest, str(folder))


def builtin_dir() -> Path:
    return Path(str(resources.files("aicensus.assess.advisories").joinpath("data")))


@functools.cache
def _cached(folder: str) -> Bundle:
    return read_dir(Path(folder))


def current_bundle() -> Bundle:
    """The updated bundle when one was installed with `advisories update`, else the shipped one."""
    folder = user_dir()
    if (folder / MANIFEST).is_file() and (folder / RECORDS).is_file():
        return _cached(str(folder))
    return _cached(str(builtin_dir()))


def clear_cache() -> None:
    _cached.cache_clear()
