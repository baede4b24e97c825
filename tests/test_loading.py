"""The loader: a build into a remote store, graph by graph, stale graphs dropped.

Small releases are made here (a store and a manifest, the layout releases.py reads),
each under its own base IRI, so tests can share a store without seeing each other.
"""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import parse_qs, urlsplit

import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from rdflib import Graph
from rdflib.compare import isomorphic

from lod_publisher.cli_remote import load as load_command
from lod_publisher.errors import LodError, RemoteError
from lod_publisher.releases import Release
from lod_publisher.store.embedded import to_rdflib, write_store
from lod_publisher.store.loading import _chunks, _closures, layout_quads, load, write_layout
from lod_publisher.store.remote import RemoteBackend, StoreLayout

if TYPE_CHECKING:
    from tests.stores import StoreServer


Triple = tuple[str, str, str]


def make_release(
    folder: Path,
    base: str,
    graphs: dict[str, list[Triple]],
    build_id: str = "20260101T000000Z-00000001",
    conforms: bool = True,
) -> Release:
    """A release folder holding ``graphs`` (names and terms relative to ``base``, or absolute)."""

    def term(value: str) -> ox.NamedNode | ox.Literal | ox.BlankNode:
        if value.startswith("_:"):
            return ox.BlankNode(value[2:])
        if value.startswith('"'):
            return ox.Literal(value.strip('"'))
        return ox.NamedNode(value if value.startswith("http") else base + value)

    quads = [
        ox.Quad(term(s), term(p), term(o), ox.NamedNode(base + graph))  # type: ignore[arg-type]
        for graph, triples in graphs.items()
        for s, p, o in triples
    ]
    folder.mkdir(parents=True)
    write_store(folder / "store", quads).flush()
    manifest = {
        "build_id": build_id,
        "base_uri": base,
        "created": "2026-01-01T00:00:00Z",
        "validation": {"conforms": conforms, "warnings": 0},
        "dumps": [],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return Release.load(folder)


V1 = {
    "id/excerpt/a-01": [("id/x", "p", '"one"'), ("id/x", "q", "id/y")],
    "id/excerpt/a-02": [("id/x", "q", "id/y"), ("id/y", "p", '"Batyrlarğa tağzym"')],
    "id/excerpt/a-03": [("id/z", "p", '"gone next time"')],
}
V2 = {
    "id/excerpt/a-01": [("id/x", "p", '"one, revised"')],
    "id/excerpt/a-02": [("id/x", "q", "id/y"), ("id/y", "p", '"Batyrlarğa tağzym"')],
    "id/excerpt/b-01": [("id/w", "p", '"new"')],
}


@pytest.fixture(params=["oxigraph", "virtuoso"])
def store(request: pytest.FixtureRequest) -> StoreServer:
    name = "oxigraph_writable" if request.param == "oxigraph" else "virtuoso_store"
    server: StoreServer = request.getfixturevalue(name)
    return server


@pytest.fixture
def base() -> str:
    return f"http://example.org/load-{uuid.uuid4().hex[:8]}/"


def graphs_and_counts(store: StoreServer, base: str) -> tuple[dict[str, int], int]:
    backend = RemoteBackend(store.query_url, base, timeout=30)
    sizes = {
        str(r["g"]).removeprefix(base): int(r["n"])  # type: ignore[call-overload]
        for r in backend.select("SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
    }
    merged = int(backend.select("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")[0]["n"])  # type: ignore[call-overload]
    return sizes, merged


def test_load_replaces_each_graph_and_drops_stale_ones(
    store: StoreServer, base: str, tmp_path: Path
) -> None:
    first = load(make_release(tmp_path / "v1", base, V1), store.store_url, credentials=store.credentials)  # fmt: skip
    assert (first.graphs, first.quads, first.triples, first.dropped) == (3, 5, 4, ())
    assert first.previous_build_id is None
    assert graphs_and_counts(store, base) == (
        {"id/excerpt/a-01": 2, "id/excerpt/a-02": 2, "id/excerpt/a-03": 1},
        4,  # the triple stated by a-01 and a-02 counts once in the merge
    )

    v2 = make_release(tmp_path / "v2", base, V2, build_id="20260102T000000Z-00000002")
    second = load(v2, store.store_url, credentials=store.credentials)
    assert second.previous_build_id == "20260101T000000Z-00000001"
    assert second.dropped == (base + "id/excerpt/a-03",)
    assert graphs_and_counts(store, base) == (
        {"id/excerpt/a-01": 1, "id/excerpt/a-02": 2, "id/excerpt/b-01": 1},
        4,
    )
    backend = RemoteBackend(store.query_url, base)
    assert backend.record.build_id == "20260102T000000Z-00000002"
    assert not backend.ask('ASK { ?s ?p "one" } ')  # the old version of a-01 is gone
    assert not backend.ask(f"ASK {{ <{base}id/z> ?p ?o }}")

    again = load(v2, store.store_url, credentials=store.credentials)
    assert (again.dropped, again.graphs) == ((), 3)
    assert graphs_and_counts(store, base)[1] == 4


def test_large_graphs_go_in_chunks(oxigraph_writable: StoreServer, base: str, tmp_path: Path) -> None:  # fmt: skip
    big = {"id/excerpt/big-01": [(f"id/s{i}", "p", f'"{i}"') for i in range(7)]}
    report = load(make_release(tmp_path / "r", base, big), oxigraph_writable.store_url, chunk_triples=3)  # fmt: skip
    # GET manifest; PUT + 2 POST for the graph and for the merge; PUT + POST the manifest
    assert report.requests == 9
    assert graphs_and_counts(oxigraph_writable, base) == ({"id/excerpt/big-01": 7}, 7)


BLANK = {
    # _:b1 and _:b2 are linked (one closure), _:b3 stands alone; ground triples around
    "graph/shapes": [
        ("id/s0", "p", '"0"'),
        ("id/s1", "p", '"1"'),
        ("id/shape", "q", "_:b1"),
        ("_:b1", "p", '"a"'),
        ("_:b1", "q", "_:b2"),
        ("_:b2", "p", '"b"'),
        ("_:b2", "p", '"c"'),
        ("id/s2", "p", '"2"'),
        ("_:b3", "p", '"d"'),
        ("_:b3", "p", '"e"'),
        ("id/s3", "p", '"3"'),
    ]
}


def remote_graph(backend: RemoteBackend, graph: str | None) -> Graph:
    where = f"GRAPH <{graph}> {{ ?s ?p ?o }}" if graph else "?s ?p ?o"
    return backend.construct(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ {where} }}")


def test_blank_nodes_are_never_split_across_requests(
    store: StoreServer, base: str, tmp_path: Path
) -> None:
    """Chunks of 2 triples cut through both closures; each still goes whole (§5.5)."""
    release = make_release(tmp_path / "r", base, BLANK)
    report = load(release, store.store_url, credentials=store.credentials, chunk_triples=2)
    assert report.quads == report.triples == 11
    source = ox.Store.read_only(str(release.store_path))
    backend = RemoteBackend(store.query_url, base, timeout=30)
    for name in (base + "graph/shapes", None):
        graph_name = ox.NamedNode(name) if name else ox.DefaultGraph()
        expected = Graph()
        for q in source.quads_for_pattern(None, None, None, graph_name):
            expected.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))
        got = remote_graph(backend, name)
        assert len(got) == 11
        assert isomorphic(got, expected), name


