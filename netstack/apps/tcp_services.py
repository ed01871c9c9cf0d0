"""Standard TCP services on netstack's TCP, event-driven on the stack's thread.

- echo (RFC 862, port 7): every byte received is sent back; the connection closes after the client's
  FIN once everything was echoed. Reading pauses while ``ECHO_BACKLOG`` bytes wait to be sent, so a
  client that does not read sees our window close (flow control end to end).
- discard (RFC 863, port 9): everything received is thrown away.
- chargen (RFC 864, port 19): the 72-character rotating lines of RFC 864, sent as fast as the peer
  takes them, until the client closes; input is discarded.
- HTTP (RFC 9112 subset, port 80): ``GET /`` is an HTML status page with the stack's counters and the
  TCP connection table, ``GET /stats.json`` the same as JSON; other paths 404, other methods 405.
  Persistent connections (HTTP/1.1 default, ``Connection: close`` honoured), requests up to 16 KiB;
  pipelined requests are answered in order, and reading pauses while ``RESPONSE_BACKLOG`` bytes of
  answers wait, so a client that never reads meets our closed window, not unbounded memory.

``tcp_layer_of(stack)`` returns the stack's TCP transport, attaching one if there is none. Each starter
``starter(stack) -> handle`` (handle has ``close()``) is registered in ``netstack.apps.services.SERVICES``.
"""

from __future__ import annotations

import html
import json

from netstack.engine.tcp.endpoint import TcpServer, TcpStream
from netstack.engine.tcp.layer import TcpLayer
from netstack.formats.fast import IP_PROTOCOL_TCP

ECHO_PORT = 7
DISCARD_PORT = 9
CHARGEN_PORT = 19
HTTP_PORT = 80
ECHO_BACKLOG = 256 * 1024
MAX_REQUEST = 16 * 1024
#: HTTP responses waiting for send space before the service stops reading requests: a client that
#: pipelines requests and never reads then meets our closed window instead of our memory.
RESPONSE_BACKLOG = 256 * 1024


def tcp_layer_of(stack) -> TcpLayer:
    """The stack's TCP transport, attached on first use."""
    layer = stack.transport(IP_PROTOCOL_TCP)
    if layer is None:
        layer = TcpLayer.attach(stack)
    return layer


def _chargen_pattern() -> bytes:
    """RFC 864: 95 printing characters, lines of 72 starting one character later each line."""
    chars = bytes(range(32, 127))
    lines = [bytes(chars[(i + j) % 95] for j in range(72)) + b"\r\n" for i in range(95)]
    return b"".join(lines)


CHARGEN_PATTERN = _chargen_pattern()


class _Service:
    """A listening port whose connections are driven by ``on_event`` callbacks."""

    port = 0
    counter = "services.tcp"

    def __init__(self, stack):
        self.stack = stack
        self.layer = tcp_layer_of(stack)
        self.server = TcpServer(self.layer, self.port)
        self.server.on_accept = self._accept
        self.streams: set = set()

    def _accept(self, server, now) -> None:
        while True:
            stream = server.accept()
            if stream is None:
                return
            self.stack.counters.incr(f"{self.counter}_connections")
            self.streams.add(stream)
            stream.on_event = self._event
            self.opened(stream)
            self._event(stream, now)

    def _event(self, stream: TcpStream, now) -> None:
        if stream.closed:
            self.streams.discard(stream)
            return
        try:
            self.handle(stream, now)
        except OSError:
            stream.abort(now)
            self.streams.discard(stream)

    def opened(self, stream) -> None:
        stream.pending = bytearray()

    def handle(self, stream: TcpStream, now) -> None:
        raise NotImplementedError

    @staticmethod
    def _flush(stream: TcpStream, now) -> None:
        pending = stream.pending
        while pending:
            n = stream.send(bytes(pending[:65536]), now)
            if not n:
                return
            del pending[:n]

    def close(self) -> None:
        now = self.layer.clock()
        self.server.close(now)
        for stream in list(self.streams):
            stream.abort(now)
        self.streams.clear()


class TcpEcho(_Service):
    port = ECHO_PORT
    counter = "services.tcp_echo"

    def handle(self, stream, now):
        self._flush(stream, now)
        while len(stream.pending) < ECHO_BACKLOG and stream.readable:
            data = stream.recv(65536, now)
            if not data:
                stream.eof = True
                break
            if stream.pending:
                stream.pending += data
                self._flush(stream, now)
            else:
                n = stream.send(data, now)  # the common case: straight into the send buffer
                if n < len(data):
                    stream.pending += memoryview(data)[n:]
        if getattr(stream, "eof", False) and not stream.pending:
            stream.close(now)


