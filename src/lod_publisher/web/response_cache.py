"""Replay whole responses that cannot change within a build, without running Flask.

Documents (``/doc/...``) and the ``303`` redirects to them depend only on the build, the
path, the query string and the request's ``Accept`` and ``Accept-Language`` headers. The
first such response is rendered by the Flask app as usual; the view marks it with
:func:`mark_replayable`, and this WSGI middleware keeps its status, headers and bytes.
Later requests with the same key get those bytes back straight from a dictionary, which
is what makes a dereference cost about as much as serving a static file.

Requests the cache does not answer go to the app unchanged: any method other than GET,
conditional and range requests (so that ``304``, ``206`` and ``412`` keep coming from
Werkzeug's one implementation of RFC 9110), and every response not marked. Their bodies,
when short and of a stated length, are handed to the server in one piece (see
:meth:`ResponseCache._render`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import request

from lod_publisher.lru import BoundedLru

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_MARK = "lod_publisher.replayable"
# Request headers whose presence means the answer may not be the plain stored one.
_PASS_THROUGH_HEADERS = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_IF_RANGE",
    "HTTP_RANGE",
)
_REPLAYABLE_STATUSES = ("200", "303")
_ONE_PIECE_MAX = 1 << 20  # bytes: bodies up to this length are joined (see _render)


def mark_replayable() -> None:
    """Declare the current response immutable for this build (for its path and headers)."""
    request.environ[_MARK] = True


@dataclass(frozen=True)
class _Stored:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class ResponseCache:
    """WSGI middleware keeping marked responses, least recently used evicted.

    Bounded both by entries and by bytes, per process; nothing is shared between workers.
    """

    def __init__(
        self, app: WSGIApplication, max_entries: int = 4096, max_bytes: int = 64 << 20
    ) -> None:
        self.app = app
        self._entries: BoundedLru[tuple[str, ...], _Stored] = BoundedLru(
            max_entries, max_bytes, max_bytes // 8
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or any(
            header in environ for header in _PASS_THROUGH_HEADERS
        ):
            return self._render(None, environ, start_response)
        key = (
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            environ.get("HTTP_ACCEPT", ""),
            environ.get("HTTP_ACCEPT_LANGUAGE", ""),
        )
        stored = self._entries.get(key)
        if stored is not None:
            start_response(stored.status, list(stored.headers))
            return [stored.body]
        return self._render(key, environ, start_response)

    def _render(
        self, key: tuple[str, ...] | None, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Run the app; keep its response if marked, and hand small bodies over in one piece.

        A server can send a list of bytes at once, but must step through any other
        iterable (Granian: chunk by chunk across its threads, about 0.1 ms more per
        response, and more for larger bodies). Bodies whose length the app stated before
        returning (Werkzeug does), up to ``_ONE_PIECE_MAX`` bytes, are therefore joined
        here; others stream as the app writes them.
        """
        seen: dict[str, Any] = {}

        def remember(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = status, list(headers)
            return start_response(status, headers, exc_info)

        chunks = self.app(environ, remember)
        status = str(seen.get("status", ""))
        replayable = (
            key is not None and environ.get(_MARK) and status.startswith(_REPLAYABLE_STATUSES)
        )
        if not replayable and not _known_small(seen.get("headers", ())):
            return chunks
        try:
            body = b"".join(chunks)
        finally:
            close: Callable[[], None] | None = getattr(chunks, "close", None)
            if close is not None:
                close()
        if replayable:
            assert key is not None
            self._entries.put(key, _Stored(status, seen["headers"], body), len(body))
        return [body]

    def __len__(self) -> int:
        return len(self._entries)


def _known_small(headers: Iterable[tuple[str, str]]) -> bool:
    """Whether the response states a Content-Length of at most ``_ONE_PIECE_MAX`` bytes."""
    for name, value in headers:
        if name.lower() == "content-length":
            return value.isdigit() and int(value) <= _ONE_PIECE_MAX
    return False
