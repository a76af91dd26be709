"""Decoys: nothing that merely looks busy is reported as an AI product."""

from __future__ import annotations

import importlib.resources

import yaml
from aiohttp import web

from aicensus import api
from aicensus.engine.config import EngineConfig
from aicensus.records import ScanStatus, ServiceObservation
from tests.support.loopback import app_server

NGINX_PAGE = (
    "<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head>"
    "<body><h1>Welcome to nginx!</h1></body></html>"
)


def scan_app(app: web.Application) -> ServiceObservation:
    with app_server(app) as port:
        seen: list[ServiceObservation] = []
        plan = api.plan_targets(["127.0.0.1"], ports=str(port))
        api.scan(plan, config=EngineConfig(concurrency=4), on_observation=seen.append)
    (obs,) = seen
    return obs


def catch_all(body: str, status: int = 200, headers: dict[str, str] | None = None):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, text=body, content_type="text/html",
                            headers=headers or {})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


def test_catch_all_spa_is_not_a_product() -> None:
    # The page mentions products by name, as a marketing page or a dashboard might.
    page = ("<html><title>AI Hub</title><body>Ollama is running llama.cpp vLLM Open WebUI "
            "ComfyUI Gradio</body></html>")
    obs = scan_app(catch_all(page))
    assert obs.status == ScanStatus.UNIDENTIFIED
    assert obs.product is None


def test_catch_all_banner_needs_the_canary() -> None:
    # Every path answers Ollama's banner: without the canary the banner alone would pass
    # Ollama's threshold, so the canary can change the verdict and must be sent.
    obs = scan_app(catch_all("Ollama is running"))
    assert any(e.path.startswith("/aicensus-canary-") for e in obs.request_log)
    assert obs.status == ScanStatus.UNIDENTIFIED
    assert obs.product is None


def test_plain_nginx_is_not_a_product() -> None:
    async def root(request: web.Request) -> web.Response:
        return web.Response(text=NGINX_PAGE, content_type="text/html",
                            headers={"Server": "nginx/1.24.0"})

    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404, text="<html>404 Not Found</html>",
                            content_type="text/html", headers={"Server": "nginx/1.24.0"})

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_route("*", "/{tail:.+}", missing)
    obs = scan_app(app)
    assert obs.product is None and obs.status == ScanStatus.UNIDENTIFIED


def test_generic_fastapi_app_is_not_a_product() -> None:
    async def missing(request: web.Request) -> web.Response:
        return web.json_response({"detail": "Not Found"}, status=404,
                                 headers={"Server": "uvicorn"})

    async def items(request: web.Request) -> web.Response:
        return web.json_response({"items": [1, 2, 3]}, headers={"Server": "uvicorn"})

    app = web.Application()
    app.router.add_get("/items", items)
    app.router.add_route("*", "/{tail:.*}", missing)
    obs = scan_app(app)
    assert obs.product is None and obs.status == ScanStatus.UNIDENTIFIED


def _everything() -> dict[str, dict]:
    """Every signature's positive answers merged: a honeypot claiming to be everything."""
    merged: dict[str, dict] = {}
    root = importlib.resources.files("aicensus") / "signatures"
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        doc = yaml.safe_load(entry.read_text(encoding="utf-8"))
        for case in doc.get("cases", []):
            if case["expect"] == doc["id"]:
                for path, spec in case["responses"].items():
                    merged.setdefault(path, spec)
    return merged


def test_honeypot_claiming_everything_is_flagged_not_reported_as_a_product() -> None:
    responses = _everything()

    async def handler(request: web.Request) -> web.Response:
        spec = responses.get(request.path)
        if spec is None:
            return web.Response(status=404, text="not found")
        return web.Response(status=int(spec.get("status", 200)), text=str(spec.get("body", "")),
                            headers=dict(spec.get("headers") or {}))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    obs = scan_app(app)
    assert obs.status == ScanStatus.SUSPECTED_HONEYPOT
    assert obs.product is None
    assert obs.models == []
    (ev,) = obs.evidence
    # The merge keeps the first case per path, so a product whose paths another product's case
    # also answers (Open WebUI's /api/config and Bifrost's) may be shadowed: check two that are not.
    assert ev.kind == "honeypot" and "vllm" in ev.marker and "litellm" in ev.marker
