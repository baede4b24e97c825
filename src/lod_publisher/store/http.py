"""HTTP for talking to remote stores: deadlines, same-host redirects, Basic and Digest auth,
keep-alive connections.

Standard library only (``http.client``): SPARQLWrapper rounds timeouts down to whole
seconds, follows redirects to any host and installs a process-wide opener for Digest.
Connections are kept open and reused (a new TCP connection costs a quick query about
2 ms against a remote store), within the safety rules of :class:`Http`.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import itertools
import secrets
import select
import ssl
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from urllib.parse import urljoin, urlsplit
from urllib.request import parse_http_list, parse_keqv_list

from lod_publisher.errors import RemoteError, RemoteTimeout

MAX_RESPONSE_BYTES = 256 * 1024 * 1024
MAX_IDLE_CONNECTIONS = 8  # per origin
USER_AGENT = f"lod-publisher/{version('lod-publisher')}"


@dataclass(frozen=True)
class Credentials:
    """A user and password for HTTP Basic or Digest authentication (RFC 7617, RFC 7616)."""

    user: str
    password: str


@dataclass(frozen=True)
class Reply:
    """One HTTP response, read whole. Header names are lower-cased."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def text(self, limit: int = 2000) -> str:
        """The body as text, for error messages: decoded, trimmed, at most ``limit`` chars."""
        text = self.body.decode("utf-8", errors="replace").strip()
        return text if len(text) <= limit else text[:limit] + " [...]"


_Origin = tuple[str, str, int | None]


def _origin(url: str) -> _Origin:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


class _Reset(Exception):  # noqa: N818 (a signal between two methods)
    """The server reset or closed the connection before its answer was complete."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Stale(Exception):  # noqa: N818 (a signal between two methods)
    """A reused connection was closed by the server while idle: nothing was answered on it."""


class _Pool:
    """Idle keep-alive connections by origin, the most recently used first; thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._idle: dict[_Origin, list[http.client.HTTPConnection]] = {}

    def take(self, origin: _Origin) -> http.client.HTTPConnection | None:
        """An idle connection to ``origin`` that the server has not closed, if there is one."""
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                if not idle:
                    return None
                connection = idle.pop()
            if _still_open(connection):
                return connection
            connection.close()

    def give(self, origin: _Origin, connection: http.client.HTTPConnection) -> None:
        """Keep ``connection`` for the next request to ``origin``, or close it if enough wait."""
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self.size:
                idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle = [connection for each in self._idle.values() for connection in each]
            self._idle.clear()
        for connection in idle:
            connection.close()


