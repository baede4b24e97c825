"""How the remote backend states the published dataset: pure functions, tables of cases."""

from __future__ import annotations

import pytest

from lod_publisher.store.remote import NO_GRAPH, restrict_graphs, uses_graph

BASE = "http://a/"
HIDDEN = ("http://a/graph/merged", "http://a/graph/manifest")
KEEP = 'FILTER(STRSTARTS(STR(?g), "http://a/") && ?g NOT IN (<http://a/graph/merged>, <http://a/graph/manifest>))'  # fmt: skip


@pytest.mark.parametrize(
    ("query", "answer"),
    [
        ("SELECT * { GRAPH ?g { ?s ?p ?o } }", True),
        ("select * { graph <http://a/g> { ?s ?p ?o } }", True),
        ("SELECT * { ?s ?p ?o }", False),
        ('SELECT * { ?s ?p "GRAPH ?g {}" }', False),
        ("SELECT * { ?s ?p ?o } # GRAPH ?g", False),
        ("SELECT ?graph { ?s <http://a/GRAPH> ?graph }", False),
        ("PREFIX ex: <http://a/> SELECT * { ?s ex:GRAPH ?o }", False),
    ],
)
def test_uses_graph(query: str, answer: bool) -> None:
    assert uses_graph(query) is answer


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "SELECT * { GRAPH ?g { ?s ?p ?o } }",
            f"SELECT * {{ GRAPH ?g {{ ?s ?p ?o }} {KEEP} }}",
        ),
        (  # inside OPTIONAL and a subquery: the filter stays in the pattern's own group
            "SELECT * { ?x ?y ?z OPTIONAL { GRAPH $g { ?s ?p '{' } } }",
            f"SELECT * {{ ?x ?y ?z OPTIONAL {{ GRAPH $g {{ ?s ?p '{{' }} {KEEP} }} }}",
        ),
        (
            "ASK { GRAPH ?g { GRAPH ?h { } } }",
            "ASK { GRAPH ?g { GRAPH ?h { } " + KEEP.replace("?g", "?h") + " } " + KEEP + " }",
        ),
        (
            "ASK { GRAPH <http://a/graph/merged> { ?s ?p ?o } }",
            f"ASK {{ GRAPH `<{NO_GRAPH}>` {{ ?s ?p ?o }} }}",
        ),
        (
            "PREFIX ex: <http://a/> ASK { GRAPH ex:g1 { ?s ?p ?o } GRAPH <http://a/g2> {} }",
            "PREFIX ex: <http://a/> ASK { GRAPH `ex:g1` { ?s ?p ?o } GRAPH `<http://a/g2>` {} }",
        ),
        ("SELECT * { ?s ?p 'GRAPH ?g { }' }", "SELECT * { ?s ?p 'GRAPH ?g { }' }"),
        ("SELECT * { GRAPH ?g { ?s ?p ?o", "SELECT * { GRAPH ?g { ?s ?p ?o"),  # unclosed
    ],
)
def test_restrict_graphs(query: str, expected: str) -> None:
    assert restrict_graphs(query, BASE, HIDDEN) == expected
