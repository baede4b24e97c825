"""The endpoint's SPARQL 1.1 Service Description, with its limits and a link to VoID.

https://www.w3.org/TR/sparql11-service-description/ : what a client fetching ``/sparql``
without a query learns. ``sd:resultFormat`` lists every format of the registry
(:mod:`lod_publisher.formats`) that the endpoint serves for query results, the very list
the endpoint negotiates over. The limits have no standard terms; they are defined in
this same document, under ``{endpoint}#``, so each term dereferences to its definition.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox
from rdflib import RDF, RDFS, XSD, BNode, Graph, Literal, Namespace, URIRef

from lod_publisher.formats import Format, Kind, formats_for
from lod_publisher.store.embedded import RDF_FORMATS
from lod_publisher.uris import DCTERMS, VOID, UriPolicy

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
ENTAILMENT_SIMPLE = URIRef("http://www.w3.org/ns/entailment/Simple")
VOID_PATH = ".well-known/void"


@dataclass(frozen=True)
class EndpointLimits:
    """The limits the endpoint enforces, as the service description states them."""

    query_timeout: float
    max_rows: int
    max_query_bytes: int
    query_memory_mib: int
    service_allowlist: tuple[str, ...] = ()


def served_formats() -> tuple[Format, ...]:
    """Every format a query result is served in: SELECT/ASK results, then graphs."""
    return (*formats_for(Kind.RESULTS), *formats_for(Kind.GRAPH))


def description_formats() -> tuple[Format, ...]:
    """The formats the service description itself is served in."""
    return formats_for(Kind.GRAPH)


def endpoint_iri(policy: UriPolicy) -> str:
    return policy.base + "sparql"


def service_description(policy: UriPolicy, limits: EndpointLimits, triples: int) -> Graph:
    """The description of the endpoint at ``{base}sparql`` serving a dataset of ``triples``."""
    endpoint = URIRef(endpoint_iri(policy))
    terms = Namespace(endpoint + "#")
    service = terms["service"]
    dataset = URIRef(policy.dataset)
    graph = Graph()
    for prefix, namespace in (("sd", SD), ("void", VOID), ("dcterms", DCTERMS), ("lim", terms)):
        graph.bind(prefix, namespace)

    graph.add((service, RDF.type, SD.Service))
    graph.add((service, SD.endpoint, endpoint))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    graph.add((service, SD.feature, SD.UnionDefaultGraph))
    if limits.service_allowlist:
        graph.add((service, SD.feature, SD.BasicFederatedQuery))
    graph.add((service, SD.defaultEntailmentRegime, ENTAILMENT_SIMPLE))
    for fmt in served_formats():
        if fmt.iri is not None:
            graph.add((service, SD.resultFormat, URIRef(fmt.iri)))
    graph.add((service, RDFS.comment, Literal(summary(limits), lang="en")))

    graph.add((service, SD.defaultDataset, dataset))
    graph.add((dataset, RDF.type, SD.Dataset))
    graph.add((dataset, RDFS.seeAlso, URIRef(policy.base + VOID_PATH)))
    graph.add((dataset, URIRef(VOID + "sparqlEndpoint"), endpoint))
    default_graph = BNode()
    graph.add((dataset, SD.defaultGraph, default_graph))
    graph.add((default_graph, RDF.type, SD.Graph))
    graph.add((default_graph, URIRef(VOID + "triples"), Literal(triples)))
    graph.add(
        (
            default_graph,
            RDFS.comment,
            Literal(
                "The union (RDF merge) of every named graph; one per source sentence.", lang="en"
            ),
        )
    )

    stated = (
        ("queryTimeout", Literal(str(limits.query_timeout), datatype=XSD.decimal), XSD.decimal,
         "Seconds a query may run; then it is stopped and the client gets HTTP 503."),
        ("maxResultRows", Literal(limits.max_rows), XSD.integer,
         "Most solutions (SELECT) or triples (CONSTRUCT, DESCRIBE) in a result; the rest is cut "
         "and the response carries the header X-SPARQL-Truncated: true."),
        ("maxRequestBytes", Literal(limits.max_query_bytes), XSD.integer,
         "Largest request body or query string accepted, in bytes; larger ones get HTTP 413."),
        ("memoryLimitMiB", Literal(limits.query_memory_mib), XSD.integer,
         "Address space of the process evaluating a query, in MiB."),
    )  # fmt: skip
    for name, value, datatype, comment in stated:
        graph.add((service, terms[name], value))
        _define(graph, terms[name], comment, datatype)
    for allowed in limits.service_allowlist:
        graph.add((service, terms["allowedService"], URIRef(allowed)))
    _define(
        graph,
        terms["allowedService"],
        "An endpoint a SERVICE clause may call; SERVICE to any other is refused (HTTP 400).",
        RDFS.Resource,
    )
    return graph


def summary(limits: EndpointLimits) -> str:
    """The limits in one English sentence, for the description and the query page."""
    services = (
        "SERVICE may call only " + ", ".join(limits.service_allowlist)
        if limits.service_allowlist
        else "SERVICE is refused: the endpoint never calls another server"
    )
    return (
        f"Read-only (no SPARQL Update). A query runs for at most {limits.query_timeout:g} s; "
        f"a result holds at most {limits.max_rows} rows, the rest is cut and marked; "
        f"requests are at most {limits.max_query_bytes} bytes; {services}."
    )


def serialize(graph: Graph, fmt: Format, prefixes: dict[str, str]) -> bytes:
    """``graph`` in ``fmt`` (one of :func:`description_formats`), written by pyoxigraph."""
    nt = graph.serialize(format="nt", encoding="utf-8")
    # Sorted, so that Turtle groups the statements of each subject; the service first.
    triples = sorted(
        (quad.triple for quad in ox.parse(nt, format=ox.RdfFormat.N_TRIPLES)),
        key=lambda t: (not t.subject.value.endswith("#service"), str(t)),
    )
    payload = ox.serialize(triples, format=RDF_FORMATS[fmt.key], prefixes=prefixes)
    assert payload is not None  # no output stream given: the bytes are returned
    return payload


def _define(graph: Graph, term: URIRef, comment: str, value_type: URIRef) -> None:
    graph.add((term, RDF.type, RDF.Property))
    graph.add((term, RDFS.label, Literal(term.split("#")[-1], lang="en")))
    graph.add((term, RDFS.comment, Literal(comment, lang="en")))
    graph.add((term, RDFS.domain, SD.Service))
    graph.add((term, RDFS.range, value_type))
