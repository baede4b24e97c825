"""The remote backend: the Backend protocol over any SPARQL 1.1 endpoint.

The store holds what :mod:`lod_publisher.store.loading` puts there (:class:`StoreLayout`):
every named graph of the build under its own IRI, the merge of all of them (the published
default graph) in ``{base}graph/merged``, and ``{base}graph/manifest`` naming the build and
its graphs. Every query states its RDF dataset in the request (SPARQL 1.1 Protocol
§2.1.4), so the answers equal the embedded store's: the default graph is the merged graph,
and ``GRAPH ?g`` sees the graphs of the build and nothing else the store holds (the
manifest, the merged graph itself, other builds, Virtuoso's system graphs).

A build has one graph per source sentence (about 80,000 at 1M triples), so the published
dataset is not stated as one ``named-graph-uri`` per graph: Virtuoso 7 compiles such a list
into an ``IN`` of at most 4,095 terms (error SP030 beyond), and the request would grow
with the build. Instead:

* A query without ``GRAPH`` cannot reach a named graph: it gets the merged graph and an
  empty set of named graphs, whatever the store.
* Virtuoso (known by its ``Server`` header): ``DEFINE input:default-graph-uri <merged>``
  and no named graphs, which Virtuoso reads as "every graph"; each ``GRAPH ?g { ... }`` of
  the query is followed by ``FILTER(STRSTARTS(STR(?g), base) && ?g NOT IN (merged,
  manifest))``; ``GRAPH <g>`` is sent as Virtuoso's ``GRAPH `<g>``` (see
  :func:`restrict_graphs`), and ``<merged>`` or ``<manifest>`` there as a graph no store holds.
  The request stays the same size at any scale. Not ``input:named-graph-exclude``: it
  also empties the default graph when that is an excluded graph (the merged one), and a
  list of the store's other graphs would have to be read and kept fresh. Trade-offs: a
  graph under ``base`` that is not in the build (a nested base's, a graph left by hand)
  shows; a ``GRAPH`` naming its graph is not filtered (Virtuoso reads any graph the
  query names, whatever its dataset), nor hidden when that is a prefixed name.
* Any other store (Oxigraph): the standard protocol cannot say "every graph but these",
  so a query using ``GRAPH`` still lists the build's graphs, one ``named-graph-uri``
  each. Oxigraph 0.5 takes such bodies (about 80 bytes a graph, 6 MB at 80,000 graphs)
  but pays for them on every such query: give it a store of its own and this cost only.

Requests are POSTed URL-encoded (Protocol §2.1.2), each with a deadline; a redirect is
followed only to the same scheme, host and port, and only when it keeps the method
(307, 308). This speaks HTTP with the standard library rather than SPARQLWrapper: that
one rounds timeouts down to whole seconds (0.5 s means none), follows redirects to any
host, asks for a fixed media type per form, and installs a process-wide opener for Digest.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal as TypingLiteral
from urllib.parse import urlencode, urlsplit

import pyoxigraph as ox
from rdflib import Graph

from lod_publisher import sealing
from lod_publisher.errors import NoBuildError, QueryError, RemoteError, RemoteTimeout
from lod_publisher.formats import Format, Kind, by_key, by_media_type
from lod_publisher.store.backend import (
    NO_LIMITS,
    PUBLISHED_DATASET,
    DatasetSpec,
    QueryForm,
    QueryLimits,
    QueryResult,
    QueryTimeout,
    Solution,
    query_form,
)
from lod_publisher.store.embedded import RDF_FORMATS, to_rdflib
from lod_publisher.store.http import Credentials, Http, Reply
from lod_publisher.uris import UriPolicy, sparql_iri

PROTOCOL_DATASET = "https://www.w3.org/TR/sparql11-protocol/#dataset"
# The longest URL a query is sent as a GET: longer ones are POSTed (servers limit URLs,
# Virtuoso and common proxies at 8 KiB or more).
MAX_GET_URL = 4096
NO_GRAPH = "urn:lod-publisher:no-graph"  # names a graph no store holds: an empty dataset part

_DCT = "http://purl.org/dc/terms/"
_XSD = "http://www.w3.org/2001/XMLSchema#"
_RESULTS_FORMATS = {
    "srj": ox.QueryResultsFormat.JSON,
    "srx": ox.QueryResultsFormat.XML,
    "tsv": ox.QueryResultsFormat.TSV,
    "csv": ox.QueryResultsFormat.CSV,  # written, never parsed: CSV results are lossy
}
Shape = TypingLiteral["solutions", "boolean", "graph"]
# What the backend asks for when the endpoint cannot produce the wanted format itself.
_CANONICAL: dict[Shape, Format] = {
    "solutions": by_key("srj"),
    "boolean": by_key("srj"),
    "graph": by_key("nt"),
}


@dataclass(frozen=True)
class StoreLayout:
    """Where the loader puts a build in a remote store, and how the manifest graph reads.

    >>> layout = StoreLayout("http://example.org/")
    >>> layout.merged, layout.manifest
    ('http://example.org/graph/merged', 'http://example.org/graph/manifest')
    """

    base_uri: str

    @property
    def merged(self) -> str:
        """The graph holding the merge of all named graphs: the published default graph."""
        return UriPolicy(self.base_uri).merged_graph

    @property
    def manifest(self) -> str:
        """The graph naming the loaded build and each of its named graphs."""
        return UriPolicy(self.base_uri).manifest_graph

    def manifest_triples(
        self, build_id: str, created: str, graphs: Iterable[str], triples: int
    ) -> list[ox.Triple]:
        """The manifest graph's content: build id, build time, load time, graphs, size."""
        m = ox.NamedNode(self.manifest)
        loaded = datetime.now().astimezone().replace(microsecond=0).isoformat()
        rows = [
            ox.Triple(m, ox.NamedNode(_DCT + "identifier"), ox.Literal(build_id)),
            ox.Triple(
                m,
                ox.NamedNode(_DCT + "created"),
                ox.Literal(created, datatype=ox.NamedNode(_XSD + "dateTime")),
            ),
            ox.Triple(
                m,
                ox.NamedNode(_DCT + "modified"),
                ox.Literal(loaded, datatype=ox.NamedNode(_XSD + "dateTime")),
            ),
            ox.Triple(
                m,
                ox.NamedNode("http://rdfs.org/ns/void#triples"),
                ox.Literal(str(triples), datatype=ox.NamedNode(_XSD + "integer")),
            ),
        ]
        rows += [ox.Triple(m, ox.NamedNode(_DCT + "hasPart"), ox.NamedNode(g)) for g in graphs]
        return rows

    def read_manifest(self, triples: Iterable[ox.Triple | ox.Quad]) -> LoadRecord | None:
        """The record in a manifest graph's triples; None if it names no build."""
        build_id, graphs = None, []
        manifest = ox.NamedNode(self.manifest)
        identifier, has_part = ox.NamedNode(_DCT + "identifier"), ox.NamedNode(_DCT + "hasPart")
        for t in triples:  # one triple per named graph: ~90,000 at 1M triples
            if t.subject != manifest or isinstance(t.object, ox.Triple):
                continue
            if t.predicate == identifier:
                build_id = t.object.value
            elif t.predicate == has_part:
                graphs.append(t.object.value)
        return None if build_id is None else LoadRecord(build_id, tuple(sorted(graphs)))


