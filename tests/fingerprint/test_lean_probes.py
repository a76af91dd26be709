"""Issue 18: a probe goes out only when it can change the verdict, and then it does.

Ollama's signature is given the test server's port, so identification starts from Ollama's
own probes as it does on 11434; LocalAI (which copies Ollama's routes) can only win through
the discovery document that Ollama's `unless: version-json` probe fetches.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from aicensus import api
from aicensus.engine.config import EngineConfig
from aicensus.fingerprint.load import builtin_signatures
from aicensus.records import ServiceObservation
from tests.support.loopback import app_server

LOCALAI_DOC = {"version": "v3.4.0", "endpoints": {"ollama": ["/api/tags"]}}
TAGS = {"models": [{"name": "qwen3:8b", "model": "qwen3:8b", "digest": "sha256:6f1c",
                    "details": {"format": "gguf", "family": "qwen3"}}]}  # fmt: skip


def ollama_like(version: str, *, localai: bool) -> web.Application:
    async def root(_r: web.Request) -> web.Response:
        return web.Response(text="Ollama is running")

    async def ver(_r: web.Request) -> web.Response:
        return web.json_response({"version": version})

    async def tags(_r: web.Request) -> web.Response:
        return web.json_response(TAGS)

    async def ps(_r: web.Request) -> web.Response:
        return web.json_response({"models": []})

    async def doc(_r: web.Request) -> web.Response:
        return web.json_response(LOCALAI_DOC) if localai else web.Response(status=404)

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_get("/api/version", ver)
    app.router.add_get("/api/tags", tags)
    app.router.add_get("/api/ps", ps)
    app.router.add_get("/.well-known/localai.json", doc)
    return app


def scan(app: web.Application) -> ServiceObservation:
    with app_server(app) as port:
        sigs = [
            msgspec.structs.replace(s, ports=[port]) if s.id == "ollama" else s
            for s in builtin_signatures()
        ]
        seen: list[ServiceObservation] = []
        api.scan(
            api.plan_targets(["127.0.0.1"], ports=str(port)),
            config=EngineConfig(concurrency=2),
            sigs=sigs,
            on_observation=seen.append,
        )
    (obs,) = seen
    return obs


def _paths(obs: ServiceObservation) -> list[str]:
    return [e.path for e in obs.request_log]


def test_a_real_ollama_gets_five_requests_and_one_per_model() -> None:
    obs = scan(ollama_like("0.12.6", localai=False))
    assert obs.product == "ollama" and obs.version == "0.12.6"
    assert [m.name for m in obs.models] == ["qwen3:8b"]
    paths = _paths(obs)
    assert sorted(paths) == sorted(
        ["/", "/api/version", "/api/tags", "/api/ps", "/api/pull", "/api/show"]
    )


def test_localai_answering_its_constant_version_is_asked_for_its_document() -> None:
    # /api/version = 0.9.0 (LocalAI's constant): version-json does not fire, so the discovery
    # document is fetched, and LocalAI wins over the Ollama banner.
    obs = scan(ollama_like("0.9.0", localai=True))
    assert "/.well-known/localai.json" in _paths(obs)
    assert obs.product == "localai"
