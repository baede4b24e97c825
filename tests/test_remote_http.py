"""The remote stores' HTTP client: resets are retried and connections reused only when safe."""

from __future__ import annotations

import http.server
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from lod_publisher.errors import RemoteError, RemoteTimeout
from lod_publisher.store import http as http_module
from lod_publisher.store.http import Http, Reply


class ResettingServer:
    """Resets the first ``resets`` connections once a request arrived, then answers 200."""

    def __init__(self, resets: int) -> None:
        self.resets = resets
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/sparql"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                self.connections += 1
                if self.connections <= self.resets:
                    # SO_LINGER 0: close() sends a TCP reset instead of an orderly close.
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    continue
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def reset_once() -> Iterator[ResettingServer]:
    server = ResettingServer(resets=1)
    yield server
    server.close()


def test_a_repeatable_request_is_tried_again_after_a_reset(reset_once: ResettingServer) -> None:
    reply = Http(5).request("POST", reset_once.url, b"query=ASK{}", repeatable=True)
    assert (reply.status, reply.body) == (200, b"ok")
    assert reset_once.connections == 2


def test_other_requests_are_sent_once(reset_once: ResettingServer) -> None:
    with pytest.raises(RemoteError, match="closed the connection"):
        Http(5).request("POST", reset_once.url, b"<a> <b> <c> .")
    assert reset_once.connections == 1


def test_a_second_reset_is_an_error() -> None:
    server = ResettingServer(resets=5)
    try:
        with pytest.raises(RemoteError, match="closed the connection"):
            Http(5).request("POST", server.url, b"query=ASK{}", repeatable=True)
        assert server.connections == 2
    finally:
        server.close()


class KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    """Answers ``ok`` over HTTP/1.1 and keeps the connection open, unless told otherwise.

    ``/slow`` waits for ``release``, ``/both`` for a second request, ``/big`` answers 1000
    bytes, ``/close`` sends ``Connection: close``.
    """

    protocol_version = "HTTP/1.1"
    server: KeepAliveServer

    def setup(self) -> None:
        super().setup()
        self.number = self.server.opened()

    def finish(self) -> None:
        super().finish()
        self.server.closed.release()

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.requests.append((self.command, self.path, self.number))
        if self.number in self.server.resets:
            # SO_LINGER 0: close() sends a TCP reset instead of an orderly close.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if self.path == "/slow":
            self.server.release.wait(5)
        if self.path == "/both":
            self.server.barrier.wait(5)
        body = b"x" * 1000 if self.path == "/big" else b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/close":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        # Claims keep-alive (no Connection: close), closes all the same.
        self.close_connection = self.close_connection or self.server.drop

    def log_message(self, format: str, *args: object) -> None:
        pass


class KeepAliveServer(http.server.ThreadingHTTPServer):
    """A real HTTP/1.1 server on 127.0.0.1 that records connections and requests."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), KeepAliveHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.connections = 0
        self.closed = threading.Semaphore(0)  # released as each connection ends
        self.requests: list[tuple[str, str, int]] = []  # method, path, connection number
        self.drop = False  # close every connection after one response
        self.resets: set[int] = set()  # connection numbers reset once a request arrived
        self.release = threading.Event()
        self.barrier = threading.Barrier(2)
        self._lock = threading.Lock()

    def opened(self) -> int:
        with self._lock:
            self.connections += 1
            return self.connections

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (a timeout, a reset): nothing to report


@pytest.fixture
def server() -> Iterator[KeepAliveServer]:
    server = KeepAliveServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.barrier.abort()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def client() -> Iterator[Http]:
    client = Http(5)
    yield client
    client.close()


@pytest.fixture
def unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Idle connections look open: the server closes them after the check, a race."""
    monkeypatch.setattr(http_module, "_still_open", lambda connection: True)


def get(client: Http, server: KeepAliveServer, path: str = "/sparql") -> Reply:
    return client.request("GET", server.url + path, repeatable=True)


def test_sequential_requests_share_one_connection(server: KeepAliveServer, client: Http) -> None:
    assert get(client, server).body == b"ok"
    reply = client.request("POST", server.url + "/sparql", b"query=ASK{}", repeatable=True)
    assert reply.body == b"ok"
    assert server.connections == 1
    assert [number for _, _, number in server.requests] == [1, 1]