@dataclass(frozen=True)
class LoadRecord:
    """What the manifest graph says: the build in the store and its named graphs."""

    build_id: str
    graphs: tuple[str, ...]


# ---------------------------------------------------------------- HTTP, with deadlines


# ---------------------------------------------------------------- the backend


Params = tuple[tuple[str, str], ...]  # default-graph-uri and named-graph-uri, in order


@dataclass(frozen=True)
class _DatasetQuirks:
    """How the endpoint treats a query's own FROM (found by two ASK probes).

    ``leaks_named``: with FROM but no FROM NAMED, GRAPH ?g still sees graphs (the spec:
    none). ``query_wins``: a FROM in the query still counts when the request names a
    default graph (Protocol §2.1.4: the request's replaces it). Virtuoso 7 has both.
    """

    leaks_named: bool
    query_wins: bool


_NOT_CODE = re.compile(
    r"'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n\r]|\\.)*'|\"(?:[^\"\\\n\r]|\\.)*\""
    r"|<[^<>\"{}|^`\\\x00-\x20]*>|#[^\n\r]*",
    re.DOTALL,
)
_FROM = re.compile(r"(?<![\w:?$.\-])FROM\s+(NAMED\b)?", re.IGNORECASE)


def dataset_clauses(query: str) -> tuple[bool, bool]:
    """Whether ``query`` has its own FROM, and its own FROM NAMED (strings skipped).

    >>> dataset_clauses('SELECT * FROM <http://a/> WHERE { ?s ?p "FROM NAMED" }')
    (True, False)
    >>> dataset_clauses("PREFIX from: <http://a/> SELECT ?from { ?from from:x ?y }")
    (False, False)
    """
    code = _NOT_CODE.sub(" ", query)
    found = [bool(m.group(1)) for m in _FROM.finditer(code)]
    return (False in found), (True in found)


