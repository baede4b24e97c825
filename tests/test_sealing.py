"""SERVICE clauses and updates are found in the query text, however they are written.

Besides the table, every query of the corpus is checked against the engine itself: a query
the check lets through is run by pyoxigraph with a listener on a loopback port named in
it, and no connection may arrive.
"""

from __future__ import annotations

import contextlib
import time

import pyoxigraph as ox
import pytest

from lod_publisher.sealing import QueryRefusedError, check, service_calls, update_keyword

ALLOWED = "http://127.0.0.1:9/sparql"


@pytest.mark.parametrize(
    ("query", "targets"),
    [
        ("SELECT * WHERE { SERVICE <http://a.example/sparql> { ?s ?p ?o } }", ["http://a.example/sparql"]),
        ("SELECT * WHERE { service silent <http://a.example/> { } }", ["http://a.example/"]),
        ("SELECT * WHERE { SERVICE ?endpoint { ?s ?p ?o } }", [None]),
        ("SELECT * WHERE { SERVICE\t# a comment\n <http://a.example/>\n# another\n{ } }", ["http://a.example/"]),
        ("SELECT * WHERE { ?s ?p ?o OPTIONAL{?s ?p ?o}SERVICE<http://a.example/>{ } }", ["http://a.example/"]),
        # the engine matches keywords as prefixes of words and prefixed names
        ("PREFIX ex: <http://a.example/> SELECT * { SERVICEex:x { } }", ["http://a.example/x"]),
        ("PREFIX : <http://a.example/> SELECT * { service:foo { } }", ["http://a.example/foo"]),
        ("SELECT * { SERVICESILENT<http://a.example/> { } }", ["http://a.example/"]),
        ("PREFIX wd: <http://a.example/> SELECT * { SERVICE wd:sparql { } }", ["http://a.example/sparql"]),
        ("PREFIX ex: <http://a.example/> SELECT * { SERVICE ex:a\\#b { } }", ["http://a.example/a#b"]),
        ("SELECT * { SERVICE undeclared:x { } }", [None]),
        ("BASE <http://a.example/> SELECT * { SERVICE <sparql> { } }", [None]),  # relative: refused
        ("ASK { FILTER EXISTS { SERVICE <http://a.example/> { } } }", ["http://a.example/"]),
        ("SELECT * { { SELECT * { SERVICE <http://a.example/> { } } } }", ["http://a.example/"]),
        # \u escapes (SPARQL 1.1 Query section 19.2) are read both ways
        ("SELECT * { \\u0053ERVICE <http://a.example/> { } }", ["http://a.example/"]),
        # not calls: strings, comments, IRIs, variables, names, language tags
        ('SELECT * { ?s ?p "SERVICE <http://a.example/> { }" }', []),
        ("SELECT * { ?s ?p '''\nSERVICE <http://a.example/> { }\n''' }", []),
        ("SELECT * { ?s ?p ?o } # SERVICE <http://a.example/> { }", []),
        ("SELECT * { ?s <http://a.example/SERVICE> ?o . ?x ?y ?z }", []),
        ("SELECT ?service { ?service a <http://a.example/Service> }", []),
        ("PREFIX schema: <http://schema.org/> SELECT * { ?s a schema:Service ; schema:serviceType ?t }", []),
        ('SELECT * { ?s ?p "x"@service }', []),
        ("SELECT * { ?s ?p ?o . ?s <http://a.example/has> ?service }", []),
        ("SELECT * { _:service ?p ?o }", []),
    ],
)  # fmt: skip
def test_service_calls(query: str, targets: list[str | None]) -> None:
    assert [call.target for call in service_calls(query)] == targets


