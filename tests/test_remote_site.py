"""The same site over a remote store: every page and document equals the embedded one.

Issue 5's promise: `serve --backend remote --endpoint URL` serves the identical site. The
same build is served by the embedded store and by a real Oxigraph and Virtuoso server.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rdflib import Graph
from rdflib.compare import isomorphic
from tests.stores import StoreServer
from tests.test_linked_data import entity_iris

from lod_publisher.releases import Release
from lod_publisher.settings import Settings
from lod_publisher.store.remote import RemoteBackend
from lod_publisher.uris import UriPolicy
from lod_publisher.web import create_app, site_of
from lod_publisher.web.sparql import warm_up

FORMATS = {"ttl": "turtle", "jsonld": "json-ld"}


@pytest.fixture(scope="module", params=["oxigraph", "virtuoso"])
def remote_app(request: pytest.FixtureRequest, settings: Settings) -> Flask:
    store: StoreServer = request.getfixturevalue(f"{request.param}_store")
    remote = replace(settings, backend="remote", endpoint=store.query_url)
    application = create_app(remote)
    application.config["TESTING"] = True
    return application


def test_every_entity_document_is_the_same_over_the_remote_store(
    remote_app: Flask, client: FlaskClient, release: Release
) -> None:
    remote = remote_app.test_client()
    policy = UriPolicy(release.base_uri)
    different = []
    for iri in entity_iris(release):
        path = "/doc/" + policy.relative(iri)
        ours = Graph().parse(data=client.get(path + ".ttl").data, format="turtle")
        reply = remote.get(path + ".ttl")
        theirs = Graph().parse(data=reply.data, format="turtle")
        if reply.status_code != 200 or not isomorphic(ours, theirs):
            different.append(f"{iri}: {reply.status_code}, {len(ours)} vs {len(theirs)} triples")
    assert not different, "\n".join(different[:10])


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/doc/id/place/belgrade.html",
        "/doc/id/place/astana.html",
        "/doc/id/excerpt/xinhua-2020-01.html",
        "/doc/ontology.html",
        "/-/classes",
        "/-/search?q=batyrlarga",
    ],
)
def test_pages_are_identical(remote_app: Flask, client: FlaskClient, path: str) -> None:
    ours, theirs = client.get(path), remote_app.test_client().get(path)
    assert theirs.status_code == ours.status_code == 200
    assert theirs.data == ours.data


def test_negotiation_and_404_behave_the_same(remote_app: Flask) -> None:
    remote = remote_app.test_client()
    reply = remote.get("/id/place/belgrade", headers={"Accept": "text/turtle"})
    assert reply.status_code == 303
    assert reply.headers["Location"].endswith("/doc/id/place/belgrade.ttl")
    assert remote.get("/id/person/nobody-at-all").status_code == 404


def test_sparql_endpoint_answers_the_same(remote_app: Flask, client: FlaskClient) -> None:
    query = (
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
        'FILTER(CONTAINS(STR(?g), "/id/excerpt/xinhua-2020")) } GROUP BY ?g ORDER BY ?g'
    )
    headers = {"Accept": "text/csv"}
    ours = client.get("/sparql", query_string={"query": query}, headers=headers)
    theirs = remote_app.test_client().get("/sparql", query_string={"query": query}, headers=headers)
    assert ours.status_code == theirs.status_code == 200
    assert theirs.content_type == ours.content_type
    # Stores quote CSV fields differently (both valid RFC 4180): compare the rows.
    rows = [list(csv.reader(io.StringIO(r.data.decode()))) for r in (ours, theirs)]
    assert rows[0] == rows[1]
    assert len(rows[0]) > 20


def test_an_unreachable_store_is_502_and_a_silent_one_504(
    settings: Settings, release: Release, silent_endpoint: str
) -> None:
    from tests.conftest import free_port

    unreachable = create_app(
        replace(settings, backend="remote", endpoint=f"http://127.0.0.1:{free_port()}/query")
    ).test_client()
    reply = unreachable.get("/doc/id/place/belgrade.ttl", headers={"Accept": "text/plain"})
    assert reply.status_code == 502
    assert b"triple store" in reply.data
    silent = create_app(
        replace(settings, backend="remote", endpoint=silent_endpoint, remote_timeout=1.0)
    ).test_client()
    reply = silent.get("/doc/id/place/belgrade.ttl")
    assert reply.status_code == 504


def test_a_worker_reads_the_manifest_before_its_first_request(
    settings: Settings, oxigraph_store: StoreServer, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import free_port

    ready = create_app(replace(settings, backend="remote", endpoint=oxigraph_store.query_url))
    backend = site_of(ready).backend
    assert isinstance(backend, RemoteBackend)
    warm_up(ready)
    assert backend._record is not None  # the first query will not wait for the manifest
    down = replace(settings, backend="remote", endpoint=f"http://127.0.0.1:{free_port()}/query")
    waiting = create_app(down)
    with caplog.at_level(logging.WARNING, logger="lod_publisher.web.sparql"):
        warm_up(waiting)  # a store that is not up yet does not stop the worker
    assert "asked again on first use" in caplog.text
    reply = waiting.test_client().get("/sparql?query=ASK%7B%7D", headers={"Accept": "text/csv"})
    assert reply.status_code == 502
