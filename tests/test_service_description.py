"""The service description parses as RDF, names the endpoint, every result format the endpoint
really serves (and no other), the limits, and the VoID description."""

from __future__ import annotations

import dataclasses

import pytest
from flask.testing import FlaskClient
from rdflib import RDF, Graph, Literal, Namespace, URIRef

from lod_publisher.formats import FORMATS, Kind
from lod_publisher.releases import Release
from lod_publisher.service_description import (
    EndpointLimits,
    description_formats,
    served_formats,
    service_description,
    summary,
)
from lod_publisher.settings import Settings
from lod_publisher.uris import UriPolicy
from lod_publisher.web import create_app

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
RDFLIB = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml", "nt": "nt"}


def fetched(client: FlaskClient, key: str) -> Graph:
    fmt = next(f for f in FORMATS if f.key == key)
    reply = client.get("/sparql", headers={"Accept": fmt.media_type})
    assert reply.status_code == 200
    assert reply.content_type == fmt.content_type
    return Graph().parse(data=reply.data, format=RDFLIB[key])


@pytest.mark.parametrize("key", [f.key for f in description_formats()])
def test_it_parses_in_every_format_and_names_the_endpoint(
    client: FlaskClient, policy: UriPolicy, key: str
) -> None:
    graph = fetched(client, key)
    services = list(graph.subjects(RDF.type, SD.Service))
    assert len(services) == 1
    service = services[0]
    assert (service, SD.endpoint, URIRef(policy.base + "sparql")) in graph
    assert (service, SD.supportedLanguage, SD.SPARQL11Query) in graph
    assert (service, SD.feature, SD.UnionDefaultGraph) in graph
    assert (service, SD.feature, SD.BasicFederatedQuery) not in graph  # SERVICE is refused


def test_result_formats_are_exactly_those_the_endpoint_serves(
    client: FlaskClient, policy: UriPolicy
) -> None:
    graph = fetched(client, "ttl")
    listed = {str(iri) for iri in graph.objects(None, SD.resultFormat)}
    assert listed == {f.iri for f in served_formats()}
    for fmt in served_formats():  # each is really served, for the query forms it can carry
        query = "ASK {}" if fmt.carries(Kind.RESULTS) else "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1"
        reply = client.get(
            "/sparql", query_string={"query": query}, headers={"Accept": fmt.media_type}
        )
        assert reply.status_code == 200, fmt.key
        assert reply.content_type == fmt.content_type
    for fmt in FORMATS:  # and the endpoint serves no result format the description omits
        if fmt.iri and fmt.iri not in listed:
            for query in ("ASK {}", "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1"):
                reply = client.get(
                    "/sparql", query_string={"query": query}, headers={"Accept": fmt.media_type}
                )
                assert reply.status_code == 406, fmt.key


def test_default_dataset_links_to_void(
    client: FlaskClient, policy: UriPolicy, release: Release
) -> None:
    graph = fetched(client, "ttl")
    dataset = URIRef(policy.dataset)
    assert (None, SD.defaultDataset, dataset) in graph
    assert (dataset, RDF.type, SD.Dataset) in graph
    assert (dataset, URIRef("http://www.w3.org/2000/01/rdf-schema#seeAlso"), URIRef(policy.base + ".well-known/void")) in graph  # fmt: skip
    assert (dataset, VOID.sparqlEndpoint, URIRef(policy.base + "sparql")) in graph
    default_graph = graph.value(dataset, SD.defaultGraph)
    assert graph.value(default_graph, VOID.triples) == Literal(release.manifest["triples"])


def test_limits_are_stated_and_defined(
    settings: Settings, release: Release, policy: UriPolicy
) -> None:
    limited = dataclasses.replace(
        settings,
        query_timeout=7.5,
        max_rows=123,
        service_allowlist=("https://query.example.org/sparql",),
    )
    client = create_app(limited).test_client()
    graph = fetched(client, "ttl")
    lim = Namespace(policy.base + "sparql#")
    service = next(graph.subjects(RDF.type, SD.Service))
    assert float(str(graph.value(service, lim.queryTimeout))) == 7.5
    assert int(str(graph.value(service, lim.maxResultRows))) == 123
    assert int(str(graph.value(service, lim.maxRequestBytes))) == settings.max_query_bytes
    assert (service, lim.allowedService, URIRef("https://query.example.org/sparql")) in graph
    assert (service, SD.feature, SD.BasicFederatedQuery) in graph
    for term in (
        "queryTimeout",
        "maxResultRows",
        "maxRequestBytes",
        "memoryLimitMiB",
        "allowedService",
    ):
        assert (lim[term], RDF.type, RDF.Property) in graph, term  # each term is defined here
    page = client.get("/sparql", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "7.5 s" in page and "123" in page and "https://query.example.org/sparql" in page


def test_summary_states_every_limit() -> None:
    text = summary(EndpointLimits(30, 10000, 1048576, 2048))
    assert "30 s" in text and "10000 rows" in text and "1048576 bytes" in text
    assert "SERVICE is refused" in text and "Read-only" in text


def test_description_is_built_from_the_registry() -> None:
    graph = service_description(UriPolicy("http://example.org/"), EndpointLimits(1, 2, 3, 4), 10)
    listed = {str(iri) for iri in graph.objects(None, SD.resultFormat)}
    expected = {
        f.iri for f in FORMATS if f.iri and (f.carries(Kind.RESULTS) or f.carries(Kind.GRAPH))
    }
    assert listed == expected
