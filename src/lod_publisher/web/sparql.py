"""``/sparql``: the SPARQL 1.1 query endpoint, its service description and its query editor.

https://www.w3.org/TR/sparql11-protocol/#query-operation . The request is read by
:func:`lod_publisher.protocol.parse_request`, checked by :mod:`lod_publisher.sealing`,
run by the backend within the configured limits, and answered with the engine's bytes.
Errors are plain text with the status that fits. Without a query, a machine gets the
service description (:mod:`lod_publisher.service_description`), a browser the editor.
Each query is logged in one line: status, duration, rows, bytes, whether the answer came
from the result cache, and a hash of the text.

A build never changes, so the same request for a query whose answer depends on nothing
but the data gets the same bytes: each process keeps recent successful answers
(``result_cache_mb``), keyed by the request itself, and sends them again without parsing
or running the query (see :func:`repeatable`). Identical requests that arrive together
run the query once (:func:`_run_once`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from http import HTTPStatus
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, current_app, render_template, request
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from lod_publisher import protocol, sealing
from lod_publisher.errors import LodError, QueryError, RemoteError, RemoteTimeout
from lod_publisher.formats import Format
from lod_publisher.lru import BoundedLru
from lod_publisher.protocol import DescriptionRequest, ProtocolError, QueryRequest
from lod_publisher.service_description import (
    SD,
    EndpointLimits,
    description_formats,
    endpoint_iri,
    serialize,
    service_description,
    summary,
)
from lod_publisher.store.backend import Backend, EngineError, QueryLimits, QueryTimeout
from lod_publisher.store.embedded import EmbeddedBackend
from lod_publisher.store.remote import RemoteBackend
from lod_publisher.store.sandbox import POOL_ADDRESS_ENV, SandboxedBackend
from lod_publisher.web import cors_headers, site_of
from lod_publisher.web.query_log import query_log
from lod_publisher.web.site import Site
from lod_publisher.web.sparql_examples import EXAMPLES

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

blueprint = Blueprint("sparql", __name__)
logger = logging.getLogger(__name__)

PATH = "/sparql"
_MAX_DISCARDED = 64 << 20  # largest refused body read to its end (see _read_body)
TRUNCATED_HEADER = "X-SPARQL-Truncated"
MAX_ROWS_HEADER = "X-SPARQL-MaxRows"  # as Virtuoso names it, so clients that know it react
_ENGINE_POSITION = re.compile(r"^error at (\d+):(\d+): ")
_RESULT_ENTRIES = 4096  # most answers the result cache keeps per process
# What may make two runs of a query differ: the functions whose value changes from run to
# run (SPARQL 1.1 Query 17.4), a \u escape that could spell one, and any function called
# by IRI (a store's own extensions, e.g. Virtuoso's bif:rnd). Lexical, so erring towards
# running the query: a word in a string or a comparison followed by "(" counts too.
_UNREPEATABLE = re.compile(
    r"(?<![\w$?])(?:NOW|RAND|UUID|STRUUID|BNODE)(?!\w)|\\u|(?:>|:[^\s(){}<>\"',;]*)"
    r"(?:\s|#[^\n\r]*+)*+\(",
    re.IGNORECASE,
)


@dataclass
class Endpoint:
    """The endpoint's state in one server process; kept in ``app.extensions``."""

    site: Site
    limits: QueryLimits
    stated: EndpointLimits
    results: BoundedLru[tuple[str | bytes | None, ...], _Kept]
    _backend: Backend | None = None
    # requests whose query is running now, to be answered once (see _run_once)
    _running: dict[tuple[str | bytes | None, ...], threading.Event] = field(default_factory=dict)
    _descriptions: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_site(cls, site: Site) -> Endpoint:
        s = site.settings
        limits = QueryLimits(s.query_timeout, s.max_rows, frozenset(s.service_allowlist))
        stated = EndpointLimits(
            s.query_timeout, s.max_rows, s.max_query_bytes, s.query_memory, s.service_allowlist
        )
        cache_bytes = int(s.result_cache_mb * (1 << 20))
        results: BoundedLru[tuple[str | bytes | None, ...], _Kept] = BoundedLru(
            _RESULT_ENTRIES if cache_bytes else 0, cache_bytes, cache_bytes // 8
        )
        return cls(site, limits, stated, results)

    def backend(self) -> Backend:
        """Where users' queries run: the site's backend, sandboxed if it is the embedded store.

        Created on first use. Under ``serve`` the evaluators are the server's, shared by
        its workers (their address is in ``POOL_ADDRESS_ENV``); otherwise (a test client,
        ``--dev``) this process starts its own.
        """
        with self._lock:
            if self._backend is None:
                if isinstance(self.site.backend, EmbeddedBackend):
                    self._backend = SandboxedBackend(
                        self.site.release.store_path,
                        self.site.backend,
                        self.site.settings.evaluators,
                        self.site.settings.query_memory,
                        self.site.settings.quick_query_ms / 1000,
                        pool_address=os.environ.get(POOL_ADDRESS_ENV),
                    )
                else:  # a remote store: it keeps the deadline itself (QueryLimits.timeout)
                    self._backend = self.site.backend
            return self._backend

    def description(self, fmt: Format) -> bytes:
        """The service description in ``fmt``, built once per process."""
        with self._lock:
            if fmt.key not in self._descriptions:
                policy = self.site.policy
                graph = service_description(
                    policy, self.stated, int(self.site.release.manifest["triples"])
                )
                prefixes = {
                    **policy.prefixes(),
                    "sd": str(SD),
                    "lim": endpoint_iri(policy) + "#",
                }
                self._descriptions[fmt.key] = serialize(graph, fmt, prefixes)
            return self._descriptions[fmt.key]


