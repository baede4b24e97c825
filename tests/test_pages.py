"""Pages for people: landing, classes with paging, search, ontology and shapes, XSS safety."""

from __future__ import annotations

import re

import pyoxigraph as ox
from flask import Flask
from flask.testing import FlaskClient
from rdflib import OWL, RDF, Graph, Namespace, URIRef
from tests.conftest import fetch

from lod_publisher.releases import Release
from lod_publisher.settings import Settings
from lod_publisher.store.embedded import EmbeddedBackend
from lod_publisher.uris import UriPolicy
from lod_publisher.web import create_app
from lod_publisher.web.site import Site

SH = Namespace("http://www.w3.org/ns/shacl#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")


def test_landing_page_explains_the_dataset(client: FlaskClient, release: Release) -> None:
    page = client.get("/").data.decode()
    assert "Linked Open Data" in page
    assert f"{release.manifest['triples']:,}" in page
    assert "/.well-known/void" in page and "/sparql?query=" in page
    for dump in release.manifest["dumps"]:
        assert f"dumps/latest/{dump['filename']}" in page
    assert 'rel="license"' in page


def test_classes_page_and_paging(client: FlaskClient, policy: UriPolicy) -> None:
    page = client.get("/-/classes").data.decode()
    assert "/-/class?iri=" in page
    excerpt_class = policy.term("Excerpt")
    first = client.get("/-/class", query_string={"iri": excerpt_class})
    assert first.status_code == 200
    text = first.data.decode()
    links = re.findall(r'<li><a href="([^"]+/id/excerpt/[^"]+)"', text)
    assert len(links) == 50, "a full first page"
    assert 'rel="next"' in text
    second = client.get("/-/class", query_string={"iri": excerpt_class, "page": 2}).data.decode()
    assert not set(links) & set(re.findall(r'<li><a href="([^"]+/id/excerpt/[^"]+)"', second))
    assert (
        client.get("/-/class", query_string={"iri": excerpt_class, "page": 999}).status_code == 404
    )
    assert client.get("/-/class", query_string={"iri": "not an iri"}).status_code == 400


def test_search_is_case_and_diacritic_insensitive(client: FlaskClient, policy: UriPolicy) -> None:
    for query in ("batyrlarga tagzym", "BATYRLARĞA", "Batyrlarǵa taǵzym"):
        page = client.get("/-/search", query_string={"q": query}).data.decode()
        assert "Batyrlar" in page, query
        assert f'href="{policy.base}id/' in page, query
    empty = client.get("/-/search", query_string={"q": "zzzzqqq"}).data.decode()
    assert "0 results" in empty


def test_ontology_namespace_and_terms_dereference(live_server: str) -> None:
    namespace = live_server + "ontology/"
    page = fetch(namespace, {"Accept": "text/html"})
    assert page.status == 303 and page.header("Location").endswith("/doc/ontology.html")
    html = fetch(page.header("Location")).body.decode()
    assert "Classes" in html and "Properties" in html
    turtle = fetch(namespace, {"Accept": "text/turtle"})
    ontology = Graph().parse(data=fetch(turtle.header("Location")).body, format="turtle")
    assert (URIRef(namespace), RDF.type, OWL.Ontology) in ontology
    terms = [
        t for t in set(ontology.subjects()) if str(t).startswith(namespace) and str(t) != namespace
    ]
    assert len(terms) > 20
    for term in terms:
        reply = fetch(str(term), {"Accept": "text/turtle"})
        assert reply.status == 303, term
        described = Graph().parse(data=fetch(reply.header("Location")).body, format="turtle")
        assert any(described.objects(term, SKOS.definition)), f"{term} has a definition"
    for media_type, fmt in (("application/ld+json", "json-ld"), ("application/rdf+xml", "xml")):
        location = fetch(namespace, {"Accept": media_type}).header("Location")
        assert (URIRef(namespace), RDF.type, OWL.Ontology) in Graph().parse(
            data=fetch(location).body, format=fmt
        )


def test_shapes_and_validation_report_are_published(live_server: str) -> None:
    reply = fetch(live_server + "shapes/", {"Accept": "text/turtle"})
    assert reply.status == 303
    shapes = Graph().parse(data=fetch(reply.header("Location")).body, format="turtle")
    assert len(list(shapes.subjects(RDF.type, SH.NodeShape))) > 5
    html = fetch(live_server + "doc/shapes.html").body.decode()
    assert "SHACL shapes" in html
    report = Graph().parse(data=fetch(live_server + "-/validation-report").body, format="turtle")
    conforms = list(report.objects(None, SH.conforms))
    assert [str(c) for c in conforms] == ["true"]


def xss_app(settings: Settings, release: Release) -> Flask:
    """The app over the real data plus a hostile literal and a javascript: IRI."""
    policy = UriPolicy(release.base_uri)
    store = ox.Store()
    store.extend(ox.Store.read_only(str(release.store_path)))
    evil = ox.NamedNode(policy.entity("person", "evil"))
    graph = ox.NamedNode(policy.entity("excerpt", "evil"))
    label = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
    for g in (graph, ox.DefaultGraph()):
        store.add(
            ox.Quad(evil, label, ox.Literal("<script>alert('label')</script>", language="en"), g)
        )
        store.add(
            ox.Quad(
                evil,
                ox.NamedNode("http://www.w3.org/2002/07/owl#sameAs"),
                ox.NamedNode("javascript:alert(1)"),
                g,
            )
        )
        store.add(
            ox.Quad(
                evil, ox.NamedNode("http://schema.org/url"), ox.NamedNode("javascript:alert(2)"), g
            )
        )
        store.add(
            ox.Quad(
                evil,
                ox.NamedNode(policy.term("note")),
                ox.Literal('"><img src=x onerror=alert(3)>'),
                g,
            )
        )
    app = create_app(settings)
    app.extensions["lod"] = Site(settings, release, EmbeddedBackend(store), policy)
    return app


def test_hostile_literals_and_iris_render_inert(settings: Settings, release: Release) -> None:
    client = xss_app(settings, release).test_client()
    page = client.get("/doc/id/person/evil.html").data.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;label&#39;)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page.lower()
    assert "<img src=x" not in page
    json_ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert json_ld and "<" not in json_ld.group(1)
    search = client.get("/-/search", query_string={"q": "script"}).data.decode()
    assert "<script>alert" not in search and 'href="javascript:' not in search.lower()
