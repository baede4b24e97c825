"""The remote backend at more graphs than a list of ``named-graph-uri`` can carry.

Virtuoso 7 refuses a dataset of more than 4,095 named graphs (error SP030, an ``IN`` of at
most 0xFFF terms), and a build has one graph per source sentence. A synthetic build of
4,200 sentence graphs is loaded into a fresh Virtuoso and a fresh Oxigraph; the site's
queries must answer as the embedded store does, and ``GRAPH ?g`` must show the build's
graphs and nothing else (no Virtuoso system graph, no merged or manifest graph).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from rdflib import BNode
from rdflib.compare import isomorphic
from tests.stores import StoreServer, start_oxigraph, start_virtuoso
from tests.test_loading import make_release

from lod_publisher import queries
from lod_publisher.describe import cited_excerpts
from lod_publisher.formats import by_key
from lod_publisher.releases import Release
from lod_publisher.store.embedded import EmbeddedBackend
from lod_publisher.store.loading import load
from lod_publisher.store.remote import RemoteBackend, StoreLayout
from lod_publisher.uris import UriPolicy

BASE = "http://example.org/scale/"
SENTENCES = 4_200  # more than Virtuoso's 4,095
PROV = "http://www.w3.org/ns/prov#wasQuotedFrom"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


def sentence_graphs() -> dict[str, list[tuple[str, str, str]]]:
    """One graph per sentence, each naming a place; the sources graph says where each is from."""
    graphs: dict[str, list[tuple[str, str, str]]] = {}
    sources: list[tuple[str, str, str]] = []
    for i in range(SENTENCES):
        excerpt = f"id/excerpt/s-{i:05d}"
        place = f"id/place/p{i % 40}"
        graphs[excerpt] = [
            (place, "ontology/mentionedWith", f"id/person/x{i}"),
            (f"id/person/x{i}", RDFS_LABEL, f'"Person {i}"'),
        ]
        sources += [(excerpt, "ontology/text", f'"Sentence {i}."'), (excerpt, PROV, "id/article/a")]
    graphs["graph/sources"] = [*sources, ("id/article/a", RDFS_LABEL, '"The article"')]
    return graphs


@pytest.fixture(scope="module")
def scale_release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    return make_release(tmp_path_factory.mktemp("scale") / "r", BASE, sentence_graphs())


@pytest.fixture(scope="module", params=["oxigraph", "virtuoso"])
def scale_store(
    request: pytest.FixtureRequest,
    scale_release: Release,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[StoreServer]:
    folder = tmp_path_factory.mktemp(request.param)
    server = (
        start_oxigraph(folder / "db", read_only=False)
        if request.param == "oxigraph"
        else start_virtuoso(folder)
    )
    try:
        report = load(scale_release, server.store_url, credentials=server.credentials)
        assert report.graphs == SENTENCES + 1
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def remote(scale_store: StoreServer) -> Iterator[RemoteBackend]:
    backend = RemoteBackend(scale_store.query_url, BASE, timeout=60)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def embedded(scale_release: Release) -> Iterator[EmbeddedBackend]:
    backend = EmbeddedBackend.open(scale_release.store_path)
    yield backend
    backend.close()


def rows(solutions: list[dict[str, object]]) -> Counter[frozenset[tuple[str, object]]]:
    return Counter(
        frozenset((k, BNode("b") if isinstance(v, BNode) else v) for k, v in r.items())
        for r in solutions
    )


def test_graph_lists_every_sentence_graph_and_nothing_else(remote: RemoteBackend) -> None:
    graphs = {str(r["g"]) for r in remote.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")}  # fmt: skip
    assert len(graphs) == SENTENCES + 1
    assert all(g.startswith(BASE) for g in graphs)  # no virtrdf#, DAV, ldp# graph
    layout = StoreLayout(BASE)
    assert layout.merged not in graphs and layout.manifest not in graphs
    assert not remote.ask(f"ASK {{ GRAPH <{layout.merged}> {{ ?s ?p ?o }} }}")
    assert not remote.ask(f"ASK {{ GRAPH <{layout.manifest}> {{ ?s ?p ?o }} }}")


def test_a_users_graph_query_answers_as_the_embedded_store(
    remote: RemoteBackend, embedded: EmbeddedBackend
) -> None:
    """What /sparql runs: ``execute`` with the published dataset."""
    query = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
    result = remote.execute(query, by_key("srj"))
    assert result.rows == SENTENCES + 1
    assert rows(remote.select(query)) == rows(embedded.select(query))  # type: ignore[arg-type]
    count = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    assert remote.select(count) == embedded.select(count)


@pytest.mark.parametrize("entity", ["id/place/p7", "id/person/x4199"])
def test_site_queries_answer_as_the_embedded_store(
    remote: RemoteBackend, embedded: EmbeddedBackend, entity: str
) -> None:
    policy, iri = UriPolicy(BASE), BASE + entity
    described = remote.construct(queries.describe(iri))
    assert len(described) > 0
    assert isomorphic(described, embedded.construct(queries.describe(iri)))
    sources = queries.statement_excerpts(policy, iri)
    expected = cited_excerpts(embedded.select(sources))
    assert expected[0]
    assert cited_excerpts(remote.select(sources)) == expected
    excerpt = queries.excerpt_statements(BASE + "id/excerpt/s-04199")
    assert isomorphic(remote.construct(excerpt), embedded.construct(excerpt))
    assert remote.ask(queries.is_known(BASE + "id/excerpt/s-00001"))


def test_how_a_graph_query_states_its_dataset(
    remote: RemoteBackend, scale_store: StoreServer
) -> None:
    """Virtuoso: a request of one size whatever the build; other stores: the build's graphs."""
    query, params = remote._published("SELECT * { GRAPH ?g { ?s ?p ?o } } LIMIT 1")
    if scale_store.name == "virtuoso":
        assert len(params) == 1 and len(query) < 300
    else:
        named = [value for key, value in params if key == "named-graph-uri"]
        assert sorted(named) == sorted(remote.record.graphs)
