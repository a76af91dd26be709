"""The scanner's HTTP/1.1 wire: one connection (an asyncio Protocol), its response heads and
bodies, with every limit a hostile peer could push against.

One request at a time per connection (no pipelining): the client writes a request, reads the
head (`read_head`), then the body through a `Body` (Content-Length, chunked, or until the
peer closes), and hands the connection back for keep-alive only when the body was read to
its framed end and nothing else arrived. Limits: at most `MAX_HEADERS` header lines of at
most `MAX_LINE` bytes each (the status line too); a chunk-size line or a trailer section is
held to the same; a peer silent for `read_timeout` seconds while we wait ends the read
(TimeoutError); the reader stops reading from the socket while `HIGH_WATER` bytes are
buffered, so a fast sender cannot fill memory faster than the body cap is counted.

Errors: a head that is not HTTP/1.x or breaks a limit raises `HttpProtocolError` (recorded as
"protocol: ..."); a body cut short or framed wrong raises `PayloadError`; a peer that closes
before any answer raises `PeerDisconnected`.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import cast

from aicensus.errors import HttpProtocolError, PayloadError, PeerDisconnected

MAX_HEADERS = 128
MAX_LINE = 8190
HIGH_WATER = 256 * 1024
_NO_BODY_STATUS = frozenset({204, 304})


class Connection(asyncio.Protocol):
    """A socket's bytes as a buffer the client parses in place; wakes one waiter at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, read_timeout: float) -> None:
        self.loop = loop
        self.read_timeout = read_timeout
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.eof = False
        self.lost: BaseException | None = None  # what connection_lost reported
        self.endpoint: tuple[str, int, str, str | None] = ("", 0, "", None)
        self.idle_since = 0.0
        self.deadline = float("inf")  # loop time by which the current request must end
        self.wait_until = float("inf")  # loop time by which the current wait must end
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False

    # ------------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.lost = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # ------------------------------------------------------------------ the client's side

    @property
    def usable(self) -> bool:
        """Idle and open, with nothing unasked-for in the buffer."""
        transport = self.transport
        return (
            not self.eof and not self.buf and transport is not None and not (transport.is_closing())
        )

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    async def more(self) -> None:
        """Wait for more bytes (or the end); TimeoutError after `read_timeout` of silence."""
        if self.eof:
            return
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        now = self.loop.time()
        if now >= self.deadline:  # a peer that trickles still ends at the request's deadline
            raise TimeoutError("request deadline")
        waiter = self.loop.create_future()
        self._waiter = waiter
        self.wait_until = min(now + self.read_timeout, self.deadline)
        try:
            await waiter  # woken by data, the end, or the client's clock (check_wait)
        finally:
            self._waiter = None

    def check_wait(self, now: float) -> None:
        """Called by the client's clock: a wait past its limit ends in TimeoutError. (One
        clock for every connection instead of a timer per wait: ~3 % of the scanner's CPU.)"""
        waiter = self._waiter
        if waiter is not None and now >= self.wait_until and not waiter.done():
            self._waiter = None
            waiter.set_exception(TimeoutError("read timeout"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.eof = True
        self.buf.clear()

    def abort(self) -> None:
        """Drop the connection now (a body cut at the cap: its remainder is not read)."""
        if self.transport is not None:
            self.transport.abort()
        self.eof = True
        self.buf.clear()


class Head:
    """A response's status line and header fields (duplicates joined with ", ")."""

    __slots__ = (
        "chunked",
        "close",
        "encoding",
        "headers",
        "length",
        "reason",
        "status",
        "version",
    )  # fmt: skip

    def __init__(self) -> None:
        self.version = ""
        self.status = 0
        self.reason = ""
        self.headers: dict[str, str] = {}
        self.length: int | None = None  # Content-Length, when that frames the body
        self.chunked = False
        self.close = False  # the connection ends with this response
        self.encoding = ""  # Content-Encoding, lower-cased


async def read_head(conn: Connection) -> Head:
    """The next final response head (1xx answers are skipped) from the connection."""
    while True:
        head = _parse_available(conn)
        if head is not None:
            if 100 <= head.status < 200 and head.status != 101:
                continue  # 100 Continue, 103 Early Hints: the real answer follows
            return head
        if conn.eof:
            if conn.lost is not None and not conn.buf:
                raise conn.lost
            if not conn.buf:
                raise PeerDisconnected("disconnected")
            raise HttpProtocolError("the connection closed inside the response head")
        await conn.more()


def _parse_available(conn: Connection) -> Head | None:
    buf = conn.buf
    end = buf.find(b"\r\n\r\n")
    bare = buf.find(b"\n\n", 0, end if end >= 0 else len(buf))
    if bare >= 0:  # a peer that ends lines with a bare LF
        end, skip = bare, 2
    elif end >= 0:
        skip = 4
    else:
        _check_partial(buf)
        return None
    head = parse_head(bytes(buf[:end]))
    del buf[: end + skip]
    return head


def _check_partial(buf: bytearray) -> None:
    """Limits on a head still arriving: its line count and the length of its open line."""
    if buf.count(b"\n") > MAX_HEADERS:
        raise HttpProtocolError(f"Too many headers (over {MAX_HEADERS})")
    if len(buf) - buf.rfind(b"\n") - 1 > MAX_LINE:
        raise HttpProtocolError(f"Got more than {MAX_LINE} bytes when reading a header line")


def parse_head(raw: bytes) -> Head:
    """A complete head (without its blank line). Undecodable bytes become U+FFFD."""
    lines = raw.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpProtocolError(f"Too many headers (over {MAX_HEADERS})")
    head = Head()
    status_line = lines[0].rstrip("\r")
    if len(status_line) > MAX_LINE:
        raise HttpProtocolError(f"Got more than {MAX_LINE} bytes when reading the status line")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if version not in _VERSIONS or len(code) != 3 or not code.isdigit():
        raise HttpProtocolError(f"Invalid status line: {status_line[:80]!r}")
    head.version, head.status, head.reason = version, int(code), reason
    headers = head.headers
    length: str | None = None
    framed_by_te = False
    keep_alive = False
    last = ""
    for line in lines[1:]:
        if len(line) > MAX_LINE:
            raise HttpProtocolError(f"Got more than {MAX_LINE} bytes when reading a header line")
        name, sep, value = line.partition(":")
        if not sep or not name or name[-1] in " \t" or name[0] in " \t":
            if line[:1] in (" ", "\t") and last:  # obsolete line folding: one space (RFC 9112)
                headers[last] = f"{headers[last]} {line.strip()}"
                continue
            raise HttpProtocolError(f"Invalid header line: {line[:80]!r}")
        value = value.strip(" \t\r")
        if name in headers:
            headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
        last = name
        lower = name.lower()
        if lower in _FRAMING:
            if lower == "content-length":
                same = length is None or length == value
                length = value if same else f"{length},{value}"
            elif lower == "transfer-encoding":
                framed_by_te = True
                head.chunked = value.lower().rsplit(",", 1)[-1].strip() == "chunked"
            elif lower == "connection":
                lowered = value.lower()
                head.close = head.close or "close" in lowered
                keep_alive = keep_alive or "keep-alive" in lowered
            else:
                head.encoding = value.strip().lower()
    if framed_by_te:
        # Not chunked: framed by the end of the connection. With a Content-Length beside
        # it (a smuggling shape): the connection is trusted for nothing more either.
        head.close = head.close or not head.chunked or length is not None
    elif length is not None:
        values = {v.strip() for v in length.split(",")}
        if len(values) != 1 or not all(v.isdigit() for v in values):
            raise HttpProtocolError(f"Invalid Content-Length: {sorted(values)[:4]}")
        head.length = int(values.pop())
    if version == "HTTP/1.0" and not keep_alive:
        head.close = True
    return head


_VERSIONS = frozenset({"HTTP/1.1", "HTTP/1.0"})
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding"})


class Body:
    """A response body's decoded bytes, piece by piece; `done` once read to its framed end.

    `read()` returns the next piece (at most what is buffered), b"" at the end. Framing
    errors and bodies cut short raise PayloadError.
    """

    def __init__(self, conn: Connection, head: Head, method: str) -> None:
        self.conn = conn
        self.done = False
        self.reusable = not head.close
        self._remaining = 0
        self._chunk_left = -1  # chunked: bytes left of the current chunk; -1: a size line next
        if method == "HEAD" or head.status in _NO_BODY_STATUS or head.status == 101:
            self._mode = "none"
            self.done = True
            if head.status == 101:
                self.reusable = False
        elif head.chunked:
            self._mode = "chunked"
        elif head.length is not None:
            self._mode = "length"
            self._remaining = head.length
            self.done = head.length == 0
        else:
            self._mode = "eof"
            self.reusable = False

    async def read(self) -> bytes:
        while not self.done:
            piece = self._take()
            if piece:
                return piece
            if self.done:
                break
            if self.conn.eof:
                self._ended_early()
            await self.conn.more()
        return b""

    def _take(self) -> bytes:
        buf = self.conn.buf
        if self._mode == "length":
            n = min(len(buf), self._remaining)
            piece = bytes(buf[:n])
            del buf[:n]
            self._remaining -= n
            self.done = self._remaining == 0
            return piece
        if self._mode == "eof":
            piece = bytes(buf)
            buf.clear()
            if not piece and self.conn.eof and self.conn.lost is None:
                self.done = True
            return piece
        return self._take_chunked(buf)

    def _take_chunked(self, buf: bytearray) -> bytes:
        while True:
            if self._chunk_left == -1:  # a size line: hex size, maybe ";extensions"
                end = buf.find(b"\n")
                if end < 0:
                    if len(buf) > MAX_LINE:
                        raise PayloadError("chunk size line too long")
                    return b""
                size_text = bytes(buf[:end]).split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise PayloadError(f"invalid chunk size {size_text[:20]!r}") from None
                if size < 0 or not size_text.isalnum():
                    raise PayloadError(f"invalid chunk size {size_text[:20]!r}")
                del buf[: end + 1]
                if size == 0:
                    self._chunk_left = -2  # trailers next
                    continue
                self._chunk_left = size
            if self._chunk_left == -2:  # trailer fields until an empty line (ignored)
                return self._take_trailers(buf)
            if self._chunk_left == -3:  # the line end after a chunk's data
                if len(buf) < 2 and buf[:1] != b"\n":
                    return b""
                if buf[:2] == b"\r\n":
                    del buf[:2]
                elif buf[:1] == b"\n":
                    del buf[:1]
                else:
                    raise PayloadError("chunk not followed by a line end")
                self._chunk_left = -1
                continue
            n = min(len(buf), self._chunk_left)
            if n == 0:
                return b""
            piece = bytes(buf[:n])
            del buf[:n]
            self._chunk_left -= n
            if self._chunk_left == 0:
                self._chunk_left = -3
            return piece

    def _take_trailers(self, buf: bytearray) -> bytes:
        lines = 0
        while True:
            end = buf.find(b"\n")
            if end < 0:
                if len(buf) > MAX_LINE:
                    raise PayloadError("trailer line too long")
                return b""
            line = bytes(buf[:end]).rstrip(b"\r")
            del buf[: end + 1]
            if not line:
                self.done = True
                return b""
            lines += 1
            if lines > MAX_HEADERS:
                raise PayloadError("too many trailer fields")

    def _ended_early(self) -> None:
        lost = self.conn.lost
        why = f" ({type(lost).__name__}: {lost})" if lost is not None else ""
        if self._mode == "length":
            raise PayloadError(
                f"Response payload is not completed: {self._remaining} of the announced "
                f"bytes missing{why}"
            )
        if self._mode == "chunked":
            raise PayloadError(f"Response payload is not completed: chunked body cut{why}")
        raise PayloadError(f"Response payload is not completed{why}")


class Inflater:
    """gzip or deflate (zlib-wrapped, or raw as some servers send it), inflated in bounds:
    zlib's max_length stops a bomb, whatever its ratio."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._zlib: zlib._Decompress | None = None

    @classmethod
    def for_encoding(cls, encoding: str) -> Inflater | None:
        return cls(encoding) if encoding in ("gzip", "x-gzip", "deflate") else None

    def feed(self, data: bytes, limit: int) -> bytes:
        """At most `limit` inflated bytes of `data` (the input it did not need is dropped:
        the caller stops at the cap)."""
        if self._zlib is None:
            if self.encoding == "deflate" and not _zlib_wrapped(data):
                wbits = -zlib.MAX_WBITS
            else:
                wbits = 16 + zlib.MAX_WBITS if self.encoding != "deflate" else zlib.MAX_WBITS
            self._zlib = zlib.decompressobj(wbits)
        try:
            return self._zlib.decompress(data, max(1, limit))
        except zlib.error as exc:
            raise PayloadError(f"cannot inflate {self.encoding} body: {exc}") from exc


def _zlib_wrapped(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