@blueprint.record_once
def _set_up(state: BlueprintSetupState) -> None:
    app = state.app
    assert isinstance(app, Flask)
    app.extensions["lod.sparql"] = Endpoint.for_site(site_of(app))
    if not logger.handlers and not logging.getLogger().handlers:
        # Nothing configured logging (the server only configures its own loggers): the
        # query log goes to standard error, next to the server's.
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def warm_up(app: Flask) -> None:
    """Ready this process's backend now, so that the first query does not wait for it.

    Embedded: the sandbox is made, bound to the server's query evaluators. Remote: the store's manifest is read (1.6 s
    at 1M triples, whose 80,000 named graphs it lists); a store that cannot answer yet
    is asked again on first use. For server worker processes; the test client and
    ``--dev`` do this on first use.
    """
    backend = endpoint_of(app).backend()
    if isinstance(backend, RemoteBackend):
        try:
            backend.refresh()
        except LodError as exc:
            logger.warning("the remote store is not ready yet (asked again on first use): %s", exc)


def endpoint_of(app: Flask) -> Endpoint:
    found: Endpoint = app.extensions["lod.sparql"]
    return found


class EndpointApp:
    """``/sparql`` as plain WSGI, ahead of Flask: queries, errors, the service description.

    Flask's request and response objects, routing and hooks cost about 0.5 ms a request
    on the reference machine, more than a quick query takes to run; this path reads the
    WSGI environment directly and answers with one piece of bytes. Only the query editor
    (an HTML page, rendered from a template) goes on to the Flask app, as does every
    other path.
    """

    def __init__(self, endpoint: Endpoint, app: WSGIApplication) -> None:
        self.endpoint = endpoint
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self.app(environ, start_response)
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        try:
            answer = self._answer(method, environ)
        except Exception:  # a defect of ours: the client gets a 500, the log the traceback
            logger.exception("the SPARQL endpoint failed on a %s request", method)
            answer = _plain(500, "the server failed to answer this request (see its log)")
        if answer is None:
            return self.app(environ, start_response)
        status, headers = answer.head(method)
        start_response(status, list(headers))
        return [b""] if method == "HEAD" else [answer.body]

    def _answer(self, method: str, environ: WSGIEnvironment) -> _Answer | None:
        """The answer to one request; None for the query editor, which Flask renders."""
        if method == "OPTIONS":  # CORS preflight
            return _Answer(204, b"", "", (("Allow", protocol.ALLOWED_METHODS),))
        started = time.perf_counter()
        state = self.endpoint
        query_string = str(environ.get("QUERY_STRING", ""))
        try:
            body = _read_body(environ, method, state.stated.max_query_bytes)
            # Everything parse_request reads; HEAD is answered as GET, without the body.
            key = (
                "POST" if method == "POST" else "GET",
                query_string,
                environ.get("CONTENT_TYPE"),
                body,
                environ.get("HTTP_ACCEPT"),
            )
            kept = state.results.get(key)
            if kept is not None:  # everything it needs was worked out when it was kept
                _log(started, kept.answer.status, kept.log_details)
                return kept.answer
            parsed = protocol.parse_request(
                method,
                query_string.encode("latin-1"),  # PEP 3333
                environ.get("CONTENT_TYPE"),
                body,
                environ.get("HTTP_ACCEPT"),
                state.stated.max_query_bytes,
            )
        except ProtocolError as exc:
            answer = _plain(exc.status, exc.message, exc.headers)
            _log(started, answer.status, _log_details(answer, None, None, query=exc.query))
            return answer
        if parsed.result_format.key == "html":
            return None
        if isinstance(parsed, DescriptionRequest):
            return _described(state, parsed.result_format)
        answer, rows, cached = _run_once(state, key, parsed)
        _log(started, answer.status, _log_details(answer, parsed, rows, cached=cached))
        return answer