_GRAPH = re.compile(r"(?<![\w:?$.\-])GRAPH(?![\w\-:])", re.IGNORECASE)
_GRAPH_PATTERN = re.compile(
    r"(?<![\w:?$.\-])GRAPH\s+(?:[?$](\w+)|(<[^<>\"{}|^`\\\x00-\x20]*>)"
    r"|((?:[^\W\d][\w.\-]*)?:[\w.\-%\\]*))\s*\{",
    re.IGNORECASE,
)


def _code(query: str) -> str:
    """``query`` with strings and comments blanked, same length (IRIs kept)."""
    return _NOT_CODE.sub(
        lambda m: m.group(0) if m.group(0).startswith("<") else " " * len(m.group(0)), query
    )


def uses_graph(query: str) -> bool:
    """Whether ``query`` has a ``GRAPH`` pattern: only then can it reach a named graph.

    >>> uses_graph("SELECT * { GRAPH ?g { ?s ?p ?o } }"), uses_graph('ASK { ?s ?p "GRAPH" }')
    (True, False)
    """
    return _GRAPH.search(_NOT_CODE.sub(" ", query)) is not None


def restrict_graphs(query: str, base: str, hidden: Iterable[str]) -> str:
    """``query`` with each ``GRAPH ?g { ... }`` kept to graphs under ``base`` not ``hidden``.

    A ``FILTER`` follows each such pattern, in the same group (so it sees ``?g`` bound).
    A ``GRAPH`` naming its graph (IRI or prefixed name) names it as a Virtuoso expression,
    ```<g>```: with a default graph and no named graphs stated, Virtuoso 7 finds nothing in
    ``GRAPH <g>`` but every graph in ``GRAPH ?g`` and ``GRAPH `<g>```. A hidden graph's
    full IRI becomes a graph no store holds.

    >>> print(restrict_graphs('SELECT * { GRAPH ?g { ?s ?p "}" } }', "http://a/", ["http://a/m"]))
    SELECT * { GRAPH ?g { ?s ?p "}" } FILTER(STRSTARTS(STR(?g), "http://a/") && ?g NOT IN (<http://a/m>)) }
    >>> print(restrict_graphs("ASK { GRAPH <http://a/m> {} GRAPH a:x {} }", "http://a/", ["http://a/m"]))
    ASK { GRAPH `<urn:lod-publisher:no-graph>` {} GRAPH `a:x` {} }
    """
    if any(c in base for c in '"\\\n\r'):
        raise QueryError(f"the base IRI {base!r} cannot go into a SPARQL string")
    hidden = tuple(hidden)
    names = ", ".join(sparql_iri(g) for g in hidden)
    code = _code(query)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), in order
    for m in _GRAPH_PATTERN.finditer(code):
        if m.group(1) is None:
            name = m.group(2) or m.group(3)
            start = m.start(2) if m.group(2) else m.start(3)
            shown = f"<{NO_GRAPH}>" if name[1:-1] in hidden and m.group(2) else name
            edits.append((start, start + len(name), f"`{shown}`"))
            continue
        end = _group_end(code, m.end() - 1)
        if end is None:
            return query  # unbalanced: the store reports the syntax error
        var = "?" + m.group(1)
        edits.append(
            (end, end, f' FILTER(STRSTARTS(STR({var}), "{base}") && {var} NOT IN ({names}))')
        )
    for start, end, text in sorted(edits, reverse=True):
        query = query[:start] + text + query[end:]
    return query


