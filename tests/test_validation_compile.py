"""SHACL Core compiled to SPARQL (validation_compile.py): which focus nodes may violate a shape.

A table of tiny shapes and data: the candidates must be exactly the nodes pySHACL reports
(checked against pySHACL itself, and the batched validator must then give pySHACL's
findings); constructs the compiler does not know make every target a candidate.
"""

from __future__ import annotations

import re

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef

from lod_publisher import queries
from lod_publisher.store.embedded import EmbeddedBackend, write_store
from lod_publisher.uris import UriPolicy
from lod_publisher.validation import SH, validate
from lod_publisher.validation_compile import (
    LEXICAL,
    _well_typed,
    compile_problems,
    compiled_candidates,
)
from lod_publisher.validation_scale import batching_problems, validate_batched

BASE = "http://127.0.0.1:8080/"
PREFIXES = f"""
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix : <{BASE}> .
"""
ONTOLOGY = ":Memorial rdfs:subClassOf :Place ."

# (name, shape body for the targets :ok and :bad, data: :ok conforms and :bad violates)
CASES = [
    ("minCount", "sh:property [ sh:path :p ; sh:minCount 1 ]", ":ok :p 1 . :bad :q 1 ."),
    ("maxCount", "sh:property [ sh:path :p ; sh:maxCount 1 ]", ":ok :p 1 . :bad :p 1, 2 ."),
    ("maxCount 0", "sh:property [ sh:path :p ; sh:maxCount 0 ]", ":ok :q 1 . :bad :p 1 ."),
    (
        "datatype",
        "sh:property [ sh:path :p ; sh:datatype xsd:integer ]",
        ':ok :p 1 . :bad :p "1" .',
    ),
    (
        "ill-typed literal",
        "sh:property [ sh:path :p ; sh:datatype xsd:integer ]",
        ':ok :p 1 . :bad :p "one"^^xsd:integer .',
    ),
    (
        "class with subclasses",
        "sh:property [ sh:path :p ; sh:class :Place ]",
        ":ok :p :m . :m a :Memorial . :bad :p :x . :x a :Person .",
    ),
    (
        "inverse path",
        "sh:property [ sh:path [ sh:inversePath :p ] ; sh:minCount 1 ]",
        ":x :p :ok . :bad :p :x .",
    ),
    ("in", "sh:property [ sh:path :p ; sh:in ( :a :b ) ]", ":ok :p :a . :bad :p :c ."),
    ("hasValue", "sh:property [ sh:path :p ; sh:hasValue :a ]", ":ok :p :a . :bad :p :b ."),
    (
        "or of datatypes",
        "sh:property [ sh:path :p ; sh:or ( [ sh:datatype xsd:date ] [ sh:datatype xsd:gYear ] ) ]",
        ':ok :p "2020"^^xsd:gYear . :bad :p "2020" .',
    ),
    (
        "not with hasValue",
        "sh:or ( [ sh:not [ sh:path :unit ; sh:hasValue :Count ] ] "
        "[ sh:path :p ; sh:datatype xsd:integer ] )",
        ":ok :unit :Count ; :p 1 . :bad :unit :Count ; :p 1.5 .",
    ),
    (
        "qualified value shape",
        "sh:property [ sh:path :p ; sh:qualifiedValueShape [ sh:class :Memorial ] ; "
        "sh:qualifiedMinCount 1 ]",
        ":ok :p :m . :m a :Memorial . :bad :p :x . :x a :Place .",
    ),
    (
        "node (its results come with details about the value)",
        "sh:property [ sh:path :p ; sh:node [ sh:property [ sh:path rdf:type ; sh:minCount 1 ] ] ]",
        ":ok :p :y . :y a :Place . :bad :p :x . :x :r 1 .",
    ),
    (
        "range",
        "sh:property [ sh:path :p ; sh:minInclusive 0 ; sh:maxInclusive 1 ]",
        ":ok :p 0.5 . :bad :p 2 .",
    ),
    (
        "pattern and length",
        'sh:property [ sh:path :p ; sh:pattern "^Q[0-9]+$" ; sh:minLength 2 ]',
        ':ok :p "Q12" . :bad :p "Q" .',
    ),
    (
        "language",
        'sh:property [ sh:path :p ; sh:languageIn ( "en" ) ; sh:uniqueLang true ]',
        ':ok :p "a"@en . :bad :p "a"@en, "b"@en .',
    ),
    ("nodeKind", "sh:property [ sh:path :p ; sh:nodeKind sh:IRI ]", ':ok :p :a . :bad :p "a" .'),
]


