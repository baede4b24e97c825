"""The view model of an entity page: prepared values, so templates never query a graph."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from rdflib import RDF, BNode, Graph, Literal, URIRef
from rdflib.term import Node

from lod_publisher import queries
from lod_publisher.describe import WELL_KNOWN_LABELS, Description
from lod_publisher.formats import Format
from lod_publisher.labels import best_label, fallback_name, format_value
from lod_publisher.uris import SCHEMA, UriPolicy

_SAFE_SCHEMES = ("http://", "https://")


@dataclass(frozen=True)
class Link:
    """A resource as a page shows it: its label, and a URL only if it is safe to follow."""

    iri: str
    text: str
    href: str | None
    lang: str | None = None
    external: bool = False


@dataclass(frozen=True)
class Value:
    text: str
    link: Link | None = None
    lang: str | None = None
    datatype: str | None = None
    notes: tuple[int, ...] = ()  # numbers of the Sources that state it


@dataclass(frozen=True)
class PropertyGroup:
    property: Link
    values: tuple[Value, ...]


@dataclass(frozen=True)
class SourceNote:
    number: int
    excerpt: Link
    text: str
    article: Link
    article_url: str | None
    published: str | None


@dataclass(frozen=True)
class Alternate:
    format: Format
    url: str


@dataclass(frozen=True)
class IncomingNote:
    """A hub's page lists some of the statements pointing at it; this links to all."""

    listed: int
    total: int
    query_href: str


@dataclass(frozen=True)
class EntityView:
    iri: str
    title: str
    title_lang: str | None
    types: tuple[Link, ...]
    properties: tuple[PropertyGroup, ...]
    incoming: tuple[PropertyGroup, ...]
    incoming_note: IncomingNote | None
    sources: tuple[SourceNote, ...]
    sources_note: str | None
    sentence_statements: tuple[tuple[Link, Link, Value], ...]
    alternates: tuple[Alternate, ...]
    schema_json: str


class _Namer:
    """Labels resources from the description graph, in the reader's languages."""

    def __init__(self, graph: Graph, policy: UriPolicy, languages: Sequence[str]) -> None:
        self.graph, self.policy, self.languages = graph, policy, languages

    def link(self, node: Node) -> Link:
        iri = str(node)
        if isinstance(node, BNode):
            return Link(iri, "(anonymous node)", None)
        label = best_label(self.graph, node, self.languages)
        if label is not None:
            text, lang = str(label), label.language
        else:
            text = WELL_KNOWN_LABELS.get(URIRef(iri)) or self.policy.compact(iri)
            if text == iri:
                text = fallback_name(iri) if iri.startswith(self.policy.base) else iri
            lang = None
        safe = iri.startswith(_SAFE_SCHEMES)
        external = safe and not iri.startswith(self.policy.base)
        return Link(iri, text, iri if safe else None, lang, external)

    def value(self, node: Node, notes: tuple[int, ...] = ()) -> Value:
        if isinstance(node, Literal):
            datatype = str(node.datatype) if node.datatype else None
            shown = self.policy.compact(datatype) if datatype else None
            return Value(format_value(node), None, node.language, shown, notes)
        link = self.link(node)
        return Value(link.text, link, link.lang, None, notes)


def _sort_key(group: PropertyGroup) -> tuple[int, str]:
    return (0 if group.property.iri == str(RDF.type) else 1, group.property.text.casefold())


def build_entity_view(
    description: Description,
    policy: UriPolicy,
    languages: Sequence[str],
    alternates: Sequence[Alternate],
    page_url: str,
) -> EntityView:
    """Prepare everything the entity template shows."""
    graph, subject = description.graph, description.subject
    namer = _Namer(graph, policy, languages)

    notes: dict[tuple[Node, Node, Node], list[int]] = defaultdict(list)
    source_notes = []
    for number, source in enumerate(description.sources, start=1):
        for statement in source.statements:
            notes[statement].append(number)
        article = namer.link(URIRef(source.article))
        if source.article_label:
            article = Link(article.iri, source.article_label, article.href, "en")
        source_notes.append(
            SourceNote(
                number,
                namer.link(URIRef(source.excerpt)),
                source.text,
                article,
                source.article_url
                if (source.article_url or "").startswith(_SAFE_SCHEMES)
                else None,
                format_value(source.published) if source.published is not None else None,
            )
        )

    outgoing: dict[Node, list[Value]] = defaultdict(list)
    for predicate, obj in graph.predicate_objects(subject):
        outgoing[predicate].append(
            namer.value(obj, tuple(notes.get((subject, predicate, obj), ())))
        )
    incoming: dict[Node, list[Value]] = defaultdict(list)
    for source_node, predicate in graph.subject_predicates(subject):
        incoming[predicate].append(
            namer.value(source_node, tuple(notes.get((source_node, predicate, subject), ())))
        )

    def groups(by_property: dict[Node, list[Value]]) -> tuple[PropertyGroup, ...]:
        built = [
            PropertyGroup(
                namer.link(p), tuple(sorted(vs, key=lambda v: (v.text.casefold(), v.lang or "")))
            )
            for p, vs in by_property.items()
        ]
        return tuple(sorted(built, key=_sort_key))

    title_link = namer.link(subject)
    types = tuple(
        sorted(
            (namer.link(t) for t in graph.objects(subject, RDF.type)), key=lambda link: link.text
        )
    )
    statements: tuple[tuple[Link, Link, Value], ...] = ()
    if description.sentence_statements is not None:
        stated = description.sentence_statements
        stated_namer = _Namer(graph + stated, policy, languages)
        statements = tuple(
            sorted(
                (
                    (stated_namer.link(s), stated_namer.link(p), stated_namer.value(o))
                    for s, p, o in stated
                ),
                key=lambda t: (t[0].text, t[1].text, t[2].text),
            )
        )
    return EntityView(
        iri=description.iri,
        title=title_link.text,
        title_lang=title_link.lang,
        types=types,
        properties=groups(outgoing),
        incoming=groups(incoming),
        incoming_note=_incoming_note(description),
        sources=tuple(source_notes),
        sources_note=description.sources_note(),
        sentence_statements=statements,
        alternates=tuple(alternates),
        schema_json=_schema_org_json(description, title_link.text, page_url),
    )


def _incoming_note(description: Description) -> IncomingNote | None:
    if description.incoming_listed is None:
        return None
    query = urlencode({"query": queries.all_incoming(description.iri)})
    return IncomingNote(description.incoming_listed, description.incoming_total, f"/sparql?{query}")


def _schema_org_json(description: Description, name: str, page_url: str) -> str:
    """schema.org JSON-LD for search engines, safe to place inside a <script> element."""
    graph, subject = description.graph, description.subject
    types = [t[len(SCHEMA) :] for t in description.schema_types] or ["Thing"]
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@id": description.iri,
        "@type": types if len(types) > 1 else types[0],
        "name": name,
        "url": page_url,
    }
    same_as = sorted(
        str(o)
        for o in graph.objects(subject, URIRef("http://www.w3.org/2002/07/owl#sameAs"))
        if str(o).startswith(_SAFE_SCHEMES)
    )
    if same_as:
        data["sameAs"] = same_as
    text = json.dumps(data, ensure_ascii=False, indent=1)
    # Inside <script>, "</" could end the element and "<!--" open a comment: escape both.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
