"""The engine's HTTP/1.1 client (engine/http11.py) against scripted servers on loopback.

Each server answers every request with bytes written exactly as given (split as given), so
the framing cases a library would hide are on the wire: split reads, chunk extensions and
trailers, Content-Length beside chunked, HEAD, 1xx, Connection: close, HTTP/1.0, bodies over
the cap, compressed bodies over the cap, header floods, cut and malformed bodies. Keep-alive
is checked by the connections the server saw.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from aicensus.engine.client import HttpClient
from aicensus.engine.config import EngineConfig
from aicensus.engine.http11 import MAX_HEADERS, parse_head
from aicensus.errors import HttpProtocolError
from aicensus.records import Exchange, ProbeRequest

Answer = Callable[[str, str], list[bytes] | bytes]  # (method, path) -> the bytes to write


@dataclass
class Scripted:
    answer: Answer
    close_after: bool = False  # close each connection after its first answer
    connections: int = 0
    requests: list[tuple[int, str, str]] = field(default_factory=list)  # (connection, method, path)
    early: list[bytes] = field(default_factory=list)  # bytes already there before an answer
    heads: list[str] = field(default_factory=list)  # each request's head as received
    open_now: int = 0
    open_max: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.open_max = max(self.open_max, self.open_now)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                method, path, _ = head.decode().split(" ", 2)
                self.heads.append(head.decode())
                length = [ln for ln in head.decode().split("\r\n")
                          if ln.lower().startswith("content-length:")]  # fmt: skip
                if length:
                    await reader.readexactly(int(length[0].split(":")[1]))
                self.requests.append((number, method, path))
                await asyncio.sleep(0.01)
                self.early.append(bytes(reader._buffer))  # type: ignore[attr-defined]
                pieces = self.answer(method, path)
                for piece in [pieces] if isinstance(pieces, bytes) else pieces:
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0)
                if self.close_after:
                    break
        finally:
            self.open_now -= 1
            writer.close()


def run(
    server: Scripted,
    probes: list[ProbeRequest],
    *,
    concurrent: bool = False,
    product: str | None = None,
    **config: object,
) -> list[Exchange]:
    async def go() -> list[Exchange]:
        srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        settings = {"read_timeout": 2.0, "total_timeout": 5.0, **config}
        try:
            async with HttpClient(EngineConfig(**settings)) as client:  # type: ignore[arg-type]
                if concurrent:
                    return list(
                        await asyncio.gather(
                            *(client.fetch("127.0.0.1", port, "http", p) for p in probes)
                        )
                    )
                return [
                    await client.fetch("127.0.0.1", port, "http", p, product=product)
                    for p in probes
                ]
        finally:
            srv.close()
            await srv.wait_closed()

    return asyncio.run(go())


GET = ProbeRequest("GET", "/")
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def chunked(*chunks: bytes, trailer: bytes = b"") -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    return (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + body
        + b"0\r\n"
        + trailer
        + b"\r\n"
    )


def test_keep_alive_reuses_one_connection_and_never_pipelines() -> None:
    server = Scripted(lambda _m, _p: OK)
    out = run(server, [GET, ProbeRequest("GET", "/a"), ProbeRequest("HEAD", "/b")])
    assert [e.body for e in out] == [b"ok", b"ok", b""]
    assert server.connections == 1
    assert [r[1:] for r in server.requests] == [("GET", "/"), ("GET", "/a"), ("HEAD", "/b")]
    assert server.early == [b"", b"", b""]  # no request was sent before the previous answer


def test_a_response_split_into_single_bytes_reads_the_same() -> None:
    whole = chunked(b"hello ", b"world", trailer=b"X-T: 1\r\n")
    server = Scripted(lambda _m, _p: [whole[i : i + 1] for i in range(len(whole))])
    (ex,) = run(server, [GET])
    assert (ex.status, ex.body, ex.error) == (200, b"hello world", None)


def test_chunk_extensions_and_trailers_are_read_and_the_connection_kept() -> None:
    body = b"5;name=value\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Trailer: yes\r\nY: 2\r\n\r\n"
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    server = Scripted(lambda _m, _p: answer)
    out = run(server, [GET, GET.__class__("GET", "/2")])
    assert [e.body for e in out] == [b"hello world"] * 2
    assert server.connections == 1


def test_chunked_wins_over_content_length_and_the_connection_is_not_reused() -> None:
    answer = (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nhello\r\n0\r\n\r\n")  # fmt: skip
    server = Scripted(lambda _m, _p: answer)
    out = run(server, [GET, ProbeRequest("GET", "/2")])
    assert [e.body for e in out] == [b"hello", b"hello"]
    assert server.connections == 2  # a smuggling-shaped answer: trusted for nothing more


def test_head_reads_no_body_whatever_the_length_says() -> None:
    server = Scripted(lambda m, _p: b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                      if m == "HEAD" else OK)  # fmt: skip
    out = run(server, [ProbeRequest("HEAD", "/"), GET])
    assert (out[0].status, out[0].body, out[0].error) == (200, b"", None)
    assert out[1].body == b"ok" and server.connections == 1


def test_informational_answers_are_skipped() -> None:
    answer = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
              + OK)  # fmt: skip
    server = Scripted(lambda _m, _p: answer)
    (ex,) = run(server, [GET])
    assert (ex.status, ex.body) == (200, b"ok")
    assert "Link" not in ex.headers


def test_no_content_and_not_modified_have_no_body() -> None:
    server = Scripted(lambda _m, p: b"HTTP/1.1 204 No Content\r\n\r\n" if p == "/" else
                      b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n")  # fmt: skip
    out = run(server, [GET, ProbeRequest("GET", "/x"), GET])
    assert [(e.status, e.body) for e in out] == [(204, b""), (304, b""), (204, b"")]
    assert server.connections == 1


def test_connection_close_is_honoured() -> None:
    server = Scripted(lambda _m, _p: b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2"
                      b"\r\n\r\nok", close_after=True)  # fmt: skip
    out = run(server, [GET, GET.__class__("GET", "/2")])
    assert [e.body for e in out] == [b"ok", b"ok"]
    assert server.connections == 2


def test_http10_answer_read_to_the_close() -> None:
    server = Scripted(lambda _m, _p: [b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nall of ", b"it"],
                      close_after=True)  # fmt: skip
    out = run(server, [GET, ProbeRequest("GET", "/2")])
    assert [(e.status, e.body, e.error) for e in out] == [(200, b"all of it", None)] * 2
    assert server.connections == 2


def test_bare_line_feeds_are_accepted() -> None:
    server = Scripted(lambda _m, _p: b"HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nok")
    (ex,) = run(server, [GET])
    assert (ex.status, ex.body, ex.headers) == (200, b"ok", {"Content-Length": "2", "X-A": "b"})


def test_duplicate_headers_are_joined() -> None:
    server = Scripted(lambda _m, _p: b"HTTP/1.1 200 OK\r\nSet-Cookie: a\r\nSet-Cookie: b\r\n"
                      b"Content-Length: 0\r\n\r\n")  # fmt: skip
    (ex,) = run(server, [GET])
    assert ex.headers["Set-Cookie"] == "a, b" and ex.body == b""


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_bodies_over_the_cap_are_cut_and_the_connection_dropped(framing: str) -> None:
    data = b"x" * 50_000
    answer = {
        "length": b"HTTP/1.1 200 OK\r\nContent-Length: 50000\r\n\r\n" + data,
        "chunked": chunked(data[:20_000], data[20_000:]),
        "close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + data,
    }[framing]
    server = Scripted(lambda _m, _p: answer, close_after=framing == "close")
    out = run(server, [GET, ProbeRequest("GET", "/2")], max_body_bytes=1000)
    assert [(len(e.body), e.truncated, e.error) for e in out] == [(1000, True, None)] * 2
    assert server.connections == 2


def test_compressed_body_is_cut_at_the_cap_after_inflation() -> None:
    packed = gzip.compress(b"\0" * 5_000_000)
    server = Scripted(lambda _m, _p: b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(packed), packed))  # fmt: skip
    (ex,) = run(server, [GET], max_body_bytes=4096)
    assert (ex.body, ex.truncated, ex.error) == (b"\0" * 4096, True, None)
    small = gzip.compress(b"hello")
    server = Scripted(lambda _m, _p: b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(small), small))  # fmt: skip
    (ex,) = run(server, [GET])
    assert (ex.body, ex.truncated) == (b"hello", False)


def test_corrupt_compressed_body_is_a_payload_error() -> None:
    server = Scripted(lambda _m, _p: b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                      b"Content-Length: 10\r\n\r\nnot gzip!!")  # fmt: skip
    (ex,) = run(server, [GET])
    assert ex.error is not None and ex.error.startswith("PayloadError: cannot inflate gzip")


def test_header_flood_and_huge_header_are_refused_with_their_limit() -> None:
    many = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 1))
    server = Scripted(lambda _m, _p: b"HTTP/1.1 200 OK\r\n" + many + b"\r\n")
    (ex,) = run(server, [GET])
    assert ex.error == f"protocol: Too many headers (over {MAX_HEADERS})"
    endless = [b"HTTP/1.1 200 OK\r\n"] + [b"X-%d: v\r\n" % i for i in range(1000)]
    (ex,) = run(Scripted(lambda _m, _p: endless), [GET])
    assert ex.error == f"protocol: Too many headers (over {MAX_HEADERS})"
    big = [b"HTTP/1.1 200 OK\r\nX-Big: ", b"A" * 20_000, b"\r\n\r\n"]
    (ex,) = run(Scripted(lambda _m, _p: big), [GET])
    assert ex.error is not None and "Got more than 8190 bytes" in ex.error


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "PayloadError: Response payload "
         "is not completed"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n", "PayloadError: "
         "invalid chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
         "PayloadError: chunk not followed by a line end"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "PayloadError: "
         "Response payload is not completed"),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "protocol: Invalid status line"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "protocol: Invalid status line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
         "protocol: Invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok", "protocol: Invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "protocol: Invalid header line"),
        (b"HTTP/1.1 200 OK\r\nContent", "protocol: the connection closed inside the response"),
        (b"", "disconnected"),
    ],
)  # fmt: skip
def test_cut_and_malformed_answers_are_one_line_errors(answer: bytes, error: str) -> None:
    (ex,) = run(Scripted(lambda _m, _p: answer, close_after=True), [GET])
    assert ex.error is not None and ex.error.startswith(error), ex.error
    assert "\n" not in ex.error and "Traceback" not in ex.error


def test_a_stale_keep_alive_connection_is_replaced_once() -> None:
    """The server closes each connection after one answer without saying so: the next
    request finds the pooled connection dead and is sent again on a new one."""
    server = Scripted(lambda _m, _p: OK, close_after=True)
    out = run(server, [GET, ProbeRequest("GET", "/2"), ProbeRequest("GET", "/3")])
    assert [(e.body, e.error) for e in out] == [(b"ok", None)] * 3
    assert server.connections == 3


def test_connections_per_address_stay_within_the_limit() -> None:
    server = Scripted(lambda _m, _p: OK)
    probes = [ProbeRequest("GET", f"/{i}") for i in range(8)]
    out = run(server, probes, concurrent=True, per_host_inflight=2)
    assert all(e.body == b"ok" for e in out)
    assert server.open_max <= 2 and server.connections == 2
    server = Scripted(lambda _m, _p: OK)
    run(server, probes, concurrent=True, per_host_inflight=1)
    assert server.connections == 1


def test_a_silent_server_times_out_at_the_read_timeout() -> None:
    server = Scripted(lambda _m, _p: [b"HTTP/1.1 200 OK\r\n"])  # and then nothing
    (ex,) = run(server, [GET], read_timeout=0.3, total_timeout=5)
    assert ex.error == "timeout" and ex.elapsed_ms < 3000


def test_parse_head_decodes_bad_bytes_as_replacement_characters() -> None:
    head = parse_head(b'HTTP/1.1 401 No\r\nWWW-Authenticate: Basic realm="\xff\xfe"')
    assert head.status == 401 and head.headers["WWW-Authenticate"] == 'Basic realm="\ufffd\ufffd"'
    with pytest.raises(HttpProtocolError):
        parse_head(b"HTTP/2 200 OK")


def test_the_request_head_names_the_tool_and_types_a_body_once() -> None:
    server = Scripted(lambda _m, _p: OK)
    own = ProbeRequest("POST", "/api/show", json_body={"name": "m"},
                       headers=(("content-type", "application/json"), ("Accept", "x/y")))  # fmt: skip
    run(server, [ProbeRequest("POST", "/api/show", json_body={"name": "m"}), own],
        user_agent="agent/1", product="ollama")  # fmt: skip
    plain, typed = (h.lower() for h in server.heads)
    assert plain.count("content-type: application/json") == 1
    assert typed.count("content-type:") == 1 and typed.count("accept:") == 1
    assert "accept: x/y" in typed and "user-agent: agent/1" in typed
    assert "content-length: 13" in plain and plain.startswith("post /api/show http/1.1\r\nhost: ")