def _store(data: str, shapes: str) -> tuple[ox.Store, Graph, Graph, Graph]:
    """The store, and its data, ontology and shapes graphs as the build reads them."""
    policy = UriPolicy(BASE)
    trig = PREFIXES + "".join(
        f"<{graph}> {{ {text} }}\n"
        for graph, text in (
            (BASE + "graph/data", data),
            (policy.ontology_graph, ONTOLOGY),
            (policy.shapes_graph, shapes),
        )
    )
    store = write_store(None, ox.parse(trig.encode(), format=ox.RdfFormat.TRIG))
    backend = EmbeddedBackend(store)
    return (
        store,
        backend.construct(queries.data_graph_triples(policy)),
        backend.construct(queries.graph_triples(policy.ontology_graph)),
        backend.construct(queries.graph_triples(policy.shapes_graph)),
    )


@pytest.mark.parametrize(("body", "data"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_candidates_are_the_nodes_pyshacl_reports(body: str, data: str) -> None:
    shapes_text = f":ThingShape a sh:NodeShape ; sh:targetNode :ok, :bad ; {body} ."
    store, data_graph, ontology, shapes = _store(data, shapes_text)
    policy = UriPolicy(BASE)
    candidates, unsupported = compiled_candidates(store, policy, shapes)
    whole = validate(data_graph, shapes, ontology)
    reported = {
        str(whole.graph.value(r, SH.focusNode)) for r in whole.graph.objects(None, SH.result)
    }
    assert unsupported == set()
    assert reported == {BASE + "bad"}
    assert set(candidates) == {BASE + "bad"}
    if batching_problems(store, policy, shapes):  # sh:node reading more than types
        return
    batched = validate_batched(store, policy, shapes, ontology)
    assert sorted(map(repr, batched.findings)) == sorted(map(repr, whole.findings))


def test_an_unknown_construct_makes_every_target_a_candidate() -> None:
    shapes_text = (
        ":ThingShape a sh:NodeShape ; sh:targetSubjectsOf :p ; "
        "sh:xone ( [ sh:path :p ; sh:minCount 1 ] [ sh:path :q ; sh:minCount 1 ] ) ."
    )
    store, _, _, shapes = _store(":a :p 1 . :b :p 2 ; :q 3 .", shapes_text)
    candidates, unsupported = compiled_candidates(store, UriPolicy(BASE), shapes)
    assert set(candidates) == {BASE + "a", BASE + "b"}
    assert any("xone" in reason for reason in unsupported)


def test_data_described_in_the_shapes_graph_is_refused() -> None:
    store, _, _, _ = _store(":a :p 1 .", ":a rdfs:label 'not a shape' .")
    assert compile_problems(store, UriPolicy(BASE)) != []


SAMPLES = {
    "integer": ["0", "-12", "+5", "007", "123456789012345678901234567890"],
    "decimal": ["1.5", "-0.25", "3", "+10.000"],
    "boolean": ["true", "false", "1", "0"],
    "dateTime": ["2020-01-01T00:00:00", "2020-12-31T23:59:59.5Z", "1999-06-30T12:30:00.123456"],
    "time": ["23:59:59", "00:00:00.123456Z"],
}


@pytest.mark.parametrize("datatype", sorted(LEXICAL), ids=lambda d: str(d).rsplit("#", 1)[-1])
def test_a_lexical_form_the_queries_accept_is_one_pyshacl_accepts(datatype: URIRef) -> None:
    """What passes LEXICAL is never a literal pySHACL reports (ill-typed or wrong type)."""
    name = str(datatype).rsplit("#", 1)[-1]
    samples = list(SAMPLES.get(name, []))
    if name == "date":  # every day of a common and a leap year, and impossible ones
        samples = [
            f"{year}-{month:02}-{day:02}"
            for year in (2021, 2024, 1900)
            for month in range(1, 13)
            for day in range(1, 32)
        ]
    accepted = [s for s in samples if re.search(LEXICAL[datatype], s)]
    assert accepted
    for lexical in accepted:
        assert _well_typed(Literal(lexical, datatype=datatype), datatype), lexical
    assert not re.search(LEXICAL[datatype], "x")