def _group_end(code: str, opening: int) -> int | None:
    """The index just after the ``}`` closing the ``{`` at ``opening``; None if unclosed."""
    depth = 0
    for i in range(opening, len(code)):
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


class RemoteBackend:
    """Answers SPARQL from a remote store that :func:`loading.load` filled for ``base_uri``.

    ``endpoint`` is the store's SPARQL 1.1 query endpoint (Oxigraph: ``.../query``,
    Virtuoso: ``.../sparql``); ``timeout`` bounds every request, in seconds. The list
    of graphs is read from the manifest graph on first use (:meth:`refresh` rereads it).
    """

    def __init__(
        self,
        endpoint: str,
        base_uri: str,
        timeout: float = 30.0,
        credentials: Credentials | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.layout = StoreLayout(base_uri)
        self.timeout = timeout
        self._http = Http(timeout, credentials)
        self._record: LoadRecord | None = None
        self._trusted: dict[tuple[Shape, str], bool] = {}
        self._quirks: _DatasetQuirks | None = None
        self._pragmas = False  # send the dataset as Virtuoso DEFINEs (see _send)

    # -- what is loaded

    @property
    def record(self) -> LoadRecord:
        """The build the store holds (read from its manifest graph once)."""
        if self._record is None:
            self.refresh()
        assert self._record is not None
        return self._record

    def refresh(self, timeout: float | None = None) -> LoadRecord:
        """Reread the manifest graph (after a new load); NoBuildError if there is none."""
        manifest = self.layout.manifest
        reply = self._send(
            f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {sparql_iri(manifest)} {{ ?s ?p ?o }} }}",
            (("default-graph-uri", NO_GRAPH), ("named-graph-uri", manifest)),
            _accept(_CANONICAL["graph"]),
            timeout,
        )
        record = self.layout.read_manifest(_parse_graph(reply))
        if record is None:
            raise NoBuildError(
                f"the store at {self.endpoint} holds no build for {self.layout.base_uri} "
                f"(no graph <{manifest}>): run `lod-publisher load --endpoint URL` first"
            )
        self._pragmas = reply.headers.get("server", "").startswith("Virtuoso/")
        self._record = record
        return record

    # -- internal queries: the published dataset, rdflib terms out

    def select(self, query: str) -> list[Solution]:
        reply = self._send(*self._published(query), _accept(_CANONICAL["solutions"]))
        if "x-sparql-maxrows" in reply.headers:
            raise RemoteError(
                f"{self.endpoint} cut the answer at {reply.headers['x-sparql-maxrows']} rows: "
                "raise ResultSetMaxRows in the [SPARQL] section of virtuoso.ini"
            )
        results = _parse_results(reply)
        if not isinstance(results, _Rows):
            raise QueryError("expected a SELECT query")
        names = results.variables
        rows: list[Solution] = []
        for solution in results.solutions:
            row: Solution = {}
            for name in names:
                value = solution[name]
                if value is not None:
                    row[name] = to_rdflib(value)
            rows.append(row)
        return rows

    def ask(self, query: str) -> bool:
        results = _parse_results(
            self._send(*self._published(query), _accept(_CANONICAL["boolean"]))
        )
        if not isinstance(results, ox.QueryBoolean):
            raise QueryError("expected an ASK query")
        return bool(results)

    def construct(self, query: str) -> Graph:
        reply = self._send(*self._published(query), _accept(_CANONICAL["graph"]))
        graph = Graph()
        for t in _parse_graph(reply):
            graph.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
        return graph

    # -- a user's query

    def execute(
        self,
        query: str,
        result_format: Format,
        dataset: DatasetSpec = PUBLISHED_DATASET,
        limits: QueryLimits = NO_LIMITS,
    ) -> QueryResult:
        """Run a user's query; the endpoint's bytes are passed on as they came.

        The endpoint is asked for ``result_format`` itself, unless a probe showed it
        cannot write that format correctly (Virtuoso 7 writes TSV results, and CSV or
        TSV answers to ASK, that are not SPARQL 1.1 CSV/TSV): then SPARQL JSON results or
        N-Triples are asked for and converted with pyoxigraph. The bytes are read once to
        count rows; they are rewritten only to cut them at ``limits.max_rows`` (a store
        that cut them itself, Virtuoso's ``X-SPARQL-MaxRows``, also sets ``truncated``).
        ``limits.timeout`` shorter than the backend's own raises QueryTimeout, the
        backend's own RemoteTimeout. The query runs on in the store after a deadline:
        give the store its own limit too.
        """
        sealing.check(query, limits.service_allowlist)
        form = query_form(query)
        if form is None:
            raise QueryError(
                "not a SPARQL query: after its PREFIX and BASE declarations it must start "
                "with SELECT, ASK, CONSTRUCT or DESCRIBE "
                "(https://www.w3.org/TR/sparql11-query/#rQueryUnit)"
            )
        shape: Shape = (
            "graph"
            if form in (QueryForm.CONSTRUCT, QueryForm.DESCRIBE)
            else "boolean"
            if form is QueryForm.ASK
            else "solutions"
        )
        if shape == "graph" and not result_format.carries(Kind.GRAPH):
            raise QueryError(f"{result_format.name} cannot carry a graph result")
        if shape != "graph" and result_format.key not in _RESULTS_FORMATS:
            raise QueryError(f"{result_format.name} cannot carry SELECT or ASK results")
        user_deadline = limits.timeout is not None and limits.timeout < self.timeout
        timeout = limits.timeout if user_deadline and limits.timeout else self.timeout
        canonical = _CANONICAL[shape]
        try:
            if self._record is None:
                self.refresh(timeout)
            sent, params = self._dataset(query, dataset)
            wire = result_format if self._trusts(shape, result_format) else canonical
            reply = self._send(sent, params, _accept(wire, canonical), timeout)
        except RemoteTimeout:
            if user_deadline:
                raise QueryTimeout(f"the query ran for {timeout:g} s and was stopped") from None
            raise
        got = by_media_type(reply.media_type)
        if got not in (wire, canonical):
            raise RemoteError(
                f"{self.endpoint} answered {reply.media_type or 'no content type'} to a "
                f"request for {wire.media_type}",
                reply.status,
            )
        cut = "x-sparql-maxrows" in reply.headers
        return finish(reply.body, got, result_format, shape, limits.max_rows, cut)

    def close(self) -> None:
        self._record = None
        self._http.close()

    # -- the request

    def _send(
        self, query: str, dataset: Params, accept: str, timeout: float | None = None
    ) -> Reply:
        """Send a query (SPARQL 1.1 Protocol §2.1.1 and §2.1.2); errors mapped.

        As a GET while the URL stays under :data:`MAX_GET_URL` bytes (one packet: stores
        answer a quick query sooner than the same query POSTed, Virtuoso by 0.3 ms),
        otherwise POSTed URL-encoded. Virtuoso echoes every ``named-graph-uri`` as a
        response header (http.client reads at most 100), so it is given the same dataset
        as ``DEFINE input:...`` pragmas.
        """
        if self._pragmas and dataset:
            try:
                pragmas = "".join(f"DEFINE input:{k} {sparql_iri(g)} " for k, g in dataset)
            except ValueError as exc:
                raise QueryError(str(exc)) from None
            query, dataset = pragmas + query, ()
        form = urlencode([("query", query), *dataset])
        separator = "&" if urlsplit(self.endpoint).query else "?"
        if len(self.endpoint) + len(form) + 1 <= MAX_GET_URL:
            url = self.endpoint + separator + form
            reply = self._http.request(
                "GET", url, None, {"Accept": accept}, timeout, repeatable=True
            )
        else:
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": accept}
            body = form.encode("ascii")
            reply = self._http.request(
                "POST", self.endpoint, body, headers, timeout, repeatable=True
            )
        if 200 <= reply.status < 300:
            state = reply.headers.get("x-sql-state")
            if state is not None:  # Virtuoso's "anytime" answer: partial results
                message = reply.headers.get("x-sql-message", "")
                raise RemoteTimeout(
                    f"{self.endpoint} stopped the query at its own limit and sent partial "
                    f"results ({state}: {message}); nothing was passed on",
                    reply.status,
                )
            return reply
        if reply.status == 400:
            raise QueryError(reply.text())
        if reply.status in (408, 504):
            raise RemoteTimeout(f"{self.endpoint} timed out: {reply.text()}", reply.status)
        raise RemoteError(f"{self.endpoint} answered {reply.status}: {reply.text()}", reply.status)

    def _published(self, query: str) -> tuple[str, Params]:
        """``query`` and the dataset parameters that give it the published dataset.

        The merged graph as default graph; as named graphs, the build's graphs: none when
        the query has no ``GRAPH``, else (Virtuoso) every graph with the query's ``GRAPH``
        patterns filtered by name, or (other stores) one ``named-graph-uri`` per graph.
        """
        default = ("default-graph-uri", self.layout.merged)
        record = self.record  # read the manifest first: it tells how to send the dataset
        if not uses_graph(query):
            return query, (default, ("named-graph-uri", NO_GRAPH))
        if self._pragmas:
            layout = self.layout
            return restrict_graphs(query, layout.base_uri, (layout.merged, layout.manifest)), (
                default,
            )
        return query, (default, *(("named-graph-uri", g) for g in record.graphs))

    def _dataset(self, query: str, dataset: DatasetSpec) -> tuple[str, Params]:
        """The query and dataset parameters that give ``query`` the embedded store's dataset.

        As in the embedded store and SPARQL 1.1 Protocol 2.1.4: the graphs a request names
        are the whole dataset, so a part it does not name is empty; a query's own FROM /
        FROM NAMED apply when the request names no graph. The bookkeeping graphs are not
        part of any dataset.
        """
        hidden = {self.layout.merged, self.layout.manifest}
        defaults = tuple(NO_GRAPH if g in hidden else g for g in dataset.default_graphs)
        named = tuple(NO_GRAPH if g in hidden else g for g in dataset.named_graphs)
        own_from, own_named = dataset_clauses(query)
        self.record  # noqa: B018 (read the manifest first: it tells how to send the dataset)
        if defaults or named:
            if (own_from or own_named) and self._dataset_quirks().query_wins:
                raise QueryError(
                    "the query names its dataset (FROM) and so does the request "
                    "(default-graph-uri, named-graph-uri); the request's should win "
                    f"({PROTOCOL_DATASET}) but this store lets the query's win: "
                    "give the dataset in one place"
                )
            return query, (
                *(("default-graph-uri", g) for g in defaults or (NO_GRAPH,)),
                *(("named-graph-uri", g) for g in named or (NO_GRAPH,)),
            )
        if own_from or own_named:
            if own_from and not own_named and self._dataset_quirks().leaks_named:
                return query, (("named-graph-uri", NO_GRAPH),)
            return query, ()
        return self._published(query)

    def _dataset_quirks(self) -> _DatasetQuirks:
        if self._quirks is None:
            manifest = self.layout.manifest
            leaks = self._ask_probe(f"ASK FROM <{NO_GRAPH}> {{ GRAPH ?g {{ ?s ?p ?o }} }}", ())
            query_counts = self._ask_probe(
                f"ASK FROM <{manifest}> {{ ?s ?p ?o }}", (("default-graph-uri", NO_GRAPH),)
            )
            self._quirks = _DatasetQuirks(leaks_named=leaks, query_wins=query_counts)
        return self._quirks

    def _ask_probe(self, query: str, dataset: Params) -> bool:
        result = _parse_results(self._send(query, dataset, _accept(_CANONICAL["boolean"])))
        return bool(result)

    # -- which formats the endpoint writes correctly

    def _trusts(self, shape: Shape, fmt: Format) -> bool:
        """Whether the endpoint writes ``fmt`` correctly: asked once, by a probe query."""
        if fmt == _CANONICAL[shape]:
            return True
        key = (shape, fmt.key)
        if key not in self._trusted:
            probe, expected = _PROBES[shape]
            try:
                reply = self._send(probe, (("default-graph-uri", NO_GRAPH),), fmt.media_type)
            except (RemoteError, QueryError) as exc:  # refused: 406, 400, ...
                if isinstance(exc, RemoteError) and exc.status is None:
                    raise  # unreachable or timed out: ask again next time
                self._trusted[key] = False
            else:
                self._trusted[key] = (
                    reply.media_type in fmt.media_types
                    and _reads_as(reply.body, fmt, shape) == expected
                )
        return self._trusted[key]


