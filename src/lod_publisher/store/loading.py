"""Load a published build into a remote triple store, graph by graph.

Speaks the SPARQL 1.1 Graph Store HTTP Protocol (https://www.w3.org/TR/sparql11-http-rdf-update/)
to one URL: Oxigraph's ``/store``, Virtuoso's ``/sparql-graph-crud-auth`` (Digest), or any
other. The store ends up in the :class:`~lod_publisher.store.remote.StoreLayout`:

1. ``GET`` the manifest graph: which graphs the previous load put there (§5.2).
2. ``PUT`` each named graph of the build, replacing what the graph held (§5.3). A graph
   larger than ``chunk_triples`` is sent as a PUT of the first chunk and a ``POST`` of
   each further one (§5.5), so no request grows without bound. Blank nodes are scoped
   to one request, so the triples sharing a blank node, directly or through other blank
   nodes (a blank-node closure), always travel in the same chunk: a chunk grows past
   ``chunk_triples`` only by a closure larger than that.
3. ``PUT`` the merge of all graphs (the build store's default graph) into the merged graph.
4. ``PUT`` the manifest graph: the build id and every graph; readers switch here.
5. ``DELETE`` each graph the previous manifest named that this build no longer has (§5.4).

Each PUT is atomic for its graph; the load as a whole is not (a reader may see some
graphs of the new build and some of the old). For an atomic switch, load a second store
and point the site at it. Each graph is a request of its own, so the merged graph's
blank nodes are not those of the named graphs (the shipped data has none). Memory: one
chunk, one closure, and the set of blank nodes already sent of the graph being loaded.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pyoxigraph as ox

from lod_publisher.errors import LodError, RemoteError
from lod_publisher.releases import Release
from lod_publisher.store.http import Credentials, Http, Reply
from lod_publisher.store.remote import LoadRecord, StoreLayout

GSP = "https://www.w3.org/TR/sparql11-http-rdf-update/"
NT = "application/n-triples"


@dataclass(frozen=True)
class LoadReport:
    """What a load did: graphs and statements sent, graphs dropped, and how long it took."""

    build_id: str
    previous_build_id: str | None
    graphs: int
    quads: int
    triples: int
    dropped: tuple[str, ...]
    requests: int
    seconds: float


def load(
    release: Release,
    store_url: str,
    *,
    credentials: Credentials | None = None,
    timeout: float = 120.0,
    chunk_triples: int = 100_000,
    connections: int = 4,
    log: Callable[[str], None] | None = None,
) -> LoadReport:
    """Push ``release`` into the Graph Store at ``store_url``, replacing graph by graph.

    The named graphs go over ``connections`` requests at a time (a build has one graph per
    source sentence: 80,000 at 1M triples); the merged and manifest graphs follow, alone.
    """
    _check_validated(release)
    layout = StoreLayout(release.base_uri)
    with closing(Http(timeout, credentials)) as http:  # its kept-alive connections too
        gsp = _GraphStore(store_url, http)
        started = time.monotonic()
        previous = gsp.get_record(layout)
        store = ox.Store.read_only(str(release.store_path))
        graphs = sorted(g.value for g in store.named_graphs() if isinstance(g, ox.NamedNode))

        def replace(graph: str) -> int:
            return gsp.replace(graph, _closures(store, ox.NamedNode(graph)), chunk_triples)

        quads = 0
        for number, sent in enumerate(_each_at_most(connections, replace, graphs), 1):
            quads += sent
            if log and (number % 1000 == 0 or number == len(graphs)):
                log(f"{number}/{len(graphs)} graphs, {quads} statements")
        triples = gsp.replace(layout.merged, _closures(store, ox.DefaultGraph()), chunk_triples)
        record = layout.manifest_triples(
            release.build_id, str(release.manifest.get("created", "")), graphs, triples
        )
        gsp.replace(layout.manifest, ([t] for t in record), chunk_triples)
        stale = tuple(sorted(set(previous.graphs if previous else ()) - set(graphs)))
        for graph in stale:
            gsp.delete(graph)
        if log:
            log(f"merged graph: {triples} triples; dropped {len(stale)} stale graph(s)")
        return LoadReport(
            release.build_id,
            previous.build_id if previous else None,
            len(graphs),
            quads,
            triples,
            stale,
            gsp.requests,
            time.monotonic() - started,
        )


def _each_at_most(
    connections: int, action: Callable[[str], int], items: list[str]
) -> Iterator[int]:
    """``action`` of each item, in order, at most ``connections`` running at once.

    The first failure is raised once the running ones end; nothing more is started.
    """
    with ThreadPoolExecutor(max(1, connections)) as pool:
        running: deque[Future[int]] = deque()
        try:
            for item in items:
                running.append(pool.submit(action, item))
                if len(running) >= connections:
                    yield running.popleft().result()
            while running:
                yield running.popleft().result()
        finally:
            for future in running:
                future.cancel()


def layout_quads(release: Release) -> Iterator[ox.Quad]:
    """The same layout as one stream of quads, for a store's offline bulk loader.

    For example ``oxigraph load --location DIR --file layout.nq``, or Virtuoso's
    ``ld_dir`` with ``rdf_loader_run()``, into an empty store.
    """
    _check_validated(release)
    layout = StoreLayout(release.base_uri)
    store = ox.Store.read_only(str(release.store_path))
    graphs = sorted(g.value for g in store.named_graphs() if isinstance(g, ox.NamedNode))
    for graph in graphs:
        yield from store.quads_for_pattern(None, None, None, ox.NamedNode(graph))
    merged = ox.NamedNode(layout.merged)
    triples = 0
    for quad in store.quads_for_pattern(None, None, None, ox.DefaultGraph()):
        triples += 1
        yield ox.Quad(quad.subject, quad.predicate, quad.object, merged)
    manifest = ox.NamedNode(layout.manifest)
    created = str(release.manifest.get("created", ""))
    for t in layout.manifest_triples(release.build_id, created, graphs, triples):
        yield ox.Quad(t.subject, t.predicate, t.object, manifest)


def write_layout(release: Release, path: Path) -> Path:
    """Write :func:`layout_quads` as N-Quads to ``path``."""
    ox.serialize(layout_quads(release), output=path, format=ox.RdfFormat.N_QUADS)
    return path


def _check_validated(release: Release) -> None:
    validation = release.manifest.get("validation", {})
    if validation.get("conforms") is not True:
        raise LodError(
            f"build {release.build_id} did not pass SHACL validation (manifest.json says "
            f"{validation!r}): only a validated build is loaded"
        )


def _closures(store: ox.Store, graph: ox.NamedNode | ox.DefaultGraph) -> Iterator[list[ox.Triple]]:
    """The graph's triples in units a request must not split.

    A triple without blank nodes is a unit of its own; a triple with one is sent with its
    blank-node closure: every triple of the graph reachable through shared blank nodes,
    found by lookups in the store (the graph is never held whole).
    """
    sent: set[ox.BlankNode] = set()
    for quad in store.quads_for_pattern(None, None, None, graph):
        triple = quad.triple
        blanks = _blank_nodes(triple)
        if not blanks:
            yield [triple]
        elif blanks[0] not in sent:
            yield _closure(store, graph, blanks, sent)


def _closure(
    store: ox.Store,
    graph: ox.NamedNode | ox.DefaultGraph,
    start: list[ox.BlankNode],
    seen: set[ox.BlankNode],
) -> list[ox.Triple]:
    """Every triple of ``graph`` linked to the blank nodes ``start``; adds them to ``seen``."""
    todo, triples, found = list(start), [], set()
    seen.update(start)
    while todo:
        node = todo.pop()
        for quad in [
            *store.quads_for_pattern(node, None, None, graph),
            *store.quads_for_pattern(None, None, node, graph),
        ]:
            triple = quad.triple
            if triple in found:
                continue
            found.add(triple)
            triples.append(triple)
            for other in _blank_nodes(triple):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
    return triples


def _blank_nodes(t: ox.Triple) -> list[ox.BlankNode]:
    return [n for n in (t.subject, t.object) if isinstance(n, ox.BlankNode)]


class _GraphStore:
    """The four Graph Store Protocol operations the loader needs, on one URL."""

    def __init__(self, url: str, http: Http) -> None:
        self.url = url
        self.http = http
        self.requests = 0
        self._lock = threading.Lock()  # requests are sent from several threads

    def _target(self, graph: str) -> str:
        """Indirect graph identification: ``?graph=IRI`` (GSP §4.2)."""
        return self.url + ("&" if "?" in self.url else "?") + urlencode({"graph": graph})

    def _send(self, method: str, graph: str, body: bytes | None = None) -> Reply:
        headers = {"Content-Type": NT} if body is not None else {}
        if method == "GET":
            headers["Accept"] = f"{NT}, text/turtle;q=0.5"
        with self._lock:
            self.requests += 1
        # A POST appends: sent twice, its blank nodes would be added twice.
        reply = self.http.request(
            method, self._target(graph), body, headers, repeatable=method != "POST"
        )
        if reply.status == 401:
            raise RemoteError(
                f"{self.url} wants credentials to {method} graphs: give --user and --password "
                "(Virtuoso: its /sparql-graph-crud-auth endpoint, Digest)",
                401,
            )
        if reply.status >= 300 and not (method in ("GET", "DELETE") and reply.status == 404):
            raise RemoteError(
                f"{method} <{graph}> at {self.url} answered {reply.status}: {reply.text()} "
                f"(Graph Store Protocol: {GSP})",
                reply.status,
            )
        return reply

    def get_record(self, layout: StoreLayout) -> LoadRecord | None:
        reply = self._send("GET", layout.manifest)
        if reply.status == 404:
            return None
        rdf = ox.RdfFormat.from_media_type(reply.media_type) or ox.RdfFormat.TURTLE
        return layout.read_manifest(ox.parse(reply.body, format=rdf))

    def replace(self, graph: str, units: Iterator[list[ox.Triple]], chunk_triples: int) -> int:
        """PUT the first chunk, POST the rest; the number of triples sent.

        ``units`` are never split: a blank node in two requests would be two nodes.
        """
        sent, method = 0, "PUT"
        for chunk in _chunks(units, chunk_triples):
            body = ox.serialize(chunk, format=ox.RdfFormat.N_TRIPLES)
            assert body is not None
            self._send(method, graph, body)
            sent, method = sent + len(chunk), "POST"
        if method == "PUT":  # an empty graph: replace with nothing
            self._send("PUT", graph, b"")
        return sent

    def delete(self, graph: str) -> None:
        self._send("DELETE", graph)


def _chunks(units: Iterator[list[ox.Triple]], size: int) -> Iterator[list[ox.Triple]]:
    """Whole units packed into chunks of at most ``size`` triples (or one larger unit)."""
    chunk: list[ox.Triple] = []
    for unit in units:
        if chunk and len(chunk) + len(unit) > size:
            yield chunk
            chunk = []
        chunk.extend(unit)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