def test_a_closure_is_one_unit_of_the_chunks(base: str, tmp_path: Path) -> None:
    release = make_release(tmp_path / "r", base, BLANK)
    store = ox.Store.read_only(str(release.store_path))
    units = list(_closures(store, ox.NamedNode(base + "graph/shapes")))
    assert sorted(len(u) for u in units) == [1, 1, 1, 1, 2, 5]
    chunks = list(_chunks(iter(units), 2))
    assert sum(len(c) for c in chunks) == 11
    for unit in units:  # every unit inside exactly one chunk
        assert sum(all(t in c for t in unit) for c in chunks) == 1


def test_only_a_validated_build_is_loaded(oxigraph_writable: StoreServer, base: str, tmp_path: Path) -> None:  # fmt: skip
    release = make_release(tmp_path / "r", base, V1, conforms=False)
    with pytest.raises(LodError, match="SHACL"):
        load(release, oxigraph_writable.store_url)


def test_virtuoso_wants_credentials(virtuoso_store: StoreServer, base: str, tmp_path: Path) -> None:  # fmt: skip
    with pytest.raises(RemoteError, match="--user") as raised:
        load(make_release(tmp_path / "r", base, V1), virtuoso_store.store_url)
    assert raised.value.status == 401


def test_layout_file_holds_graphs_merge_and_manifest(base: str, tmp_path: Path) -> None:
    release = make_release(tmp_path / "r", base, V1)
    path = write_layout(release, tmp_path / "layout.nq")
    quads = list(ox.parse(path=path, format=ox.RdfFormat.N_QUADS))
    layout = StoreLayout(base)
    per_graph: dict[str, int] = {}
    for q in quads:
        assert isinstance(q.graph_name, ox.NamedNode)
        per_graph[q.graph_name.value] = per_graph.get(q.graph_name.value, 0) + 1
    assert per_graph[layout.merged] == 4
    assert {g.removeprefix(base) for g in per_graph} == {*V1, "graph/merged", "graph/manifest"}
    record = layout.read_manifest(q for q in quads if q.graph_name == ox.NamedNode(layout.manifest))
    assert record is not None and record.graphs == tuple(sorted(base + g for g in V1))
    assert len(list(layout_quads(release))) == len(quads)


