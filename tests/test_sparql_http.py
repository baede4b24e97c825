"""``/sparql`` over real HTTP: SPARQLWrapper, rdflib's SPARQLStore, and raw requests of every
protocol shape, result format and error; the editor page and its examples (Flask client)."""

from __future__ import annotations

import dataclasses
import http.client
import io
import logging
import re
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rdflib import Graph, Literal, URIRef
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from rdflib.query import Result
from SPARQLWrapper import JSON, POST, RDFXML, TURTLE, XML, SPARQLWrapper
from tests.conftest import Reply, fetch

from lod_publisher.formats import Kind, by_key, formats_for
from lod_publisher.releases import Release
from lod_publisher.settings import Settings
from lod_publisher.uris import UriPolicy
from lod_publisher.web import create_app
from lod_publisher.web.sparql import endpoint_of, query_hash, repeatable
from lod_publisher.web.sparql_examples import EXAMPLES

pytestmark = pytest.mark.server

COMPETENCY = Path(__file__).parent / "competency"
BENCH_QUERIES = Path(__file__).parent.parent / "bench" / "queries"
RESULTS_PARSER = {"srj": "json", "srx": "xml", "csv": "csv", "tsv": "tsv"}
GRAPH_PARSER = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml", "nt": "nt"}
FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"


def labels_query(policy: UriPolicy) -> str:
    return (
        f"PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
        f"SELECT ?label WHERE {{ <{policy.entity('place', 'astana')}> rdfs:label ?label }}"
    )


def get(base: str, params: dict[str, str] | list[tuple[str, str]], accept: str = "") -> Reply:
    headers = {"Accept": accept} if accept else {}
    return fetch(f"{base}sparql?{urlencode(params)}", headers)


def post(base: str, body: bytes, content_type: str, accept: str = "", query: str = "") -> Reply:
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    return fetch(f"{base}sparql{'?' + query if query else ''}", headers, "POST", body)


def results(reply: Reply, key: str = "srj") -> Result:
    assert reply.status == 200, reply.body[:300]
    return Result.parse(io.BytesIO(reply.body), format=RESULTS_PARSER[key])


# ----------------------------------------------------------------- SPARQL clients


def test_sparqlwrapper_select_json_and_xml(live_server: str, policy: UriPolicy) -> None:
    for return_format, method in ((JSON, "GET"), (XML, POST)):
        client = SPARQLWrapper(live_server + "sparql")
        client.setQuery(labels_query(policy))
        client.setReturnFormat(return_format)
        client.setMethod(method)
        converted = client.query().convert()
        if return_format == JSON:
            assert isinstance(converted, dict)
            labels = {b["label"]["value"] for b in converted["results"]["bindings"]}
        else:
            labels = {
                node.firstChild.nodeValue  # type: ignore[union-attr]
                for node in converted.getElementsByTagName("literal")  # type: ignore[union-attr]
            }
        assert "Astana" in labels


def test_sparqlwrapper_ask(live_server: str, policy: UriPolicy) -> None:
    for return_format in (JSON, XML):
        for query, answer in (("ASK { ?s ?p ?o }", True), ("ASK { <urn:x> ?p ?o }", False)):
            client = SPARQLWrapper(live_server + "sparql", returnFormat=return_format)
            client.setQuery(query)
            converted = client.query().convert()
            if return_format == JSON:
                assert isinstance(converted, dict) and converted["boolean"] is answer
            else:
                text = converted.getElementsByTagName("boolean")[0].firstChild.nodeValue  # type: ignore[union-attr]
                assert text == str(answer).lower()


