"""The narrow contract between the site and whatever store answers its SPARQL.

Views and the CLI never learn whether an embedded store or a remote endpoint
answered: they call :class:`Backend`. Terms come back as rdflib terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from lod_publisher.errors import LodError
from lod_publisher.formats import Format

if TYPE_CHECKING:  # only annotations: evaluator processes never load rdflib
    from rdflib import Graph
    from rdflib.term import Node

Solution = dict[str, "Node"]


class QueryForm(Enum):
    SELECT = "SELECT"
    ASK = "ASK"
    CONSTRUCT = "CONSTRUCT"
    DESCRIBE = "DESCRIBE"


@dataclass(frozen=True)
class DatasetSpec:
    """The RDF dataset of a query (SPARQL 1.1 Protocol ``default-graph-uri``/``named-graph-uri``).

    Empty means the published default: the union of all graphs as the default graph,
    every named graph reachable with ``GRAPH``.
    """

    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()


PUBLISHED_DATASET = DatasetSpec()


@dataclass(frozen=True)
class QueryLimits:
    """What a user's query may use; :meth:`Backend.execute` enforces every field.

    ``timeout``: seconds until the query is stopped (None: no deadline). ``max_rows``: most
    solutions or triples returned, the rest cut (None: all). ``service_allowlist``: the
    only endpoints a ``SERVICE`` clause may name; any other SERVICE is refused unrun.
    """

    timeout: float | None = None
    max_rows: int | None = None
    service_allowlist: frozenset[str] = frozenset()


NO_LIMITS = QueryLimits()


@dataclass(frozen=True)
class QueryResult:
    """A user's query answered: the bytes as the engine serialized them, and what was cut.

    ``rows`` counts the solutions (SELECT) or triples (CONSTRUCT, DESCRIBE) in ``payload``;
    None for ASK. ``truncated``: there were more than ``QueryLimits.max_rows``.
    """

    payload: bytes
    result_format: Format
    rows: int | None
    truncated: bool = False


class QueryTimeout(LodError):  # noqa: N818 (named for what happened, like RemoteTimeout)
    """A query ran until its deadline (``QueryLimits.timeout``) and was stopped."""


class EngineError(LodError):
    """The engine stopped for a reason that is not in the query text (memory, a crash)."""


_COMMENT_OR_STRING = re.compile(r"""("([^"\\]|\\.)*"|'([^'\\]|\\.)*'|<[^>\s]*>|#[^\n]*)""")
_PROLOGUE = re.compile(r"\s*(BASE\s*<[^>]*>|PREFIX\s+[^\s:]*:\s*<[^>]*>)\s*", re.IGNORECASE)
_FORM = re.compile(r"\s*(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)


def query_form(query: str) -> QueryForm | None:
    """The form of a SPARQL query, read from its first keyword after the prologue.

    None when it is not a query (an update, or not SPARQL): the engine then reports why.

    >>> query_form("PREFIX a: <http://a/> # c\\n construct { ?s ?p ?o } where { ?s ?p ?o }")
    <QueryForm.CONSTRUCT: 'CONSTRUCT'>
    >>> query_form("INSERT DATA { <a> <b> <c> }") is None
    True
    """
    text = _COMMENT_OR_STRING.sub(lambda m: "" if m.group(0).startswith("#") else m.group(0), query)
    position = 0
    while match := _PROLOGUE.match(text, position):
        position = match.end()
    form = _FORM.match(text, position)
    return QueryForm(form.group(1).upper()) if form else None


class Backend(Protocol):
    """What the site needs from a store."""

    def select(self, query: str) -> list[Solution]:
        """Run an internal SELECT over the published dataset."""
        ...

    def ask(self, query: str) -> bool:
        """Run an internal ASK over the published dataset."""
        ...

    def construct(self, query: str) -> Graph:
        """Run an internal CONSTRUCT or DESCRIBE; the triples as an rdflib Graph."""
        ...

    def execute(
        self,
        query: str,
        result_format: Format,
        dataset: DatasetSpec = PUBLISHED_DATASET,
        limits: QueryLimits = NO_LIMITS,
    ) -> QueryResult:
        """Run a user's query within ``limits``; its result serialized in ``result_format``.

        Raises QueryError with the engine's message when the query is rejected (its
        subclass ``sealing.QueryRefusedError`` for updates and SERVICE outside the allowlist),
        QueryTimeout at the deadline, EngineError when the engine itself fails.
        """
        ...

    def close(self) -> None: ...