class TcpDiscard(_Service):
    port = DISCARD_PORT
    counter = "services.tcp_discard"

    def handle(self, stream, now):
        while stream.readable:  # checking first: an exception per segment costs more than a read
            data = stream.recv(1 << 20, now)
            if not data:
                stream.close(now)
                return
            self.stack.counters.incr("services.tcp_discard_bytes", len(data))


class TcpChargen(_Service):
    port = CHARGEN_PORT
    counter = "services.tcp_chargen"

    def opened(self, stream):
        stream.position = 0

    def handle(self, stream, now):
        while stream.readable:  # input is discarded; end of input ends the service
            data = stream.recv(1 << 20, now)
            if not data:
                stream.close(now)
                return
        pattern = CHARGEN_PATTERN
        while stream.writable:
            start = stream.position
            chunk = (pattern[start:] + pattern)[:16384]
            n = stream.send(chunk, now)
            if not n:
                break
            stream.position = (start + n) % len(pattern)


class HttpStatus(_Service):
    port = HTTP_PORT
    counter = "services.http"

    def opened(self, stream):
        stream.pending = bytearray()
        stream.request = bytearray()
        stream.closing = False

    def handle(self, stream, now):
        self._flush(stream, now)
        request = stream.request
        # Answer the complete requests already buffered, then read more, while fewer than
        # RESPONSE_BACKLOG bytes of answers wait: pipelined requests stay in TCP's receive buffer.
        while not stream.closing and len(stream.pending) < RESPONSE_BACKLOG:
            end = request.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(request[:end])
                del request[:end + 4]
                stream.pending += self.respond(head, stream)
                continue
            if len(request) > MAX_REQUEST:
                stream.pending += _response(431, "text/plain", b"request header too large\n", close=True)
                stream.closing = True
                break
            if not stream.readable:
                break
            data = stream.recv(65536, now)
            if not data:
                stream.closing = True
                break
            request += data
            self._flush(stream, now)
        self._flush(stream, now)
        if stream.closing and not stream.pending:
            stream.close(now)

    def respond(self, head: bytes, stream) -> bytes:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            stream.closing = True
            return _response(400, "text/plain", b"bad request\n", close=True)
        method, target, version = parts
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        if close:
            stream.closing = True
        self.stack.counters.incr("services.http_requests")
        if method not in ("GET", "HEAD"):
            return _response(405, "text/plain", b"method not allowed\n", close=close)
        path = target.split("?", 1)[0]
        if path == "/stats.json":
            body = json.dumps(self.stats(), indent=1, sort_keys=True).encode() + b"\n"
            ctype = "application/json"
        elif path in ("/", "/index.html"):
            body = self.page().encode()
            ctype = "text/html; charset=utf-8"
        else:
            return _response(404, "text/plain", b"not found\n", close=close)
        if method == "HEAD":
            return _response(200, ctype, b"", close=close, length=len(body))
        return _response(200, ctype, body, close=close)

    def stats(self) -> dict:
        return {
            "counters": self.stack.counters.snapshot(),
            "tcp_connections": self.layer.connection_table(),
        }

    def page(self) -> str:
        stats = self.stats()
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{value}</td></tr>" for name, value in stats["counters"].items()
        )
        conns = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c.get(k)))}</td>" for k in _CONNECTION_COLUMNS)
            + "</tr>"
            for c in stats["tcp_connections"]
        )
        return (
            "<!doctype html><html><head><title>netstack status</title></head><body>"
            "<h1>netstack status</h1><h2>Counters</h2><table><tr><th>counter</th><th>value</th></tr>"
            f"{rows}</table><h2>TCP connections</h2><table><tr>"
            + "".join(f"<th>{name}</th>" for name in _CONNECTION_COLUMNS)
            + f"</tr>{conns}</table>"
            '<p><a href="/stats.json">stats.json</a></p></body></html>\n'
        )


#: The per-connection figures the HTML page shows (``/stats.json`` has every field of ``info()``).
_CONNECTION_COLUMNS = ("connection", "state", "srtt", "rto", "congestion_control", "cwnd", "ssthresh", "pipe",
                       "sacked", "lost", "retransmissions", "delivery_rate")

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            431: "Request Header Fields Too Large"}


def _response(status: int, ctype: str, body: bytes, *, close: bool, length: int | None = None) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\nServer: netstack\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    return head.encode() + body


def tcp_echo(stack):
    return TcpEcho(stack)


def tcp_discard(stack):
    return TcpDiscard(stack)


def tcp_chargen(stack):
    return TcpChargen(stack)


def http_status(stack):
    return HttpStatus(stack)
