"""Advisories: the offline bundle of published advisories (OSV) for the products aicensus
identifies, and merging newer OSV records into it (no network)."""

from __future__ import annotations

from pathlib import Path

from aicensus.assess.advisories.bundle import (
    Advisory,
    AdvisoryError,
    Bundle,
    clear_cache,
    current_bundle,
    user_dir,
)
from aicensus.assess.advisories.match import describe
from aicensus.assess.advisories.update import UpdateResult, update

__all__ = [
    "Advisory",
    "AdvisoryError",
    "Bundle",
    "UpdateResult",
    "advisories",
    "advisory",
    "advisory_bundle",
    "affected_ranges",
    "update_advisories",
]


def advisory_bundle() -> Bundle:
    """The installed bundle: the one `update_advisories` wrote, else the shipped one."""
    return current_bundle()


def advisories(product: str | None = None) -> tuple[Advisory, ...]:
    """Every advisory of the bundle, or those of one product (AdvisoryError names the known
    products when it has none)."""
    bundle = current_bundle()
    if product is None:
        return bundle.advisories
    if product not in bundle.by_product:
        known = ", ".join(sorted(bundle.by_product))
        raise AdvisoryError(f"no advisories for product {product!r} (products: {known})")
    return bundle.by_product[product]


def advisory(ident: str) -> list[Advisory]:
    """The advisories with this id or alias (a CVE can have several records)."""
    found = current_bundle().lookup(ident)
    if not found:
        raise AdvisoryError(f"no advisory {ident!r} in the bundle")
    return list(found)


def affected_ranges(adv: Advisory) -> str:
    """The affected version ranges of an advisory as one line (e.g. '>= 0.1.0, < 0.1.34')."""
    return "; ".join(describe(a) for a in adv.osv.affected) or "no range"


def update_advisories(source: str | Path) -> UpdateResult:
    """Merge the OSV records of a directory, .zip or .tar(.gz) into the bundle, written to the
    user's data folder; later calls see the new bundle."""
    result = update(current_bundle(), Path(source), user_dir())
    clear_cache()
    return result
