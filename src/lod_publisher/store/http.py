"""HTTP for talking to remote stores: deadlines, same-host redirects, Basic and Digest auth.

Standard library only (``http.client``): SPARQLWrapper rounds timeouts down to whole
seconds, follows redirects to any host and installs a process-wide opener for Digest.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import itertools
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from urllib.parse import urljoin, urlsplit
from urllib.request import parse_http_list, parse_keqv_list

from lod_publisher.errors import RemoteError, RemoteTimeout

MAX_RESPONSE_BYTES = 256 * 1024 * 1024
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


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


class _Reset(Exception):  # noqa: N818 (a signal between two methods)
    """The server reset or closed the connection before its answer was complete."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Http:
    """HTTP/1.1 requests that never outlive a deadline and never leave the endpoint's host.

    Each request opens its own connection (nothing is shared between threads). Every
    wait is bounded by the time left, and reading stops at the deadline. Redirects:
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
    ) -> None:
        self.timeout = timeout
        self.credentials = credentials
        self.max_bytes = max_bytes
        self._challenge = ""  # the server's last WWW-Authenticate
        self._nonce_count = itertools.count(1)

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
        a connection the server resets before answering is tried once more.
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
                reply = self._once(method, url, body, sent, deadline)
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
    ) -> Reply:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteError(f"{url!r} is not an http(s) URL")
        left = _left(deadline)
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(parts.hostname, parts.port, timeout=left)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(method, target, body=body, headers=dict(headers))
            _bound(connection, deadline)
            response = connection.getresponse()
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
            return Reply(
                response.status,
                {name.lower(): value for name, value in response.getheaders()},
                b"".join(chunks),
            )
        except TimeoutError:
            raise
        except (ConnectionResetError, http.client.RemoteDisconnected) as exc:
            raise _Reset(f"{parts.scheme}://{parts.netloc} closed the connection: {exc}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise RemoteError(
                f"cannot reach {parts.scheme}://{parts.netloc}: {exc or type(exc).__name__}"
            ) from None
        finally:
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


def _bound(connection: http.client.HTTPConnection, deadline: float) -> None:
    """Let the next wait on the socket last no longer than the time left."""
    if connection.sock is not None:
        connection.sock.settimeout(_left(deadline))
