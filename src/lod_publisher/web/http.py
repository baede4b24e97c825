"""HTTP semantics shared by every representation we serve (RFC 9110).

Strong ETags tied to the build, Last-Modified from the build time, ``Vary``, ``Link``
alternates, ``Content-Location``; conditional (304) and range requests are answered by
Werkzeug's ``make_conditional`` from those validators.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from flask import request
from werkzeug.wrappers import Response

from lod_publisher.formats import Format, negotiate


def strong_etag(*parts: str) -> str:
    """A strong entity tag for a representation: the same bytes within a build."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def link_header(links: Iterable[tuple[str, str, str | None]]) -> str:
    """``Link`` header value from (url, rel, media type) triples (RFC 8288)."""
    items = []
    for url, rel, media_type in links:
        item = f'<{url}>; rel="{rel}"'
        if media_type:
            item += f'; type="{media_type}"'
        items.append(item)
    return ", ".join(items)


def representation(
    body: bytes,
    fmt: Format,
    etag: str,
    last_modified: datetime,
    *,
    vary: Sequence[str] = ("Accept",),
    content_location: str | None = None,
    links: Iterable[tuple[str, str, str | None]] = (),
    max_age: int = 300,
) -> Response:
    """A cacheable representation, answered conditionally (304, 206, 412 as they apply)."""
    response = Response(body, content_type=fmt.content_type)
    response.set_etag(etag)
    response.last_modified = last_modified
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    if vary:
        response.vary.update(vary)
    if content_location:
        response.headers["Content-Location"] = content_location
    header = link_header(links)
    if header:
        response.headers["Link"] = header
    return response.make_conditional(request, accept_ranges=True, complete_length=len(body))


def not_acceptable(available: Sequence[Format]) -> Response:
    """406 naming what we can serve, so the client can ask again (RFC 9110 section 15.5.7)."""
    listing = "\n".join(f"  {f.media_type}  ({f.name}, ?format={f.key})" for f in available)
    body = (
        "406 Not Acceptable: none of the media types in your Accept header is available.\n"
        f"Available:\n{listing}\n"
    )
    response = Response(body, status=406, content_type="text/plain; charset=utf-8")
    response.vary.add("Accept")
    return response


def choose_format(available: Sequence[Format]) -> Format | None:
    """``?format=`` when given (must be one of ``available``), else the Accept header."""
    key = request.args.get("format")
    if key is not None:
        return next((f for f in available if f.key == key or f.media_type == key), None)
    return negotiate(request.headers.get("Accept"), available)


def plain_error(status: int, message: str) -> Response:
    return Response(
        message.rstrip("\n") + "\n", status=status, content_type="text/plain; charset=utf-8"
    )
