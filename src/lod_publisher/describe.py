"""The description of one resource: its statements, incoming links, labels and sources.

Built from SPARQL only (through the Backend), so it works the same over the embedded
store and a remote endpoint. The RDF documents serialize :meth:`Description.document`;
the HTML page is built from the same object (web/entity_view.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import DCTERMS, FOAF, OWL, RDF, RDFS, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

from lod_publisher import queries
from lod_publisher.store.backend import Backend
from lod_publisher.uris import PROV, SCHEMA, UriPolicy

DATA_LICENSE = "https://creativecommons.org/licenses/by/4.0/"
VOID = Namespace("http://rdfs.org/ns/void#")
PROV_NS = Namespace(PROV)
SCHEMA_NS = Namespace(SCHEMA)


@dataclass(frozen=True)
class Source:
    """One sentence of one article that states some of the resource's statements."""

    excerpt: str
    text: Literal  # the sentence as the data states it (language tag included)
    article: str
    article_label: str | None
    article_url: str | None
    published: Literal | None
    statements: frozenset[tuple[Node, Node, Node]] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Description:
    iri: str
    graph: Graph  # statements, incoming links, labels
    sources: tuple[Source, ...]
    sentence_statements: Graph | None  # for an excerpt: what the sentence states
    schema_types: tuple[str, ...]  # schema.org classes, for the page's embedded JSON-LD

    @property
    def subject(self) -> URIRef:
        return URIRef(self.iri)

    def document(self, document_url: str, policy: UriPolicy, modified: Literal) -> Graph:
        """The RDF document about the resource, with its provenance and document metadata."""
        graph = Graph()
        for prefix, namespace in policy.prefixes().items():
            graph.bind(prefix, namespace)
        graph += self.graph
        doc = URIRef(document_url)
        graph.add((doc, RDF.type, FOAF.Document))
        graph.add((doc, FOAF.primaryTopic, self.subject))
        graph.add((doc, DCTERMS.license, URIRef(DATA_LICENSE)))
        graph.add((doc, VOID.inDataset, URIRef(policy.dataset)))
        graph.add((doc, DCTERMS.modified, modified))
        text_property = URIRef(policy.term("text"))
        for source in self.sources:
            excerpt, article = URIRef(source.excerpt), URIRef(source.article)
            graph.add((doc, PROV_NS.wasDerivedFrom, excerpt))
            graph.add((excerpt, text_property, source.text))
            graph.add((excerpt, PROV_NS.wasQuotedFrom, article))
            if source.article_label:
                graph.add((article, RDFS.label, Literal(source.article_label, lang="en")))
            if source.article_url:
                graph.add((article, SCHEMA_NS.url, URIRef(source.article_url)))
        return graph


def describe(backend: Backend, policy: UriPolicy, iri: str) -> Description | None:
    """The description of ``iri``, or None when the dataset knows nothing about it."""
    if not backend.ask(queries.is_known(iri)):
        return None
    graph = backend.construct(queries.describe(iri))
    sources: dict[str, dict[str, object]] = {}
    for row in backend.select(queries.statement_sources(policy, iri)):
        excerpt = str(row["excerpt"])
        entry = sources.setdefault(
            excerpt,
            {
                "text": row["text"],
                "article": str(row["article"]),
                "article_label": _optional(row.get("articleLabel")),
                "article_url": _optional(row.get("url")),
                "published": row.get("published"),
                "statements": set(),
            },
        )
        entry["statements"].add((row["s"], row["p"], row["o"]))  # type: ignore[attr-defined]
    ordered = sorted(sources.items(), key=lambda item: (str(item[1]["article"]), item[0]))
    built = tuple(
        Source(
            excerpt=excerpt,
            text=entry["text"],  # type: ignore[arg-type]
            article=str(entry["article"]),
            article_label=entry["article_label"],  # type: ignore[arg-type]
            article_url=entry["article_url"],  # type: ignore[arg-type]
            published=entry["published"],  # type: ignore[arg-type]
            statements=frozenset(entry["statements"]),  # type: ignore[call-overload]
        )
        for excerpt, entry in ordered
    )
    stated = backend.construct(queries.excerpt_statements(iri))
    schema_types = tuple(str(r["type"]) for r in backend.select(queries.schema_org_types(iri)))
    return Description(iri, graph, built, stated if len(stated) else None, schema_types)


def _optional(node: Node | None) -> str | None:
    return None if node is None else str(node)


# Classes and properties from outside our namespace that pages name often.
WELL_KNOWN_LABELS: dict[URIRef, str] = {
    RDF.type: "type",
    RDFS.label: "label",
    RDFS.comment: "comment",
    RDFS.subClassOf: "subclass of",
    RDFS.subPropertyOf: "subproperty of",
    RDFS.domain: "domain",
    RDFS.range: "range",
    RDFS.isDefinedBy: "defined by",
    OWL.sameAs: "same as",
    OWL.Class: "OWL class",
    OWL.ObjectProperty: "object property",
    OWL.DatatypeProperty: "datatype property",
    DCTERMS.title: "title",
    DCTERMS.license: "licence",
    URIRef("http://www.w3.org/2004/02/skos/core#altLabel"): "also known as",
    URIRef("http://www.w3.org/2004/02/skos/core#prefLabel"): "preferred label",
    URIRef("http://www.w3.org/2004/02/skos/core#definition"): "definition",
    PROV_NS.wasDerivedFrom: "derived from",
    PROV_NS.wasQuotedFrom: "quoted from",
    SCHEMA_NS.url: "URL",
    SCHEMA_NS.author: "author",
    SCHEMA_NS.publisher: "publisher",
    SCHEMA_NS.datePublished: "date published",
    URIRef("http://www.w3.org/2003/01/geo/wgs84_pos#lat"): "latitude",
    URIRef("http://www.w3.org/2003/01/geo/wgs84_pos#long"): "longitude",
}
