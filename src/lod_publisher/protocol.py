"""SPARQL 1.1 Protocol, query operation: one raw HTTP request in, a QueryRequest out.

https://www.w3.org/TR/sparql11-protocol/#query-operation allows three request shapes and
this module accepts exactly those: ``GET ?query=``, ``POST`` of
``application/x-www-form-urlencoded`` with ``query=``, and ``POST`` of
``application/sparql-query`` with the query as the body. ``default-graph-uri`` and
``named-graph-uri`` may repeat. The result format is negotiated here too, once the query
form is known. Pure: no I/O and no Flask, so every case is a row of a table in
``tests/test_protocol.py``.

>>> r = parse_request("GET", b"query=ASK%20%7B%7D", None, b"", "text/csv")
>>> r.query, r.form.value, r.result_format.key
('ASK {}', 'ASK', 'csv')
>>> parse_request("POST", b"", "text/plain", b"ASK {}", None)
Traceback (most recent call last):
...
lod_publisher.protocol.ProtocolError: 415: POST a query as application/x-www-form-urlencoded (query=...) or as application/sparql-query, not text/plain. See https://www.w3.org/TR/sparql11-protocol/#query-operation
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from lod_publisher.formats import Format, Kind, by_key, by_media_type, formats_for, negotiate
from lod_publisher.store.backend import DatasetSpec, QueryForm, query_form
from lod_publisher.uris import sparql_iri

QUERY_SPEC = "https://www.w3.org/TR/sparql11-protocol/#query-operation"
UPDATE_SPEC = "https://www.w3.org/TR/sparql11-protocol/#update-operation"
DATASET_SPEC = "https://www.w3.org/TR/sparql11-protocol/#dataset"
ALLOWED_METHODS = "GET, HEAD, POST, OPTIONS"
FORM_URLENCODED = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
DEFAULT_MAX_BYTES = 1024 * 1024

_GRAPH_FORMS = (QueryForm.CONSTRUCT, QueryForm.DESCRIBE)
_HTML = by_key("html")


class ProtocolError(Exception):
    """The request breaks the protocol: answer ``status`` with ``message`` as plain text."""

    def __init__(self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.headers = headers
        self.query: str | None = None  # the query text, when the error came after reading it


@dataclass(frozen=True)
class QueryRequest:
    """A query to run: its text, form (None if not recognised), dataset and result format.

    ``result_format`` is the HTML page when a browser asked for one: the query editor,
    which then runs the query itself.
    """

    query: str
    form: QueryForm | None
    dataset: DatasetSpec
    result_format: Format


@dataclass(frozen=True)
class DescriptionRequest:
    """No query: the service description, or the query editor (``result_format`` HTML)."""

    result_format: Format


def parse_request(
    method: str,
    query_string: bytes,
    content_type: str | None,
    body: bytes,
    accept: str | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> QueryRequest | DescriptionRequest:
    """Read one request to the endpoint; :class:`ProtocolError` says what is wrong with it.

    ``query_string`` and ``body`` are the raw bytes; both must be UTF-8 once
    percent-decoded. ``max_bytes`` bounds the body and the query string.
    """
    method = method.upper()
    if method not in ("GET", "HEAD", "POST"):
        raise ProtocolError(
            405,
            f"{method} is not supported here: send queries with GET or POST. See {QUERY_SPEC}",
            (("Allow", ALLOWED_METHODS),),
        )
    if len(query_string) > max_bytes:
        raise ProtocolError(
            414, f"the URL is longer than {max_bytes} bytes: POST long queries. See {QUERY_SPEC}"
        )
    url_params = _decode_form(query_string, "the URL's query string")
    body_params: list[tuple[str, str]] = []
    body_query: str | None = None
    if method == "POST":
        media_type, charset = _media_type(content_type)
        if media_type == SPARQL_UPDATE:
            raise _update_refused()
        if media_type not in (FORM_URLENCODED, SPARQL_QUERY):
            got = f"not {media_type}" if media_type else "and give its Content-Type"
            raise ProtocolError(
                415,
                f"POST a query as {FORM_URLENCODED} (query=...) or as {SPARQL_QUERY}, {got}. "
                f"See {QUERY_SPEC}",
            )
        if charset not in (None, "utf-8", "utf8"):
            raise ProtocolError(415, f"the body must be UTF-8, not {charset}. See {QUERY_SPEC}")
        if len(body) > max_bytes:
            raise ProtocolError(
                413, f"the request body is larger than this endpoint's limit of {max_bytes} bytes"
            )
        if media_type == FORM_URLENCODED:
            body_params = _decode_form(body, "the request body")
        else:
            body_query = _utf8(body, "the request body")
    params = url_params + body_params
    names = {name for name, _ in params}
    if names & {"update", "using-graph-uri", "using-named-graph-uri"}:
        raise _update_refused()
    query = _one_query(method, url_params, body_params, body_query)
    dataset = DatasetSpec(_graphs(params, "default-graph-uri"), _graphs(params, "named-graph-uri"))
    format_values = [value for name, value in params if name == "format"]
    browser_page = method in ("GET", "HEAD")
    if query is None:
        candidates = (*formats_for(Kind.GRAPH), *((_HTML,) if browser_page else ()))
        return DescriptionRequest(
            _choose(candidates, accept, format_values, "a service description")
        )
    form = query_form(query)
    kind = Kind.GRAPH if form in _GRAPH_FORMS else Kind.RESULTS
    what = f"the result of a {form.value} query" if form else "this query's result"
    candidates = formats_for(kind)
    if browser_page and not format_values:
        candidates = (*candidates, _HTML)  # after the others: */* picks data, browsers the page
    try:
        result_format = _choose(candidates, accept, format_values, what)
    except ProtocolError as exc:
        exc.query = query
        raise
    return QueryRequest(query, form, dataset, result_format)


def _update_refused() -> ProtocolError:
    return ProtocolError(
        403,
        f"this endpoint is read-only: SPARQL Update is not accepted. See {UPDATE_SPEC}",
    )


def _one_query(
    method: str,
    url_params: list[tuple[str, str]],
    body_params: list[tuple[str, str]],
    body_query: str | None,
) -> str | None:
    """The query text: given exactly once, in the URL (GET) or the body (POST)."""
    in_url = [value for name, value in url_params if name == "query"]
    in_body = [value for name, value in body_params if name == "query"]
    if body_query is not None:
        in_body.append(body_query)
    if in_url and in_body:
        raise ProtocolError(
            400,
            f"the query is given both in the URL and in the body: give it once. See {QUERY_SPEC}",
        )
    found = in_url or in_body
    if len(found) > 1:
        raise ProtocolError(
            400, f"the query parameter is given {len(found)} times: give it once. See {QUERY_SPEC}"
        )
    if not found:
        if method == "POST":
            raise ProtocolError(
                400, f"the request has no query: send it as query=... . See {QUERY_SPEC}"
            )
        return None
    if not found[0].strip():
        raise ProtocolError(400, "the query is empty")
    return found[0]


def _graphs(params: list[tuple[str, str]], name: str) -> tuple[str, ...]:
    graphs = tuple(value for key, value in params if key == name)
    for graph in graphs:
        try:
            sparql_iri(graph)
        except ValueError:
            raise ProtocolError(
                400, f"{name} {graph!r} is not an absolute IRI. See {DATASET_SPEC}"
            ) from None
    return graphs


def _choose(
    candidates: tuple[Format, ...], accept: str | None, format_values: list[str], what: str
) -> Format:
    """The format= parameter if it names a format we know, else content negotiation.

    Values naming no format of ours are ignored: clients such as SPARQLWrapper add
    ``format=json`` for other servers' conventions, and send a proper Accept as well.
    """
    for value in format_values:
        fmt = _known_format(value)
        if fmt is None:
            continue
        if fmt in candidates:
            return fmt
        raise ProtocolError(406, f"format={value} cannot carry {what}. {_available(candidates)}")
    chosen = negotiate(accept, candidates)
    if chosen is None:
        raise ProtocolError(
            406,
            f"no format that can carry {what} is acceptable (Accept: {accept}). {_available(candidates)}",
        )
    return chosen


def _known_format(value: str) -> Format | None:
    try:
        return by_key(value.strip().lower())
    except KeyError:
        return by_media_type(value)


def _available(candidates: tuple[Format, ...]) -> str:
    data = [f for f in candidates if f is not _HTML]
    types = ", ".join(f.media_type for f in data)
    keys = "|".join(f.key for f in data)
    return f"Available: {types}; or add format={keys} to the URL."


def _media_type(content_type: str | None) -> tuple[str, str | None]:
    """The media type of a Content-Type header, lower-cased, and its charset if given."""
    if not content_type:
        return "", None
    media_type, *params = (part.strip() for part in content_type.split(";"))
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media_type.lower(), charset


def _decode_form(raw: bytes, where: str) -> list[tuple[str, str]]:
    """Name-value pairs of URL-encoded form data; every name and value must be UTF-8."""
    pairs: list[tuple[str, str]] = []
    for item in raw.split(b"&"):
        if not item:
            continue
        name, _, value = item.partition(b"=")
        pairs.append((_form_text(name, where), _form_text(value, where)))
    return pairs


def _form_text(raw: bytes, where: str) -> str:
    return _utf8(unquote_to_bytes(raw.replace(b"+", b" ")), where)


def _utf8(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            400,
            f"{where} is not UTF-8 (byte {exc.start}): SPARQL is sent as UTF-8. See {QUERY_SPEC}",
        ) from None
