"""The embedded backend: a pyoxigraph store on disk, opened read-only to serve.

The build writes the store (:func:`write_store`); every server worker opens it
read-only, so workers share the page cache rather than each holding a copy.
The store's default graph holds the merge of all named graphs (written by the
build), so the published default graph is a true RDF merge without duplicates.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from lod_publisher import sealing

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer
from lod_publisher.errors import QueryError
from lod_publisher.formats import Format
from lod_publisher.store.backend import (
    NO_LIMITS,
    PUBLISHED_DATASET,
    DatasetSpec,
    QueryLimits,
    QueryResult,
    Solution,
)

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


def to_rdflib(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> Node:
    """Convert a pyoxigraph term to the rdflib term the rest of the code uses."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        return Literal(term.value, datatype=URIRef(term.datatype.value))
    raise TypeError(f"unsupported term {term!r}")


def write_store(path: Path | None, quads: Iterable[ox.Quad]) -> ox.Store:
    """Create a store at ``path`` (None: in memory) holding ``quads`` and their merge.

    The merge goes to the default graph, so the published default graph is a set of
    triples, each once, however many sentence graphs state it.
    """
    store = ox.Store(None if path is None else str(path))
    store.bulk_extend(quads)
    store.flush()
    merged = store.query("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert isinstance(merged, ox.QueryTriples)
    store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object) for t in merged)
    store.flush()
    return store


class EmbeddedBackend:
    """Answers SPARQL from a pyoxigraph store opened read-only."""

    def __init__(self, store: ox.Store) -> None:
        self.store = store

    @classmethod
    def open(cls, path: Path) -> EmbeddedBackend:
        return cls(ox.Store.read_only(str(path)))

    def _run(
        self, query: str, dataset: DatasetSpec = PUBLISHED_DATASET
    ) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples:
        kwargs: dict[str, object] = {}
        if dataset.default_graphs or dataset.named_graphs:
            # SPARQL 1.1 Protocol 2.1.4: the request's graphs are the whole dataset, so a
            # part it does not name is empty (an empty list means none to pyoxigraph).
            kwargs["default_graph"] = [ox.NamedNode(g) for g in dataset.default_graphs]
            kwargs["named_graphs"] = [ox.NamedNode(g) for g in dataset.named_graphs]
        try:
            return self.store.query(query, **kwargs)  # type: ignore[arg-type]
        except SyntaxError as exc:
            raise QueryError(str(exc.msg)) from None
        except (OSError, ValueError) as exc:
            raise QueryError(str(exc)) from None

    def select(self, query: str) -> list[Solution]:
        results = self._run(query)
        if not isinstance(results, ox.QuerySolutions):
            raise QueryError("expected a SELECT query")
        names = [v.value for v in results.variables]
        rows: list[Solution] = []
        for solution in results:
            row: Solution = {}
            for name in names:
                value = solution[name]
                if value is not None:
                    row[name] = to_rdflib(value)
            rows.append(row)
        return rows

    def ask(self, query: str) -> bool:
        result = self._run(query)
        if not isinstance(result, ox.QueryBoolean):
            raise QueryError("expected an ASK query")
        return bool(result)

    def construct(self, query: str) -> Graph:
        result = self._run(query)
        if not isinstance(result, ox.QueryTriples):
            raise QueryError("expected a CONSTRUCT or DESCRIBE query")
        graph = Graph()
        for t in result:
            graph.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
        return graph

    def execute(
        self,
        query: str,
        result_format: Format,
        dataset: DatasetSpec = PUBLISHED_DATASET,
        limits: QueryLimits = NO_LIMITS,
    ) -> QueryResult:
        """Run a user's query in this process: sealed, rows cut at ``limits.max_rows``.

        ``limits.timeout`` cannot be kept here (pyoxigraph cannot interrupt a query):
        :class:`lod_publisher.store.sandbox.SandboxedBackend` runs this method in a
        process it kills at the deadline. Updates and SERVICE calls outside
        ``limits.service_allowlist`` are refused before the engine sees the query.
        """
        sealing.check(query, limits.service_allowlist)
        result = self._run(query, dataset)
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

    def close(self) -> None:
        del self.store
