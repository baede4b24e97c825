"""Dereferenceable IRIs over HTTP: 303 to the right document for every entity and media type,
documents that parse and describe their entity, pages that link every alternate format."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient
from rdflib import Graph, URIRef
from tests.conftest import fetch

from lod_publisher.releases import Release
from lod_publisher.store.embedded import EmbeddedBackend
from lod_publisher.uris import UriPolicy

MEDIA_TYPES = {
    "text/html": "html",
    "text/turtle": "ttl",
    "application/ld+json": "jsonld",
    "application/rdf+xml": "rdf",
    "application/n-triples": "nt",
}
RDFLIB_FORMAT = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml", "nt": "nt"}


def entity_iris(release: Release) -> list[str]:
    backend = EmbeddedBackend.open(release.store_path)
    space = release.base_uri + "id/"
    rows = backend.select(
        f'SELECT DISTINCT ?s WHERE {{ ?s ?p ?o FILTER(STRSTARTS(STR(?s), "{space}")) }} ORDER BY ?s'
    )
    return [str(r["s"]) for r in rows]


class PageFacts(HTMLParser):
    """The <title>, every link target and every script of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.hrefs: list[str] = []
        self.scripts: list[tuple[str | None, str]] = []
        self._in: str | None = None
        self._script_type: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("a", "link") and attributes.get("href"):
            self.hrefs.append(attributes["href"] or "")
        if tag in ("title", "script"):
            self._in = tag
            self._script_type = attributes.get("type")
            if tag == "script":
                self.scripts.append((self._script_type, ""))

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
        elif self._in == "script":
            kind, text = self.scripts[-1]
            self.scripts[-1] = (kind, text + data)


def parse_page(body: bytes) -> PageFacts:
    facts = PageFacts()
    facts.feed(body.decode("utf-8"))
    return facts


def english_label(release: Release, iri: str) -> str | None:
    backend = EmbeddedBackend.open(release.store_path)
    rows = backend.select(
        f"SELECT ?l WHERE {{ <{iri}> <http://www.w3.org/2000/01/rdf-schema#label> ?l "
        'FILTER(langMatches(lang(?l), "en")) }'
    )
    return str(rows[0]["l"]) if rows else None


def test_the_dataset_has_entities_of_many_kinds(release: Release) -> None:
    iris = entity_iris(release)
    kinds = {iri.split("/id/")[1].split("/")[0] for iri in iris}
    assert len(iris) > 100
    assert {"person", "place", "event", "article", "excerpt"} <= kinds


def test_every_entity_dereferences_in_every_format(client: FlaskClient, release: Release) -> None:
    """The acceptance matrix: every entity x every media type, 303 then a document that
    parses (RDF) or is titled by the entity's label and links every alternate (HTML)."""
    policy = UriPolicy(release.base_uri)
    failures: list[str] = []
    for iri in entity_iris(release):
        path = policy.relative(iri)
        label = english_label(release, iri)
        for media_type, key in MEDIA_TYPES.items():
            reply = client.get("/" + path, headers={"Accept": media_type})
            expected = f"{policy.base}doc/{path}.{key}"
            if reply.status_code != 303 or reply.headers.get("Location") != expected:
                failures.append(
                    f"{iri} {media_type}: {reply.status_code} {reply.headers.get('Location')}"
                )
                continue
            document = client.get(expected[len(policy.base) - 1 :])
            if document.status_code != 200:
                failures.append(f"{expected}: {document.status_code}")
                continue
            if key == "html":
                page = parse_page(document.data)
                if label is not None and label not in page.title:
                    failures.append(f"{expected}: title {page.title!r} lacks {label!r}")
                for other in ("ttl", "jsonld", "rdf", "nt"):
                    if f"{policy.base}doc/{path}.{other}" not in page.hrefs:
                        failures.append(f"{expected}: no link to .{other}")
            else:
                graph = Graph().parse(
                    data=document.data, format=RDFLIB_FORMAT[key], publicID=expected
                )
                if not any(True for _ in graph.triples((URIRef(iri), None, None))):
                    failures.append(f"{expected}: no triple with the entity as subject")
    assert not failures, "\n".join(failures[:20])


