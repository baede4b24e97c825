"""The embedded backend: a pyoxigraph store on disk, opened read-only to serve.

The build writes the store (:func:`write_store`); every server worker opens it
read-only, so workers share the page cache rather than each holding a copy.
The store's default graph holds the merge of all named graphs (written by the
build), so the published default graph is a true RDF merge without duplicates.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

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
from lod_publisher.store.execution import RDF_FORMATS, execute, run_query

__all__ = ["RDF_FORMATS", "EmbeddedBackend", "to_rdflib", "write_store"]


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
    merged = _with_merge(quads)
    for first in merged:  # one bulk load per chunk: the loader buffers a whole call
        store.bulk_extend(itertools.chain((first,), itertools.islice(merged, LOAD_CHUNK - 1)))
    store.flush()
    return store


LOAD_CHUNK = 100_000  # quads per bulk load: the loader holds about 1.3 KB each in memory


def _with_merge(quads: Iterable[ox.Quad]) -> Iterator[ox.Quad]:
    """Each quad, then its triple in the default graph: one pass, no re-reading the store.

    The bulk loader keeps each quad once, so a triple stated in many graphs is merged.
    """
    for quad in quads:
        yield quad
        if not isinstance(quad.graph_name, ox.DefaultGraph):
            yield ox.Quad(quad.subject, quad.predicate, quad.object)


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
        return run_query(self.store, query, dataset)

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
        """Run a user's query in this process (see :func:`execution.execute`)."""
        return execute(self.store, query, result_format, dataset, limits)

    def close(self) -> None:
        del self.store