class Http:
    """HTTP/1.1 requests that never outlive a deadline and never leave the endpoint's host.

    Connections are kept alive and reused: after a response read whole, a connection the
    server does not end (``Connection: close``, HTTP/1.0) goes back to a pool of at most
    ``max_idle`` idle connections per origin, shared by the threads that share this
    object. A timeout, a failure or a response cut at ``max_bytes`` closes its connection.
    A reused connection that the server closed while it was idle (the reset comes before
    any answer) is replaced by a new one, once, without using up the retry after a reset
    of a ``repeatable`` request. Requests that are not ``repeatable`` always go out on a new
    connection, so they are never sent into one the server is closing. :meth:`close`
    closes the idle connections (so does garbage collection); the object stays usable.

    Every wait is bounded by the time left, and reading stops at the deadline. Redirects:
    307 and 308 to the same origin are followed (at most 3), any other is an error
    naming the new location. On a 401 with credentials the request is repeated once with
    Basic or Digest authorization (RFC 7617, RFC 7616 with MD5 and ``qop=auth``); later
    requests answer that challenge up front, so a large body is not sent twice (a server
    may close the connection on a 401 before it has read the body).
    """

    def __init__(
        self,
        timeout: float,
        credentials: Credentials | None = None,
        max_bytes: int = MAX_RESPONSE_BYTES,
        max_idle: int = MAX_IDLE_CONNECTIONS,
    ) -> None:
        self.timeout = timeout
        self.credentials = credentials
        self.max_bytes = max_bytes
        self._challenge = ""  # the server's last WWW-Authenticate
        self._nonce_count = itertools.count(1)
        self._pool = _Pool(max_idle)
        # Close the idle connections when this object is dropped without close(): the
        # finalizer holds the pool, so the sockets are closed before they are collected.
        weakref.finalize(self, self._pool.close)

    def close(self) -> None:
        """Close the idle connections; connections in use are closed or pooled when done."""
        self._pool.close()

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        *,
        repeatable: bool = False,
    ) -> Reply:
        """Send one request (following allowed redirects); RemoteTimeout at the deadline.

        ``repeatable``: the request may run twice with the same effect (a query, a PUT), so
        a connection the server resets before answering is tried once more, and an idle
        connection may be reused (other requests always open a new one).
        """
        seconds = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + seconds
        sent = {"User-Agent": USER_AGENT, **(headers or {})}
        authorized = False
        retried = not repeatable
        if self.credentials and self._challenge:  # answer the last challenge up front
            sent["Authorization"] = self._authorization(method, url, self._challenge)
        for _ in range(6):
            try:
                reply = self._once(method, url, body, sent, deadline, reuse=repeatable)
            except TimeoutError:
                raise RemoteTimeout(f"{url} did not answer within {seconds:g} s", None) from None
            except _Reset as reset:
                if retried:
                    raise RemoteError(reset.message) from None
                retried = True
                continue
            if reply.status in (301, 302, 303, 307, 308):
                location = urljoin(url, reply.headers.get("location", ""))
                if reply.status in (307, 308) and _origin(location) == _origin(url):
                    url = location
                    continue
                raise RemoteError(
                    f"{url} redirects ({reply.status}) to {location}; redirects are only "
                    "followed to the same host with 307 or 308: configure the store's URL "
                    "as that location if it is the store",
                    reply.status,
                )
            if reply.status == 401 and self.credentials and not authorized:
                self._challenge = reply.headers.get("www-authenticate", "")
                sent["Authorization"] = self._authorization(method, url, self._challenge)
                authorized = True
                continue
            return reply
        raise RemoteError(f"{url}: too many redirects or authentication rounds")

    def _once(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        deadline: float,
        *,
        reuse: bool,
    ) -> Reply:
        """One exchange, on an idle connection if ``reuse`` and there is one."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteError(f"{url!r} is not an http(s) URL")
        idle = self._pool.take(_origin(url)) if reuse else None
        if idle is not None:
            try:
                return self._exchange(idle, method, url, body, headers, deadline, reused=True)
            except _Stale:
                pass  # the server closed it meanwhile: once more, on a new connection
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(parts.hostname, parts.port, timeout=_left(deadline))
        return self._exchange(connection, method, url, body, headers, deadline, reused=False)

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        deadline: float,
        *,
        reused: bool,
    ) -> Reply:
        """Send the request and read the whole response; then pool or close ``connection``.

        _Stale when ``reused`` and the server closed the connection before answering.
        """
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        answered = keep = False
        try:
            _bound(connection, deadline)
            connection.request(method, target, body=body, headers=dict(headers))
            _bound(connection, deadline)
            response = connection.getresponse()
            answered = True
            chunks: list[bytes] = []
            size = 0
            while True:
                _bound(connection, deadline)
                chunk = response.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_bytes:
                    raise RemoteError(
                        f"{url} answered more than {self.max_bytes} bytes; the rest was not read"
                    )
                chunks.append(chunk)
            reply = Reply(
                response.status,
                {name.lower(): value for name, value in response.getheaders()},
                b"".join(chunks),
            )
            # Read whole: the Content-Length counted down to 0, or the last chunk read (read1
            # returns b"" at an early end too, leaving the length above 0).
            whole = response.length == 0 or (response.chunked and response.isclosed())
            keep = whole and not response.will_close
            response.close()  # done with: the connection may send the next request
            return reply
        except TimeoutError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            # A reset, a broken pipe or an end (RemoteDisconnected, a ConnectionResetError)
            # before the status line: only repeatable requests are sent on reused ones.
            if reused and not answered and isinstance(exc, (ConnectionError, ssl.SSLEOFError)):
                raise _Stale from None
            if isinstance(exc, ConnectionResetError):
                raise _Reset(
                    f"{parts.scheme}://{parts.netloc} closed the connection: {exc}"
                ) from None
            raise RemoteError(
                f"cannot reach {parts.scheme}://{parts.netloc}: {exc or type(exc).__name__}"
            ) from None
        finally:
            if keep:
                self._pool.give(_origin(url), connection)
            else:
                connection.close()

    def _authorization(self, method: str, url: str, challenge: str) -> str:
        assert self.credentials is not None
        user, password = self.credentials.user, self.credentials.password
        scheme, _, rest = challenge.strip().partition(" ")
        if scheme.lower() == "basic":
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            return f"Basic {token}"
        if scheme.lower() != "digest":
            raise RemoteError(f"{url} asks for {scheme or 'no'} authentication; only Basic and Digest are supported", 401)  # fmt: skip
        params = parse_keqv_list(parse_http_list(rest))
        realm, nonce = params.get("realm", ""), params.get("nonce", "")
        parts = urlsplit(url)
        uri = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

        def md5(text: str) -> str:
            return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

        ha1, ha2 = md5(f"{user}:{realm}:{password}"), md5(f"{method}:{uri}")
        fields = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
        if "auth" in [q.strip() for q in params.get("qop", "").split(",")]:
            cnonce, nc = secrets.token_hex(8), f"{next(self._nonce_count):08x}"
            response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        else:
            response = md5(f"{ha1}:{nonce}:{ha2}")
        fields.append(f'response="{response}"')
        if "opaque" in params:
            fields.append(f'opaque="{params["opaque"]}"')
        return "Digest " + ", ".join(fields)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection is still open: nothing to read on it, not even its end."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        return not select.select([sock], [], [], 0)[0]
    except (OSError, ValueError):
        return False


def _bound(connection: http.client.HTTPConnection, deadline: float) -> None:
    """Let the next wait on the socket last no longer than the time left."""
    if connection.sock is not None:
        connection.sock.settimeout(_left(deadline))
