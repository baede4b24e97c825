"""The description of one resource: its statements, incoming links, labels and sources.

Built from SPARQL only (through the Backend), so it works the same over the embedded
store and a remote endpoint. The RDF documents serialize :meth:`Description.document`;
the HTML page is built from the same object (web/entity_view.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from rdflib import DCTERMS, FOAF, OWL, RDF, RDFS, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

from lod_publisher import queries
from lod_publisher.store.backend import Backend, Solution
from lod_publisher.uris import PROV, SCHEMA, UriPolicy

DATA_LICENSE = "https://creativecommons.org/licenses/by/4.0/"
# A statement restated in many sentences (a hub's label, in every sentence that names it:
# thousands at 1M triples) cites the first of them, by IRI; the rest are in SPARQL.
SOURCES_PER_STATEMENT = 20
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
    incoming_total: int = 0  # statements pointing at the resource, all of them
    incoming_listed: int | None = None  # how many the description lists, if not all
    statements_cut: int = 0  # statements stated in more sentences than they cite

    def sources_note(self) -> str | None:
        """Says that some statements cite only some of the sentences stating them."""
        if not self.statements_cut:
            return None
        return (
            f"{self.statements_cut:,} statement(s) are stated in more than "
            f"{SOURCES_PER_STATEMENT} sentences; each cites the first {SOURCES_PER_STATEMENT} "
            "by IRI. The named graph of every sentence is in the SPARQL endpoint."
        )

    def incoming_note(self, endpoint: str) -> str | None:
        """Says that the description lists only some of the statements pointing here."""
        if self.incoming_listed is None:
            return None
        return (
            f"Lists {self.incoming_listed:,} of the {self.incoming_total:,} statements that "
            f"point at <{self.iri}>: those from an IRI, first by property and then by "
            f"subject. The SPARQL endpoint <{endpoint}> answers all of them."
        )

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
        for note in (self.incoming_note(policy.base + "sparql"), self.sources_note()):
            if note is not None:
                graph.add((doc, RDFS.comment, Literal(note, lang="en")))
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


def describe(
    backend: Backend, policy: UriPolicy, iri: str, incoming_limit: int = queries.INCOMING_LIMIT
) -> Description | None:
    """The description of ``iri``, or None when the dataset knows nothing about it.

    A resource pointed at by more than ``incoming_limit`` statements (a hub) lists the
    first ``incoming_limit`` from IRIs, by predicate and subject, and says so.
    """
    if not backend.ask(queries.is_known(iri)):
        return None
    total = int(backend.select(queries.incoming_count(iri))[0]["n"])  # type: ignore[call-overload]
    chosen: list[queries.Pair] | None = None
    if total > incoming_limit:
        pairs = {(str(r["p"]), str(r["s"])) for r in backend.select(queries.incoming_pairs(iri))}
        chosen = [(s, p) for p, s in sorted(pairs)[:incoming_limit]]
    graph = backend.construct(queries.describe(iri, chosen))
    cited, cut = cited_excerpts(backend.select(queries.statement_excerpts(policy, iri, chosen)))
    stated = backend.construct(queries.excerpt_statements(iri))
    schema_types = tuple(str(r["type"]) for r in backend.select(queries.schema_org_types(iri)))
    return Description(
        iri,
        graph,
        _sources(backend, policy, cited),
        stated if len(stated) else None,
        schema_types,
        total,
        None if chosen is None else len(chosen),
        cut,
    )


Statement = tuple[Node, Node, Node]


def cited_excerpts(rows: list[Solution]) -> tuple[dict[str, set[Statement]], int]:
    """The excerpts each statement cites (its first :data:`SOURCES_PER_STATEMENT` by IRI),
    as excerpt -> statements, and how many statements were stated in more sentences."""
    cited: dict[str, set[Statement]] = defaultdict(set)
    cut = 0
    for row in rows:
        statement = (row["s"], row["p"], row["o"])
        excerpts = sorted(set(str(row["excerpts"]).split()))
        if len(excerpts) > SOURCES_PER_STATEMENT:
            cut += 1
        for excerpt in excerpts[:SOURCES_PER_STATEMENT]:
            cited[excerpt].add(statement)
    return cited, cut


DETAILS_PER_QUERY = 500  # excerpts per query for their sentences and articles


def _sources(
    backend: Backend, policy: UriPolicy, cited: dict[str, set[Statement]]
) -> tuple[Source, ...]:
    """One Source per cited excerpt, ordered by article and excerpt IRI."""
    excerpts = sorted(cited)
    found: dict[str, Source] = {}
    for start in range(0, len(excerpts), DETAILS_PER_QUERY):
        batch = excerpts[start : start + DETAILS_PER_QUERY]
        for row in backend.select(queries.excerpt_details(policy, batch)):
            excerpt = str(row["excerpt"])
            if excerpt not in found:  # one text, article and label each, if several
                found[excerpt] = Source(
                    excerpt=excerpt,
                    text=row["text"],  # type: ignore[arg-type]
                    article=str(row["article"]),
                    article_label=_optional(row.get("articleLabel")),
                    article_url=_optional(row.get("url")),
                    published=row.get("published"),  # type: ignore[arg-type]
                    statements=frozenset(cited[excerpt]),
                )
    return tuple(sorted(found.values(), key=lambda source: (source.article, source.excerpt)))


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