def test_sparqlwrapper_construct_and_describe(live_server: str, policy: UriPolicy) -> None:
    astana = URIRef(policy.entity("place", "astana"))
    construct = f"CONSTRUCT {{ <{astana}> ?p ?o }} WHERE {{ <{astana}> ?p ?o }}"
    for query in (construct, f"DESCRIBE <{astana}>"):
        for return_format in (RDFXML, TURTLE):
            client = SPARQLWrapper(live_server + "sparql", returnFormat=return_format)
            client.setQuery(query)
            converted = client.query().convert()
            graph = (
                converted
                if isinstance(converted, Graph)
                else Graph().parse(data=converted, format="turtle")  # type: ignore[arg-type]
            )
            assert (astana, URIRef("http://www.w3.org/2000/01/rdf-schema#label"), Literal("Astana", lang="en")) in graph  # fmt: skip


def test_rdflib_sparql_store(live_server: str, policy: UriPolicy) -> None:
    store = SPARQLStore(query_endpoint=live_server + "sparql")
    graph = Graph(store)
    try:
        rows = list(graph.query(labels_query(policy)))
        assert Literal("Astana", lang="en") in {row[0] for row in rows}  # type: ignore[index]
        assert graph.query("ASK { ?s ?p ?o }").askAnswer is True
        astana = URIRef(policy.entity("place", "astana"))
        constructed = graph.query(f"CONSTRUCT {{ <{astana}> ?p ?o }} WHERE {{ <{astana}> ?p ?o }}")
        assert constructed.graph is not None and len(constructed.graph) > 3
    finally:
        store.close()


# ----------------------------------------------------------------- protocol shapes


def test_three_request_shapes_agree(live_server: str, policy: UriPolicy) -> None:
    query = labels_query(policy)
    answers = [
        get(live_server, {"query": query}),
        post(live_server, urlencode({"query": query}).encode(), FORM),
        post(live_server, query.encode(), DIRECT),
        post(live_server, query.encode(), f"{DIRECT}; charset=utf-8"),
    ]
    bodies = {reply.body for reply in answers}
    assert len(bodies) == 1 and all(r.status == 200 for r in answers)
    assert all(
        r.header("content-type").startswith("application/sparql-results+json") for r in answers
    )


@pytest.mark.parametrize("key", [f.key for f in formats_for(Kind.RESULTS)])
def test_select_and_ask_in_every_results_format(live_server: str, key: str) -> None:
    fmt = by_key(key)
    select = "SELECT ?x ?y WHERE { VALUES (?x ?y) { (1 'a,\"b\"') (2 'tab\there') (3 UNDEF) } }"
    reply = get(live_server, {"query": select}, fmt.media_type)
    assert reply.header("content-type") == fmt.content_type
    rows = list(results(reply, key))
    assert len(rows) == 3
    reply = get(live_server, {"query": "ASK { ?s ?p ?o }", "format": key})
    assert reply.status == 200 and reply.header("content-type") == fmt.content_type
    if key in ("srj", "srx"):  # rdflib reads booleans only from these two
        assert results(reply, key).askAnswer is True
    else:
        assert b"true" in reply.body


@pytest.mark.parametrize("key", [f.key for f in formats_for(Kind.GRAPH)])
def test_construct_and_describe_in_every_graph_format(
    live_server: str, policy: UriPolicy, key: str
) -> None:
    fmt = by_key(key)
    astana = policy.entity("place", "astana")
    for query in (f"CONSTRUCT WHERE {{ <{astana}> ?p ?o }}", f"DESCRIBE <{astana}>"):
        reply = get(live_server, {"query": query}, fmt.media_type)
        assert reply.status == 200 and reply.header("content-type") == fmt.content_type
        graph = Graph().parse(data=reply.body, format=GRAPH_PARSER[key])
        assert (URIRef(astana), None, None) in graph