@pytest.mark.parametrize(
    "query",
    [
        # "<" read as less-than while the check reads an IRI with a quote or a comment sign in it
        "SELECT * { ?s ?p ?o FILTER(?o<'x>') SERVICE <http://a.example/> { ?s ?p ?o } #' }",
        "SELECT * { ?s ?p ?o FILTER(?o<?s#>) '''\n SERVICE <http://a.example/> { ?s ?p ?o } \n''' }",
        # an escaped quote in a prefixed name is no string
        "PREFIX ex: <http://ex/> SELECT * { ?s ex:a\\'b ?o . SERVICE <http://a.example/> { } FILTER(?o = 'x') }",
    ],
)
def test_ambiguous_text_is_read_every_way(query: str) -> None:
    assert "http://a.example/" in [call.target for call in service_calls(query)]


def test_position_and_message() -> None:
    with pytest.raises(QueryRefusedError) as raised:
        check("SELECT * WHERE {\n  SERVICE <http://a.example/sparql> { ?s ?p ?o }\n}", frozenset())
    assert raised.value.status == 400
    message = str(raised.value)
    assert "<http://a.example/sparql>" in message and "line 2, column 3" in message
    assert "sparql11-federated-query" in message
    with pytest.raises(QueryRefusedError, match=r"SERVICE \?e .*absolute endpoint IRI"):
        check("SELECT * { SERVICE ?e { } }", frozenset({ALLOWED}))


def test_allowlist() -> None:
    check(f"SELECT * {{ SERVICE <{ALLOWED}> {{ ?s ?p ?o }} }}", frozenset({ALLOWED}))
    check(f"PREFIX e: <{ALLOWED[:-6]}> SELECT * {{ SERVICE e:sparql {{ }} }}", frozenset({ALLOWED}))
    with pytest.raises(QueryRefusedError, match=f"allowed endpoints: <{ALLOWED}>"):
        check("SELECT * { SERVICE <http://127.0.0.1:9/other> { } }", frozenset({ALLOWED}))
    with pytest.raises(QueryRefusedError):  # one allowed call does not let another through
        check(
            f"SELECT * {{ SERVICE <{ALLOWED}> {{ }} SERVICE <http://evil.example/> {{ }} }}",
            frozenset({ALLOWED}),
        )


@pytest.mark.parametrize(
    ("query", "keyword"),
    [
        ("INSERT DATA { <a:a> <a:b> <a:c> }", "INSERT"),
        ("PREFIX a: <a:> # comment\n delete where { ?s ?p ?o }", "DELETE"),
        ("LOAD <http://a.example/data.ttl>", "LOAD"),
        ("CLEAR ALL", "CLEAR"),
        ("DROP GRAPH <a:g>", "DROP"),
        ("CREATE GRAPH <a:g>", "CREATE"),
        ("WITH <a:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }", "WITH"),
        ("COPY <a:a> TO <a:b>", "COPY"),
        ("MOVE DEFAULT TO <a:b>", "MOVE"),
        ("ADD <a:a> TO <a:b>", "ADD"),
        ("SELECT * { ?s ?p ?o }", None),
        ("ASK {}", None),
        ("CONSTRUCT WHERE { ?s ?p ?o }", None),
        ('SELECT * { ?s ?p "INSERT DATA" }', None),
    ],
)
def test_updates_are_refused_with_403(query: str, keyword: str | None) -> None:
    assert update_keyword(query) == keyword
    if keyword is None:
        return
    with pytest.raises(QueryRefusedError) as raised:
        check(query, frozenset())
    assert raised.value.status == 403
    assert keyword in str(raised.value) and "read-only" in str(raised.value)


@pytest.mark.parametrize(
    "text",
    [
        "service x" + "#" * 40_000,
        ("service " + "a" * 1000 + " ") * 40,
        "service " + "<'#" * 15_000,
        "service " + "?a<?b#>\n" * 5_000,
        "service " + "\\'" * 20_000,
        "service" * 9_000,
        "service " + '"' + "a" * 50_000,
        "service " + "<" * 50_000,
        "service " + "'''" + "''a" * 10_000,
    ],
    ids=lambda t: repr(t[8:20]),
)
def test_crafted_text_is_checked_in_linear_time(text: str) -> None:
    started = time.monotonic()
    with contextlib.suppress(QueryRefusedError):
        check(text, frozenset())
    assert time.monotonic() - started < 2


