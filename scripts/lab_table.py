"""Print the "What runs where" table of docs/lab.md from the lab's layout (the signatures'
`lab:` sections), so the document follows the code: `python scripts/lab_table.py`.
tests/lab/test_lab_docs.py checks that docs/lab.md holds exactly this table."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from aicensus.lab.layout import Service, full_layout

HEADER = (
    "| address | port | service | what | expected product | expected auth |\n"
    "|---|---|---|---|---|---|"
)


def _last_octet(service: Service) -> str:
    return "." + service.address.rsplit(".", 1)[1]


def _what(service: Service) -> str:
    launch = service.launch
    if service.kind != "real" or launch is None:
        return service.note
    where = "; **own venv**" if launch.install else "; **own npm install**" if launch.npm else ""
    where += " (uv)" if launch.resolver == "uv" else ""
    # Heavy ones start only with --heavy (lab up --all --heavy, lab_accuracy.py --heavy).
    heavy = "; **heavy: only with --heavy**" if launch.heavy else ""
    return f"**real** {service.note}{where}{heavy}"


def _row(service: Service) -> str:
    product = service.expected_product or "—"
    if service.expected_honeypot:
        product = "— (**suspected-honeypot**)"
    return (
        f"| {_last_octet(service)} | {service.port} | {service.name} | {_what(service)} "
        f"| {product} | {service.expected_auth or '—'} |"
    )


def _emulator_row(emulated: list[Service]) -> str:
    """The generic emulator's services in one row: products in order, unusual auth named."""
    products = list(dict.fromkeys(s.source for s in emulated))
    unusual = [
        f"{s.name}: {s.expected_auth}"
        for s in emulated
        if s.expected_auth not in ("open", "auth_required")
    ]
    span = f"{_last_octet(emulated[0])}–{_last_octet(emulated[-1])}"
    auth = "open / auth_required" + (f"; **{', '.join(unusual)}**" if unusual else "")
    return (
        f"| {span} | default | `<product>-open`, `<product>-key` | generic emulator, in "
        f"signature order: {', '.join(products)} | the product | {auth} |"
    )


def table(services: Iterable[Service]) -> str:
    rows = [HEADER]
    emulated: list[Service] = []
    for service in services:
        if service.kind == "emulator":
            emulated.append(service)
            continue
        if emulated:
            rows.append(_emulator_row(emulated))
            emulated = []
        rows.append(_row(service))
    if emulated:
        rows.append(_emulator_row(emulated))
    return "\n".join(rows)


def main() -> int:
    print(table(full_layout("127.0.0.0/24")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