def _accept(wanted: Format, fallback: Format | None = None) -> str:
    if fallback is None or fallback == wanted:
        return wanted.media_type
    return f"{wanted.media_type}, {fallback.media_type};q=0.1"


def _parse_results(reply: Reply) -> ox.QueryBoolean | _Rows:
    fmt = by_media_type(reply.media_type)
    if fmt is None or fmt.key not in ("srj", "srx", "tsv"):
        raise RemoteError(f"expected SPARQL results, got {reply.media_type!r}", reply.status)
    return _read_results(reply.body, fmt)


_JSON_BNODE = re.compile(rb'("type"\s*:\s*"bnode"\s*,\s*"value"\s*:\s*")([^"]*)(")')
_XML_BNODE = re.compile(rb"(<bnode>)([^<]*)(</bnode>)")


def _valid_blank_nodes(payload: bytes, fmt: Format) -> bytes:
    """Results with blank node labels pyoxigraph reads (Virtuoso: ``nodeID://b10001``)."""
    pattern = {"srj": _JSON_BNODE, "srx": _XML_BNODE}.get(fmt.key)
    if pattern is None or b"bnode" not in payload:
        return payload
    return pattern.sub(
        lambda m: m.group(1) + re.sub(rb"[^A-Za-z0-9_]", b"_", m.group(2)) + m.group(3), payload
    )