# ----------------------------------------------------------------- against the engine

CORPUS = [
    "SELECT * WHERE { SERVICE <http://127.0.0.1:PORT/> { ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE SILENT <http://127.0.0.1:PORT/> { ?s ?p ?o } }",
    "SELECT * WHERE { sErViCe <http://127.0.0.1:PORT/> { ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE<http://127.0.0.1:PORT/>{ ?s ?p ?o } }",
    "SELECT * WHERE { SERVICESILENT<http://127.0.0.1:PORT/>{ ?s ?p ?o } }",
    "PREFIX ex: <http://127.0.0.1:PORT/> SELECT * WHERE { SERVICEex:x { ?s ?p ?o } }",
    "PREFIX : <http://127.0.0.1:PORT/> SELECT * WHERE { service:foo { ?s ?p ?o } }",
    "PREFIX s: <http://127.0.0.1:PORT/> SELECT * WHERE { SERVICE SILENTs:x { ?s ?p ?o } }",
    "BASE <http://127.0.0.1:PORT/> SELECT * WHERE { SERVICE <> { ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE\t#c\n<http://127.0.0.1:PORT/> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o OPTIONAL {?s ?p ?o}SERVICE<http://127.0.0.1:PORT/>{ ?s ?p ?o } }",
    "SELECT * WHERE { { SELECT * WHERE { SERVICE <http://127.0.0.1:PORT/> { ?s ?p ?o } } } }",
    "ASK { FILTER EXISTS { SERVICE <http://127.0.0.1:PORT/> { ?s ?p ?o } } }",
    "SELECT * WHERE { ?s ?p ?o FILTER(?o < 'x') SERVICE <http://127.0.0.1:PORT/> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o FILTER(?o<'x>') SERVICE <http://127.0.0.1:PORT/> { ?s ?p ?o } #' }",
    "SELECT * WHERE { ?s ?p ?o FILTER(?o<?s) SERVICE <http://127.0.0.1:PORT/> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p 'SERVICE <http://127.0.0.1:PORT/> { }' }",
    "SELECT * WHERE { ?s ?p ?o } # SERVICE <http://127.0.0.1:PORT/> { ?s ?p ?o }",
    "SELECT * WHERE { \\u0053ERVICE <http://127.0.0.1:PORT/> { ?s ?p ?o } }",
    'SELECT * WHERE { ?s ?p "\\u0022 SERVICE <http://127.0.0.1:PORT/> { ?s ?p ?o } " }',
    "CONSTRUCT { ?s ?p ?o } WHERE { SERVICE <http://127.0.0.1:PORT/> { ?s ?p ?o } }",
    "DESCRIBE ?s WHERE { SERVICE <http://127.0.0.1:PORT/> { ?s ?p ?o } }",
]


@pytest.mark.parametrize("template", CORPUS)
def test_whatever_passes_the_check_makes_no_connection(
    template: str, listener: tuple[int, list[bytes]]
) -> None:
    port, received = listener
    query = template.replace("PORT", str(port))
    try:
        check(query, frozenset())
    except QueryRefusedError:
        return  # refused unrun: the point
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode("http://a/s"), ox.NamedNode("http://a/p"), ox.Literal("o")))
    try:
        result = store.query(query)
        if not isinstance(result, ox.QueryBoolean):
            list(result)
    except (SyntaxError, OSError, RuntimeError, ValueError):
        pass
    time.sleep(0.1)
    assert received == [], f"the engine connected out for a query the check let through: {query}"


def test_the_engine_does_connect_for_service(listener: tuple[int, list[bytes]]) -> None:
    """The reason for all of the above: pyoxigraph opens a connection for SERVICE."""
    port, received = listener
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode("http://a/s"), ox.NamedNode("http://a/p"), ox.Literal("o")))
    with pytest.raises(OSError):
        list(store.query(f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}"))  # type: ignore[arg-type]
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert received and received[0].startswith(b"POST / HTTP/1.1")