@pytest.mark.parametrize("check", ["checked", "unchecked"])
def test_a_connection_the_server_closed_is_replaced(
    server: KeepAliveServer, client: Http, check: str, request: pytest.FixtureRequest
) -> None:
    if check == "unchecked":
        request.getfixturevalue("unchecked")
    server.drop = True
    for _ in range(3):
        assert get(client, server).body == b"ok"
    assert server.connections == 3
    assert [number for _, _, number in server.requests] == [1, 2, 3]


@pytest.mark.usefixtures("unchecked")
def test_non_repeatable_posts_are_sent_once_to_a_server_that_closes(
    server: KeepAliveServer, client: Http
) -> None:
    server.drop = True
    get(client, server)
    for _ in range(3):
        assert client.request("POST", server.url + "/data", b"[] <b> <c> .").body == b"ok"
    assert [(method, number) for method, _, number in server.requests] == [
        ("GET", 1),
        ("POST", 2),
        ("POST", 3),
        ("POST", 4),
    ]


@pytest.mark.usefixtures("unchecked")
def test_a_stale_connection_does_not_use_up_the_retry_after_a_reset(
    server: KeepAliveServer, client: Http
) -> None:
    server.drop = True
    get(client, server)  # connection 1, closed by the server once idle
    server.resets = {2}
    reply = client.request("POST", server.url + "/sparql", b"query=ASK{}", repeatable=True)
    assert reply.body == b"ok"
    assert server.connections == 3
    assert [number for _, _, number in server.requests] == [1, 2, 3]


def test_a_non_repeatable_post_opens_a_new_connection(
    server: KeepAliveServer, client: Http
) -> None:
    get(client, server)
    client.request("POST", server.url + "/data", b"[] <b> <c> .")
    get(client, server)
    assert [(method, number) for method, _, number in server.requests] == [
        ("GET", 1),
        ("POST", 2),
        ("GET", 2),  # the POST's connection was kept: the most recently used goes first
    ]


def test_a_request_that_timed_out_leaves_no_connection_behind(
    server: KeepAliveServer, client: Http
) -> None:
    get(client, server)
    with pytest.raises(RemoteTimeout):
        client.request("GET", server.url + "/slow", timeout=0.2, repeatable=True)
    server.release.set()
    assert get(client, server).body == b"ok"
    assert [number for _, _, number in server.requests] == [1, 1, 2]


def test_a_response_cut_at_max_bytes_leaves_no_connection_behind(server: KeepAliveServer) -> None:
    client = Http(5, max_bytes=100)
    try:
        get(client, server)
        with pytest.raises(RemoteError, match="more than 100 bytes"):
            get(client, server, "/big")
        assert get(client, server).body == b"ok"
    finally:
        client.close()
    assert [number for _, _, number in server.requests] == [1, 1, 2]


def test_connection_close_is_not_pooled(server: KeepAliveServer, client: Http) -> None:
    get(client, server, "/close")
    get(client, server, "/close")
    assert server.connections == 2


def test_idle_connections_beyond_the_bound_are_closed(server: KeepAliveServer) -> None:
    client = Http(5, max_idle=1)
    try:
        both = [threading.Thread(target=get, args=(client, server, "/both")) for _ in range(2)]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join(10)
        assert server.connections == 2
        assert server.closed.acquire(timeout=5)  # one of the two is closed at once
        assert not server.closed.acquire(timeout=0.2)  # the other one waits
        get(client, server)
        assert server.connections == 2
    finally:
        client.close()


def test_close_closes_the_idle_connections(server: KeepAliveServer, client: Http) -> None:
    get(client, server)
    client.close()
    assert server.closed.acquire(timeout=5)
    assert get(client, server).body == b"ok"  # still usable, on a new connection
    assert server.connections == 2


def test_threads_share_the_idle_connections(server: KeepAliveServer, client: Http) -> None:
    failures: list[Exception] = []

    def run() -> None:
        try:
            for _ in range(20):
                get(client, server)
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures
    assert len(server.requests) == 80
    assert server.connections <= 4
