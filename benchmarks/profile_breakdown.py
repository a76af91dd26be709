"""Where a scan's CPU goes, from a py-spy raw profile of benchmarks/scan_ollama_emulator.py.

    py-spy record -r 250 -f raw -o scan.raw -- \\
        python benchmarks/scan_ollama_emulator.py --cidr 127.1.0.0/21
    python benchmarks/profile_breakdown.py scan.raw

Counts only the samples taken while `aicensus.scanning.scan` runs (imports, the emulator's
start and the report are left out), puts each in the first stage whose frame it shows, and
prints each stage's share, then the functions with the most samples of their own.
This measures and prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("HTTP client (engine/client.py, engine/http11.py)", ("HttpClient.", "done_with")),
    ("identification (fingerprint/)", ("identify (", "canary_can_matter", "_with_own_probes")),
    ("attribution (attribute/)", ("attribute_all",)),
    ("enumeration, version, auth (conclude)", ("conclude (", "_fetch_model_details")),
    ("store (DuckDB batches)", ("add_observations", "aicensus/store/")),
)
OTHER = "event loop, tasks, scheduler, pipeline"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path, help="py-spy record -f raw output")
    parser.add_argument("--within", default="scan (aicensus/scanning.py", help="frame filter")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    stages: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    try:
        lines = args.raw.read_text(errors="replace").splitlines()
    except OSError as exc:
        raise SystemExit(f"profile_breakdown: cannot read {args.raw}: {exc.strerror}") from None
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if args.within not in stack or not count.isdigit():  # not py-spy's raw format
            continue
        n = int(count)
        total += n
        own[stack.rsplit(";", 1)[-1]] += n
        stage = next((name for name, keys in STAGES if any(k in stack for k in keys)), OTHER)
        stages[stage] += n
    print(f"samples in the scan: {total}")
    for name, n in stages.most_common():
        print(f"{100 * n / max(1, total):5.1f}%  {name}")
    print("own samples:")
    for frame, n in own.most_common(args.top):
        print(f"{100 * n / max(1, total):5.1f}%  {frame}")


if __name__ == "__main__":
    main()