def _read_results(payload: bytes, fmt: Format) -> ox.QueryBoolean | _Rows:
    """Parse SPARQL results whole: a bad row is a RemoteError here, not while iterating."""
    try:
        results = ox.parse_query_results(
            _valid_blank_nodes(payload, fmt), format=_RESULTS_FORMATS[fmt.key]
        )
        if isinstance(results, ox.QueryBoolean):
            return results
        return _Rows([v.value for v in results.variables], list(results))
    except (SyntaxError, ValueError) as exc:
        raise RemoteError(f"the store's {fmt.name} answer does not parse: {exc}") from None


@dataclass(frozen=True)
class _Rows:
    variables: list[str]
    solutions: list[ox.QuerySolution]


def _parse_graph(reply: Reply) -> list[ox.Quad]:
    rdf = ox.RdfFormat.from_media_type(reply.media_type)
    if rdf is None:
        raise RemoteError(f"expected RDF, got {reply.media_type!r}", reply.status)
    try:
        return list(ox.parse(reply.body, format=rdf))
    except (SyntaxError, ValueError) as exc:
        raise RemoteError(f"the store's {rdf.name} does not parse: {exc}") from None


# A probe per result shape: a query needing no data, and what it must read back as.
_PROBE_TERMS = (
    "<urn:lod-publisher:probe>",
    '"Batyrlarğa tağzym"@kk-latn',
    f'"2020-05-09"^^<{_XSD}date>',
    '"say \\"1,5\\"\\tthen"',
)
_PROBE_VALUES = " ".join(_PROBE_TERMS)
_PROBES: dict[Shape, tuple[str, object]] = {
    "solutions": (
        f"SELECT ?x WHERE {{ VALUES ?x {{ {_PROBE_VALUES} }} }}",
        sorted(_PROBE_TERMS),
    ),
    "boolean": ("ASK {}", True),
    "graph": (
        "CONSTRUCT { <urn:lod-publisher:probe> <urn:lod-publisher:p> ?x } "
        f"WHERE {{ VALUES ?x {{ {_PROBE_VALUES} }} }}",
        sorted(_PROBE_TERMS),
    ),
}


