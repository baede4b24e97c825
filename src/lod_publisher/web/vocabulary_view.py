"""View models of the ontology documentation and the SHACL shapes page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rdflib import DCTERMS, OWL, RDF, RDFS, BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from lod_publisher.labels import best_label, fallback_name, format_value
from lod_publisher.uris import UriPolicy
from lod_publisher.web.entity_view import Alternate, Link

SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
SH = Namespace("http://www.w3.org/ns/shacl#")


@dataclass(frozen=True)
class Term:
    """One class or property of the ontology, as its documentation shows it."""

    iri: str
    anchor: str
    label: str
    definition: str | None
    kind: str
    parents: tuple[Link, ...]
    children: tuple[Link, ...]
    domain: tuple[Link, ...]
    range: tuple[Link, ...]


@dataclass(frozen=True)
class OntologyView:
    iri: str
    title: str
    description: str | None
    version: str | None
    licence: Link | None
    created: str | None
    prefix: str
    classes: tuple[Term, ...]
    properties: tuple[Term, ...]
    alternates: tuple[Alternate, ...]


def _link(graph: Graph, node: Node, policy: UriPolicy, languages: Sequence[str]) -> Link:
    iri = str(node)
    label = best_label(graph, node, languages)
    text = str(label) if label is not None else policy.compact(iri)
    if text == iri and iri.startswith(policy.base):
        text = fallback_name(iri)
    return Link(iri, text, iri if iri.startswith(("http://", "https://")) else None)


def _first_text(graph: Graph, node: Node, *properties: URIRef) -> str | None:
    for prop in properties:
        for value in graph.objects(node, prop):
            if isinstance(value, Literal) and value.language in (None, "en"):
                return str(value)
    return None


def build_ontology_view(
    graph: Graph, policy: UriPolicy, languages: Sequence[str], alternates: Sequence[Alternate]
) -> OntologyView:
    """The ontology's metadata and every term defined in our namespace, alphabetically."""
    ontology = URIRef(policy.ontology)

    def links(nodes: object) -> tuple[Link, ...]:
        found = [
            _link(graph, n, policy, languages)
            for n in nodes  # type: ignore[attr-defined]
            if isinstance(n, URIRef)
        ]
        return tuple(sorted(found, key=lambda link: link.text.casefold()))

    def term(node: URIRef, kind: str) -> Term:
        parent = RDFS.subClassOf if kind == "Class" else RDFS.subPropertyOf
        return Term(
            iri=str(node),
            anchor=str(node)[len(policy.ontology) :],
            label=_link(graph, node, policy, languages).text,
            definition=_first_text(graph, node, SKOS.definition, RDFS.comment),
            kind=kind,
            parents=links(graph.objects(node, parent)),
            children=links(graph.subjects(parent, node)),
            domain=links(graph.objects(node, RDFS.domain)),
            range=links(graph.objects(node, RDFS.range)),
        )

    def ours(nodes: object) -> list[URIRef]:
        return sorted(
            {
                n
                for n in nodes  # type: ignore[attr-defined]
                if isinstance(n, URIRef) and str(n).startswith(policy.ontology) and n != ontology
            }
        )

    kinds = (
        (OWL.ObjectProperty, "Object property"),
        (OWL.DatatypeProperty, "Datatype property"),
        (OWL.AnnotationProperty, "Annotation property"),
        (RDF.Property, "Property"),
    )
    properties: dict[URIRef, str] = {}
    for rdf_type, kind in kinds:
        for node in ours(graph.subjects(RDF.type, rdf_type)):
            properties.setdefault(node, kind)
    classes = ours(
        set(graph.subjects(RDF.type, OWL.Class)) | set(graph.subjects(RDF.type, RDFS.Class))
    )
    licence = graph.value(ontology, DCTERMS.license)
    created = graph.value(ontology, DCTERMS.created)
    return OntologyView(
        iri=policy.ontology,
        title=_first_text(graph, ontology, DCTERMS.title, RDFS.label) or "Ontology",
        description=_first_text(graph, ontology, DCTERMS.description, RDFS.comment),
        version=str(graph.value(ontology, OWL.versionInfo) or "") or None,
        licence=_link(graph, licence, policy, languages) if licence is not None else None,
        created=format_value(created) if isinstance(created, Literal) else None,
        prefix="com",
        classes=tuple(term(c, "Class") for c in classes),
        properties=tuple(
            sorted((term(p, k) for p, k in properties.items()), key=lambda t: t.label.casefold())
        ),
        alternates=tuple(alternates),
    )


