"""The Ollama emulator's bytes on the wire: status lines, header sets and order, framing.

Expected answers are built from the profile data (`profile_for`), not copied from the
emulator, so a change of framing, a stray header or a lost body fails here."""

from __future__ import annotations

import base64
import email.utils
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aicensus.lab.emulators.common import NGINX_VERSION, ProxyAuth
from aicensus.lab.emulators.ollama_profiles import Profile, profile_for
from tests.support.lab import Emulator, spawn_emulator

DATE = re.compile(rb"Date: ([^\r]+)\r\n")
JSON = "application/json; charset=utf-8"


def exchange(emu: Emulator, *requests: bytes, address: str = "127.0.0.1") -> bytes:
    """Send the requests on one connection (the last one closes it); everything received."""
    with socket.create_connection((address, emu.port), timeout=10) as sock:
        sock.sendall(b"".join(requests))
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def get(path: str, method: str = "GET", body: bytes = b"", close: bool = True) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "User-Agent: wire-test"]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def undated(raw: bytes) -> bytes:
    """The response with its Date value checked (RFC 1123, within a minute) and blanked."""
    for value in DATE.findall(raw):
        sent = email.utils.parsedate_to_datetime(value.decode()).timestamp()
        assert abs(sent - time.time()) < 60 and value.endswith(b" GMT")
    return DATE.sub(b"Date: D\r\n", raw)


def expected(
    status: str, headers: list[tuple[str, str]], body: bytes, head: bool = False, close: bool = True
) -> bytes:
    """net/http's framing as the emulator reproduces it: Content-Length up to 2 KiB, one
    chunk beyond (neither for HEAD), then Date, then Connection: close when asked."""
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers)]
    if len(body) <= 2048:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    else:
        payload = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        if not head:
            lines.append("Transfer-Encoding: chunked")
    lines.append("Date: D")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head else payload)


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, Profile]]:
    tmp = tmp_path_factory.mktemp("wire")
    with spawn_emulator(tmp) as emu:
        yield emu, profile_for("127.0.0.1", single=True)


def test_read_routes_byte_for_byte(wire: tuple[Emulator, Profile]) -> None:
    emu, prof = wire
    text = [("Content-Type", "text/plain; charset=utf-8")]
    jsn = [("Content-Type", JSON)]
    model = prof.find("qwen3:8b")
    assert model is not None and len(prof.tags_body) > 2048 and len(prof.version_body) < 2048
    cases = [
        (get("/"), expected("200 OK", text, b"Ollama is running")),
        (get("/", "HEAD"), expected("200 OK", text, b"Ollama is running", head=True)),
        (get("/api/version"), expected("200 OK", jsn, prof.version_body)),
        (get("/api/tags"), expected("200 OK", jsn, prof.tags_body)),
        (get("/api/tags", "HEAD"), expected("200 OK", jsn, prof.tags_body, head=True)),
        (
            get("/api/show", "POST", b'{"model":"qwen3:8b"}'),
            expected("200 OK", jsn, prof.show_body(model)),
        ),
        (
            get("/v1/models"),
            expected("200 OK", [("Content-Type", "application/json")], prof.v1_models_body),
        ),
    ]
    for request, want in cases:
        assert undated(exchange(emu, request)) == want, request


def test_errors_and_redirects_byte_for_byte(wire: tuple[Emulator, Profile]) -> None:
    emu, _ = wire
    plain = [("Content-Type", "text/plain")]
    html = [("Content-Type", "text/html; charset=utf-8")]
    refused = json.dumps(
        {
            "error": "aicensus lab emulator: POST /api/pull is a write/compute route; "
            "it is routed but never executed"
        },
        separators=(",", ":"),
    ).encode()
    cases = [
        (get("/nope"), expected("404 Not Found", plain, b"404 page not found")),
        (
            get("/api/tags", "POST", b"{}"),
            expected("405 Method Not Allowed", plain, b"405 method not allowed"),
        ),
        (
            get("/api/ps", "HEAD"),
            expected("405 Method Not Allowed", plain, b"405 method not allowed", head=True),
        ),
        (
            get("/api/tags/?a=1"),
            expected(
                "301 Moved Permanently",
                [("Location", "/api/tags?a=1"), *html],
                b'<a href="/api/tags?a=1">Moved Permanently</a>.\n\n',
            ),
        ),
        (
            get("/api/show/", "POST", b"{}"),
            expected("307 Temporary Redirect", [("Location", "/api/show")], b""),
        ),
        (
            get("/api/pull", "POST", b'{"model":"x"}'),
            expected("400 Bad Request", [("Content-Type", JSON)], refused),
        ),
        (
            get("/api/show", "POST", b"{}"),
            expected("400 Bad Request", [("Content-Type", JSON)], b'{"error":"model is required"}'),
        ),
    ]
    for request, want in cases:
        assert undated(exchange(emu, request)) == want, request


def test_keep_alive_and_pipelining(wire: tuple[Emulator, Profile]) -> None:
    emu, prof = wire
    many = [get("/api/version", close=False)] * 50 + [get("/", close=True)]
    raw = undated(exchange(emu, *many))
    one = expected("200 OK", [("Content-Type", JSON)], prof.version_body, close=False)
    last = expected("200 OK", [("Content-Type", "text/plain; charset=utf-8")], b"Ollama is running")
    assert raw == one * 50 + last
    # a request split across many small writes is still one request
    with socket.create_connection(("127.0.0.1", emu.port), timeout=10) as sock:
        for i in range(0, len(many[0]), 7):
            sock.sendall(many[0][i : i + 7])
            time.sleep(0.001)
        sock.sendall(get("/"))
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
    assert undated(got) == one + last


def test_http10_and_malformed_requests(wire: tuple[Emulator, Profile]) -> None:
    emu, prof = wire
    raw = undated(exchange(emu, b"GET /api/tags HTTP/1.0\r\n\r\n"))
    head = f"HTTP/1.0 200 OK\r\nContent-Type: {JSON}\r\nContent-Length: {len(prof.tags_body)}"
    assert raw == (head + "\r\nDate: D\r\n\r\n").encode() + prof.tags_body  # no chunks in 1.0
    bad = (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Connection: close\r\n\r\n400 Bad Request"
    )
    for request in (
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"POST /api/show HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"POST /api/show HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    ):
        assert exchange(emu, request) == bad, request  # answered, then closed
    requests = [r for r in emu.requests() if r["user_agent"] is None]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [("GET", "/api/tags", 200)]


def test_auth_proxy_byte_for_byte(tmp_path: Path) -> None:
    with spawn_emulator(tmp_path, "--auth", "basic:admin:s3cret") as emu:
        denied = undated(exchange(emu, get("/api/version")))
        good = "Basic " + base64.b64encode(b"admin:s3cret").decode()
        request = get("/api/version").replace(
            b"\r\n\r\n", f"\r\nAuthorization: {good}\r\n\r\n".encode()
        )
        allowed = undated(exchange(emu, request))
    challenge = [
        ("Server", NGINX_VERSION),
        ("Content-Type", "text/html"),
        ("WWW-Authenticate", 'Basic realm="Restricted"'),
        ("Connection", "keep-alive"),
    ]
    # its own Connection header stands (as on aiohttp); the connection still closes
    assert denied == expected("401 Unauthorized", challenge, ProxyAuth.body(), close=False)
    prof = profile_for("127.0.0.1", single=True)
    assert allowed == expected(
        "200 OK", [("Content-Type", JSON), ("Server", NGINX_VERSION)], prof.version_body
    )