def test_dataset_parameters(live_server: str, policy: UriPolicy, release: Release) -> None:
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"

    def counted(reply: Reply) -> int:
        return int(str(next(iter(results(reply)))[0]))  # type: ignore[index]

    everything = counted(get(live_server, {"query": count}))
    assert everything == release.manifest["triples"]
    in_sources = counted(
        get(live_server, [("query", count), ("default-graph-uri", policy.sources_graph)])
    )
    assert 0 < in_sources < everything
    two = [
        ("default-graph-uri", policy.sources_graph),
        ("default-graph-uri", policy.ontology_graph),
    ]
    assert counted(get(live_server, [("query", count), *two])) > in_sources
    graphs = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    named = [policy.sources_graph, policy.ontology_graph]
    for reply in (
        get(live_server, [("query", graphs)] + [("named-graph-uri", g) for g in named]),
        post(
            live_server,
            urlencode([("query", graphs)] + [("named-graph-uri", g) for g in named]).encode(),
            FORM,
        ),
        post(
            live_server,
            graphs.encode(),
            DIRECT,
            query=urlencode([("named-graph-uri", g) for g in named]),
        ),
    ):
        assert {str(row[0]) for row in results(reply)} == set(named)  # type: ignore[index]


def test_truncated_results_say_so(settings: Settings, release: Release) -> None:
    app = create_app(dataclasses.replace(settings, max_rows=5))
    app.config["TESTING"] = True
    client = app.test_client()
    for key in ("srj", "srx", "csv", "tsv"):
        reply = client.get(
            "/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }", "format": key}
        )
        assert reply.headers["X-SPARQL-Truncated"] == "true"
        assert reply.headers["X-SPARQL-MaxRows"] == "5"
        assert len(Result.parse(io.BytesIO(reply.data), format=RESULTS_PARSER[key])) == 5
    reply = client.get(
        "/sparql", query_string={"query": "CONSTRUCT WHERE { ?s ?p ?o }", "format": "nt"}
    )
    assert reply.headers["X-SPARQL-Truncated"] == "true"
    assert len(Graph().parse(data=reply.data, format="nt")) == 5
    reply = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 5"})
    assert "X-SPARQL-Truncated" not in reply.headers


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "says"),
    [
        ("GET", "?query=SELECT%20*%20WHERE%20%7B%20%3Fs%20%3Fp%20%7D", {}, None, 400, "line 1, column"),
        ("GET", "?query=SELECT%20*%20WHERE%20%7B%7D&query=ASK%20%7B%7D", {}, None, 400, "2 times"),
        ("POST", "?query=ASK%20%7B%7D", {"Content-Type": DIRECT}, b"ASK {}", 400, "both in the URL and in the body"),
        ("POST", "", {"Content-Type": "text/plain"}, b"ASK {}", 415, "application/sparql-query"),
        ("POST", "", {}, b"ASK {}", 415, "Content-Type"),
        ("POST", "", {"Content-Type": DIRECT}, b"ASK { ?s ?p '\xe9' }", 400, "UTF-8"),
        ("GET", "?query=ASK%20%7B%22%FF%22%7D", {}, None, 400, "UTF-8"),
        ("POST", "", {"Content-Type": "application/sparql-update"}, b"DROP ALL", 403, "read-only"),
        ("POST", "", {"Content-Type": FORM}, b"update=DROP%20ALL", 403, "read-only"),
        ("GET", "?query=" + quote("INSERT DATA { <urn:a> <urn:b> <urn:c> }"), {}, None, 403, "INSERT"),
        ("GET", "?query=" + quote("LOAD <http://127.0.0.1:9/x.ttl>"), {}, None, 403, "LOAD"),
        ("GET", "?query=ASK%20%7B%7D", {"Accept": "text/turtle"}, None, 406, "application/sparql-results+xml"),
        ("GET", "?query=" + quote("CONSTRUCT WHERE { ?s ?p ?o }"), {"Accept": "text/csv"}, None, 406, "text/turtle"),
        ("GET", "?query=ASK%20%7B%7D&format=ttl", {}, None, 406, "format="),
        ("PUT", "", {"Content-Type": DIRECT}, b"ASK {}", 405, "GET or POST"),
        ("DELETE", "", {}, None, 405, "GET or POST"),
    ],
)  # fmt: skip
def test_errors_are_plain_text_with_the_right_status(
    live_server: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
    says: str,
) -> None:
    reply = fetch(f"{live_server}sparql{path}", {"Accept": "*/*", **headers}, method, body)
    assert reply.status == status, reply.body
    assert reply.header("content-type") == "text/plain; charset=utf-8"
    text = reply.body.decode()
    assert says in text
    assert "Traceback" not in text and "<html" not in text.lower()
    assert reply.header("access-control-allow-origin") == "*"
    if status == 405:
        assert reply.header("allow") == "GET, HEAD, POST, OPTIONS"


