"""Running one user query on a pyoxigraph store: sealed, rows capped, bytes out.

Shared by :class:`lod_publisher.store.embedded.EmbeddedBackend` and the evaluator
processes of :mod:`lod_publisher.store.sandbox`. It imports pyoxigraph and nothing of
rdflib, so an evaluator process stays small (about 20 MiB less each).
"""

from __future__ import annotations

import contextlib
import io
from typing import TYPE_CHECKING

import pyoxigraph as ox

from lod_publisher import sealing
from lod_publisher.errors import QueryError
from lod_publisher.formats import Format
from lod_publisher.store.backend import (
    NO_LIMITS,
    PUBLISHED_DATASET,
    DatasetSpec,
    QueryLimits,
    QueryResult,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

_RESULT_FORMATS = {
    "srj": ox.QueryResultsFormat.JSON,
    "srx": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
RDF_FORMATS = {
    "ttl": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "rdf": ox.RdfFormat.RDF_XML,
    "jsonld": ox.RdfFormat.JSON_LD,
    "trig": ox.RdfFormat.TRIG,
    "nq": ox.RdfFormat.N_QUADS,
}
_GRAPH_KEYS = frozenset({"ttl", "nt", "rdf", "jsonld"})  # CONSTRUCT results carry no graph names


class _Full(Exception):  # noqa: N818 (a signal, not an error)
    """Raised into the serializer to stop the evaluation once enough lines are written."""


class _LineSink(io.BytesIO):
    """Keeps serialized bytes up to ``limit`` newline-terminated lines, then stops the writer.

    pyoxigraph writes TSV results and N-Triples one solution or triple per line (line
    breaks inside terms are escaped), so counting lines counts rows exactly.
    """

    def __init__(self, limit: int | None) -> None:
        super().__init__()
        self.limit = limit
        self.lines = 0
        self.cut = False

    def write(self, data: ReadableBuffer) -> int:
        chunk = bytes(data)
        count = chunk.count(b"\n")
        if self.limit is not None and self.lines + count > self.limit:
            end = -1
            for _ in range(self.limit - self.lines):
                end = chunk.index(b"\n", end + 1)
            super().write(chunk[: end + 1])
            self.lines, self.cut = self.limit, True
            raise _Full
        self.lines += count
        return super().write(chunk)


def _results_format(result_format: Format) -> ox.QueryResultsFormat:
    results_format = _RESULT_FORMATS.get(result_format.key)
    if results_format is None:
        raise QueryError(f"{result_format.name} cannot carry SELECT or ASK results")
    return results_format


def _serialize(result: ox.QueryBoolean | ox.QuerySolutions, fmt: ox.QueryResultsFormat) -> bytes:
    payload = result.serialize(format=fmt)
    assert payload is not None  # no output stream given: the bytes are returned
    return payload


def _capped_solutions(
    solutions: ox.QuerySolutions, result_format: Format, max_rows: int | None
) -> QueryResult:
    """SELECT results cut at ``max_rows``: counted as TSV lines, then written as asked.

    TSV is passed through as written; any other format is pyoxigraph's conversion of
    that TSV (lossless: TSV writes every term in full N-Triples syntax).
    """
    target = _results_format(result_format)
    sink = _LineSink(None if max_rows is None else max_rows + 1)  # + the header line
    with contextlib.suppress(_Full):
        solutions.serialize(sink, format=ox.QueryResultsFormat.TSV)
    tsv = sink.getvalue()
    payload = tsv
    if target != ox.QueryResultsFormat.TSV:
        parsed = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
        payload = _serialize(parsed, target)
    return QueryResult(payload, result_format, max(sink.lines - 1, 0), sink.cut)


def _capped_triples(
    triples: ox.QueryTriples, result_format: Format, max_rows: int | None
) -> QueryResult:
    """CONSTRUCT or DESCRIBE triples cut at ``max_rows``, counted as N-Triples lines."""
    rdf_format = RDF_FORMATS.get(result_format.key)
    if rdf_format is None or result_format.key not in _GRAPH_KEYS:
        raise QueryError(f"{result_format.name} cannot carry a graph result")
    sink = _LineSink(max_rows)
    with contextlib.suppress(_Full):
        triples.serialize(sink, format=ox.RdfFormat.N_TRIPLES)
    payload = sink.getvalue()
    if rdf_format != ox.RdfFormat.N_TRIPLES:
        parsed = ox.parse(payload, format=ox.RdfFormat.N_TRIPLES)
        serialized = ox.serialize(parsed, format=rdf_format)
        assert serialized is not None  # no output stream given: the bytes are returned
        payload = serialized
    return QueryResult(payload, result_format, sink.lines, sink.cut)


def run_query(
    store: ox.Store, query: str, dataset: DatasetSpec = PUBLISHED_DATASET
) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples:
    """Evaluate ``query`` over ``dataset``; a malformed query raises :class:`QueryError`."""
    kwargs: dict[str, object] = {}
    if dataset.default_graphs or dataset.named_graphs:
        # SPARQL 1.1 Protocol 2.1.4: the request's graphs are the whole dataset, so a
        # part it does not name is empty (an empty list means none to pyoxigraph).
        kwargs["default_graph"] = [ox.NamedNode(g) for g in dataset.default_graphs]
        kwargs["named_graphs"] = [ox.NamedNode(g) for g in dataset.named_graphs]
    try:
        return store.query(query, **kwargs)  # type: ignore[arg-type]
    except SyntaxError as exc:
        raise QueryError(str(exc.msg)) from None
    except (OSError, ValueError) as exc:
        raise QueryError(str(exc)) from None


def execute(
    store: ox.Store,
    query: str,
    result_format: Format,
    dataset: DatasetSpec = PUBLISHED_DATASET,
    limits: QueryLimits = NO_LIMITS,
) -> QueryResult:
    """Run a user's query in this process: sealed, rows cut at ``limits.max_rows``.

    ``limits.timeout`` cannot be kept here (pyoxigraph cannot interrupt a query):
    :class:`lod_publisher.store.sandbox.SandboxedBackend` runs this function in a
    process it kills at the deadline. Updates and SERVICE calls outside
    ``limits.service_allowlist`` are refused before the engine sees the query.
    """
    sealing.check(query, limits.service_allowlist)
    result = run_query(store, query, dataset)
    try:
        if isinstance(result, ox.QueryBoolean):
            return QueryResult(
                _serialize(result, _results_format(result_format)), result_format, None
            )
        if isinstance(result, ox.QuerySolutions):
            return _capped_solutions(result, result_format, limits.max_rows)
        return _capped_triples(result, result_format, limits.max_rows)
    except (OSError, ValueError, RuntimeError) as exc:  # raised while evaluating lazily
        raise QueryError(str(exc)) from None