@dataclass(frozen=True)
class Constraint:
    path: str
    name: str | None
    message: str | None
    rules: tuple[str, ...]


@dataclass(frozen=True)
class ShapeView:
    iri: str
    anchor: str
    targets: tuple[Link, ...]
    message: str | None
    constraints: tuple[Constraint, ...]


@dataclass(frozen=True)
class ShapesView:
    iri: str
    shapes: tuple[ShapeView, ...]
    alternates: tuple[Alternate, ...]


_RULES = (
    (SH.minCount, "at least {}"),
    (SH.maxCount, "at most {}"),
    (SH.datatype, "datatype {}"),
    (SH["class"], "instance of {}"),
    (SH.nodeKind, "node kind {}"),
    (SH.minInclusive, "≥ {}"),
    (SH.maxInclusive, "≤ {}"),
    (SH.pattern, "matches {}"),
    (SH.hasValue, "has value {}"),
)


def _describe_rules(graph: Graph, shape: Node, policy: UriPolicy) -> tuple[str, ...]:
    rules = []
    for prop, text in _RULES:
        for value in graph.objects(shape, prop):
            rules.append(text.format(policy.compact(str(value))))
    for value in graph.objects(shape, SH.languageIn):
        rules.append("language in " + ", ".join(str(v) for v in Collection(graph, value)))
    if (shape, SH.uniqueLang, Literal(True)) in graph:
        rules.append("one value per language")
    for value in graph.objects(shape, SH["or"]):
        options: list[str] = []
        for member in Collection(graph, value):
            options.extend(_describe_rules(graph, member, policy))
        rules.append("one of: " + "; ".join(options))
    return tuple(rules)


def _path_text(graph: Graph, path: Node | None, policy: UriPolicy) -> str:
    if path is None:
        return "(node)"
    if isinstance(path, BNode):
        inverse = graph.value(path, SH.inversePath)
        if inverse is not None:
            return "^" + policy.compact(str(inverse))
        return "(path)"
    return policy.compact(str(path))


def build_shapes_view(
    graph: Graph, policy: UriPolicy, languages: Sequence[str], alternates: Sequence[Alternate]
) -> ShapesView:
    """Every named node shape with its targets and property constraints, in words."""
    shapes = []
    for shape in sorted(s for s in graph.subjects(RDF.type, SH.NodeShape) if isinstance(s, URIRef)):
        constraints = []
        for prop in graph.objects(shape, SH.property):
            constraints.append(
                Constraint(
                    _path_text(graph, graph.value(prop, SH.path), policy),
                    _first_text(graph, prop, SH.name),
                    _first_text(graph, prop, SH.message),
                    _describe_rules(graph, prop, policy),
                )
            )
        for sparql in graph.objects(shape, SH.sparql):
            constraints.append(
                Constraint("(SPARQL)", None, _first_text(graph, sparql, SH.message), ())
            )
        targets = tuple(
            _link(graph, t, policy, languages) for t in graph.objects(shape, SH.targetClass)
        )
        shapes.append(
            ShapeView(
                str(shape),
                str(shape)[len(policy.shapes) :] or "shapes",
                targets,
                _first_text(graph, shape, SH.message),
                tuple(sorted(constraints, key=lambda c: c.path)),
            )
        )
    return ShapesView(policy.shapes, tuple(shapes), tuple(alternates))