@pytest.fixture
def build_dir(tmp_path: Path, base: str) -> Iterator[Path]:
    release = make_release(tmp_path / "releases" / "20260101T000000Z-00000001", base, V1)
    (tmp_path / "current").symlink_to(release.path)
    yield tmp_path


def test_load_command(oxigraph_writable: StoreServer, build_dir: Path, base: str) -> None:
    runner = CliRunner()
    args = ["--endpoint", oxigraph_writable.store_url, "--build-dir", str(build_dir)]
    result = runner.invoke(load_command, args, env={"LOD_BUILD_DIR": "elsewhere"})
    assert result.exit_code == 0, result.output
    assert "Loaded 20260101T000000Z-00000001" in result.output
    assert "3 graphs, 5 statements, 4 merged triples" in result.output
    failed = runner.invoke(load_command, ["--endpoint", "http://127.0.0.1:1/store", "--build-dir", str(build_dir)])  # fmt: skip
    assert failed.exit_code == 1
    assert "cannot reach" in failed.output


class _FailingGraphStore(http.server.BaseHTTPRequestHandler):
    """A Graph Store that refuses one graph's PUT and records every request it gets."""

    failing: ClassVar[str] = ""
    seen: ClassVar[list[tuple[str, str]]] = []

    def _answer(self) -> None:
        graph = parse_qs(urlsplit(self.path).query).get("graph", [""])[0]
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.seen.append((self.command, graph))
        status = 500 if self.command == "PUT" and graph == self.failing else 204
        if self.command == "GET":
            status = 404  # no previous load
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_failed_graph_stops_the_load_before_the_manifest(base: str, tmp_path: Path) -> None:
    graphs = {f"id/excerpt/s-{n:03}": [(f"id/e{n}", "p", f'"{n}"')] for n in range(40)}
    release = make_release(tmp_path / "r", base, graphs)
    failing = base + "id/excerpt/s-010"
    handler = type("Handler", (_FailingGraphStore,), {"failing": failing, "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/store"
        with pytest.raises(RemoteError, match="s-010"):
            load(release, url, connections=4, timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    sent = [graph for method, graph in handler.seen if method == "PUT"]
    layout = StoreLayout(base)
    assert layout.manifest not in sent and layout.merged not in sent
    assert failing in sent
    # Graphs go in order, at most 4 at a time: nothing far beyond the failure was started.
    assert len(sent) <= 11 + 4
