"""Hubs: a description lists a bounded number of incoming statements and of sources each,
says so in the page and in the RDF document, and links to SPARQL for the rest."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from rdflib import RDFS, Graph, URIRef

from lod_publisher import describe as describe_module
from lod_publisher import queries
from lod_publisher.describe import describe
from lod_publisher.releases import Release
from lod_publisher.settings import Settings
from lod_publisher.store.embedded import EmbeddedBackend
from lod_publisher.uris import UriPolicy
from lod_publisher.web import create_app, site_of

HUB = "id/place/kazakhstan"  # pointed at by 50 statements from IRIs in the shipped data


def incoming_from_iris(backend: EmbeddedBackend, iri: str) -> list[tuple[str, str]]:
    rows = backend.select(f"SELECT ?s ?p WHERE {{ ?s ?p <{iri}> FILTER(isIRI(?s)) }}")
    return sorted((str(r["p"]), str(r["s"])) for r in rows)


def test_a_hub_lists_the_first_incoming_statements_by_predicate_and_subject(
    release: Release, policy: UriPolicy
) -> None:
    backend = EmbeddedBackend.open(release.store_path)
    iri = policy.base + HUB
    everything = incoming_from_iris(backend, iri)
    assert len(everything) > 3
    full = describe(backend, policy, iri)
    bounded = describe(backend, policy, iri, incoming_limit=3)
    assert full is not None and bounded is not None
    assert full.incoming_listed is None and full.incoming_note("x") is None
    assert bounded.incoming_listed == 3 and bounded.incoming_total == full.incoming_total
    listed = sorted((str(p), str(s)) for s, p in bounded.graph.subject_predicates(URIRef(iri)))
    assert listed == everything[:3]
    # Its own statements are all there, and their sources; incoming ones only if listed.
    own = set(full.graph.predicate_objects(URIRef(iri)))
    assert set(bounded.graph.predicate_objects(URIRef(iri))) == own
    cited = {st for source in bounded.sources for st in source.statements}
    incoming_cited = {(str(p), str(s)) for s, p, o in cited if str(o) == iri and str(s) != iri}
    assert incoming_cited and incoming_cited <= set(everything[:3])


def test_the_document_and_the_page_say_what_is_left_out(
    settings: Settings, release: Release, policy: UriPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(describe_module, "SOURCES_PER_STATEMENT", 1)
    client = create_app(settings).test_client()  # caches start empty
    site = site_of(client.application)
    iri = policy.base + HUB
    monkeypatch.setattr(
        site, "describe", lambda target: describe(site.backend, site.policy, target, 3)
    )
    total = int(site.backend.select(queries.incoming_count(iri))[0]["n"])  # type: ignore[call-overload]
    page = client.get(f"/doc/{HUB}.html").get_data(as_text=True)
    assert f"The first 3 of {total:,} statements that link here" in page
    href = page.split("all of them, with SPARQL")[0].rsplit('href="', 1)[1].split('"')[0]
    query = parse_qs(urlsplit(href.replace("&amp;", "&")).query)["query"][0]
    answer = client.get("/sparql", query_string={"query": query}, headers={"Accept": "text/csv"})
    assert answer.status_code == 200
    assert len(answer.get_data(as_text=True).strip().splitlines()) == total + 1  # + header
    assert "statement(s) are stated in more than 1 sentences" in page
    document = Graph().parse(data=client.get(f"/doc/{HUB}.ttl").data, format="turtle")
    comments = [str(c) for c in document.objects(None, RDFS.comment)]
    assert f"Lists 3 of the {total:,} statements that point at <{iri}>" in " ".join(comments)
    assert any("each cites the first 1 by IRI" in c for c in comments)
