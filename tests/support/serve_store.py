"""A store for the dashboard tests (tests/serve): the assess cases, a hostile-name corpus, a service observed
over several days (with a version change), and enough services to page."""

from __future__ import annotations

from pathlib import Path

import msgspec

from aicensus.records import AuthState, Evidence, ModelRecord, ScanStatus, ServiceObservation
from aicensus.store import Store
from tests.support.assess_cases import SCRIPT_NAME, hostile_models, keyed_llamacpp, open_ollama

IMG_NAME = '<img src=x onerror="window.__pwned=1;alert(2)">'
ANSI_NAME = "\x1b[31mred-model\x1b[0m:latest"
BIDI_NAME = "evil\u202egnp.exe:7b"
ATTR_DEVELOPER = '" onmouseover="window.__pwned=1" x="'
FORMULA_NAME = '=HYPERLINK("http://127.0.0.1/x")'
HOSTILE_VERSION = "0.12.6<b>bold</b>"
# Every string a server sent that the pages must show as text.
CORPUS = (SCRIPT_NAME, IMG_NAME, ANSI_NAME, BIDI_NAME, ATTR_DEVELOPER, FORMULA_NAME,
          HOSTILE_VERSION)  # fmt: skip
FILLER = 60  # open Ollama services on 127.0.1.x: more than one page (50 a page)


def hostile_ollama(ip: str = "8.8.8.8") -> ServiceObservation:
    """Open Ollama on a public (US) address whose names and metadata carry markup, terminal and
    bidi escapes and a spreadsheet formula."""
    return ServiceObservation(
        ip=ip,
        port=11434,
        scheme="http",
        status=ScanStatus.IDENTIFIED,
        product="ollama",
        version=HOSTILE_VERSION,
        auth=AuthState.OPEN,
        observed_at="2026-01-03T10:00:00+00:00",
        models=[
            ModelRecord(name=IMG_NAME, capabilities=["completion"]),
            ModelRecord(name=ANSI_NAME, developer=ATTR_DEVELOPER, country="US"),
            ModelRecord(name=BIDI_NAME, developer="Meta", country="US"),
            ModelRecord(name=FORMULA_NAME, developer=FORMULA_NAME, country="CN"),
        ],
        evidence=[Evidence(kind="match", probe="GET /", marker=SCRIPT_NAME, weight=0.5)],
        auth_evidence=[Evidence(kind="auth", probe="GET /api/tags", marker="status 200 → open")],
    )


def history() -> list[ServiceObservation]:
    """1.2.3.4:11434 seen on three days; its version changes on the third."""
    base = open_ollama()
    out = []
    for day, version in (("2026-01-01", "0.1.29"), ("2026-01-02", "0.1.29"),
                         ("2026-01-03", "0.1.30")):  # fmt: skip
        out.append(msgspec.structs.replace(base, observed_at=f"{day}T03:04:05+00:00",
                                           version=version))  # fmt: skip
    return out


def filler(i: int) -> ServiceObservation:
    return msgspec.structs.replace(
        open_ollama(ip=f"127.0.1.{i}"), observed_at="2026-01-02T00:00:00+00:00"
    )


def build_store(path: Path) -> str:
    db = str(path)
    with Store.open(db) as store:
        first = store.begin_scan("scan", {"targets": ["127.0.0.0/8"], "note": SCRIPT_NAME})
        store.add_observations(first, history()[:2])
        store.finish_scan(first)
        second = store.begin_scan("scan", {"targets": ["127.0.0.0/8"]})
        store.add_observations(
            second,
            [history()[2], keyed_llamacpp(), hostile_models(), hostile_ollama(),
             *(filler(i) for i in range(FILLER))],
        )  # fmt: skip
        store.finish_scan(second)
    return db