def test_body_over_the_limit_is_413(live_server: str) -> None:
    body = b"ASK {}" + b" " * (1024 * 1024)
    reply = post(live_server, body, DIRECT)
    assert reply.status == 413
    assert b"1048576 bytes" in reply.body


def test_head_answers_the_headers_of_get(live_server: str, policy: UriPolicy) -> None:
    url = f"{live_server}sparql?{urlencode({'query': labels_query(policy)})}"
    accept = {"Accept": "text/csv"}
    got, head = fetch(url, accept), fetch(url, accept, "HEAD")
    assert got.status == head.status == 200
    assert head.body == b"" and got.body.startswith(b"label\r\n")
    for name in ("content-type", "content-length", "vary", "access-control-allow-origin"):
        assert head.header(name) == got.header(name), name


def test_a_chunked_post_is_read_to_its_end(live_server: str, policy: UriPolicy) -> None:
    """No Content-Length: the body arrives in chunks (RFC 9112 7.1), the query whole."""
    query = labels_query(policy).encode()
    parts = urlsplit(live_server)
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=30)
    try:
        headers = {"Content-Type": DIRECT, "Accept": "text/csv"}
        chunks = iter([query[:20], query[20:]])
        connection.request("POST", "/sparql", chunks, headers, encode_chunked=True)
        reply = connection.getresponse()
        body = reply.read()
    finally:
        connection.close()
    assert reply.status == 200, body
    assert body.startswith(b"label\r\n") and body.count(b"\r\n") > 1


def test_syntax_error_names_the_position(live_server: str) -> None:
    reply = post(live_server, b"SELECT * WHERE {\n  ?s ?p ?o .\n  FILTER(?o = ) }", DIRECT)
    assert reply.status == 400
    assert re.search(rb"SPARQL syntax error at line 3, column \d+: expected", reply.body)


def test_service_makes_no_connection(live_server: str, listener: tuple[int, list[bytes]]) -> None:
    port, received = listener
    for query in (
        f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE SILENT <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}",
        f"PREFIX ex: <http://127.0.0.1:{port}/> SELECT * WHERE {{ SERVICEex:x {{ ?s ?p ?o }} }}",
        f"ASK {{ BIND(<http://127.0.0.1:{port}/> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
    ):
        reply = get(live_server, {"query": query})
        assert reply.status == 400, reply.body
        assert b"SERVICE" in reply.body and b"sparql11-federated-query" in reply.body
    # FROM and FROM NAMED name graphs of the store: nothing is fetched, nor read from files
    for query in (
        f"SELECT * FROM <http://127.0.0.1:{port}/data.ttl> WHERE {{ ?s ?p ?o }}",
        f"SELECT * FROM NAMED <http://127.0.0.1:{port}/g> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
        "SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }",
    ):
        reply = get(live_server, {"query": query})
        assert reply.status == 200 and len(results(reply)) == 0
    time.sleep(0.5)
    assert received == [], "the server connected to the loopback listener"


# ----------------------------------------------------------------- CORS


def test_cors_on_answers_and_preflight(live_server: str) -> None:
    reply = get(live_server, {"query": "ASK {}"})
    assert reply.header("access-control-allow-origin") == "*"
    reply = fetch(
        f"{live_server}sparql",
        {
            "Origin": "http://elsewhere.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, accept",
        },
        "OPTIONS",
    )
    assert reply.status == 204
    assert reply.header("access-control-allow-origin") == "*"
    assert "POST" in reply.header("access-control-allow-methods")
    assert "content-type" in reply.header("access-control-allow-headers").lower()
    assert "X-SPARQL-Truncated" in get(live_server, {"query": "ASK {}"}).header(
        "access-control-expose-headers"
    )


