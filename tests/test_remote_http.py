"""The remote stores' HTTP client: a connection reset is tried again only when that is safe."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from lod_publisher.errors import RemoteError
from lod_publisher.store.http import Http


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
