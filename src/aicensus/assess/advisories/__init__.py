"""Published advisories (OSV) for the products aicensus identifies, matched offline.

bundle.py loads the records, ranges.py evaluates OSV ranges, versions.py orders versions as
products print them, cvss.py scores CVSS v3 vectors, match.py gives the three-state verdict and
detector.py turns it into findings. `aicensus advisories` (cli/advisories.py) lists, shows and
updates the bundle; scripts/build_advisories.py builds it from public advisory records.
"""