def _reads_as(payload: bytes, fmt: Format, shape: Shape) -> object:
    """What a probe's answer says, in the probe's terms (N-Triples syntax); None if unreadable."""
    try:
        if shape == "graph":
            return sorted(str(q.object) for q in ox.parse(payload, format=RDF_FORMATS[fmt.key]))
        if fmt.key == "csv":
            rows = list(csv.reader(io.StringIO(payload.decode("utf-8"))))
            if shape == "boolean":
                return payload.strip() == b"true"
            lexical = sorted(r[0] for r in rows[1:])
            expected = sorted(_lexical(t) for t in _PROBE_TERMS)
            return sorted(_PROBE_TERMS) if lexical == expected and rows[0] == ["x"] else None
        results = ox.parse_query_results(payload, format=_RESULTS_FORMATS[fmt.key])
        if isinstance(results, ox.QueryBoolean):
            return bool(results)
        return sorted(str(s["x"]) for s in results)
    except (SyntaxError, ValueError, UnicodeDecodeError, IndexError, csv.Error):
        return None


def _lexical(term: str) -> str:
    """The CSV form of a probe term (SPARQL 1.1 CSV: lexical form or IRI, no markup)."""
    if term.startswith("<"):
        return term[1:-1]
    body = term[1 : term.rindex('"')]
    return body.replace('\\"', '"').replace("\\t", "\t")


