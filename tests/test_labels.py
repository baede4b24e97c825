"""Label priority with language fallback, value formatting, search normalisation."""

from __future__ import annotations

import pytest
from rdflib import RDFS, XSD, Graph, Literal, Namespace, URIRef

from lod_publisher.labels import (
    best_label,
    fallback_name,
    format_value,
    language_preferences,
    normalise_for_search,
)
from lod_publisher.search import SearchIndex

SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
THING = URIRef("http://example.org/id/place/astana")


def graph_with(*labels: tuple[URIRef, Literal]) -> Graph:
    graph = Graph()
    for prop, literal in labels:
        graph.add((THING, prop, literal))
    return graph


def test_property_priority_beats_language() -> None:
    graph = graph_with(
        (RDFS.label, Literal("Astana", lang="en")), (SKOS.prefLabel, Literal("Астана", lang="kk"))
    )
    assert str(best_label(graph, THING, ("en",))) == "Астана"


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("kk", "Астана"),
        ("ru, en;q=0.5", "Астана (ru)"),
        ("de", "Astana"),
        (None, "Astana"),
        ("en-GB", "Astana"),
        ("fr, kk;q=0.1", "Астана"),
    ],
)
def test_language_fallback(accept_language: str | None, expected: str) -> None:
    graph = graph_with(
        (RDFS.label, Literal("Astana", lang="en")),
        (RDFS.label, Literal("Астана", lang="kk")),
        (RDFS.label, Literal("Астана (ru)", lang="ru")),
    )
    assert str(best_label(graph, THING, language_preferences(accept_language))) == expected


def test_untagged_then_other_languages_then_iri() -> None:
    assert str(best_label(graph_with((RDFS.label, Literal("Plain"))), THING, ("en",))) == "Plain"
    assert (
        str(best_label(graph_with((RDFS.label, Literal("Nederlands", lang="nl"))), THING, ("en",)))
        == "Nederlands"
    )
    assert best_label(Graph(), THING, ("en",)) is None
    assert fallback_name(str(THING)) == "astana"
    assert fallback_name("http://example.org/ontology/") == "ontology"


@pytest.mark.parametrize(
    ("literal", "shown"),
    [
        (Literal("1954", datatype=XSD.gYear), "1954"),
        (Literal("2020-05-08", datatype=XSD.date), "8 May 2020"),
        (Literal("600000", datatype=XSD.integer), "600,000"),
        (Literal("11.2", datatype=XSD.decimal), "11.2"),
        (Literal("1200000.5", datatype=XSD.decimal), "1,200,000.5"),
        (Literal("not a date", datatype=XSD.date), "not a date"),
        (Literal("Batyrlarğa tağzym", lang="kk-Latn"), "Batyrlarğa tağzym"),
    ],
)
def test_format_value(literal: Literal, shown: str) -> None:
    assert format_value(literal) == shown


def test_search_ranks_exact_then_prefix_and_ignores_marks() -> None:
    index = SearchIndex(
        [
            ("http://x/1", "Victory Day parade in Astana", "en", 1),
            ("http://x/2", "Astana", "en", 1),
            ("http://x/3", "Астана", "kk", 4),
            ("http://x/4", "Astana Opera", "en", 1),
        ]
    )
    assert [h.iri for h in index.search("astana")] == ["http://x/2", "http://x/4", "http://x/1"]
    assert [h.iri for h in index.search("АСТАНА")] == ["http://x/3"]
    assert index.search("   ") == []
    assert index.display_label("http://x/3") == "Астана"
    assert normalise_for_search("Žezqazğan  Қала") == "zezqazgan қала"


def test_search_does_not_depend_on_the_order_labels_arrive_in() -> None:
    labels = [
        ("http://x/t", "Batyrlarğa tağzym", "kk-latn", 4),
        ("http://x/t", "Batyrlarǵa taǵzym", "kk-latn", 4),
    ]
    forward = SearchIndex(labels).search("batyrlarga")
    backward = SearchIndex(list(reversed(labels))).search("batyrlarga")
    assert forward == backward
