"""Match synthetic services against the advisory bundle and print the time.

    PYTHONPATH=src python benchmarks/advisories_match.py [--services 175000] [--seed 1]

Services are spread over the identified products that have advisories, with versions drawn
around the bundle's own range boundaries (so many are affected), printed the ways products
print them (v-prefix, -rc, .post, +cu124, -rocm), and 15% without a version. Three figures:
the verdicts (memoised per product+version, as a census repeats versions), the same with the
memo emptied first (every distinct pair evaluated), and the detector that turns verdicts into
findings' hits for every service. Not a timed test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import random
import time

from aicensus.assess.advisories.bundle import current_bundle
from aicensus.assess.advisories.detector import AdvisoryParams, _advisories
from aicensus.assess.advisories.match import State, judge
from aicensus.assess.detectors import Context
from aicensus.records import ScanStatus, ServiceObservation

_DRESS = ("{v}", "v{v}", "{v}-rc1", "{v}.post1", "{v}+cu124", "{v}-rocm")


def _pool(rng: random.Random, product: str, scheme: str) -> list[str]:
    bounds = set()
    for adv in current_bundle().by_product[product]:
        for aff in adv.osv.affected:
            for r in aff.get("ranges") or ():
                for e in r.get("events") or ():
                    value = str(next(iter(e.values())))
                    if value != "0" and len(value) < 20:
                        bounds.add(value)
    pool = []
    for b in sorted(bounds)[:60] or ["1.0.0"]:
        if scheme == "llamacpp-build":
            n = int(b.lstrip("b")) if b.lstrip("b").isdigit() else 4000
            pool += [f"b{n + d}" for d in (-1, 0, 1)]
            continue
        parts = b.lstrip("v").split(".")
        if not all(p.isdigit() for p in parts):
            continue
        for d in (-1, 0, 1):
            bumped = [*parts[:-1], str(max(0, int(parts[-1]) + d))]
            pool.append(rng.choice(_DRESS).format(v=".".join(bumped)))
    return pool


def services(n: int, seed: int) -> list[ServiceObservation]:
    rng = random.Random(seed)
    bundle = current_bundle()
    products = [p for p, s in bundle.products.items() if s.identified and p in bundle.by_product]
    pools = {p: _pool(rng, p, bundle.products[p].scheme) for p in products}
    out = []
    for i in range(n):
        product = rng.choice(products)
        version = None if rng.random() < 0.15 else rng.choice(pools[product])
        out.append(ServiceObservation(
            ip=f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", port=8000, scheme="http",
            status=ScanStatus.IDENTIFIED, product=product, version=version,
        ))  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--services", type=int, default=175_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t0 = time.perf_counter()
    bundle = current_bundle()
    load = time.perf_counter() - t0
    obs = services(args.services, args.seed)
    pairs = {(o.product, o.version) for o in obs}
    print(f"bundle {bundle.date}: {len(bundle.advisories)} advisories, "
          f"{len(bundle.by_product)} products (loaded in {load:.2f} s)")  # fmt: skip
    print(f"{len(obs):,} services, {len(pairs):,} distinct (product, version) pairs")

    bundle.__dict__.pop("_memo", None)
    states: dict[State, int] = {}
    clock = _Clock()
    for o in obs:
        s = judge(bundle, o.product, o.version).state
        states[s] = states.get(s, 0) + 1
    cold = clock.lap()
    for o in obs:
        judge(bundle, o.product, o.version)
    warm = clock.lap()
    ctx, params = Context(advisories=bundle), AdvisoryParams()
    hits = sum(1 for o in obs for _ in _advisories(o, params, ctx))
    detect = clock.lap()
    print("states: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(states.items())))
    print("(wall seconds / CPU seconds of this process; the CPU figure is the one that does")
    print(" not depend on what else the machine is running)")
    print(f"verdicts, memo empty at start: {cold}")
    print(f"verdicts, memo warm:           {warm}")
    print(f"detector (verdict -> hits):    {detect}  {hits:,} hits")
    print(f"total for {len(obs):,} services:   {clock.total()}")


class _Clock:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.start = (self.wall, self.cpu)

    def lap(self) -> str:
        wall, cpu = time.perf_counter(), time.process_time()
        out = f"{wall - self.wall:6.2f} s wall / {cpu - self.cpu:6.2f} s CPU"
        self.wall, self.cpu = wall, cpu
        return out

    def total(self) -> str:
        wall, cpu = time.perf_counter(), time.process_time()
        return f"{wall - self.start[0]:6.2f} s wall / {cpu - self.start[1]:6.2f} s CPU"


if __name__ == "__main__":
    main()