# ---------------------------------------------------------------- counting and cutting


def finish(
    payload: bytes,
    got: Format,
    wanted: Format,
    shape: Shape,
    max_rows: int | None,
    cut_by_store: bool = False,
) -> QueryResult:
    """Count the rows of an answer; pass it on as is, or convert or cut it.

    The bytes stay as the endpoint wrote them when they are in ``wanted`` and within
    ``max_rows``; otherwise pyoxigraph rewrites them.

    >>> tsv = b"?x\\n<http://a/>\\n<http://b/>\\n"
    >>> r = finish(tsv, by_key("tsv"), by_key("tsv"), "solutions", None)
    >>> r.payload == tsv, r.rows, r.truncated
    (True, 2, False)
    >>> r = finish(tsv, by_key("tsv"), by_key("csv"), "solutions", 1)
    >>> r.payload, r.rows, r.truncated
    (b'x\\r\\nhttp://a/\\r\\n', 1, True)
    """
    try:
        if shape == "boolean":
            if got != wanted:
                result = ox.parse_query_results(payload, format=_RESULTS_FORMATS[got.key])
                payload = _serialized(result.serialize(format=_RESULTS_FORMATS[wanted.key]))
            return QueryResult(payload, wanted, None)
        if shape == "graph":
            triples = [q.triple for q in ox.parse(payload, format=RDF_FORMATS[got.key])]
            rows = len(triples)
            if got != wanted or (max_rows is not None and rows > max_rows):
                kept = triples if max_rows is None else triples[:max_rows]
                payload = _serialized(ox.serialize(kept, format=RDF_FORMATS[wanted.key]))
            return _result(payload, wanted, rows, max_rows, cut_by_store)
        if got.key == "csv":  # only ever asked for when CSV is wanted
            return _finish_csv(payload, wanted, max_rows, cut_by_store)
        readable = _valid_blank_nodes(payload, got)
        results = ox.parse_query_results(readable, format=_RESULTS_FORMATS[got.key])
        if not isinstance(results, ox.QuerySolutions):
            raise RemoteError(f"the store answered a boolean to a SELECT query ({got.name})")
        rows = sum(1 for _ in results)
        if got != wanted or (max_rows is not None and rows > max_rows):
            results = ox.parse_query_results(readable, format=_RESULTS_FORMATS[got.key])
            tsv = _serialized(results.serialize(format=ox.QueryResultsFormat.TSV))
            if max_rows is not None and rows > max_rows:  # TSV: one line per solution
                tsv = b"".join(tsv.splitlines(keepends=True)[: max_rows + 1])
            results = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
            payload = _serialized(results.serialize(format=_RESULTS_FORMATS[wanted.key]))
        return _result(payload, wanted, rows, max_rows, cut_by_store)
    except (SyntaxError, ValueError) as exc:
        raise RemoteError(f"the store's {got.name} answer does not parse: {exc}") from None


def _finish_csv(
    payload: bytes, wanted: Format, max_rows: int | None, cut_by_store: bool
) -> QueryResult:
    records = list(csv.reader(io.StringIO(payload.decode("utf-8"), newline="")))
    rows = max(len(records) - 1, 0)
    if max_rows is not None and rows > max_rows:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(records[: max_rows + 1])
        payload = out.getvalue().encode("utf-8")
    return _result(payload, wanted, rows, max_rows, cut_by_store)


def _result(
    payload: bytes, fmt: Format, rows: int, max_rows: int | None, cut_by_store: bool
) -> QueryResult:
    truncated = max_rows is not None and rows > max_rows
    return QueryResult(
        payload,
        fmt,
        min(rows, max_rows) if max_rows is not None else rows,
        truncated or cut_by_store,
    )


def _serialized(data: bytes | None) -> bytes:
    assert data is not None  # no output stream given: the bytes are returned
    return data