def test_every_entity_dereferences_over_real_http(live_server: str, release: Release) -> None:
    policy = UriPolicy(release.base_uri)
    assert policy.base == live_server
    failures = []
    for iri in entity_iris(release):
        first = fetch(iri, {"Accept": "text/turtle"})
        location = first.header("Location")
        if first.status != 303 or not location.endswith(".ttl"):
            failures.append(f"{iri}: {first.status} {location}")
            continue
        second = fetch(location)
        if second.status != 200 or second.header("Content-Type") != "text/turtle; charset=utf-8":
            failures.append(f"{location}: {second.status}")
    assert not failures, "\n".join(failures[:20])


# Accept strings real clients send.
CHROME = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "extension"),
    [
        ("*/*", "html"),
        ("text/*", "html"),
        ("application/*", "jsonld"),
        ("*/*;q=0.1, text/turtle", "ttl"),
        ("text/turtle;q=0.4, application/rdf+xml;q=0.8", "rdf"),
        ("application/n-triples, text/turtle", "nt"),
        ("text/*, text/html;q=0", "ttl"),
        ("text/turtle;charset=utf-8", "ttl"),
        ('application/ld+json;profile="http://www.w3.org/ns/json-ld#expanded"', "jsonld"),
        ("application/rdf+xml;q=0.5, application/ld+json;q=0.9, text/turtle;q=0.7", "jsonld"),
        (CHROME, "html"),
        (FIREFOX, "html"),
        ("application/xhtml+xml", "html"),
    ],
)
def test_negotiation_over_http(live_server: str, accept: str, extension: str) -> None:
    reply = fetch(live_server + "id/place/belgrade", {"Accept": accept})
    assert reply.status == 303
    assert reply.header("Location") == f"{live_server}doc/id/place/belgrade.{extension}"
    assert "Accept" in reply.header("Vary")


def test_curl_default_accept_and_no_accept_get_the_page(live_server: str) -> None:
    for headers in ({"Accept": "*/*"}, {}):
        reply = fetch(live_server + "id/place/belgrade", headers)
        assert reply.header("Location").endswith(".html")


@pytest.mark.parametrize("accept", ["image/png", "text/turtle;q=0, */*;q=0", "application/pdf"])
def test_nothing_acceptable_is_406_listing_the_types(live_server: str, accept: str) -> None:
    reply = fetch(live_server + "id/place/belgrade", {"Accept": accept})
    assert reply.status == 406
    for media_type in MEDIA_TYPES:
        assert media_type in reply.body.decode()


def test_format_parameter_and_extension(live_server: str) -> None:
    reply = fetch(live_server + "id/place/belgrade?format=nt", {"Accept": "text/html"})
    assert reply.header("Location").endswith("belgrade.nt")
    negotiated = fetch(live_server + "doc/id/place/belgrade", {"Accept": "text/turtle"})
    assert negotiated.status == 200
    assert negotiated.header("Content-Location") == f"{live_server}doc/id/place/belgrade.ttl"
    assert negotiated.header("Content-Type").startswith("text/turtle")
    chosen = fetch(live_server + "doc/id/place/belgrade?format=jsonld")
    assert chosen.header("Content-Type").startswith("application/ld+json")


def test_document_headers(live_server: str) -> None:
    reply = fetch(live_server + "doc/id/place/belgrade.ttl")
    assert reply.status == 200
    assert re.fullmatch(r'"[0-9a-f]{32}"', reply.header("ETag")), "a strong ETag"
    assert reply.header("Last-Modified").endswith("GMT")
    assert reply.header("Access-Control-Allow-Origin") == "*"
    links = reply.header("Link")
    for key in ("html", "jsonld", "rdf", "nt"):
        assert f'<{live_server}doc/id/place/belgrade.{key}>; rel="alternate"' in links
    assert f'<{live_server}id/place/belgrade>; rel="describes"' in links


@pytest.mark.parametrize(
    "path",
    [
        "doc/id/place/belgrade.html",
        "doc/id/place/belgrade.ttl",
        "dumps/latest/commemoration.ttl",
        ".well-known/void",
    ],
)
def test_conditional_requests_answer_304(live_server: str, path: str) -> None:
    first = fetch(live_server + path)
    assert first.status == 200
    etag = first.header("ETag")
    again = fetch(live_server + path, {"If-None-Match": etag})
    assert again.status == 304
    assert again.body == b""
    assert fetch(live_server + path, {"If-None-Match": '"other"'}).status == 200
    since = fetch(live_server + path, {"If-Modified-Since": first.header("Last-Modified")})
    assert since.status == 304