# ----------------------------------------------------------------- the editor and examples


class _Resources(HTMLParser):
    """Every resource a page loads (scripts, stylesheets, images) and every link."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img", "iframe") and values.get("src"):
            self.loaded.append(values["src"] or "")
        if tag == "link" and values.get("rel") == "stylesheet":
            self.loaded.append(values.get("href") or "")
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")


def test_browsers_get_the_editor(client: FlaskClient, policy: UriPolicy) -> None:
    reply = client.get("/sparql", headers={"Accept": "text/html"})
    assert reply.status_code == 200 and reply.content_type == "text/html; charset=utf-8"
    page = reply.get_data(as_text=True)
    parser = _Resources()
    parser.feed(page)
    assert "/-/static/yasgui/yasgui.min.js" in parser.loaded
    assert "/-/static/yasgui/yasgui.min.css" in parser.loaded
    for url in parser.loaded:  # everything from our own server: no CDN, no fonts
        assert not urlsplit(url).netloc, url
        with client.get(url) as served:
            assert served.status_code == 200, url
    examples = [link for link in parser.links if link.startswith("/sparql?query=")]
    assert len(examples) >= 12
    assert f'"com": "{policy.ontology}"' in page  # our prefixes, for the editor
    assert "30 s" in page and "10,000" in page and "SERVICE" in page  # the limits
    reply = client.get(examples[0], headers={"Accept": "text/html"})
    assert reply.status_code == 200 and b"yasgui" in reply.data  # a shared link opens the editor


def test_vendored_yasgui_is_pinned_and_has_no_remote_fetches() -> None:
    folder = Path(__file__).parents[1] / "src/lod_publisher/web/static/yasgui"
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "@zazuko/yasgui@4.6.2" in readme
    assert (folder / "LICENSE").is_file()
    script = (folder / "yasgui.min.js").read_text(encoding="utf-8")
    assert len(script) > 500_000
    assert (
        "fonts.googleapis" not in script
        and "fonts.googleapis" not in (folder / "yasgui.min.css").read_text()
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.slug)
def test_examples_are_competency_questions_that_answer(
    example: object, client: FlaskClient, policy: UriPolicy
) -> None:
    from lod_publisher.web.sparql_examples import Example

    assert isinstance(example, Example)
    source = COMPETENCY / f"{example.slug}.rq"
    if source.is_file():
        lines = source.read_text(encoding="utf-8").splitlines()
        assert lines[0] == f"# Question: {example.question}"
        body = "\n".join(line for line in lines if not line.startswith("#")).strip("\n")
        assert example.query.strip("\n") == body
    reply = client.get(example.link("/sparql", policy.base), headers={"Accept": "*/*"})
    assert reply.status_code == 200, reply.data
    if reply.content_type.startswith("application/sparql-results+json"):
        answer = Result.parse(io.BytesIO(reply.data), format="json")
        assert answer.type == "ASK" or len(answer) > 0
    else:
        assert len(Graph().parse(data=reply.data, format="turtle")) > 0


def test_at_least_twelve_examples_come_from_competency_questions() -> None:
    drawn = [e for e in EXAMPLES if (COMPETENCY / f"{e.slug}.rq").is_file()]
    assert len(drawn) >= 12


# ----------------------------------------------------------------- the result cache


def counted_app(
    settings: Settings, delay: float = 0.0, **changes: object
) -> tuple[FlaskClient, list[str]]:
    """A client of a new app (empty caches) and the list of queries its backend ran,
    each taking at least ``delay`` seconds."""
    app = create_app(dataclasses.replace(settings, **changes))
    backend = endpoint_of(app).backend()
    ran: list[str] = []
    execute = backend.execute

    def counting(query: str, *args: object, **kwargs: object) -> object:
        ran.append(query)
        time.sleep(delay)
        return execute(query, *args, **kwargs)  # type: ignore[arg-type]

    backend.execute = counting  # type: ignore[method-assign]
    return app.test_client(), ran


def test_the_same_request_is_answered_again_without_running_the_query(
    settings: Settings, policy: UriPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    client, ran = counted_app(settings)
    query = labels_query(policy)
    with caplog.at_level(logging.INFO, logger="lod_publisher.web.sparql"):
        first = client.get("/sparql", query_string={"query": query})
        again = client.get("/sparql", query_string={"query": query})
        head = client.head("/sparql", query_string={"query": query})
    assert first.status_code == 200 and b"Astana" in first.data
    assert (again.data, again.headers) == (first.data, first.headers)
    assert head.data == b"" and head.headers == first.headers
    assert ran == [query]
    lines = [r.getMessage() for r in caplog.records if r.name == "lod_publisher.web.sparql"]
    assert [re.search(r"cached=(\w+)", line)[1] for line in lines] == ["no", "yes", "yes"]  # type: ignore[index]
    # The same rows, bytes, form, format and hash in each line.
    assert len({re.sub(r"ms=\S+|cached=\w+", "", line) for line in lines}) == 1


def test_each_request_shape_and_format_is_kept_apart(settings: Settings, policy: UriPolicy) -> None:
    client, ran = counted_app(settings)
    query = labels_query(policy)
    requests = [
        lambda: client.get("/sparql", query_string={"query": query}),
        lambda: client.get(
            "/sparql", query_string={"query": query}, headers={"Accept": "text/csv"}
        ),
        lambda: client.post("/sparql", data={"query": query}),
        lambda: client.post("/sparql", data=query, content_type=DIRECT),
        lambda: client.get("/sparql", query_string={"query": query + " "}),
    ]
    answers = [send() for send in requests * 2]
    assert len(ran) == len(requests)
    for first, again in zip(answers[: len(requests)], answers[len(requests) :], strict=True):
        assert first.status_code == again.status_code == 200
        assert (first.data, first.content_type) == (again.data, again.content_type)
    assert answers[1].content_type.startswith("text/csv")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT (NOW() AS ?t) {}",
        "SELECT (rand ( ) AS ?r) {}",
        "SELECT (STRUUID() AS ?u) {}",
        "SELECT (BNODE() AS ?b) {}",
        "SELECT (UUID() AS ?u) {}",
        "SELECT (\\u004EOW() AS ?t) {}",
        "PREFIX f: <http://example.org/f#> SELECT (f:g#c\n(1) AS ?x) {}",
        "SELECT ?s { ?s ?p ?o } LIMIT 100",  # cut at max_rows
        "SELECT * {",  # an error
    ],
    ids=["now", "rand", "struuid", "bnode", "uuid", "escape", "function", "truncated", "error"],
)
def test_answers_that_may_change_are_never_kept(settings: Settings, query: str) -> None:
    client, ran = counted_app(settings, max_rows=5)
    for _ in range(2):
        client.get("/sparql", query_string={"query": query})
    assert ran == [query, query]


@pytest.mark.parametrize(
    "query",
    [
        'SELECT ?s { ?s rdfs:label "Unknown soldier (1941)"@en }',
        'SELECT ?e { ?e com:date ?d FILTER(?d >= "2020-01-01"^^xsd:date && ?d < "2026-01-01"^^xsd:date) }',
        "SELECT ?c (COUNT(?s) AS ?n) { ?s a ?c } GROUP BY ?c ORDER BY DESC(?n)",
        "SELECT ?now ?rand { ?now ?uuid ?rand }",
        *(e.query for e in EXAMPLES),
        *(path.read_text() for path in sorted(BENCH_QUERIES.glob("*.rq"))),
    ],
)
def test_queries_that_depend_only_on_the_data_are_repeatable(query: str) -> None:
    assert repeatable(query)


@pytest.mark.parametrize(
    ("query", "runs"),
    [
        ("SELECT ?n { VALUES ?n { 1 2 } }", 1),  # the first runs it, the others get its answer
        ("SELECT (STRUUID() AS ?u) {}", 4),  # each its own
        ("SELECT * {", 4),  # an error is not kept: the others run it too
    ],
    ids=["repeatable", "unrepeatable", "error"],
)
def test_identical_requests_at_once_run_the_query_once(
    settings: Settings, query: str, runs: int
) -> None:
    client, ran = counted_app(settings, delay=0.3)
    app = client.application
    replies: list[tuple[int, bytes]] = []

    def ask() -> None:
        reply = app.test_client().get("/sparql", query_string={"query": query})
        replies.append((reply.status_code, reply.data))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(replies) == 4 and len(ran) == runs
    if runs == 1:
        assert len(set(replies)) == 1 and replies[0][0] == 200
    else:
        assert len({status for status, _ in replies}) == 1


def test_a_zero_result_cache_keeps_nothing(settings: Settings, policy: UriPolicy) -> None:
    client, ran = counted_app(settings, result_cache_mb=0)
    query = labels_query(policy)
    for _ in range(2):
        assert client.get("/sparql", query_string={"query": query}).status_code == 200
    assert ran == [query, query]


def test_answers_are_kept_within_the_cache_size(settings: Settings) -> None:
    """An answer above an eighth of result_cache_mb is run each time; smaller ones are kept."""
    client, ran = counted_app(settings, result_cache_mb=0.001)  # 1,048 bytes: 131 an answer
    small = "ASK {}"
    large = "SELECT ?n { VALUES ?n { 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 } }"
    for _ in range(2):
        assert client.get("/sparql", query_string={"query": small}).status_code == 200
        assert client.get("/sparql", query_string={"query": large}).status_code == 200
    assert ran == [small, large, large]


# ----------------------------------------------------------------- the query log


def test_one_log_line_per_query(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    query = "SELECT ?x WHERE { VALUES ?x { 1 2 3 } }"
    with caplog.at_level(logging.INFO, logger="lod_publisher.web.sparql"):
        client.get("/sparql", query_string={"query": query})
        client.get("/sparql", query_string={"query": "SELECT * {"})
    lines = [r.getMessage() for r in caplog.records if r.name == "lod_publisher.web.sparql"]
    assert len(lines) == 2
    assert re.fullmatch(
        rf"sparql status=200 ms=\d+\.\d rows=3 bytes=\d+ truncated=no form=SELECT format=srj cached=no query={query_hash(query)}",
        lines[0],
    )
    assert lines[1].startswith("sparql status=400 ")
    assert query not in "".join(lines)  # the hash, never the text


def test_head_and_the_service_description_by_accept(client: FlaskClient) -> None:
    reply = client.head("/sparql", query_string={"query": "ASK {}"})
    assert reply.status_code == 200 and reply.data == b""
    reply = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert reply.content_type == "text/turtle; charset=utf-8" and b"sd:Service" in reply.data
    assert "Accept" in reply.headers["Vary"]


def test_a_fresh_app_serves_queries(settings: Settings, release: Release, app: Flask) -> None:
    """Every app gets its own endpoint state (no module globals)."""
    other = create_app(settings)
    assert other.extensions["lod.sparql"] is not app.extensions["lod.sparql"]
    assert other.test_client().get("/sparql?query=ASK%20%7B%7D").status_code == 200


def test_a_request_dataset_is_the_whole_dataset(live_server: str, policy: UriPolicy) -> None:
    """Protocol 2.1.4: naming only default graphs leaves no named graphs, and the reverse."""
    any_graph = "ASK { GRAPH ?g { ?s ?p ?o } }"
    default_only = get(
        live_server, [("query", any_graph), ("default-graph-uri", policy.sources_graph)]
    )
    assert results(default_only).askAnswer is False
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    named_only = get(live_server, [("query", count), ("named-graph-uri", policy.sources_graph)])
    assert int(str(next(iter(results(named_only)))[0])) == 0  # type: ignore[index]
