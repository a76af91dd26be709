"""The HTTP client's caps: body size, redirects, TLS facts, user agent, request log."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import ssl
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aicensus.engine.client import HttpClient
from aicensus.engine.config import EngineConfig
from aicensus.records import ProbeRequest
from tests.support.loopback import app_server, free_port


def fetch(port: int, path: str, config: EngineConfig | None = None, scheme: str = "http"):
    async def go():
        async with HttpClient(config or EngineConfig()) as client:
            ex = await client.fetch("127.0.0.1", port, scheme, ProbeRequest("GET", path))
            tls = await client.certificate("127.0.0.1", port) if scheme == "https" else None
            return ex, tls

    return asyncio.run(go())


def make_app() -> tuple[web.Application, list[dict[str, str]]]:
    seen: list[dict[str, str]] = []

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 3_000_000)

    async def bomb(request: web.Request) -> web.Response:
        payload = gzip.compress(b"\0" * 50_000_000)
        return web.Response(body=payload, headers={"Content-Encoding": "gzip"})

    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://192.0.2.10/elsewhere")  # documentation range, never followed

    async def here(request: web.Request) -> web.Response:
        raise web.HTTPFound("/final")

    async def final(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/big", big)
    app.router.add_get("/bomb", bomb)
    app.router.add_get("/away", away)
    app.router.add_get("/here", here)
    app.router.add_get("/final", final)
    return app, seen


@pytest.fixture(scope="module")
def server():
    app, seen = make_app()
    with app_server(app) as port:
        yield port, seen


def test_body_is_capped(server) -> None:
    port, _ = server
    ex, _ = fetch(port, "/big", EngineConfig(max_body_bytes=100_000))
    assert ex.status == 200
    assert len(ex.body) == 100_000
    assert ex.truncated


def test_gzip_bomb_is_capped_after_decompression(server) -> None:
    port, _ = server
    ex, _ = fetch(port, "/bomb", EngineConfig(max_body_bytes=1_000_000))
    assert ex.truncated
    assert len(ex.body) == 1_000_000


def test_redirect_to_another_host_is_not_followed(server) -> None:
    port, _ = server
    ex, _ = fetch(port, "/away")
    assert ex.status == 302
    assert ex.header("Location") == "http://192.0.2.10/elsewhere"
    assert ex.path == "/away"


def test_same_host_redirect_is_followed_and_user_agent_names_the_tool(server) -> None:
    port, seen = server
    ex, _ = fetch(port, "/here", EngineConfig(user_agent="custom-agent/1"))
    assert ex.status == 200
    assert ex.path == "/here -> /final"
    assert seen[-1]["User-Agent"] == "custom-agent/1"
    fetch(port, "/final")
    assert seen[-1]["User-Agent"].startswith("aicensus/")


def test_refused_connection_is_data_not_an_exception() -> None:
    ex, _ = fetch(free_port(), "/")
    assert ex.status is None
    assert ex.error == "connection-refused"
    assert ex.log_entry().error == "connection-refused"


def _self_signed(tmp: Path, expired: bool) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab.aicensus.test")])
    now = dt.datetime.now(dt.UTC)
    not_after = now - dt.timedelta(days=1) if expired else now + dt.timedelta(days=30)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=60))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("lab.aicensus.test")]), False)
        .sign(key, hashes.SHA256())
    )
    (tmp / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "k.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp / "c.pem", tmp / "k.pem")
    return ctx


def test_tls_certificate_is_recorded(tmp_path: Path) -> None:
    app, _ = make_app()
    with app_server(app, _self_signed(tmp_path, expired=True)) as port:
        ex, tls = fetch(port, "/final", scheme="https")
    assert ex.status == 200
    assert tls is not None
    assert tls.subject == "CN=lab.aicensus.test"
    assert tls.sans == ["lab.aicensus.test"]
    assert tls.self_signed is True
    assert tls.expired is True