@dataclass(frozen=True)
class _Answer:
    """What the endpoint sends: status, body and its type, and any other headers."""

    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()

    def head(self, method: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """The status line and all the headers of this answer to ``method``.

        Worked out once per answer (only a CORS preflight's differ by method), so that
        sending a kept answer again costs no more than a dictionary lookup.
        """
        return self._preflight_head if method == "OPTIONS" else self._head

    @cached_property
    def _head(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self._compose_head("GET")

    @cached_property
    def _preflight_head(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self._compose_head("OPTIONS")

    def _compose_head(self, method: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        headers = list(self.headers)
        if self.status != 204:  # RFC 9110 8.6: no Content-Length in a 204
            headers += [
                ("Content-Type", self.content_type),
                ("Content-Length", str(len(self.body))),
            ]
        headers += [("Vary", "Accept"), *cors_headers(method, dict(self.headers).get("Allow"))]
        return f"{self.status} {HTTPStatus(self.status).phrase}", tuple(headers)


@dataclass(frozen=True)
class _Kept:
    """A successful answer kept for the same request, with what its log line says."""

    answer: _Answer
    rows: int | None
    log_details: str  # the query log line after the duration (see _log_details)


def repeatable(query: str) -> bool:
    """Whether running ``query`` again on the same data surely gives the same answer.

    False for queries that use NOW, RAND, UUID, STRUUID or BNODE, call a function by IRI
    or a SERVICE, or hold a \\u escape; and for some others (the test is on the text).

    >>> repeatable('SELECT ?s { ?s rdfs:label "Astana" } LIMIT 3')
    True
    >>> repeatable("SELECT (NOW() AS ?t) {}"), repeatable("SELECT (bif:rnd(9) AS ?r) {}")
    (False, False)
    >>> repeatable("SELECT * { SERVICE <http://a/> { ?s ?p ?o } }")
    False
    """
    return _UNREPEATABLE.search(query) is None and not sealing.service_calls(query)


@blueprint.route(PATH, methods=["GET", "HEAD"])
def editor() -> Response:
    """The query editor: what a browser gets at ``/sparql`` (see :class:`EndpointApp`)."""
    return _editor(endpoint_of(current_app), request.args.get("query"))


def _read_body(environ: WSGIEnvironment, method: str, max_bytes: int) -> bytes:
    """A POST's body, at most ``max_bytes + 1`` bytes (parse_request refuses more).

    A body announced larger than ``max_bytes`` is refused with 413 before it is read;
    it is then read to its end and dropped, up to ``_MAX_DISCARDED`` bytes, so that the
    client finishes sending and reads our answer (closing on a client still sending
    makes most clients, Python's ``http.client`` among them, fail with a broken pipe).
    """
    if method != "POST":
        return b""
    stream = environ["wsgi.input"]
    declared = str(environ.get("CONTENT_LENGTH") or "")
    if not declared.isdigit():  # no length: read only a stream the server ends for us
        return bytes(stream.read(max_bytes + 1)) if environ.get("wsgi.input_terminated") else b""
    length = int(declared)
    if length > max_bytes:
        if length <= _MAX_DISCARDED:
            while stream.read(1 << 16):
                pass
        raise ProtocolError(
            413, f"the request body is larger than this endpoint's limit of {max_bytes} bytes"
        )
    chunks: list[bytes] = []
    left = length
    while left > 0 and (chunk := stream.read(left)):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _run(state: Endpoint, parsed: QueryRequest) -> tuple[_Answer, int | None]:
    """Execute the query: the engine's bytes and their row count, or an error (no rows).

    Every backend seals the query (:mod:`lod_publisher.sealing`) before it runs.
    """
    try:
        result = state.backend().execute(
            parsed.query, parsed.result_format, parsed.dataset, state.limits
        )
    except sealing.QueryRefusedError as exc:
        return _plain(exc.status, str(exc)), None
    except QueryTimeout as exc:  # our limit: the server chose to stop the query
        return _plain(503, str(exc)), None
    except RemoteTimeout as exc:
        return _plain(504, str(exc)), None
    except RemoteError as exc:
        return _plain(502, str(exc)), None
    except EngineError as exc:
        return _plain(500, str(exc)), None
    except QueryError as exc:
        return _plain(400, _engine_message(str(exc))), None
    except LodError as exc:
        return _plain(500, str(exc)), None
    headers: tuple[tuple[str, str], ...] = ()
    if result.truncated:
        headers = ((TRUNCATED_HEADER, "true"), (MAX_ROWS_HEADER, str(state.limits.max_rows)))
    answer = _Answer(200, result.payload, result.result_format.content_type, headers)
    return answer, result.rows


def _run_once(
    state: Endpoint, key: tuple[str | bytes | None, ...], parsed: QueryRequest
) -> tuple[_Answer, int | None, bool]:
    """Run the query and keep its answer if it may be sent again (:func:`repeatable`).

    Identical requests that arrive while the first is running wait for its answer
    instead of running the query again, each at most the query time limit (as a cache
    in front of a server coalesces them); the third item says the answer is the kept one.
    If the first's answer cannot be kept (an error, rows cut), the others run it too.
    """
    if not state.results.max_entries or not repeatable(parsed.query):
        return (*_run(state, parsed), False)
    with state._lock:
        running = state._running.get(key)
        leading = running is None
        if running is None:
            running = state._running[key] = threading.Event()
    if not leading:
        running.wait(state.limits.timeout)
        kept = state.results.get(key)
        if kept is not None:
            return kept.answer, kept.rows, True
        return (*_run(state, parsed), False)
    try:
        answer, rows = _run(state, parsed)
        if answer.status == 200 and (TRUNCATED_HEADER, "true") not in answer.headers:
            size = len(answer.body) + sum(len(part or "") for part in key)
            details = _log_details(answer, parsed, rows, cached=True)
            state.results.put(key, _Kept(answer, rows, details), size)
    finally:
        with state._lock:
            del state._running[key]
        running.set()
    return answer, rows, False


def _described(state: Endpoint, fmt: Format) -> _Answer:
    return _Answer(200, state.description(fmt), fmt.content_type)


def _editor(state: Endpoint, query: str | None) -> Response:
    """The query editor (YASGUI, served from our own static folder)."""
    site = state.site
    base = site.policy.base
    examples = [
        {
            "slug": e.slug,
            "question": e.question,
            "query": e.with_base(base),
            "href": e.link(PATH, base),
        }
        for e in EXAMPLES
    ]
    body = render_template(
        "sparql.html",
        site=site,
        endpoint=endpoint_iri(site.policy),
        prefixes=site.policy.prefixes(),
        examples=examples,
        initial_query=query or examples[0]["query"],
        limits=state.stated,
        limits_summary=summary(state.stated),
        descriptions=[(f, f"{PATH}?format={f.key}") for f in description_formats()],
    )
    response = Response(body, content_type="text/html; charset=utf-8")
    response.vary.add("Accept")
    return response


def _plain(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> _Answer:
    """An error as plain text, never an HTML page or a traceback."""
    return _Answer(status, f"{message}\n".encode(), "text/plain; charset=utf-8", headers)


def _engine_message(message: str) -> str:
    """The engine's message, its position spelled out: ``error at 2:9:`` becomes words.

    >>> _engine_message("error at 2:9: expected OPTIONAL")
    'SPARQL syntax error at line 2, column 9: expected OPTIONAL'
    """
    match = _ENGINE_POSITION.match(message)
    if match is None:
        return f"the query was rejected: {message}"
    line, column = match.groups()
    return f"SPARQL syntax error at line {line}, column {column}: {message[match.end() :]}"


def _log(started: float, status: int, details: str) -> None:
    """One line per query: status, duration, then ``details`` (see :func:`_log_details`)."""
    query_log.write(status, (time.perf_counter() - started) * 1000, details)


def _log_details(
    answer: _Answer,
    parsed: QueryRequest | None,
    rows: int | None,
    *,
    query: str | None = None,
    cached: bool = False,
) -> str:
    """What the query log says after the duration: rows, bytes, truncation, form, format,
    whether the answer came from the result cache, and the hash of the query."""
    text = parsed.query if parsed else query
    truncated = "yes" if (TRUNCATED_HEADER, "true") in answer.headers else "no"
    return (
        f"rows={'-' if rows is None else rows} bytes={len(answer.body)} truncated={truncated} "
        f"form={parsed.form.value if parsed and parsed.form else '-'} "
        f"format={parsed.result_format.key if parsed else '-'} "
        f"cached={'yes' if cached else 'no'} query={query_hash(text) if text is not None else '-'}"
    )


def query_hash(query: str) -> str:
    """What the log says instead of the query text: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(query.encode("utf-8")).hexdigest()[:16]
