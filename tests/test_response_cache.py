"""The response cache replays marked responses byte for byte and nothing else."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient

from lod_publisher.settings import Settings
from lod_publisher.web import create_app, site_of
from lod_publisher.web.response_cache import ResponseCache, mark_replayable

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def counting_app(max_entries: int = 4096, max_bytes: int = 1 << 20) -> tuple[Flask, list[str]]:
    """A small app whose /marked/<n> responses are replayable; it records every call."""
    app = Flask(__name__)
    calls: list[str] = []

    @app.route("/marked/<size>")
    def marked(size: str) -> Response:
        calls.append(size)
        mark_replayable()
        return Response(b"x" * int(size), headers={"ETag": f'"{size}"'})

    @app.route("/plain")
    def plain() -> Response:
        calls.append("plain")
        return Response(b"plain")

    @app.route("/missing")
    def missing() -> Response:
        calls.append("missing")
        mark_replayable()
        return Response(b"gone", status=404)

    app.wsgi_app = ResponseCache(app.wsgi_app, max_entries, max_bytes)  # type: ignore[method-assign]
    return app, calls


def test_a_marked_response_is_rendered_once_and_replayed_whole() -> None:
    app, calls = counting_app()
    client = app.test_client()
    first = client.get("/marked/10")
    second = client.get("/marked/10")
    assert calls == ["10"]
    assert second.data == first.data == b"x" * 10
    assert second.status == first.status
    assert list(second.headers) == list(first.headers)


def test_unmarked_and_error_responses_always_reach_the_app() -> None:
    app, calls = counting_app()
    client = app.test_client()
    for _ in range(2):
        client.get("/plain")
        assert client.get("/missing").status_code == 404
    assert calls == ["plain", "missing", "plain", "missing"]


@pytest.mark.parametrize(
    "headers",
    [
        {"If-None-Match": '"10"'},
        {"If-Modified-Since": "Sun, 22 Nov 2026 00:00:00 GMT"},
        {"Range": "bytes=0-1"},
        {"If-Match": '"10"'},
    ],
)
def test_conditional_and_range_requests_reach_the_app(headers: dict[str, str]) -> None:
    app, calls = counting_app()
    client = app.test_client()
    client.get("/marked/10")
    client.get("/marked/10", headers=headers)
    assert calls == ["10", "10"]


def test_other_methods_reach_the_app() -> None:
    app, calls = counting_app()
    client = app.test_client()
    client.get("/marked/10")
    assert client.head("/marked/10").data == b""
    assert calls == ["10", "10"]


def test_the_key_holds_query_string_accept_and_accept_language() -> None:
    app, calls = counting_app()
    client = app.test_client()
    variants = [
        ("/marked/3", {}),
        ("/marked/3?format=ttl", {}),
        ("/marked/3", {"Accept": "text/turtle"}),
        ("/marked/3", {"Accept-Language": "kk"}),
    ]
    for path, headers in variants * 2:
        client.get(path, headers=headers)
    assert len(calls) == len(variants)


def test_entries_are_bounded() -> None:
    app, calls = counting_app(max_entries=2)
    client = app.test_client()
    for size in ("1", "2", "3", "3", "2"):
        client.get(f"/marked/{size}")
    client.get("/marked/1")  # evicted: least recently used of three with room for two
    assert calls == ["1", "2", "3", "1"]


def test_bytes_are_bounded() -> None:
    app, calls = counting_app(max_bytes=400)
    client = app.test_client()
    client.get("/marked/51")  # above an eighth of the budget: never kept
    client.get("/marked/51")
    sizes = [str(n) for n in range(41, 50)]  # 405 bytes in all: the first one goes
    for size in sizes + sizes[1:]:
        client.get(f"/marked/{size}")
    client.get("/marked/41")
    assert calls == ["51", "51", *sizes, "41"]


@pytest.fixture
def fresh_client(settings: Settings, release: object) -> FlaskClient:
    """A client of a new app, so that its caches start empty."""
    return create_app(settings).test_client()


@pytest.mark.parametrize("extension", ["html", "ttl", "jsonld", "rdf", "nt"])
def test_documents_are_replayed_without_describing_again(
    fresh_client: FlaskClient, extension: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = f"/doc/id/place/belgrade.{extension}"
    first = fresh_client.get(path)
    assert first.status_code == 200
    site = site_of(fresh_client.application)

    def no_more_queries(*args: object) -> None:
        raise AssertionError("the replayed document ran a query")

    monkeypatch.setattr(site, "describe", no_more_queries)
    monkeypatch.setattr(site, "known", no_more_queries)
    second = fresh_client.get(path)
    assert second.data == first.data
    assert second.headers == first.headers


def test_a_replayed_document_still_answers_conditional_requests(fresh_client: FlaskClient) -> None:
    path = "/doc/id/place/belgrade.ttl"
    etag = fresh_client.get(path).headers["ETag"]
    fresh_client.get(path)
    revalidated = fresh_client.get(path, headers={"If-None-Match": etag})
    assert revalidated.status_code == 304
    assert revalidated.headers["ETag"] == etag


def test_redirects_are_replayed_per_accept_header(fresh_client: FlaskClient) -> None:
    for accept, extension in (("text/turtle", "ttl"), ("text/html", "html")) * 2:
        reply = fresh_client.get("/id/place/belgrade", headers={"Accept": accept})
        assert reply.status_code == 303
        assert reply.headers["Location"].endswith(f"/doc/id/place/belgrade.{extension}")
    unknown = fresh_client.get("/id/place/atlantis", headers={"Accept": "text/turtle"})
    assert unknown.status_code == 404


def _generated(body: bytes, length: int | None) -> WSGIApplication:
    """A bare WSGI app answering ``body`` from an iterator, as Werkzeug responses do."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        headers = [("Content-Type", "text/plain")]
        if length is not None:
            headers.append(("Content-Length", str(length)))
        start_response("200 OK", headers)
        return iter((body[:3], body[3:]))

    return app


@pytest.mark.parametrize(
    ("size", "announced", "joined"),
    [(10, True, True), (1 << 20, True, True), ((1 << 20) + 1, True, False), (10, False, False)],
)
def test_bodies_of_a_known_small_length_are_handed_over_in_one_piece(
    size: int, announced: bool, joined: bool
) -> None:
    body = b"y" * size
    cache = ResponseCache(_generated(body, size if announced else None))
    answer = cache({"REQUEST_METHOD": "POST", "PATH_INFO": "/"}, lambda *args: lambda data: None)
    assert isinstance(answer, list) == joined
    assert b"".join(answer) == body