def test_head_and_options(live_server: str) -> None:
    head = fetch(live_server + "doc/id/place/belgrade.ttl", method="HEAD")
    get = fetch(live_server + "doc/id/place/belgrade.ttl")
    assert head.status == 200
    assert head.body == b""
    assert head.header("ETag") == get.header("ETag")
    assert int(head.header("Content-Length")) == len(get.body)
    options = fetch(
        live_server + "id/place/belgrade",
        {"Origin": "http://example.org", "Access-Control-Request-Method": "GET"},
        method="OPTIONS",
    )
    assert options.status == 200
    assert "GET" in options.header("Allow")
    assert options.header("Access-Control-Allow-Origin") == "*"
    assert "GET" in options.header("Access-Control-Allow-Methods")


@pytest.mark.parametrize(
    "path", ["id/person/nobody-at-all", "doc/id/person/nobody-at-all.ttl", "id/", "graph/none"]
)
def test_unknown_iris_are_404_never_empty_200(live_server: str, path: str) -> None:
    machine = fetch(live_server + path, {"Accept": "text/turtle"})
    assert machine.status == 404
    assert machine.header("Content-Type").startswith("text/plain")
    person = fetch(live_server + path, {"Accept": "text/html"})
    assert person.status == 404
    assert b"<h1>404" in person.body


def test_rdf_description_has_incoming_links_labels_and_sources(
    client: FlaskClient, policy: UriPolicy
) -> None:
    iri = policy.entity("place", "belgrade")
    graph = Graph().parse(data=client.get("/doc/id/place/belgrade.ttl").data, format="turtle")
    subject = URIRef(iri)
    document = URIRef(policy.base + "doc/id/place/belgrade.ttl")
    label = URIRef("http://www.w3.org/2000/01/rdf-schema#label")
    incoming = [s for s, _ in graph.subject_predicates(subject) if s != document]
    assert incoming, "statements pointing at Belgrade"
    for source in incoming:
        assert any(graph.objects(source, label)), f"{source} has a label in the document"
    assert (document, URIRef("http://xmlns.com/foaf/0.1/primaryTopic"), subject) in graph
    assert any(graph.objects(document, URIRef("http://purl.org/dc/terms/license")))
    excerpts = list(graph.objects(document, URIRef("http://www.w3.org/ns/prov#wasDerivedFrom")))
    assert excerpts
    for excerpt in excerpts:
        assert any(graph.objects(excerpt, URIRef(policy.term("text"))))
        assert any(graph.objects(excerpt, URIRef("http://www.w3.org/ns/prov#wasQuotedFrom")))


def test_html_page_shows_labels_sources_and_schema_org(
    client: FlaskClient, release: Release
) -> None:
    page = client.get(
        "/doc/id/place/belgrade.html", headers={"Accept-Language": "kk, en;q=0.5"}
    ).data.decode()
    facts = parse_page(page.encode())
    assert "Belgrade" in facts.title
    assert "Sources" in page and "<blockquote" in page
    assert "What links here" in page
    property_names = re.findall(r'<th scope="row">(?:<a [^>]*>)?([^<]*)<', page)
    assert property_names, "the statements table names its properties"
    for name in property_names:
        assert "://" not in name and not name.startswith("com:"), f"raw IRI shown: {name}"
    json_ld = [text for kind, text in facts.scripts if kind == "application/ld+json"]
    assert json_ld and '"@context": "https://schema.org"' in json_ld[0]


def test_dates_and_numbers_are_formatted_on_pages(client: FlaskClient, release: Release) -> None:
    backend = EmbeddedBackend.open(release.store_path)
    row = backend.select(
        "SELECT ?s ?v WHERE { ?s ?p ?v FILTER(datatype(?v) = <http://www.w3.org/2001/XMLSchema#date>) "
        f'FILTER(STRSTARTS(STR(?s), "{release.base_uri}id/")) }} LIMIT 1'
    )[0]
    policy = UriPolicy(release.base_uri)
    page = client.get("/doc/" + policy.relative(str(row["s"])) + ".html").data.decode()
    year, month, day = str(row["v"]).split("-")
    months = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
    assert f"{int(day)} {months[int(month) - 1]} {year}" in page
