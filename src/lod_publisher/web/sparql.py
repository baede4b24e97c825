"""``/sparql``: the SPARQL 1.1 query endpoint, its service description and its query editor.

https://www.w3.org/TR/sparql11-protocol/#query-operation . The request is read by
:func:`lod_publisher.protocol.parse_request`, checked by :mod:`lod_publisher.sealing`,
run by the backend within the configured limits, and answered with the engine's bytes.
Errors are plain text with the status that fits. Without a query, a machine gets the
service description (:mod:`lod_publisher.service_description`), a browser the editor.
Each query is logged in one line: status, duration, rows, bytes and a hash of the text.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass, field

from flask import Blueprint, Flask, current_app, render_template, request
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from lod_publisher import protocol, sealing
from lod_publisher.errors import LodError, QueryError, RemoteError, RemoteTimeout
from lod_publisher.formats import Format
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
from lod_publisher.store.sandbox import SandboxedBackend
from lod_publisher.web import site_of
from lod_publisher.web.site import Site
from lod_publisher.web.sparql_examples import EXAMPLES

blueprint = Blueprint("sparql", __name__)
logger = logging.getLogger(__name__)

PATH = "/sparql"
_MAX_DISCARDED = 64 << 20  # largest refused body read to its end (see _discard_body)
TRUNCATED_HEADER = "X-SPARQL-Truncated"
MAX_ROWS_HEADER = "X-SPARQL-MaxRows"  # as Virtuoso names it, so clients that know it react
_ENGINE_POSITION = re.compile(r"^error at (\d+):(\d+): ")


@dataclass
class Endpoint:
    """The endpoint's state in one server process; kept in ``app.extensions``."""

    site: Site
    limits: QueryLimits
    stated: EndpointLimits
    _backend: Backend | None = None
    _descriptions: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_site(cls, site: Site) -> Endpoint:
        s = site.settings
        limits = QueryLimits(s.query_timeout, s.max_rows, frozenset(s.service_allowlist))
        stated = EndpointLimits(
            s.query_timeout, s.max_rows, s.max_query_bytes, s.query_memory, s.service_allowlist
        )
        return cls(site, limits, stated)

    def backend(self) -> Backend:
        """Where users' queries run: the site's backend, sandboxed if it is the embedded store.

        Created on first use, so that each server worker process starts its own
        evaluators once it runs.
        """
        with self._lock:
            if self._backend is None:
                if isinstance(self.site.backend, EmbeddedBackend):
                    self._backend = SandboxedBackend(
                        self.site.release.store_path,
                        self.site.backend,
                        self.site.settings.evaluators,
                        self.site.settings.query_memory,
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


def start_evaluators(app: Flask) -> None:
    """Start this process's query evaluators now, so the first query does not wait for one.

    For server worker processes; the test client and ``--dev`` start them on first use.
    """
    endpoint_of(app).backend()


def endpoint_of(app: Flask) -> Endpoint:
    found: Endpoint = app.extensions["lod.sparql"]
    return found


@blueprint.route(PATH, methods=["GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"])
def sparql() -> Response:
    """One request to the endpoint: a query, the service description, or the editor."""
    if request.method == "OPTIONS":  # CORS preflight; the headers come from _cors
        return Response(status=204, headers={"Allow": protocol.ALLOWED_METHODS})
    started = time.perf_counter()
    state = endpoint_of(current_app)
    max_bytes = state.stated.max_query_bytes
    try:
        if request.method == "POST" and (request.content_length or 0) > max_bytes:
            _discard_body(request.content_length or 0)
            raise ProtocolError(
                413, f"the request body is larger than this endpoint's limit of {max_bytes} bytes"
            )
        body = request.stream.read(max_bytes + 1) if request.method == "POST" else b""
        parsed = protocol.parse_request(
            request.method,
            request.query_string,
            request.headers.get("Content-Type"),
            body,
            request.headers.get("Accept"),
            max_bytes,
        )
    except ProtocolError as exc:
        response = _plain(exc.status, exc.message, exc.headers)
        _log(started, response, None, None, exc.query)
        return response
    if isinstance(parsed, DescriptionRequest):
        if parsed.result_format.key == "html":
            return _editor(state, None)
        return _described(state, parsed.result_format)
    if parsed.result_format.key == "html":
        return _editor(state, parsed.query)
    response, rows = _run(state, parsed)
    _log(started, response, parsed, rows)
    return response


def _discard_body(length: int) -> None:
    """Read and drop a body we refuse, so the client finishes sending and reads our 413.

    Closing the connection on a client still sending makes most clients (Python's
    ``http.client`` among them) fail with a broken pipe instead of showing the answer.
    Bodies above ``_MAX_DISCARDED`` bytes are not read: those clients see the reset.
    """
    if length > _MAX_DISCARDED:
        return
    while request.stream.read(1 << 16):
        pass


def _run(state: Endpoint, parsed: QueryRequest) -> tuple[Response, int | None]:
    """Execute the query: the engine's bytes and their row count, or an error (no rows)."""
    try:
        sealing.check(parsed.query, state.limits.service_allowlist)
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
    response = Response(result.payload, content_type=result.result_format.content_type)
    response.vary.add("Accept")
    if result.truncated:
        response.headers[TRUNCATED_HEADER] = "true"
        response.headers[MAX_ROWS_HEADER] = str(state.limits.max_rows)
    return response, result.rows


def _described(state: Endpoint, fmt: Format) -> Response:
    response = Response(state.description(fmt), content_type=fmt.content_type)
    response.vary.add("Accept")
    return response


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


def _plain(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """An error as plain text, never an HTML page or a traceback."""
    response = Response(f"{message}\n", status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers:
        response.headers[name] = value
    response.vary.add("Accept")
    return response


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


def _log(
    started: float,
    response: Response,
    parsed: QueryRequest | None,
    rows: int | None,
    query: str | None = None,
) -> None:
    """One line per query: status, duration, rows, bytes, truncation, form, format, hash."""
    text = parsed.query if parsed else query
    logger.info(
        "sparql status=%d ms=%.1f rows=%s bytes=%d truncated=%s form=%s format=%s query=%s",
        response.status_code,
        (time.perf_counter() - started) * 1000,
        "-" if rows is None else rows,
        len(response.get_data()),
        "yes" if response.headers.get(TRUNCATED_HEADER) else "no",
        parsed.form.value if parsed and parsed.form else "-",
        parsed.result_format.key if parsed else "-",
        query_hash(text) if text is not None else "-",
    )


def query_hash(query: str) -> str:
    """What the log says instead of the query text: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(query.encode("utf-8")).hexdigest()[:16]
