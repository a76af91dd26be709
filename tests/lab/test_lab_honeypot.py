"""The honeypot classifier against servers on loopback: the lab's honeypot decoy (the generic
emulator's `honeypot` table), one of its real-product emulators, and an LLM-style honeypot
that writes a page about every path it is asked for (Beelzebub's LLMHoneypot, Galah)."""

from __future__ import annotations

import asyncio
import io
import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiohttp import web

from aicensus import api
from aicensus.assess import honeypot as hp
from aicensus.engine.config import EngineConfig
from aicensus.lab.emulators.answers import parse_site, respond
from aicensus.records import ScanStatus, ServiceObservation


def _emulator_app(table: str) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        site = parse_site(table, "open", "127.0.0.1", "8000")
        resp, _refused, _route = respond(site, request.method, request.path, request.headers)
        return resp

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


@contextmanager
def _on_port_8000(app: web.Application) -> Iterator[str]:
    """Serve app on port 8000 (where the lab runs its honeypot, and where the products it
    claims to be listen) of a loopback address of its own; yields the address."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    for _ in range(20):
        address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        try:
            loop.run_until_complete(web.TCPSite(runner, address, 8000).start())
            break
        except OSError:
            continue
    else:
        raise RuntimeError("no loopback address with port 8000 free")
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield address
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _scan(app: web.Application, db: Path | None = None) -> ServiceObservation:
    with _on_port_8000(app) as address:
        seen: list[ServiceObservation] = []
        plan = api.plan_targets([address], ports="8000")
        api.scan(plan, config=EngineConfig(concurrency=4), db=db, on_observation=seen.append)
    (obs,) = seen
    return obs


def test_lab_honeypot_decoy_is_named_with_its_evidence() -> None:
    obs = _scan(_emulator_app("honeypot"))
    assert obs.status == ScanStatus.SUSPECTED_HONEYPOT
    verdict = hp.host_verdict(obs)
    assert verdict.verdict == hp.HONEYPOT
    assert {e.kind for e in verdict.evidence} == {"contradiction"}
    assert "claims to be" in verdict.evidence[0].detail


def test_lab_vllm_emulator_is_not_a_honeypot() -> None:
    obs = _scan(_emulator_app("vllm"))
    assert obs.product == "vllm"
    assert hp.from_observation(obs) == []
    assert hp.host_verdict(obs).verdict == hp.NONE


def _llm_honeypot() -> web.Application:
    """Ollama's banner and version, and for every other path a made-up page about it."""

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/":
            return web.Response(text="Ollama is running")
        if request.path == "/api/version":
            return web.json_response({"version": "0.12.6"})
        page = f"<html><head><title>{request.path}</title></head><body>{request.path}</body></html>"
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


def test_llm_honeypot_echo_is_named_and_reported(tmp_path: Path) -> None:
    db = tmp_path / "scan.duckdb"
    obs = _scan(_llm_honeypot(), db)
    verdict = hp.host_verdict(obs)
    assert verdict.verdict == hp.HONEYPOT, obs.evidence
    assert "echo" in {e.kind for e in verdict.evidence}
    # the scan's own output says so (table and JSON contract) …
    buf = io.StringIO()
    api.write_observations(buf, [obs], "table")
    assert "ollama (honeypot)" in buf.getvalue()
    buf = io.StringIO()
    api.write_observations(buf, [obs], "json")
    assert json.loads(buf.getvalue())[0]["honeypot"]["verdict"] == "honeypot"
    # … and every report format: table, JSON and HTML
    assessed = api.load_report(db, include_all=True)
    assert assessed.honeypots[obs.ip].verdict == hp.HONEYPOT
    table = api.render_report(assessed, "table")
    assert "honeypots: 1 named, 0 suspicious" in table and "echo" in table
    doc = json.loads(api.render_report(assessed, "json"))
    assert doc["summary"]["honeypots"] == 1 and doc["honeypots"]["honeypots"] == 1
    if "html" in api.report_formats():
        html = api.render_report(assessed, "html")
        assert "<h2>Honeypots</h2>" in html and "1 host named honeypot" in html


def test_lab_accuracy_counts_a_real_product_named_honeypot_as_a_mismatch() -> None:
    from aicensus.lab.accuracy import compare, render

    truth = [
        {"name": f"ollama-{i}", "address": f"127.0.9.{i}", "port": 11434, "product": "ollama",
         "auth": "open", "suspected_honeypot": False}
        for i in (1, 2, 3)
    ]  # fmt: skip

    def seen(i: int, verdict: str) -> dict[str, object]:
        return {"ip": f"127.0.9.{i}", "port": 11434, "status": "identified",
                "product": "ollama", "auth": "open", "honeypot": {"verdict": verdict}}  # fmt: skip

    report = compare(truth, [seen(1, "none"), seen(2, "suspicious"), seen(3, "honeypot")])
    assert report.overall.tp == 3 and report.products_suspicious == ["ollama-2"]
    assert [(m.name, m.what) for m in report.mismatches] == [("ollama-3", "honeypot")]
    assert "real products found suspicious: 1 (ollama-2)" in render(report)
    clean = compare(truth, [seen(i, "none") for i in (1, 2, 3)])
    assert clean.perfect and clean.products_suspicious == []
